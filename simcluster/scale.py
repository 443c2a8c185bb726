"""The `scale` subresource: a Deployment's or ReplicaSet's replicas as an autoscaling/v1 Scale.

`kubectl scale` and autoscalers read and write replicas through this view rather
than the whole object: GET shows it, PUT and PATCH change `spec.replicas` and
nothing else. The Scale carries the object's own name, uid and resourceVersion,
so a stale resourceVersion in a PUT conflicts exactly as on the object itself.
"""

from __future__ import annotations

from typing import Any

from simcluster import errors
from simcluster.resources import ResourceType
from simcluster.selectors import SelectorError, selector_from_object
from simcluster.store import Obj

# The Scale body's own type: for patch flavours and error messages, never stored.
SCALE = ResourceType("autoscaling", "v1", "scale", "Scale", True)


def scale_of(obj: Obj) -> Obj:
    """The Scale view of a scalable object."""
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    try:
        selector = selector_from_object(spec.get("selector") or {}).text()
    except SelectorError:
        selector = ""
    return {
        "kind": SCALE.kind,
        "apiVersion": SCALE.api_version,
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": int(spec.get("replicas", 1))},
        "status": {
            "replicas": int((obj.get("status") or {}).get("replicas") or 0),
            "selector": selector,
        },
    }


def wanted_replicas(body: Any, name: str) -> int:
    """`spec.replicas` of a Scale body for the object `name`: 400 or 422 when unusable."""
    if not isinstance(body, dict):
        raise errors.bad_request("the body of the request was in an unknown format")
    meta = body.get("metadata") or {}
    if meta.get("name", name) != name:
        raise errors.bad_request(
            f"the name of the object ({meta.get('name')}) does not match the name on the "
            f"URL ({name})"
        )
    replicas = (body.get("spec") or {}).get("replicas", 0)
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise errors.bad_request(
            f"json: cannot unmarshal {type(replicas).__name__} into Go struct field "
            "ScaleSpec.spec.replicas of type int32"
        )
    if replicas < 0:
        raise errors.invalid(
            SCALE.kind,
            name,
            [
                {
                    "reason": "FieldValueInvalid",
                    "message": f"Invalid value: {replicas}: must be greater than or equal to 0",
                    "field": "spec.replicas",
                }
            ],
            SCALE.group,
        )
    return replicas


def with_replicas(obj: Obj, replicas: int) -> Obj:
    """`obj` with `spec.replicas` set, as a new dict (stored objects are shared)."""
    return {**obj, "spec": {**(obj.get("spec") or {}), "replicas": replicas}}
