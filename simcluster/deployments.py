"""The Deployment controller: ReplicaSets per pod template, rolled by the real rules.

`kubectl rollout status`, dashboards and watchers read a rollout through the
Deployment's status and its ReplicaSets, so this follows kube-controller-manager's
deployment controller (rolling.go, recreate.go, sync.go): the same surge and
unavailability arithmetic, the same revision annotations, the same conditions.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from simcluster.jsoncopy import copy_json
from simcluster.kubelet import TERMINAL_PHASES
from simcluster.replicasets import spec_replicas, status_count
from simcluster.store import Obj, parse_rfc3339, rfc3339
from simcluster.workload import DEPLOYMENTS, PODS, REPLICA_SETS, Key, WorkloadCore

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# Kubernetes' SafeEncodeString alphabet, so hashes look like the real ones.
HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def pod_template_hash(template: dict[str, Any]) -> str:
    """A stable short hash of a pod template (the `pod-template-hash` label value)."""
    encoded = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    value = int.from_bytes(hashlib.sha256(encoded).digest()[:4], "big")
    return "".join(HASH_ALPHABET[byte % len(HASH_ALPHABET)] for byte in str(value).encode())


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """An int-or-percent of `total`, as intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, str):
        if not value.endswith("%"):
            return int(value)
        scaled = total * int(value[:-1])
        return -(-scaled // 100) if round_up else scaled // 100
    return int(value or 0)


def fenceposts(deployment: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved against spec.replicas; never both zero."""
    spec = deployment["spec"]
    replicas = spec_replicas(deployment)
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = scaled_value(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = scaled_value(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def revision(obj: Obj) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, 0))
    except ValueError:
        return 0


def _template_without_hash(rs: Obj) -> dict[str, Any]:
    """The ReplicaSet's pod template minus its hash label, for comparing (shares its parts)."""
    template = rs["spec"].get("template") or {}
    meta = template.get("metadata")
    if not isinstance(meta, dict) or HASH_LABEL not in (meta.get("labels") or {}):
        return template
    labels = {key: value for key, value in meta["labels"].items() if key != HASH_LABEL}
    return {**template, "metadata": {**meta, "labels": labels}}


def _condition(
    kind: str, status: str, reason: str, message: str, now: float, previous: dict[str, Any] | None
) -> dict[str, Any]:
    """A condition, keeping its times when nothing about it changed."""
    if previous and (previous.get("status"), previous.get("reason")) == (status, reason):
        return previous
    stamp = rfc3339(now)
    transition = (
        previous["lastTransitionTime"] if previous and previous.get("status") == status else stamp
    )
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }


class DeploymentController:
    """Creates, scales and prunes a Deployment's ReplicaSets and reports the rollout."""

    name = "deployments"

    def __init__(self, engine: WorkloadCore) -> None:
        self.engine = engine
        self.store = engine.store

    def reconcile(self, key: Key, now: float) -> bool:
        deployment = self.store.find(DEPLOYMENTS, *key)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return False
        all_rss = self._replica_sets(deployment)
        template = deployment["spec"]["template"]
        new_rs = next((rs for rs in all_rss if _template_without_hash(rs) == template), None)
        old_rss = sorted(
            (rs for rs in all_rss if rs is not new_rs),
            key=lambda rs: (rs["metadata"].get("creationTimestamp", ""), rs["metadata"]["name"]),
        )
        created = False
        wrote = False
        if not deployment["spec"].get("paused"):
            if new_rs is not None:
                new_rs, wrote = self._sync_revision(deployment, new_rs, old_rss)
            recreate = (deployment["spec"].get("strategy") or {}).get("type") == "Recreate"
            rollout = self._recreate if recreate else self._rolling
            new_rs, created, scaled = rollout(deployment, new_rs, old_rss)
            wrote |= created or scaled
            if not scaled:
                wrote |= self._prune_history(deployment, new_rs, old_rss)
        deployment = self.store.get(DEPLOYMENTS, *key)
        return self._sync_status(deployment, new_rs, now, created) or wrote

    def _replica_sets(self, deployment: Obj) -> list[Obj]:
        return [
            rs
            for rs in self.engine.dependents(deployment, REPLICA_SETS)
            if not rs["metadata"].get("deletionTimestamp")
        ]

    # -- revisions and ReplicaSets ------------------------------------------------------

    def _sync_revision(self, deployment: Obj, new_rs: Obj, old_rss: list[Obj]) -> tuple[Obj, bool]:
        """The new ReplicaSet carries the highest revision; the Deployment shows it."""
        wanted = max((revision(rs) for rs in old_rss), default=0) + 1
        wrote = False
        if revision(new_rs) < wanted:
            new_rs = self._annotate(REPLICA_SETS, new_rs, {REVISION: str(wanted)})
            wrote = True
        current = str(revision(new_rs))
        if (deployment["metadata"].get("annotations") or {}).get(REVISION) != current:
            self._annotate(DEPLOYMENTS, deployment, {REVISION: current})
            wrote = True
        return new_rs, wrote

    def _annotate(self, rtype: Any, obj: Obj, annotations: dict[str, str]) -> Obj:
        meta = obj["metadata"]
        updated = {
            **obj,
            "metadata": {**meta, "annotations": {**(meta.get("annotations") or {}), **annotations}},
        }
        return self.store.update(rtype, meta["namespace"], meta["name"], updated)

    def _create_rs(self, deployment: Obj, old_rss: list[Obj], replicas: int) -> Obj:
        meta = deployment["metadata"]
        spec = deployment["spec"]
        template = copy_json(spec["template"])
        template_hash = pod_template_hash(template)
        template_meta = template.setdefault("metadata", {})
        template_meta["labels"] = {**(template_meta.get("labels") or {}), HASH_LABEL: template_hash}
        selector = copy_json(spec["selector"])
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: template_hash}
        rev = str(max((revision(rs) for rs in old_rss), default=0) + 1)
        surge, _ = fenceposts(deployment)
        rs = {
            "metadata": {
                "name": f"{meta['name']}-{template_hash}",
                "namespace": meta["namespace"],
                "labels": dict(template_meta["labels"]),
                "annotations": {
                    REVISION: rev,
                    DESIRED_REPLICAS: str(spec_replicas(deployment)),
                    MAX_REPLICAS: str(spec_replicas(deployment) + surge),
                },
                "ownerReferences": [self.engine.controller_ref(deployment)],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
        }
        created = self.store.create(REPLICA_SETS, meta["namespace"], rs)
        if (meta.get("annotations") or {}).get(REVISION) != rev:
            self._annotate(DEPLOYMENTS, deployment, {REVISION: rev})
        return created

    def _scale(self, rs: Obj, replicas: int, deployment: Obj) -> Obj:
        surge, _ = fenceposts(deployment)
        desired = spec_replicas(deployment)
        meta = rs["metadata"]
        annotations = {
            **(meta.get("annotations") or {}),
            DESIRED_REPLICAS: str(desired),
            MAX_REPLICAS: str(desired + surge),
        }
        scaled = {
            **rs,
            "metadata": {**meta, "annotations": annotations},
            "spec": {**rs["spec"], "replicas": replicas},
        }
        return self.store.update(REPLICA_SETS, meta["namespace"], meta["name"], scaled)

    # -- strategies ------------------------------------------------------------------------
    # Each returns (new ReplicaSet, whether it was created, whether anything was scaled);
    # like the real controller a pass stops after scaling and waits for the next event.

    def _rolling(
        self, deployment: Obj, new_rs: Obj | None, old_rss: list[Obj]
    ) -> tuple[Obj | None, bool, bool]:
        replicas = spec_replicas(deployment)
        surge, max_unavailable = fenceposts(deployment)
        current = spec_replicas(new_rs) if new_rs else 0
        in_old = sum(spec_replicas(rs) for rs in old_rss)
        # NewRSNewReplicas: grow the new set as far as the surge allows.
        wanted = current
        if current < replicas:
            room = replicas + surge - (current + in_old)
            wanted = current + max(0, min(room, replicas - current))
        elif current > replicas:
            wanted = replicas
        if new_rs is None:
            return self._create_rs(deployment, old_rss, wanted), True, False
        if wanted != current:
            return self._scale(new_rs, wanted, deployment), False, True
        return new_rs, False, self._scale_down_old(deployment, new_rs, old_rss, max_unavailable)

    def _scale_down_old(
        self, deployment: Obj, new_rs: Obj, old_rss: list[Obj], max_unavailable: int
    ) -> bool:
        """reconcileOldReplicaSets: unhealthy old pods first, then as availability allows."""
        targets = {rs["metadata"]["uid"]: spec_replicas(rs) for rs in old_rss}
        if not sum(targets.values()):
            return False
        min_available = spec_replicas(deployment) - max_unavailable
        new_unavailable = spec_replicas(new_rs) - status_count(new_rs, "availableReplicas")
        budget = spec_replicas(new_rs) + sum(targets.values()) - min_available - new_unavailable
        if budget <= 0:
            return False
        for rs in old_rss:
            uid = rs["metadata"]["uid"]
            unhealthy = targets[uid] - status_count(rs, "availableReplicas")
            cut = min(budget, unhealthy)
            if targets[uid] and cut > 0:
                targets[uid] -= cut
                budget -= cut
        available = sum(status_count(rs, "availableReplicas") for rs in [new_rs, *old_rss])
        spare = available - min_available
        for rs in old_rss:
            uid = rs["metadata"]["uid"]
            cut = min(targets[uid], spare)
            if cut > 0:
                targets[uid] -= cut
                spare -= cut
        scaled = False
        for rs in old_rss:
            if targets[rs["metadata"]["uid"]] != spec_replicas(rs):
                self._scale(rs, targets[rs["metadata"]["uid"]], deployment)
                scaled = True
        return scaled

    def _recreate(
        self, deployment: Obj, new_rs: Obj | None, old_rss: list[Obj]
    ) -> tuple[Obj | None, bool, bool]:
        """Scale every old set to zero, wait for their pods to go, then start the new set."""
        scaled = False
        for rs in old_rss:
            if spec_replicas(rs):
                self._scale(rs, 0, deployment)
                scaled = True
        if scaled or any(
            pod.get("status", {}).get("phase") not in TERMINAL_PHASES
            for rs in old_rss
            for pod in self.engine.dependents(rs, PODS)
        ):
            return new_rs, False, scaled
        replicas = spec_replicas(deployment)
        if new_rs is None:
            return self._create_rs(deployment, old_rss, replicas), True, False
        if spec_replicas(new_rs) != replicas:
            return self._scale(new_rs, replicas, deployment), False, True
        return new_rs, False, False

    def _prune_history(self, deployment: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> bool:
        """Delete drained old ReplicaSets beyond revisionHistoryLimit, oldest revision first."""
        if new_rs is None or status_count(new_rs, "availableReplicas") < spec_replicas(deployment):
            return False
        limit = int(deployment["spec"].get("revisionHistoryLimit", 10))
        drained = sorted(
            (rs for rs in old_rss if not spec_replicas(rs) and not status_count(rs, "replicas")),
            key=revision,
        )
        for rs in drained[: max(0, len(drained) - limit)]:
            self.store.delete(REPLICA_SETS, rs["metadata"]["namespace"], rs["metadata"]["name"])
        return len(drained) > limit

    # -- status ------------------------------------------------------------------------------

    def _sync_status(self, deployment: Obj, new_rs: Obj | None, now: float, created: bool) -> bool:
        all_rss = self._replica_sets(deployment)
        new_rs = next(
            (rs for rs in all_rss if new_rs and rs["metadata"]["uid"] == new_rs["metadata"]["uid"]),
            None,
        )
        replicas = spec_replicas(deployment)
        _, max_unavailable = fenceposts(deployment)
        old = deployment.get("status") or {}
        available = sum(status_count(rs, "availableReplicas") for rs in all_rss)
        counts = {
            "replicas": sum(status_count(rs, "replicas") for rs in all_rss),
            "updatedReplicas": status_count(new_rs, "replicas") if new_rs else 0,
            "readyReplicas": sum(status_count(rs, "readyReplicas") for rs in all_rss),
            "availableReplicas": available,
            "unavailableReplicas": max(0, sum(spec_replicas(rs) for rs in all_rss) - available),
        }
        status: dict[str, Any] = {"observedGeneration": deployment["metadata"].get("generation", 1)}
        # The real API omits zero counts (omitempty); clients read a missing one as 0.
        status.update((field, value) for field, value in counts.items() if value)
        previous = {c.get("type"): c for c in old.get("conditions") or ()}
        if available >= replicas - max_unavailable:
            availability = _condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.",
                now,
                previous.get("Available"),
            )
        else:
            availability = _condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
                now,
                previous.get("Available"),
            )
        progressing = self._progressing(
            deployment, new_rs, counts, old, now, created, previous.get("Progressing")
        )
        status["conditions"] = [c for c in (availability, progressing) if c]
        if status == old:
            return False
        meta = deployment["metadata"]
        self.store.update(
            DEPLOYMENTS,
            meta["namespace"],
            meta["name"],
            {"metadata": {"name": meta["name"]}, "status": status},
            subresource="status",
        )
        return True

    def _progressing(
        self,
        deployment: Obj,
        new_rs: Obj | None,
        counts: dict[str, int],
        old: dict[str, Any],
        now: float,
        created: bool,
        previous: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        """syncRolloutStatus: the Progressing condition `kubectl rollout status` reads."""
        replicas = spec_replicas(deployment)
        rs_name = new_rs["metadata"]["name"] if new_rs else deployment["metadata"]["name"]
        if created:
            return _condition(
                "Progressing",
                "True",
                "NewReplicaSetCreated",
                f'Created new replica set "{rs_name}"',
                now,
                previous,
            )
        if (
            previous
            and previous.get("reason") == "NewReplicaSetAvailable"
            and (counts["replicas"] == counts["updatedReplicas"])
        ):
            return previous
        if (
            counts["updatedReplicas"] == replicas
            and counts["replicas"] == replicas
            and counts["availableReplicas"] == replicas
        ):
            return _condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
                previous,
            )
        old_count = {field: int(old.get(field) or 0) for field in counts}
        moved = (
            counts["updatedReplicas"] > old_count["updatedReplicas"]
            or counts["replicas"] - counts["updatedReplicas"]
            < old_count["replicas"] - old_count["updatedReplicas"]
            or counts["readyReplicas"] > old_count["readyReplicas"]
            or counts["availableReplicas"] > old_count["availableReplicas"]
        )
        if moved:
            stamp = rfc3339(now)
            transition = (
                previous["lastTransitionTime"]
                if previous and previous.get("status") == "True"
                else stamp
            )
            return {
                "type": "Progressing",
                "status": "True",
                "lastUpdateTime": stamp,
                "lastTransitionTime": transition,
                "reason": "ReplicaSetUpdated",
                "message": f'ReplicaSet "{rs_name}" is progressing.',
            }
        return self._deadline(deployment, rs_name, now, previous)

    def _deadline(
        self, deployment: Obj, rs_name: str, now: float, previous: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """A stalled rollout times out after progressDeadlineSeconds, as the real one does."""
        seconds = deployment["spec"].get("progressDeadlineSeconds")
        if previous is None or previous.get("status") != "True" or seconds is None:
            return previous
        deadline = parse_rfc3339(previous["lastUpdateTime"]) + int(seconds)
        if now < deadline:
            meta = deployment["metadata"]
            self.engine.schedule(
                self.name, (meta["namespace"], meta["name"]), deadline, background=True
            )
            return previous
        return _condition(
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            f'ReplicaSet "{rs_name}" has timed out progressing.',
            now,
            previous,
        )
