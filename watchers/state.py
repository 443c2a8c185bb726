"""The watcher's view of the cluster: pruned objects indexed by kind and namespace.

Every event costs work proportional to its namespace: objects live in
per-namespace maps, so building one namespace's input is a few dict lookups,
never a scan of the cluster. Objects arrive pruned (`watchers.prune`, done by the
informer while parsing) and are stored as they are, never changed in place: an
object equal to the stored one changed nothing shown, and an identical one lets the
topology reuse what it derived from it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from watchers.kobjects import metadata, object_problem
from watchers.topology import NamespaceObjects

log = logging.getLogger("constellation.watcher.state")

NAMESPACED_KINDS = ("Pod", "Service", "EndpointSlice", "Ingress", "HTTPRoute")
KINDS = ("Namespace", *NAMESPACED_KINDS)


class ClusterState:
    """Pruned objects by kind → namespace → name; namespaces by name."""

    def __init__(self) -> None:
        self._namespaces: dict[str, dict[str, Any]] = {}
        self._objects: dict[str, dict[str, dict[str, dict[str, Any]]]] = {
            kind: {} for kind in NAMESPACED_KINDS
        }
        self.skipped = 0

    def apply(self, kind: str, event_type: str, obj: dict[str, Any]) -> str | None:
        """Apply one watch event of a pruned object; the namespace whose picture may have
        changed, or None.

        None also means "nothing visible changed" (a resourceVersion or timestamp
        bump) and "skipped": a malformed object is logged and ignored, never fatal.
        """
        if kind not in KINDS:
            return None
        meta = metadata(obj)
        name = meta.get("name")
        if event_type == "DELETED":
            if not isinstance(name, str):
                return None
            return self._delete(kind, meta.get("namespace") if kind != "Namespace" else name, name)
        problem = object_problem(kind, obj)
        if problem is not None:
            self.skipped += 1
            log.warning(
                "skipping malformed object kind=%s namespace=%s name=%s problem=%r; "
                "it stays out of the picture until a valid version arrives",
                kind,
                meta.get("namespace"),
                name,
                problem,
            )
            return None
        if kind == "Namespace":
            if self._namespaces.get(name) == obj:
                return None
            self._namespaces[name] = obj
            return name
        namespace = meta.get("namespace")
        if not isinstance(namespace, str) or not namespace:
            return None
        bucket = self._objects[kind].setdefault(namespace, {})
        if bucket.get(name) == obj:
            return None
        bucket[name] = obj
        return namespace

    def _delete(self, kind: str, namespace: Any, name: str) -> str | None:
        if kind == "Namespace":
            return name if self._namespaces.pop(name, None) is not None else None
        if not isinstance(namespace, str):
            return None
        bucket = self._objects[kind].get(namespace)
        if bucket is None or bucket.pop(name, None) is None:
            return None
        if not bucket:
            del self._objects[kind][namespace]
        return namespace

    def namespace_objects(self, namespace: str) -> NamespaceObjects:
        objects = {kind: self._objects[kind].get(namespace, {}) for kind in NAMESPACED_KINDS}
        return NamespaceObjects(
            namespace=self._namespaces.get(namespace),
            pods=objects["Pod"],
            services=objects["Service"],
            endpointslices=objects["EndpointSlice"],
            ingresses=objects["Ingress"],
            httproutes=objects["HTTPRoute"],
        )

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        if kind == "Namespace":
            return self._namespaces.get(name)
        return self._objects[kind].get(namespace, {}).get(name)

    def namespaces(self) -> set[str]:
        """Every namespace with a Namespace object or any object in it."""
        names = set(self._namespaces)
        for by_namespace in self._objects.values():
            names.update(by_namespace)
        return names

    def exists(self, namespace: str) -> bool:
        return namespace in self._namespaces or any(
            namespace in by_namespace for by_namespace in self._objects.values()
        )

    def clear_kind(self, kind: str) -> set[str]:
        """Forget every object of a kind (its API went away); the namespaces touched."""
        if kind == "Namespace":
            touched = set(self._namespaces)
            self._namespaces.clear()
            return touched
        touched = set(self._objects[kind])
        self._objects[kind] = {}
        return touched

    def counts(self) -> dict[str, int]:
        counts = {"Namespace": len(self._namespaces)}
        for kind, by_namespace in self._objects.items():
            counts[kind] = sum(len(bucket) for bucket in by_namespace.values())
        return counts

    def names(self, kind: str, namespaces: Iterable[str] | None = None) -> list[tuple[str, str]]:
        if kind == "Namespace":
            return [("", name) for name in sorted(self._namespaces)]
        by_namespace = self._objects[kind]
        wanted = sorted(by_namespace) if namespaces is None else sorted(namespaces)
        return [(ns, name) for ns in wanted for name in sorted(by_namespace.get(ns, {}))]
