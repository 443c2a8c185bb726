"""The ReplicaSet controller: as many live pods as `spec.replicas`, and a current status.

Deployments act only by scaling ReplicaSets, so what a rollout looks like to a
watcher (which pods appear, which are deleted first, when status counts move)
is decided here, following the real controller's choices.
"""

from __future__ import annotations

from typing import Any

from simcluster.jsoncopy import copy_json
from simcluster.kubelet import TERMINAL_PHASES, is_ready
from simcluster.selectors import map_selector_matches
from simcluster.store import Obj, parse_rfc3339
from simcluster.workload import PODS, REPLICA_SETS, Key, WorkloadCore

# Failed pods kept per ReplicaSet; older ones are deleted, as the pod GC would.
FAILED_PODS_KEPT = 5
# generateName leaves room for the 5-character suffix within a 63-character name.
MAX_GENERATE_NAME = 58
PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def spec_replicas(obj: Obj) -> int:
    return int((obj.get("spec") or {}).get("replicas", 1))


def status_count(obj: Obj, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def is_active(pod: Obj) -> bool:
    """Counts towards replicas: not being deleted and not finished."""
    return not pod["metadata"].get("deletionTimestamp") and (
        (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES
    )


def _created(obj: Obj) -> float:
    stamp = obj["metadata"].get("creationTimestamp")
    return parse_rfc3339(stamp) if stamp else 0.0


def deletion_order(pod: Obj) -> tuple[Any, ...]:
    """Pods to delete first sort first: unbound, pending, not ready, newer, more restarts."""
    status = pod.get("status") or {}
    ready_since = max(
        (
            parse_rfc3339(c["lastTransitionTime"])
            for c in status.get("conditions") or ()
            if c.get("type") == "Ready"
            and c.get("status") == "True"
            and c.get("lastTransitionTime")
        ),
        default=0.0,
    )
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or ())
    return (
        bool((pod.get("spec") or {}).get("nodeName")),
        PHASE_RANK.get(status.get("phase", "Pending"), 0),
        is_ready(pod),
        -ready_since,
        -restarts,
        -_created(pod),
        pod["metadata"]["name"],
    )


def _failed_at(pod: Obj) -> float:
    for container in (pod.get("status") or {}).get("containerStatuses") or ():
        finished = ((container.get("state") or {}).get("terminated") or {}).get("finishedAt")
        if finished:
            return parse_rfc3339(finished)
    return _created(pod)


class ReplicaSetController:
    """Creates and deletes a ReplicaSet's pods and keeps its status current."""

    name = "replicasets"

    def __init__(self, engine: WorkloadCore) -> None:
        self.engine = engine
        self.store = engine.store

    def reconcile(self, key: Key, now: float) -> bool:
        rs = self.store.find(REPLICA_SETS, *key)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return False
        pods = self.engine.dependents(rs, PODS)
        if self._manage_pods(rs, pods, now):
            self._sync_status(rs, self.engine.dependents(rs, PODS))
            return True
        return self._sync_status(rs, pods)

    def _manage_pods(self, rs: Obj, pods: list[Obj], now: float) -> bool:
        active = [pod for pod in pods if is_active(pod)]
        failed = sorted(
            (pod for pod in pods if pod.get("status", {}).get("phase") == "Failed"), key=_failed_at
        )
        # A failed pod holds its slot for one crash interval: replacing it at once
        # would spin a pod whose containers always fail into a tight create loop.
        backoff = self.engine.config.crash_interval_s
        holding = [at + backoff for at in map(_failed_at, failed) if at + backoff > now]
        if holding:
            self.engine.schedule(self.name, _key(rs), min(holding), background=True)
        wrote = False
        missing = spec_replicas(rs) - len(active) - len(holding)
        for _ in range(missing):
            self._create_pod(rs)
            wrote = True
        if missing < 0:
            for pod in sorted(active, key=deletion_order)[:-missing]:
                self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
                wrote = True
        for pod in failed[:-FAILED_PODS_KEPT]:
            self.store.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
            wrote = True
        return wrote

    def _create_pod(self, rs: Obj) -> Obj:
        meta = rs["metadata"]
        template = rs["spec"].get("template") or {}
        template_meta = template.get("metadata") or {}
        prefix = f"{meta['name']}-"[:MAX_GENERATE_NAME]
        name = prefix + self.engine.random_suffix()
        while self.store.find(PODS, meta["namespace"], name) is not None:
            name = prefix + self.engine.random_suffix()
        pod_meta: dict[str, Any] = {
            "name": name,
            "generateName": prefix,
            "namespace": meta["namespace"],
            "labels": dict(template_meta.get("labels") or {}),
            "ownerReferences": [self.engine.controller_ref(rs)],
        }
        if template_meta.get("annotations"):
            pod_meta["annotations"] = dict(template_meta["annotations"])
        pod = {"metadata": pod_meta, "spec": copy_json(template.get("spec") or {})}
        return self.store.create(PODS, meta["namespace"], pod)

    def _sync_status(self, rs: Obj, pods: list[Obj]) -> bool:
        active = [pod for pod in pods if is_active(pod)]
        template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels")
        ready = sum(1 for pod in active if is_ready(pod))
        status: dict[str, Any] = {**(rs.get("status") or {}), "replicas": len(active)}
        # The real API omits zero counts (omitempty); clients read a missing one as 0.
        for field, value in (
            (
                "fullyLabeledReplicas",
                sum(
                    1
                    for pod in active
                    if map_selector_matches(template_labels, pod["metadata"].get("labels"))
                    or not template_labels
                ),
            ),
            ("readyReplicas", ready),
            ("availableReplicas", ready),
        ):
            if value:
                status[field] = value
            else:
                status.pop(field, None)
        status["observedGeneration"] = rs["metadata"].get("generation", 1)
        if status == rs.get("status"):
            return False
        self.store.update(
            REPLICA_SETS,
            rs["metadata"]["namespace"],
            rs["metadata"]["name"],
            {"metadata": {"name": rs["metadata"]["name"]}, "status": status},
            subresource="status",
        )
        return True


def _key(obj: Obj) -> Key:
    return obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
