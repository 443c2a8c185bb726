"""What every controller of the workload engine works with: the engine's core.

The controllers (kubelet, replicasets, deployments, endpoints, cleanup) read the
store through the relations indexed here, queue work with `mark` and `schedule`,
and draw names and jitter from one seeded random source. `engine.py` builds on
this core: it records store events into it and runs the controllers, so the
controllers depend on the core and never on the engine that drives them.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from simcluster.resources import ResourceType, type_named
from simcluster.selectors import map_selector_matches
from simcluster.store import Obj, Store, WatchEvent

Key = tuple[str, str]  # (namespace or "", name)
Ref = tuple[ResourceType, str, str]  # (type, namespace, name)

NAMESPACES = type_named("namespaces")
PODS = type_named("pods")
SERVICES = type_named("services")
ENDPOINTS = type_named("endpoints")
ENDPOINT_SLICES = type_named("endpointslices", "discovery.k8s.io")
DEPLOYMENTS = type_named("deployments", "apps")
REPLICA_SETS = type_named("replicasets", "apps")

# The labels tying an EndpointSlice to its Service, and this controller's mark on the slices
# it manages (others, hand-made for selector-less services, are left alone).
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"

# Distinct pod label sets remembered per namespace before the memo starts afresh.
SELECTING_CACHE_SIZE = 4096
# Kubernetes' rand.String alphabet: no vowels or lookalikes, so names spell nothing.
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass
class EngineConfig:
    """How fast simulated workloads move; every delay is jittered by ±50%."""

    start_delay_s: float = 0.4
    """Pending → Running: image pull and container start, short so demos move."""
    ready_delay_s: float = 0.6
    """Running → Ready: a readiness probe's first success."""
    stop_delay_s: float = 1.0
    """How long containers take to stop after a graceful delete (capped by the grace period)."""
    crash_interval_s: float = 3.0
    """A crash-looping container restarts this often (real back-off grows; demos want motion)."""
    tick_s: float = 0.05
    """`run()` steps this often: timers fire at most this late."""
    seed: int | None = None
    """Seeds names, IPs, node choice and jitter, so tests and benchmarks repeat exactly."""


class Controller(Protocol):
    """One reconcile loop: brings the object under `key` towards its desired state."""

    name: str

    def reconcile(self, key: Key, now: float) -> bool:
        """Reconcile one object; True if it wrote anything."""


class ClusterIndex:
    """The relations controllers look up, kept current from store events."""

    def __init__(self) -> None:
        self.by_uid: dict[str, Ref] = {}
        self.controller_of: dict[str, str] = {}  # uid → its controller's uid
        # Owner uid → objects naming it in ownerReferences (dependents, for GC and controllers).
        self.dependents: dict[str, set[Ref]] = defaultdict(set)
        self._owners_of: dict[Ref, tuple[str, ...]] = {}
        # Namespace → (label key, value) → names of the pods carrying it, so a Service's
        # pods are found without walking every pod of a namespace of thousands.
        self._pods_by_label: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self._pod_labels: dict[Key, dict[str, str]] = {}
        # Namespace → service name → spec.selector, for the services only.
        self.service_selectors: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
        # Namespace → a pod label set → the services selecting it. Every pod event asks,
        # and a ReplicaSet's pods share one label set, so the answers repeat.
        self._selecting: dict[str, dict[frozenset[tuple[str, str]], tuple[str, ...]]] = {}
        self.slices_by_service: dict[Key, set[str]] = defaultdict(set)
        self.terminating_namespaces: set[str] = set()

    def apply(self, event: WatchEvent) -> None:
        meta = event.obj.get("metadata") or {}
        ref: Ref = (event.rtype, event.namespace, meta.get("name", ""))
        deleted = event.type == "DELETED"
        uid = meta.get("uid")
        if uid:
            if deleted:
                self.by_uid.pop(uid, None)
                self.controller_of.pop(uid, None)
            else:
                self.by_uid[uid] = ref
                owner = controller_uid(event.obj)
                if owner:
                    self.controller_of[uid] = owner
        self._index_owners(ref, () if deleted else owner_uids(event.obj))
        rtype, ns, name = ref
        if rtype == PODS:
            self._index_pod_labels(ns, name, {} if deleted else meta.get("labels") or {})
        elif rtype == SERVICES:
            selector = (event.obj.get("spec") or {}).get("selector")
            if deleted or not selector:
                selector = None
                previous = self.service_selectors[ns].pop(name, None)
            else:
                previous = self.service_selectors[ns].get(name)
                self.service_selectors[ns][name] = selector
            if previous != selector:
                self._selecting.pop(ns, None)
        elif rtype == ENDPOINT_SLICES:
            service = managed_service(event.obj)
            if service and deleted:
                names = self.slices_by_service.get((ns, service), set())
                names.discard(name)
                if not names:
                    self.slices_by_service.pop((ns, service), None)
            elif service:
                self.slices_by_service[(ns, service)].add(name)
        elif rtype == NAMESPACES:
            if not deleted and meta.get("deletionTimestamp"):
                self.terminating_namespaces.add(name)
            else:
                self.terminating_namespaces.discard(name)

    def _index_owners(self, ref: Ref, owners: tuple[str, ...]) -> None:
        previous = self._owners_of.get(ref, ())
        if previous == owners:
            return
        for uid in previous:
            self.dependents[uid].discard(ref)
            if not self.dependents[uid]:
                del self.dependents[uid]
        for uid in owners:
            self.dependents[uid].add(ref)
        if owners:
            self._owners_of[ref] = owners
        else:
            self._owners_of.pop(ref, None)

    def _index_pod_labels(self, ns: str, name: str, labels: dict[str, str]) -> None:
        previous = self._pod_labels.get((ns, name), {})
        if labels == previous:
            return
        by_label = self._pods_by_label[ns]
        for item in previous.items() - labels.items():
            names = by_label[item]
            names.discard(name)
            if not names:
                del by_label[item]
        for item in labels.items() - previous.items():
            by_label[item].add(name)
        if labels:
            self._pod_labels[(ns, name)] = labels
        else:
            self._pod_labels.pop((ns, name), None)
            if not by_label:
                del self._pods_by_label[ns]

    def pods_selected(self, namespace: str, selector: dict[str, str]) -> set[str]:
        """Names of the pods in `namespace` carrying every label of a Service's selector."""
        by_label = self._pods_by_label.get(namespace)
        if not by_label or not selector:
            return set()
        matching = sorted((by_label.get(item, set()) for item in selector.items()), key=len)
        return matching[0].intersection(*matching[1:])

    def services_selecting(self, namespace: str, *label_sets: dict | None) -> list[str]:
        """The services in `namespace` whose selector matches any of the label sets."""
        cache = self._selecting.setdefault(namespace, {})
        if len(cache) > SELECTING_CACHE_SIZE:
            cache.clear()  # label sets of ReplicaSets long gone (each rollout makes one)
        found: dict[str, None] = {}
        for labels in label_sets:
            key = frozenset((labels or {}).items())
            names = cache.get(key)
            if names is None:
                selectors = self.service_selectors.get(namespace) or {}
                names = cache[key] = tuple(
                    name
                    for name, selector in selectors.items()
                    if map_selector_matches(selector, labels)
                )
            found.update(dict.fromkeys(names))
        return list(found)


