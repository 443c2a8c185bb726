"""Garbage collection and namespace deletion, as kube-controller-manager does them.

Deleting a Deployment must take its ReplicaSets and pods with it, and deleting a
namespace must empty it before it disappears; watchers see that cascade as a
stream of DELETED events (pods first going Terminating), exactly as on a cluster.
"""

from __future__ import annotations

from collections import defaultdict

from simcluster.resources import ResourceType
from simcluster.store import Obj
from simcluster.workload import NAMESPACES, Key, Ref, WorkloadCore


class GarbageCollector:
    """Deletes objects whose every owner is gone (pods gracefully, others at once)."""

    name = "garbage"

    def __init__(self, engine: WorkloadCore) -> None:
        self.engine = engine
        self.store = engine.store
        # Keys are (namespace, name); a Service and its Endpoints share one, so keep the types.
        self._types: dict[Key, set[ResourceType]] = defaultdict(set)

    def queue(self, ref: Ref) -> None:
        """Check `ref` for lost owners on the next step."""
        rtype, namespace, name = ref
        self._types[(namespace, name)].add(rtype)
        self.engine.mark(self.name, (namespace, name))

    def reconcile(self, key: Key, now: float) -> bool:
        wrote = False
        types = self._types.get(key, set())
        for rtype in sorted(types, key=lambda t: (t.group, t.plural)):
            obj = self.store.find(rtype, *key)
            if obj is not None and self._orphaned(obj):
                self.store.delete(rtype, key[0], key[1])
                wrote = True
            types.discard(rtype)
        self._types.pop(key, None)
        return wrote

    def _orphaned(self, obj: Obj) -> bool:
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        if meta.get("deletionTimestamp") or not refs:
            return False
        registry = self.store.registry
        for ref in refs:
            if not isinstance(ref, dict) or ref.get("uid") in self.engine.index.by_uid:
                return False
            # An owner of a kind this server does not serve cannot be looked up; the
            # real collector leaves such dependents alone rather than guess.
            if registry.by_kind(str(ref.get("apiVersion")), str(ref.get("kind"))) is None:
                return False
        return True


class NamespaceController:
    """Empties a Terminating namespace, then removes it."""

    name = "namespaces"

    def __init__(self, engine: WorkloadCore) -> None:
        self.store = engine.store

    def reconcile(self, key: Key, now: float) -> bool:
        name = key[1]
        namespace = self.store.find(NAMESPACES, "", name)
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return False
        wrote = False
        for rtype, obj in self.store.namespaces_in_use(name):
            if not obj["metadata"].get("deletionTimestamp"):
                self.store.delete(rtype, name, obj["metadata"]["name"])
                wrote = True
        # Pods stop gracefully; their DELETED events bring the namespace back here.
        if next(self.store.namespaces_in_use(name), None) is None:
            self.store.remove(NAMESPACES, "", name)
            wrote = True
        return wrote
