"""Cut raw API objects down to what the topology reads, before they are stored.

Pods arrive at ~2.4 KB each with managedFields, probe timestamps and the like;
the topology reads a few hundred bytes of that. Keeping only those fields
bounds memory at 10,000 pods and makes "did anything visible change?" a plain
equality test: an event that only moved timestamps or the resourceVersion
prunes to an equal object and costs nothing downstream.
"""

from __future__ import annotations

from typing import Any

KEEP = True
Shape = Any  # KEEP, a dict of field → Shape, or a one-element list [Shape] for arrays

# Annotations that are large and never shown: kubectl's copy of the whole object.
DROPPED_ANNOTATIONS = frozenset({"kubectl.kubernetes.io/last-applied-configuration"})

METADATA: dict[str, Shape] = {
    "name": KEEP,
    "namespace": KEEP,
    "uid": KEEP,
    "labels": KEEP,
    "annotations": KEEP,
    "ownerReferences": [{"kind": KEEP, "name": KEEP, "controller": KEEP}],
    "deletionTimestamp": KEEP,
    "creationTimestamp": KEEP,
}
CONTAINER_STATUS: dict[str, Shape] = {
    "name": KEEP,
    "ready": KEEP,
    "restartCount": KEEP,
    "state": {"waiting": {"reason": KEEP}, "terminated": {"reason": KEEP}},
}
SHAPES: dict[str, dict[str, Shape]] = {
    "Namespace": {"metadata": METADATA, "status": {"phase": KEEP}},
    "Pod": {
        "metadata": METADATA,
        "spec": {"nodeName": KEEP, "containers": [{"name": KEEP, "ports": KEEP}]},
        "status": {
            "phase": KEEP,
            "reason": KEEP,
            "podIP": KEEP,
            "podIPs": KEEP,
            "conditions": [{"type": KEEP, "status": KEEP}],
            "containerStatuses": [CONTAINER_STATUS],
            "initContainerStatuses": [CONTAINER_STATUS],
        },
    },
    "Service": {
        "metadata": METADATA,
        "spec": {
            "type": KEEP,
            "selector": KEEP,
            "ports": KEEP,
            "clusterIP": KEEP,
            "externalIPs": KEEP,
            "externalName": KEEP,
        },
        "status": {"loadBalancer": KEEP},
    },
    "EndpointSlice": {
        "metadata": METADATA,
        "endpoints": [
            {
                "targetRef": {"kind": KEEP, "name": KEEP, "namespace": KEEP},
                "conditions": {"ready": KEEP},
            }
        ],
    },
    "Ingress": {"metadata": METADATA, "spec": KEEP},
    "HTTPRoute": {
        "metadata": METADATA,
        "spec": {"hostnames": KEEP, "rules": [{"backendRefs": KEEP}]},
    },
}


def _prune(value: Any, shape: Shape) -> Any:
    if shape is KEEP:
        return value
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return value  # ill-typed: the topology's tolerant readers decide
        return {key: _prune(value[key], sub) for key, sub in shape.items() if key in value}
    if isinstance(value, list):
        return [_prune(item, shape[0]) for item in value]
    return value


def prune(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The parts of `obj` the topology reads; unknown kinds are kept whole."""
    shape = SHAPES.get(kind)
    if shape is None:
        return obj
    pruned = _prune(obj, shape)
    meta = pruned.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        annotations = meta["annotations"]
        if DROPPED_ANNOTATIONS.intersection(annotations):
            meta["annotations"] = {
                k: v for k, v in annotations.items() if k not in DROPPED_ANNOTATIONS
            }
    return pruned
