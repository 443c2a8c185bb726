"""simcluster's object store: one global resourceVersion, bounded watch history.

Stored objects are treated as immutable: every write stores a new dict, so a LIST
snapshot or a queued watch event can hold references without copying. The store
is thread-safe (the HTTP server, the workload engine and test code all write to
it) and calls its listeners under the lock, so listeners see events in
resourceVersion order.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from simcluster import errors, objects
from simcluster.jsoncopy import copy_json
from simcluster.resources import Registry, ResourceType

Obj = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)

GENERATE_ALPHABET = string.ascii_lowercase + string.digits


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str) -> float:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


@dataclass
class WatchEvent:
    """One change, as every watcher of that type sees it before filtering."""

    rv: int
    type: str  # ADDED, MODIFIED or DELETED
    rtype: ResourceType
    namespace: str
    obj: Obj
    old: Obj | None = None  # the previous state of a MODIFIED object
    # The object's JSON, encoded once however many watchers receive it.
    encoded: bytes | None = field(default=None, compare=False, repr=False)


class Store:
    """All objects of all served types, keyed by type then (namespace, name)."""

    def __init__(
        self,
        registry: Registry | None = None,
        history_size: int = 50_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry or Registry()
        self.clock = clock
        self.lock = threading.RLock()
        self._rv = 1
        self._objects: dict[ResourceType, dict[str, dict[str, Obj]]] = {}
        self._history: deque[WatchEvent] = deque(maxlen=history_size)
        # The smallest resourceVersion a watch may resume from: every event after
        # it is still in the history.
        self._oldest_rv = 1
        self._listeners: list[Callable[[WatchEvent], None]] = []

    # -- reading ---------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def oldest_resource_version(self) -> int:
        return self._oldest_rv

    def _bucket(self, rtype: ResourceType, namespace: str) -> dict[str, Obj]:
        return self._objects.setdefault(rtype, {}).setdefault(namespace, {})

    def get(self, rtype: ResourceType, namespace: str, name: str) -> Obj:
        """The stored object (read-only); `NotFound` if absent."""
        with self.lock:
            obj = (
                self._objects.get(rtype, {})
                .get(namespace if rtype.namespaced else "", {})
                .get(name)
            )
        if obj is None:
            raise errors.not_found(rtype, name)
        return obj

    def find(self, rtype: ResourceType, namespace: str, name: str) -> Obj | None:
        with self.lock:
            return (
                self._objects.get(rtype, {})
                .get(namespace if rtype.namespaced else "", {})
                .get(name)
            )

    def list(self, rtype: ResourceType, namespace: str | None = None) -> tuple[int, list[Obj]]:
        """(resourceVersion, objects sorted by namespace and name) at one instant."""
        with self.lock:
            by_ns = self._objects.get(rtype, {})
            if namespace is not None and rtype.namespaced:
                items = [by_ns.get(namespace, {})[n] for n in sorted(by_ns.get(namespace, {}))]
            else:
                items = [by_ns[ns][n] for ns in sorted(by_ns) for n in sorted(by_ns[ns])]
            return self._rv, items

    def namespaces_in_use(self, namespace: str) -> Iterator[tuple[ResourceType, Obj]]:
        """Every namespaced object in `namespace` (for namespace deletion)."""
        with self.lock:
            found = [
                (rtype, obj)
                for rtype, by_ns in self._objects.items()
                if rtype.namespaced
                for obj in by_ns.get(namespace, {}).values()
            ]
        return iter(found)

    # -- watching --------------------------------------------------------------

    def add_listener(self, listener: Callable[[WatchEvent], None]) -> None:
        with self.lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[WatchEvent], None]) -> None:
        with self.lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def subscribe(self, since: int, listener: Callable[[WatchEvent], None]) -> list[WatchEvent]:
        """Register `listener` and return the retained events after `since`, atomically.

        Raises 410 Expired when `since` is older than the retained history.
        """
        with self.lock:
            if since < self._oldest_rv:
                raise errors.expired(f"too old resource version: {since} ({self._oldest_rv})")
            backlog = [event for event in self._history if event.rv > since]
            self._listeners.append(listener)
            return backlog

    def compact(self) -> None:
        """Forget the whole watch history, as etcd compaction does."""
        with self.lock:
            self._history.clear()
            self._oldest_rv = self._rv

    def _emit(self, event: WatchEvent) -> None:
        if len(self._history) == self._history.maxlen:
            self._oldest_rv = self._history[0].rv
        self._history.append(event)
        for listener in list(self._listeners):
            listener(event)

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    # -- writing ---------------------------------------------------------------

    def create(
        self,
        rtype: ResourceType,
        namespace: str | None,
        obj: Obj,
        *,
        dry_run: bool = False,
        validate: bool = True,
    ) -> Obj:
        """Store a new object; returns it with server fields set.

        `validate=False` stores the body as given (metadata aside), so tests can
        put malformed objects in front of a watcher.
        """
        obj = copy_json(obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        ns = self._namespace_for(rtype, namespace, meta)
        with self.lock:
            if rtype.namespaced and validate:
                self._check_namespace_accepts(ns)
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = self._generate_name(rtype, ns, str(meta["generateName"]))
            if validate:
                objects.validate_create(rtype, obj)
            name = str(meta.get("name") or "")
            if not name:
                raise errors.invalid(
                    rtype.kind,
                    "",
                    [objects.required("metadata.name", "name or generateName is required")],
                    rtype.group,
                )
            bucket = self._bucket(rtype, ns)
            if name in bucket:
                raise errors.already_exists(rtype, name)
            obj["kind"] = rtype.kind
            obj["apiVersion"] = rtype.api_version
            if rtype.namespaced:
                meta["namespace"] = ns
            else:
                meta.pop("namespace", None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = rfc3339(self.clock())
            meta["generation"] = 1
            for transient in ("deletionTimestamp", "deletionGracePeriodSeconds"):
                meta.pop(transient, None)
            if validate:
                objects.reset_status_on_create(rtype, obj)
                objects.apply_defaults(rtype, obj, self)
            if dry_run:
                meta["resourceVersion"] = str(self._rv)
                return obj
            rv = self._next_rv()
            meta["resourceVersion"] = str(rv)
            bucket[name] = obj
            self._emit(WatchEvent(rv, "ADDED", rtype, ns, obj))
            return obj

    def update(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        obj: Obj,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        validate: bool = True,
    ) -> Obj:
        """Replace an object (PUT). A stale `metadata.resourceVersion` is a 409 Conflict."""
        obj = copy_json(obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        ns = self._namespace_for(rtype, namespace, meta)
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the "
                f"URL ({name})"
            )
        with self.lock:
            current = self.get(rtype, ns, name)
            wanted_rv = meta.get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise errors.conflict(rtype, name)
            merged = self._merge_update(rtype, current, obj, subresource)
            if validate and subresource != "status":
                objects.validate_update(rtype, merged)
                objects.apply_defaults(rtype, merged, self)
            if dry_run:
                return merged
            return self._replace(rtype, ns, name, current, merged)

    def _merge_update(
        self, rtype: ResourceType, current: Obj, new: Obj, subresource: str | None
    ) -> Obj:
        """What a PUT actually stores: server-owned fields kept, status split by subresource."""
        if subresource == "status":
            merged = {k: v for k, v in current.items() if k != "status"}
            merged["metadata"] = dict(current["metadata"])
            if "status" in new:
                merged["status"] = new["status"]
            return merged
        merged = dict(new)
        meta = merged["metadata"] = dict(new.get("metadata") or {})
        old_meta = current["metadata"]
        for server_owned in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
        ):
            if server_owned in old_meta:
                meta[server_owned] = old_meta[server_owned]
            else:
                meta.pop(server_owned, None)
        meta["name"] = old_meta["name"]
        merged["kind"] = rtype.kind
        merged["apiVersion"] = rtype.api_version
        if rtype.has_status:
            if "status" in current:
                merged["status"] = current["status"]
            else:
                merged.pop("status", None)
        if merged.get("spec") != current.get("spec"):
            meta["generation"] = int(old_meta.get("generation", 1)) + 1
        return merged

    def _replace(self, rtype: ResourceType, ns: str, name: str, current: Obj, new: Obj) -> Obj:
        meta = new["metadata"]
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not (rtype.kind == "Pod" and self._pod_grace_pending(new))
            and rtype.kind != "Namespace"
        ):
            return self._remove(rtype, ns, name, new)
        rv = self._next_rv()
        meta["resourceVersion"] = str(rv)
        self._bucket(rtype, ns)[name] = new
        self._emit(WatchEvent(rv, "MODIFIED", rtype, ns, new, current))
        return new

    def _pod_grace_pending(self, pod: Obj) -> bool:
        return int(pod["metadata"].get("deletionGracePeriodSeconds") or 0) > 0

    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        *,
        grace_period: int | None = None,
        uid: str | None = None,
        resource_version: str | None = None,
        dry_run: bool = False,
    ) -> Obj:
        """Delete like the apiserver: graceful for pods, held by finalizers, else gone now.

        Returns the object: its final state, or the state it waits in.
        """
        ns = namespace if rtype.namespaced else ""
        with self.lock:
            current = self.get(rtype, ns or "", name)
            meta = current["metadata"]
            if uid and uid != meta.get("uid"):
                raise errors.conflict(rtype, name)
            if resource_version and resource_version != meta.get("resourceVersion"):
                raise errors.conflict(rtype, name)
            grace = self._grace_period(rtype, current, grace_period)
            finalizers = meta.get("finalizers") or []
            if rtype.kind == "Namespace":
                grace = max(grace, 1)  # the namespace controller empties it first
            if grace == 0 and not finalizers:
                return current if dry_run else self._remove(rtype, ns or "", name, current)
            now = self.clock()
            new_deadline = now + grace
            if meta.get("deletionTimestamp"):
                old_deadline = parse_rfc3339(meta["deletionTimestamp"])
                if new_deadline >= old_deadline:
                    return current  # a repeat delete may only shorten the grace period
            new = dict(current)
            new_meta = new["metadata"] = dict(meta)
            new_meta["deletionTimestamp"] = rfc3339(new_deadline)
            new_meta["deletionGracePeriodSeconds"] = grace
            if rtype.kind == "Namespace":
                new["status"] = {**(current.get("status") or {}), "phase": "Terminating"}
            if dry_run:
                return new
            rv = self._next_rv()
            new_meta["resourceVersion"] = str(rv)
            self._bucket(rtype, ns or "")[name] = new
            self._emit(WatchEvent(rv, "MODIFIED", rtype, ns or "", new, current))
            return new

    def _grace_period(self, rtype: ResourceType, obj: Obj, requested: int | None) -> int:
        if rtype.kind != "Pod":
            return 0
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(0, int(requested))
        return int(spec.get("terminationGracePeriodSeconds", 30))

    def remove(self, rtype: ResourceType, namespace: str | None, name: str) -> Obj | None:
        """Remove an object at once (the kubelet's final grace-0 delete, GC, tests)."""
        ns = namespace if rtype.namespaced else ""
        with self.lock:
            current = self.find(rtype, ns or "", name)
            if current is None:
                return None
            return self._remove(rtype, ns or "", name, current)

    def _remove(self, rtype: ResourceType, ns: str, name: str, current: Obj) -> Obj:
        rv = self._next_rv()
        final = dict(current)
        final["metadata"] = {**current["metadata"], "resourceVersion": str(rv)}
        bucket = self._bucket(rtype, ns)
        bucket.pop(name, None)
        if not bucket:
            self._objects[rtype].pop(ns, None)
        self._emit(WatchEvent(rv, "DELETED", rtype, ns, final))
        return final

    # -- helpers ---------------------------------------------------------------

    def _namespace_for(self, rtype: ResourceType, namespace: str | None, meta: dict) -> str:
        if not rtype.namespaced:
            return ""
        body_ns = meta.get("namespace")
        if namespace and body_ns and body_ns != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the "
                "request"
            )
        ns = namespace or body_ns
        if not ns:
            raise errors.bad_request("a namespace is required for namespaced resources")
        return str(ns)

    def _check_namespace_accepts(self, ns: str) -> None:
        ns_type = self.registry.lookup("", "v1", "namespaces")
        assert ns_type is not None
        namespace = self.find(ns_type, "", ns)
        if namespace is None:
            raise errors.not_found(ns_type, ns)
        if namespace["metadata"].get("deletionTimestamp"):
            raise errors.ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {ns} because it is being terminated",
                {
                    "name": ns,
                    "kind": "namespaces",
                    "causes": [
                        {
                            "reason": "NamespaceTerminating",
                            "message": f"namespace {ns} is being terminated",
                            "field": "metadata.namespace",
                        }
                    ],
                },
            )

    def _generate_name(self, rtype: ResourceType, ns: str, prefix: str) -> str:
        bucket = self._bucket(rtype, ns)
        while True:
            name = prefix + "".join(secrets.choice(GENERATE_ALPHABET) for _ in range(5))
            if name not in bucket:
                return name
