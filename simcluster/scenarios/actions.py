"""What drivers do to a running cluster: the writes a user or CD pipeline would make.

Each is one atomic read-modify-write through the Store (under its lock, so no
409 against the engine's concurrent status writes), and each changes only what
`kubectl` would: a rollout restart stamps the pod template, a scale sets
`spec.replicas`. The workload engine does the rest.
"""

from __future__ import annotations

from datetime import UTC, datetime

from simcluster.jsoncopy import copy_json
from simcluster.scenarios.manifests import DEPLOYMENTS
from simcluster.store import Obj, Store

# The annotation `kubectl rollout restart` sets on the pod template.
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"


def rollout_restart(store: Store, namespace: str, name: str, now: float) -> Obj:
    """Start a rolling update of a Deployment, as `kubectl rollout restart` does."""
    # Milliseconds, unlike kubectl's seconds, so two restarts in one second still differ.
    stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
    with store.lock:
        deployment = copy_json(store.get(DEPLOYMENTS, namespace, name))
        template_meta = deployment["spec"]["template"].setdefault("metadata", {})
        template_meta.setdefault("annotations", {})[RESTARTED_AT] = stamp.replace("+00:00", "Z")
        return store.update(DEPLOYMENTS, namespace, name, deployment)


def scale(store: Store, namespace: str, name: str, replicas: int) -> Obj:
    """Set a Deployment's replica count, as `kubectl scale` does."""
    with store.lock:
        deployment = copy_json(store.get(DEPLOYMENTS, namespace, name))
        deployment["spec"]["replicas"] = replicas
        return store.update(DEPLOYMENTS, namespace, name, deployment)


def rollout_complete(deployment: Obj) -> bool:
    """Whether the Deployment is at rest, by the rule `kubectl rollout status` uses."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    wanted = spec.get("replicas", 1)
    return (
        int(status.get("observedGeneration", 0)) >= int(deployment["metadata"]["generation"])
        and status.get("updatedReplicas", 0) == wanted
        and status.get("replicas", 0) == wanted
        and status.get("availableReplicas", 0) == wanted
    )
