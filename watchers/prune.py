"""Cut raw API objects down to what the topology reads, before they are stored.

Pods arrive at ~2.4 KB each with managedFields, probe timestamps and the like;
the topology reads a few hundred bytes of that. Keeping only those fields
bounds memory and makes "did anything visible change?" a plain equality test:
an event that only moved timestamps or the resourceVersion prunes to an equal
object and costs nothing downstream.

What is left is still mostly the same from pod to pod: the pods of a ReplicaSet have equal
labels, owner references and container specs, and every Ready pod has the same conditions.
`Sharing` makes equal parts one object (4.9 KB → 1.5 KB per stored pod on `large`, ~2 µs a
pod); stored objects are never changed in place, so nothing can tell.

`WireFormat` prunes while it parses: the same shapes, compiled into msgspec types, let one C
pass skip every field the topology never reads (~3 µs for a 2.4 KB pod event, against ~15 µs
for a full parse and `prune`; DESIGN §3 budgets the whole watcher at 1.2x a bare client loop).
msgspec only accepts a value of the shape's kind (an object where the shape has fields, an
array where it has `[...]`); anything else fails the fast pass and takes the tolerant one,
orjson plus `prune`, which keeps ill-typed parts for `kobjects.object_problem` to judge. Both
passes give equal results.
"""

from __future__ import annotations

from collections.abc import Iterator
from sys import getrefcount
from typing import Any, TypedDict

