"""The workload engine: the controllers and kubelets of a simulated cluster.

In a real cluster pods appear, start, become ready and go away because
controllers and kubelets watch the API server and write back. The engine does the
same against the Store: a store listener records which objects changed (it runs
under the store lock, so it only records and indexes), and `step` reconciles just
those objects plus the ones whose timers fell due. Every change goes through the
Store API, so watchers see real events with new resourceVersions, and the work
done is proportional to what changed, not to the size of the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from simcluster.cleanup import GarbageCollector, NamespaceController
from simcluster.deployments import DeploymentController
from simcluster.endpoints import EndpointsController, managed_service
from simcluster.errors import ApiError
from simcluster.kubelet import Kubelet
from simcluster.replicasets import ReplicaSetController
from simcluster.resources import ResourceType, type_named
from simcluster.selectors import map_selector_matches
from simcluster.store import Obj, Store, WatchEvent

log = logging.getLogger("simcluster.engine")

Key = tuple[str, str]  # (namespace or "", name)
Ref = tuple[ResourceType, str, str]  # (type, namespace, name)

NAMESPACES = type_named("namespaces")
PODS = type_named("pods")
SERVICES = type_named("services")
ENDPOINTS = type_named("endpoints")
ENDPOINT_SLICES = type_named("endpointslices", "discovery.k8s.io")
DEPLOYMENTS = type_named("deployments", "apps")
REPLICA_SETS = type_named("replicasets", "apps")

# Distinct pod label sets remembered per namespace before the memo starts afresh.
SELECTING_CACHE_SIZE = 4096
# Rounds of reconciling within one step: a deployment scales a ReplicaSet, which
# creates pods, which the kubelet binds, all in one step when nothing waits on a
# timer; the bound keeps a controller that keeps writing from stalling the loop.
MAX_ROUNDS = 8
# A write the API refused (a namespace being terminated, a conflict) is retried
# this much later, as a controller's work queue would requeue it.
RETRY_S = 1.0


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
        self.pods_by_namespace: dict[str, set[str]] = defaultdict(set)
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
            pods = self.pods_by_namespace[ns]
            if deleted:
                pods.discard(name)
                if not pods:
                    del self.pods_by_namespace[ns]
            else:
                pods.add(name)
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


class WorkloadEngine:
    """Deployments, ReplicaSets, kubelets, endpoints, garbage and namespace collection."""

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
        self._timers: list[tuple[float, int, str, Key, bool]] = []
        self._timer_at: dict[tuple[str, Key], float] = {}
        self._timer_seq = 0
        self._foreground_timers = 0
        self.kubelet = Kubelet(self)
        self.replica_sets = ReplicaSetController(self)
        self.deployments = DeploymentController(self)
        self.endpoints = EndpointsController(self)
        self.garbage = GarbageCollector(self)
        self.namespaces = NamespaceController(self)
        # Order within a round: each controller reads what the ones before it wrote
        # (RS status from pods, deployment status from RS status) in the same round.
        self._controllers: list[Controller] = [
            self.namespaces,
            self.garbage,
            self.kubelet,
            self.replica_sets,
            self.deployments,
            self.endpoints,
        ]
        self._dirty: dict[str, set[Key]] = {c.name: set() for c in self._controllers}
        with store.lock:
            store.add_listener(self._on_event)
            self._index_existing()

    # -- recording (under the store lock) ----------------------------------------

    def _index_existing(self) -> None:
        """Treat what the store already holds as just added, so a late engine catches up."""
        for rtype in self.store.registry.types():
            for obj in self.store.list(rtype)[1]:
                meta = obj["metadata"]
                self._on_event(
                    WatchEvent(
                        int(meta.get("resourceVersion") or 0),
                        "ADDED",
                        rtype,
                        meta.get("namespace", ""),
                        obj,
                    )
                )

    def _on_event(self, event: WatchEvent) -> None:
        # A listener that raises would break the store write that called it, and tests
        # store malformed objects on purpose (validate=False).
        try:
            self._record(event)
        except Exception:
            log.exception(
                "workload engine could not index %s %s/%s; ignoring it",
                event.rtype.kind,
                event.namespace,
                (event.obj.get("metadata") or {}).get("name"),
            )

    def _record(self, event: WatchEvent) -> None:
        self.index.apply(event)
        obj, rtype, ns = event.obj, event.rtype, event.namespace
        meta = obj.get("metadata") or {}
        name = meta.get("name", "")
        deleted = event.type == "DELETED"
        if deleted:
            for dependent in self.index.dependents.get(meta.get("uid"), ()):
                self.garbage.queue(dependent)
            if ns in self.index.terminating_namespaces:
                self.mark(self.namespaces.name, ("", ns))
        elif meta.get("ownerReferences") and not any(
            uid in self.index.by_uid for uid in owner_uids(obj)
        ):
            self.garbage.queue((rtype, ns, name))
        owner = controller_uid(obj)
        owner_ref = self.index.by_uid.get(owner) if owner else None
        if rtype == PODS:
            self.mark(self.kubelet.name, (ns, name))
            if owner_ref is not None and owner_ref[0] == REPLICA_SETS:
                self.mark(self.replica_sets.name, owner_ref[1:])
                # A Recreate rollout waits for the old pods to be gone, not just terminating.
                grand = self.index.by_uid.get(self.index.controller_of.get(owner, ""))
                if deleted and grand is not None and grand[0] == DEPLOYMENTS:
                    self.mark(self.deployments.name, grand[1:])
            old_labels = (event.old or {}).get("metadata", {}).get("labels")
            for service in self.index.services_selecting(ns, meta.get("labels"), old_labels):
                self.mark(self.endpoints.name, (ns, service))
        elif rtype == REPLICA_SETS:
            self.mark(self.replica_sets.name, (ns, name))
            if owner_ref is not None and owner_ref[0] == DEPLOYMENTS:
                self.mark(self.deployments.name, owner_ref[1:])
        elif rtype == DEPLOYMENTS:
            self.mark(self.deployments.name, (ns, name))
        elif rtype == SERVICES:
            self.mark(self.endpoints.name, (ns, name))
        elif rtype in (ENDPOINTS, ENDPOINT_SLICES):
            # Someone else changed what the controller owns; its own writes need no second look.
            service = name if rtype == ENDPOINTS else managed_service(obj)
            if service and not self.endpoints.writing:
                self.mark(self.endpoints.name, (ns, service))
        elif rtype == NAMESPACES and name in self.index.terminating_namespaces:
            self.mark(self.namespaces.name, ("", name))

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

    # -- reconciling ---------------------------------------------------------------

    def _fire_timers(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:
            at, _, controller, key, background = heapq.heappop(self._timers)
            if not background:
                self._foreground_timers -= 1
            if self._timer_at.get((controller, key)) == at:
                del self._timer_at[(controller, key)]
            self._dirty[controller].add(key)

    def step(self, now: float | None = None) -> bool:
        """One reconcile pass: due timers and dirty objects; True if it wrote anything."""
        return self._step(self.clock() if now is None else now, self._controllers)

    def _step(self, now: float, controllers: list[Controller]) -> bool:
        wrote = False
        with self.store.lock:
            self._fire_timers(now)
            for _ in range(MAX_ROUNDS):
                if not any(self._dirty[c.name] for c in controllers):
                    break
                for controller in controllers:
                    wrote |= self._reconcile_dirty(controller, now)
        return wrote

    def _reconcile_dirty(self, controller: Controller, now: float) -> bool:
        keys = sorted(self._dirty[controller.name])
        self._dirty[controller.name] = set()
        wrote = False
        for position, key in enumerate(keys):
            try:
                wrote |= controller.reconcile(key, now)
            except ApiError as exc:
                log.info(
                    "%s: reconciling %s/%s failed (%s %s); retrying in %.1f s",
                    controller.name,
                    key[0],
                    key[1],
                    exc.code,
                    exc.message,
                    RETRY_S,
                )
                self.schedule(controller.name, key, now + RETRY_S)
            except Exception:
                # The failing key is dropped (no hot loop on a poison object); the rest stay queued.
                self._dirty[controller.name].update(keys[position + 1 :])
                raise
        return wrote

    @property
    def busy(self) -> bool:
        """Whether any object waits to be reconciled now."""
        return any(self._dirty.values())

    def settle(self, max_steps: int = 10_000) -> None:
        """Step on a virtual clock jumping to the next timer until only background ones remain.

        Like `run`, each jump covers at least one tick, so thousands of jittered
        timers fire in a few dozen batched steps rather than one step each. Nothing
        reads Endpoints back, so they are brought up to date once, at the end: a
        seeded cluster needs the settled picture, not every intermediate one.
        """
        now = self.clock()
        workloads = [c for c in self._controllers if c is not self.endpoints]
        for _ in range(max_steps):
            self._step(now, workloads)
            if any(self._dirty[c.name] for c in workloads):
                continue
            if not self._foreground_timers:
                self.step(now)
                if not self.busy:
                    return
                continue
            now = max(now + self.config.tick_s, self._timers[0][0])
        log.warning("workload engine did not settle within %d steps", max_steps)

    async def run(self, stop: asyncio.Event) -> None:
        """Step every `tick_s` until `stop` is set; a failing step is logged, never fatal."""
        while not stop.is_set():
            try:
                self.step()
            except Exception:
                log.exception("workload engine step failed; continuing with the next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.config.tick_s)

    def close(self) -> None:
        """Stop following the store."""
        self.store.remove_listener(self._on_event)

    # -- helpers for controllers -----------------------------------------------------

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


# Kubernetes' rand.String alphabet: no vowels or lookalikes, so names spell nothing.
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
