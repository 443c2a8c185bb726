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
import logging
import time
from collections.abc import Callable

from simcluster.cleanup import GarbageCollector, NamespaceController
from simcluster.deployments import DeploymentController
from simcluster.endpoints import EndpointsController
from simcluster.errors import ApiError
from simcluster.kubelet import Kubelet
from simcluster.replicasets import ReplicaSetController
from simcluster.store import Store, WatchEvent
from simcluster.workload import (
    DEPLOYMENTS,
    ENDPOINT_SLICES,
    ENDPOINTS,
    NAMESPACES,
    PODS,
    REPLICA_SETS,
    SERVICES,
    Controller,
    EngineConfig,
    WorkloadCore,
    controller_uid,
    managed_service,
    owner_uids,
)

log = logging.getLogger("simcluster.engine")

# Rounds of reconciling within one step: a deployment scales a ReplicaSet, which
# creates pods, which the kubelet binds, all in one step when nothing waits on a
# timer; the bound keeps a controller that keeps writing from stalling the loop.
MAX_ROUNDS = 8
# A write the API refused (a namespace being terminated, a conflict) is retried
# this much later, as a controller's work queue would requeue it.
RETRY_S = 1.0


class WorkloadEngine(WorkloadCore):
    """Deployments, ReplicaSets, kubelets, endpoints, garbage and namespace collection."""

    def __init__(
        self,
        store: Store,
        config: EngineConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(store, config, clock)
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

    # -- reconciling ---------------------------------------------------------------

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

    def settle(self, max_steps: int = 10_000, tick_s: float | None = None) -> None:
        """Step on a virtual clock jumping to the next timer until only background ones remain.

        Like `run`, each jump covers at least one tick (`tick_s`, by default the
        configured one), so thousands of jittered timers fire in a few dozen batched
        steps rather than one step each; a longer tick batches more timers into each
        step, and so fewer ReplicaSet and Deployment reconciles. Nothing reads
        Endpoints back, so they are brought up to date once, at the end: a seeded
        cluster needs the settled picture, not every intermediate one.
        """
        tick_s = self.config.tick_s if tick_s is None else tick_s
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
            now = max(now + tick_s, self._timers[0][0])
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