import msgspec
import orjson

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
}
CONTAINER_STATUS: dict[str, Shape] = {
    "restartCount": KEEP,
    "state": {"waiting": {"reason": KEEP}},
}
SHAPES: dict[str, dict[str, Shape]] = {
    "Namespace": {"metadata": METADATA, "status": {"phase": KEEP}},
    "Pod": {
        "metadata": METADATA,
        "spec": {"nodeName": KEEP, "containers": [{"ports": KEEP}]},
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


# On the wire the informer also needs each object's resourceVersion (resume point, relist
# index); it takes it out before the object is stored.
WIRE_SHAPES: dict[str, dict[str, Shape]] = {
    kind: {**shape, "metadata": {**METADATA, "resourceVersion": KEEP}}
    for kind, shape in SHAPES.items()
}
_ANY_OBJECT: dict[str, Shape] = {}  # unknown kinds: kept whole

# Where objects of a kind carry parts equal to other objects': parent key ("" for the object
# itself) → the keys under it.
_META_SHARED = {"metadata": ("labels", "annotations", "ownerReferences")}
SHARED: dict[str, dict[str, tuple[str, ...]]] = {
    "Pod": {
        **_META_SHARED,
        "": ("spec",),
        "status": ("conditions", "containerStatuses", "initContainerStatuses"),
    },
    "Service": _META_SHARED,
    "EndpointSlice": _META_SHARED,
}
SHARED_LIMIT = 1 << 16  # distinct parts remembered; past it, sharing starts over
SWEEP_FLOOR = 1024
"""Distinct parts remembered before the first sweep for parts no stored object holds."""


def _refcounts(known: dict[bytes, Any]) -> Iterator[tuple[bytes, int]]:
    return ((text, getrefcount(value)) for text, value in known.items())


# What `_refcounts` reports for a value only the table holds (the table's reference and the
# iteration's own), measured once on the same path rather than assumed per Python version.
_ALONE = next(_refcounts({b"": []}))[1]


class Sharing:
    """Hands out one object for equal JSON values (hash-consing), keyed by their JSON text.

    Only for values nobody changes in place. Memory is bounded: a part whose objects are all
    gone (a replaced pod's conditions, with their timestamps, are never seen again) is
    forgotten at the next sweep, which comes once the table has doubled since the last one,
    so sweeps cost O(1) per part; the table never holds more than SHARED_LIMIT parts (past
    it, it starts over: earlier objects keep what they share). Runs for every watch event,
    so it is one flat loop.
    """

    def __init__(self, parts: dict[str, tuple[str, ...]]) -> None:
        self._parts = tuple(parts.items())
        self._known: dict[bytes, Any] = {}
        self._sweep_at = min(SWEEP_FLOOR, SHARED_LIMIT)

    def share(self, obj: Any) -> Any:
        """`obj` with its parts replaced by equal ones seen before."""
        if not isinstance(obj, dict):
            return obj
        known, dumps = self._known, orjson.dumps
        for parent_key, keys in self._parts:
            parent = obj.get(parent_key) if parent_key else obj
            if not isinstance(parent, dict):
                continue
            for key in keys:
                value = parent.get(key)
                if value is None:
                    continue
                try:
                    text = dumps(value)
                except orjson.JSONEncodeError:  # a number JSON allows and orjson does not
                    continue
                seen = known.get(text)
                if seen is None:
                    if len(known) >= self._sweep_at:
                        self._sweep()
                    known[text] = value
                elif seen is not value:
                    parent[key] = seen
        return obj

    def _sweep(self) -> None:
        known = self._known
        for text in [text for text, count in _refcounts(known) if count <= _ALONE]:
            del known[text]
        if len(known) >= SHARED_LIMIT:
            known.clear()
        self._sweep_at = min(max(SWEEP_FLOOR, 2 * len(known)), SHARED_LIMIT)


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


def _drop_annotations(obj: Any) -> Any:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        annotations = meta["annotations"]
        if DROPPED_ANNOTATIONS.intersection(annotations):
            meta["annotations"] = {
                k: v for k, v in annotations.items() if k not in DROPPED_ANNOTATIONS
            }
    return obj


def prune(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The parts of `obj` the topology reads; unknown kinds are kept whole."""
    shape = SHAPES.get(kind)
    if shape is None:
        return obj
    return _drop_annotations(_prune(obj, shape))


def _record(name: str, fields: dict[str, Any], total: bool) -> Any:
    """A TypedDict type: msgspec decodes it into a plain dict, skipping unknown keys."""
    return TypedDict(name, fields, total=total)  # type: ignore[operator]


def _msgspec_type(shape: Shape, name: str) -> Any:
    if shape is KEEP or shape is _ANY_OBJECT:
        return Any
    if isinstance(shape, list):
        return list[_msgspec_type(shape[0], name)]
    fields = {key: _msgspec_type(sub, f"{name}_{key}") for key, sub in shape.items()}
    return _record(name, fields, total=False)


class WireFormat:
    """Parses one resource's watch lines and list pages into objects pruned to `WIRE_SHAPES`.

    Objects keep `metadata.resourceVersion` for the informer, which removes it before they
    leave it. Raises ValueError (not JSON), or KeyError/TypeError/AttributeError when the text
    is JSON but not the expected structure, exactly as reading orjson's result would.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._shape = WIRE_SHAPES.get(kind, _ANY_OBJECT)
        self._share = Sharing(SHARED.get(kind, {})).share
        obj_type = _msgspec_type(self._shape, kind)
        event = _record(f"{kind}Event", {"type": str, "object": obj_type}, total=True)
        page = _record(f"{kind}List", {"metadata": Any, "items": list[obj_type] | None}, False)
        self._event = msgspec.json.Decoder(event)
        self._page = msgspec.json.Decoder(page)

    def _prune(self, obj: Any) -> Any:
        if self._shape is _ANY_OBJECT:
            return obj
        return self._share(_drop_annotations(_prune(obj, self._shape)))

    def event(self, line: bytes) -> tuple[Any, Any]:
        """(type, object) of one watch line; an ERROR's object is the whole Status."""
        try:
            event = self._event.decode(line)
        except msgspec.DecodeError:
            event = None
        if event is None or event["type"] == "ERROR":
            event = orjson.loads(line)
            etype, obj = event["type"], event["object"]
            return etype, obj if etype == "ERROR" else self._prune(obj)
        return event["type"], self._share(_drop_annotations(event["object"]))

    def page(self, body: bytes) -> Any:
        """One LIST response: the List object with its items pruned (as sent when malformed)."""
        try:
            page = self._page.decode(body)
        except msgspec.DecodeError:
            page = orjson.loads(body)
            items = page.get("items") if isinstance(page, dict) else None
            if isinstance(items, list):
                page["items"] = [self._prune(item) for item in items]
            return page
        share = self._share
        for item in page.get("items") or ():
            share(_drop_annotations(item))
        return page