def owner_uids(obj: Obj) -> tuple[str, ...]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or ()
    return tuple(ref["uid"] for ref in refs if isinstance(ref, dict) and ref.get("uid"))


def controller_uid(obj: Obj) -> str | None:
    """The uid of the object's managing controller (the ownerReference with controller=true)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or ():
        if isinstance(ref, dict) and ref.get("controller"):
            return ref.get("uid")
    return None


def managed_service(obj: Obj) -> str | None:
    """The Service an EndpointSlice made by the endpoints controller belongs to."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != MANAGED_BY:
        return None
    return labels.get(SERVICE_NAME_LABEL)


class WorkloadCore:
    """The engine's state shared by its controllers: index, work queue, timers, randomness."""

    def __init__(
        self,
        store: Store,
        config: EngineConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config or EngineConfig()
        self.clock = clock
        self.rng = random.Random(self.config.seed)
        self.index = ClusterIndex()
        self._dirty: dict[str, set[Key]] = defaultdict(set)
        self._timers: list[tuple[float, int, str, Key, bool]] = []
        self._timer_at: dict[tuple[str, Key], float] = {}
        self._timer_seq = 0
        self._foreground_timers = 0

    # -- queueing work -----------------------------------------------------------------

    def mark(self, controller: str, key: Key) -> None:
        """Queue `key` for `controller`'s next reconcile."""
        self._dirty[controller].add(key)

    def schedule(self, controller: str, key: Key, at: float, background: bool = False) -> None:
        """Reconcile `key` again at `at`.

        `background` timers (crash loops, progress deadlines) may fire forever or far
        ahead, so they do not keep `settle` busy.
        """
        pending = self._timer_at.get((controller, key))
        if pending is not None and pending <= at:
            return
        self._timer_at[(controller, key)] = at
        self._timer_seq += 1
        heapq.heappush(self._timers, (at, self._timer_seq, controller, key, background))
        if not background:
            self._foreground_timers += 1

    def _fire_timers(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:
            at, _, controller, key, background = heapq.heappop(self._timers)
            if not background:
                self._foreground_timers -= 1
            if self._timer_at.get((controller, key)) == at:
                del self._timer_at[(controller, key)]
            self._dirty[controller].add(key)

    # -- helpers for controllers -------------------------------------------------------

    def jitter(self, seconds: float) -> float:
        return seconds * self.rng.uniform(0.5, 1.5)

    def random_suffix(self, length: int = 5) -> str:
        return "".join(self.rng.choice(SUFFIX_ALPHABET) for _ in range(length))

    def dependents(self, owner: Obj, rtype: ResourceType) -> list[Obj]:
        """Live objects of `rtype` whose controller is `owner`."""
        uid = owner["metadata"]["uid"]
        found = []
        for dep_type, ns, name in self.index.dependents.get(uid, ()):
            if dep_type != rtype:
                continue
            obj = self.store.find(rtype, ns, name)
            if obj is not None and controller_uid(obj) == uid:
                found.append(obj)
        return found

    def controller_ref(self, owner: Obj) -> dict[str, Any]:
        return {
            "apiVersion": owner["apiVersion"],
            "kind": owner["kind"],
            "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
