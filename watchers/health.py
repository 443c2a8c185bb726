"""Pod status, health levels and their roll-up, pod summaries and rollout splits.

The topology (DESIGN §4) and the churn summariser (§5) must agree on what "ready", "pending" or
"failed" means for a pod and on how health rolls up the tree; keeping those rules here, as pure
functions of raw pod objects, gives both one definition with one set of tests.

Pod health (field `health` on Pod nodes):
- `error`: phase Failed, or a container waiting with a reason in `ERROR_REASONS`
  (CrashLoopBackOff, ImagePullBackOff, ErrImagePull, ...);
- `ok`: the Ready condition is True and the pod is not terminating. Restarts alone do not warn:
  a pod that restarted once last week and has served since is fine, and `restarts` is shown;
- `warn`: everything else (Pending, Running but not Ready, Terminating, Unknown).

Every other node has `Healthy`, `Degraded`, `Unknown` or `Down`. Roll-up takes the worst child,
ordered Down > Degraded > Unknown > Healthy: an unknown part (a selector-less service with no
endpoints, a backend in another namespace) is less alarming than a partial outage but must not
be hidden behind a green parent. For roll-up only, pod ok/warn/error count as Healthy/Degraded/Down.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from watchers.kobjects import as_dict, as_int, as_list, as_str, labels_of, metadata, status

HEALTHY, UNKNOWN, DEGRADED, DOWN = "Healthy", "Unknown", "Degraded", "Down"
POD_OK, POD_WARN, POD_ERROR = "ok", "warn", "error"

_SEVERITY = {HEALTHY: 0, UNKNOWN: 1, DEGRADED: 2, DOWN: 3}
_POD_AS_NODE = {POD_OK: HEALTHY, POD_WARN: DEGRADED, POD_ERROR: DOWN}

# Waiting reasons that do not clear by themselves: the pod needs a human, not patience.
ERROR_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)

TERMINATING = "Terminating"


@dataclass(frozen=True, slots=True)
class PodState:
    """What the topology needs from one pod, read once per build."""

    labels: dict[str, str]
    phase: str  # status.phase as reported ("Unknown" when absent)
    terminating: bool
    ready: bool  # condition Ready is "True"
    restarts: int
    reason: str | None  # the waiting/status reason worth showing, if any
    owner: str | None  # "Deployment/web", "StatefulSet/db", ...
    revision: str | None  # pod-template-hash or controller-revision-hash

    @property
    def shown_phase(self) -> str:
        return TERMINATING if self.terminating else self.phase

    @property
    def serving(self) -> bool:
        """Ready and not on its way out: what a Service would send traffic to."""
        return self.ready and not self.terminating

    @property
    def health(self) -> str:
        if self.phase == "Failed" or self.reason in ERROR_REASONS:
            return POD_ERROR
        return POD_OK if self.serving else POD_WARN


def _controller(pod: dict, labels: dict[str, str]) -> tuple[str | None, str | None]:
    """The pod's workload as "Kind/name", and the revision it runs.

    A ReplicaSet named `<deployment>-<pod-template-hash>` stands for its Deployment, so both
    ReplicaSets of a rolling update count as one workload, split by revision.
    """
    template_hash = labels.get("pod-template-hash")
    for ref in as_list(metadata(pod).get("ownerReferences")):
        ref = as_dict(ref)
        kind, name = as_str(ref.get("kind")), as_str(ref.get("name"))
        if ref.get("controller") is not True or not kind or not name:
            continue
        if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
            return f"Deployment/{name[: -len(template_hash) - 1]}", template_hash
        return f"{kind}/{name}", template_hash or labels.get("controller-revision-hash")
    return None, None


def _reason(pod_status: dict) -> str | None:
    containers = as_list(pod_status.get("initContainerStatuses")) + as_list(
        pod_status.get("containerStatuses")
    )
    waiting = [
        as_str(as_dict(as_dict(as_dict(c).get("state")).get("waiting")).get("reason"))
        for c in containers
    ]
    return next((r for r in waiting if r in ERROR_REASONS), None) or (
        as_str(pod_status.get("reason")) or next((r for r in waiting if r), None)
    )


def pod_state(pod: dict) -> PodState:
    """Read a raw pod object; ill-typed parts count as absent."""
    pod_status = status(pod)
    conditions = (as_dict(c) for c in as_list(pod_status.get("conditions")))
    labels = labels_of(pod)
    owner, revision = _controller(pod, labels)
    return PodState(
        labels=labels,
        phase=as_str(pod_status.get("phase")) or "Unknown",
        terminating=metadata(pod).get("deletionTimestamp") is not None,
        ready=any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions),
        restarts=sum(
            as_int(as_dict(c).get("restartCount"))
            for c in as_list(pod_status.get("containerStatuses"))
        ),
        reason=_reason(pod_status),
        owner=owner,
        revision=revision,
    )


def rollup_health(node: dict) -> str:
    """A node's health on the Healthy…Down scale (pods translated)."""
    health = node["health"]
    return _POD_AS_NODE.get(health, health)


def known(value: object) -> str:
    """`value` if it is a node health level, else Unknown."""
    return value if isinstance(value, str) and value in _SEVERITY else UNKNOWN


def worst(healths: Iterable[str], default: str) -> str:
    """The most severe of `healths`, or `default` when there are none."""
    return max(healths, key=_SEVERITY.__getitem__, default=default)


def ready_health(ready: int, total: int) -> str:
    """Healthy when all of ≥1 are ready, Degraded when some are, Down when none are."""
    if ready == 0:
        return DOWN
    return HEALTHY if ready == total else DEGRADED


def pod_summary(states: Iterable[PodState]) -> dict[str, int]:
    """{total, ready, pending, terminating, failed}; terminating wins over the phase buckets."""
    summary = {"total": 0, "ready": 0, "pending": 0, "terminating": 0, "failed": 0}
    for state in states:
        summary["total"] += 1
        summary["ready"] += state.serving
        if state.terminating:
            summary["terminating"] += 1
        elif state.phase == "Pending":
            summary["pending"] += 1
        elif state.phase == "Failed":
            summary["failed"] += 1
    return summary


def rollout(states: Iterable[PodState]) -> list[dict]:
    """Pods per workload and revision: [{owner, revision, total, ready}], sorted."""
    counts: dict[tuple[str, str], list[int]] = {}
    for state in states:
        entry = counts.setdefault((state.owner or "", state.revision or ""), [0, 0])
        entry[0] += 1
        entry[1] += state.serving
    return [
        {"owner": owner or None, "revision": revision or None, "total": total, "ready": ready}
        for (owner, revision), (total, ready) in sorted(counts.items())
    ]
