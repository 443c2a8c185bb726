"""The three PATCH flavours the apiserver accepts: JSON merge, JSON patch, strategic merge.

kubectl and the Python client send strategic merge patches for built-in types by default,
and client-side `kubectl apply` adds `$setElementOrder` directives; a plain RFC 7386 merge
would replace whole container lists with partial elements and store the `$` keys. So
simcluster applies each flavour as the real server does (strategic merge after
apimachinery's `strategicpatch/patch.go`), with the per-field merge keys kept in a table
instead of Go struct tags. Every function returns a new object and leaves its inputs alone:
stored objects are shared by LIST snapshots and queued watch events.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from simcluster.jsoncopy import copy_json

BAD_REQUEST = 400
UNPROCESSABLE = 422


class PatchError(ValueError):
    """A patch the server refuses; `code` is the HTTP status it answers with."""

    def __init__(self, message: str, code: int = UNPROCESSABLE) -> None:
        super().__init__(message)
        self.code = code


def json_equal(left: Any, right: Any) -> bool:
    """Equality as JSON means it: 1 == 1.0, but true is not 1."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return left == right
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(v, right[k]) for k, v in left.items())
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(json_equal, left, right))
    return type(left) is type(right) and left == right


# --- RFC 7386 JSON merge patch ---------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7386 merge patch: objects merge, null deletes, anything else replaces."""
    return _merge(copy_json(target), copy_json(patch))


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


# --- RFC 6902 JSON patch ---------------------------------------------------------------

_ARRAY_INDEX = re.compile(r"0|[1-9][0-9]*")
_OPERATION_FIELDS = {
    "add": ("value",),
    "remove": (),
    "replace": ("value",),
    "move": ("from",),
    "copy": ("from",),
    "test": ("value",),
}


def json_patch(target: Any, operations: Sequence[Any]) -> Any:
    """Apply RFC 6902 operations in order; any failure rejects the whole patch."""
    for operation in operations:
        _check_operation(operation)
    document = copy_json(target)
    for operation in operations:
        document = _apply_operation(document, operation)
    return document


def _check_operation(operation: Any) -> None:
    if not isinstance(operation, dict):
        raise PatchError(f"json patch operation must be an object, got {operation!r}", BAD_REQUEST)
    op = operation.get("op")
    if op not in _OPERATION_FIELDS:
        raise PatchError(f"Unexpected kind: {op}", BAD_REQUEST)
    if not isinstance(operation.get("path"), str):
        raise PatchError(f"{op} operation is missing a string path", BAD_REQUEST)
    for field in _OPERATION_FIELDS[op]:
        if field not in operation or (field == "from" and not isinstance(operation[field], str)):
            raise PatchError(f"{op} operation is missing {field!r}", BAD_REQUEST)


def _apply_operation(document: Any, operation: dict[str, Any]) -> Any:
    op, path = operation["op"], operation["path"]
    tokens = _pointer_tokens(path)
    if op == "add":
        return _add(document, tokens, copy_json(operation["value"]), path)
    if op == "remove":
        _remove(document, tokens, path)
        return document
    if op == "replace":
        return _replace(document, tokens, copy_json(operation["value"]), path)
    if op == "test":
        if not json_equal(_get(document, tokens, path), operation["value"]):
            raise PatchError(f"testing value {path} failed: test failed")
        return document
    source = operation["from"]
    source_tokens = _pointer_tokens(source)
    if op == "copy":
        value = copy_json(_get(document, source_tokens, source))
        return _add(document, tokens, value, path)
    if path.startswith(source + "/"):
        raise PatchError(f"move operation cannot move {source} into its own child {path}")
    if path == source:
        _get(document, tokens, path)
        return document
    return _add(document, tokens, _remove(document, source_tokens, source), path)


def _pointer_tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"JSON pointer must be empty or start with '/': {pointer!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _index(container: list[Any], token: str, path: str, *, inserting: bool) -> int:
    if inserting and token == "-":
        return len(container)
    limit = len(container) + (1 if inserting else 0)
    if not _ARRAY_INDEX.fullmatch(token) or int(token) >= limit:
        raise PatchError(f"array index {token!r} out of bounds in {path}")
    return int(token)


def _get(document: Any, tokens: list[str], path: str) -> Any:
    value = document
    for token in tokens:
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list):
            value = value[_index(value, token, path, inserting=False)]
        else:
            raise PatchError(f"doc is missing path: {path!r}: missing value")
    return value


def _add(document: Any, tokens: list[str], value: Any, path: str) -> Any:
    if not tokens:
        return value
    parent = _get(document, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, inserting=True), value)
    else:
        raise PatchError(f"add operation does not apply: doc is missing path: {path!r}")
    return document


def _replace(document: Any, tokens: list[str], value: Any, path: str) -> Any:
    if not tokens:
        return value
    parent = _get(document, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        parent[last] = value
    elif isinstance(parent, list):
        parent[_index(parent, last, path, inserting=False)] = value
    else:
        raise PatchError(f"replace operation does not apply: doc is missing key: {path!r}")
    return document


def _remove(document: Any, tokens: list[str], path: str) -> Any:
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _get(document, tokens[:-1], path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path, inserting=False))
    raise PatchError(f"remove operation does not apply: doc is missing path: {path!r}")


# --- strategic merge patch ---------------------------------------------------------------

# A list whose merge key is PRIMITIVE_SET holds scalars merged as an ordered set.
PRIMITIVE_SET = ""

# Lists of maps inside every container, by field -> merge key (Go struct tags of Container).
_CONTAINER_LISTS = {
    "ports": "containerPort",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
}
_CONTAINER_FIELDS = ("containers", "initContainers", "ephemeralContainers")
# Merge lists of a PodSpec, relative to wherever the pod spec sits in an object.
_POD_SPEC_LISTS: dict[tuple[str, ...], str] = {
    **{(field,): "name" for field in _CONTAINER_FIELDS},
    **{(field, sub): key for field in _CONTAINER_FIELDS for sub, key in _CONTAINER_LISTS.items()},
    ("volumes",): "name",
    ("imagePullSecrets",): "name",
    ("hostAliases",): "ip",
    ("topologySpreadConstraints",): "topologyKey",
    ("resourceClaims",): "name",
    ("schedulingGates",): "name",
}
# Merge lists of ObjectMeta, relative to an object's or a pod template's metadata.
_META_LISTS: dict[tuple[str, ...], str] = {
    ("finalizers",): PRIMITIVE_SET,
    ("ownerReferences",): "uid",
}
_POD_SPEC_ROOTS = (("spec",), ("spec", "template", "spec"))
_META_ROOTS = (("metadata",), ("spec", "template", "metadata"))

# Every list that merges rather than being replaced, by field path from the object root;
# elements of a list share the list's path. Lists not named here are replaced whole.
MERGE_KEYS: dict[tuple[str, ...], str] = {
    **{root + path: key for root in _META_ROOTS for path, key in _META_LISTS.items()},
    **{root + path: key for root in _POD_SPEC_ROOTS for path, key in _POD_SPEC_LISTS.items()},
    ("spec", "ports"): "port",
    ("status", "conditions"): "type",
    ("status", "containerStatuses"): "name",
    ("status", "initContainerStatuses"): "name",
    ("status", "ephemeralContainerStatuses"): "name",
    ("status", "podIPs"): "ip",
    ("status", "hostIPs"): "ip",
}

PATCH_DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder/"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList/"


def strategic_merge_patch(target: dict[str, Any], patch: dict[str, Any], kind: str) -> Any:
    """Apply a Kubernetes strategic merge patch to an object of a built-in kind."""
    if not isinstance(patch, dict):
        raise PatchError("strategic merge patch must be a JSON object", BAD_REQUEST)
    return _StrategicMerge(kind).merge_map(copy_json(target), copy_json(patch), ())


class _StrategicMerge:
    """One patch application; works destructively on private deep copies of its inputs."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def fail(self, path: tuple[str, ...], message: str) -> PatchError:
        where = ".".join(path) or "<root>"
        return PatchError(f"{self.kind} {where}: {message}", BAD_REQUEST)

    def fresh(self, value: Any, path: tuple[str, ...]) -> Any:
        """A patch value with nothing to merge into: drop its directives and nulls."""
        if isinstance(value, dict):
            return self.merge_map({}, value, path)
        if isinstance(value, list):
            return self.merge_list([], value, path)
        return value

    def merge_map(
        self, original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]
    ) -> dict[str, Any]:
        directive = patch.pop(PATCH_DIRECTIVE, None)
        if directive == "replace":
            return self.merge_map({}, patch, path)
        if directive == "delete":
            # As the apiserver does: the map stays, emptied.
            return {}
        if directive is not None:
            raise self.fail(path, f"unknown patch type: {directive}")
        self.retain_keys(original, patch, path)
        self.set_element_orders(original, patch, path)
        for key, value in patch.items():
            if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
                self.delete_from_list(
                    original, key.removeprefix(DELETE_FROM_PRIMITIVE_LIST), value, path
                )
                continue
            if value is None:
                original.pop(key, None)
                continue
            child = path + (key,)
            current = original.get(key)
            if isinstance(value, dict) and isinstance(current, dict):
                original[key] = self.merge_map(current, value, child)
            elif isinstance(value, list) and isinstance(current, list):
                original[key] = self.merge_list(current, value, child)
            else:
                original[key] = self.fresh(value, child)
        return original

    def retain_keys(
        self, original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]
    ) -> None:
        if RETAIN_KEYS not in patch:
            return
        keep = patch.pop(RETAIN_KEYS)
        if not isinstance(keep, list):
            raise self.fail(path, f"{RETAIN_KEYS} must be a list of field names")
        for key, value in patch.items():
            if value is not None and not key.startswith("$") and key not in keep:
                raise self.fail(path, f"field {key!r} is not in the {RETAIN_KEYS} list")
        for key in [key for key in original if key not in keep]:
            del original[key]

    def delete_from_list(
        self, original: dict[str, Any], field: str, values: Any, path: tuple[str, ...]
    ) -> None:
        if not isinstance(values, list):
            raise self.fail(path, f"{DELETE_FROM_PRIMITIVE_LIST}{field} must be a list")
        current = original.get(field)
        if isinstance(current, list):
            original[field] = [
                item for item in current if not any(json_equal(item, gone) for gone in values)
            ]

    def set_element_orders(
        self, original: dict[str, Any], patch: dict[str, Any], path: tuple[str, ...]
    ) -> None:
        for directive in [key for key in patch if key.startswith(SET_ELEMENT_ORDER)]:
            order = patch.pop(directive)
            field = directive.removeprefix(SET_ELEMENT_ORDER)
            child = path + (field,)
            if not isinstance(order, list):
                raise self.fail(child, f"{directive} must be a list")
            merge_key = MERGE_KEYS.get(child)
            patch_list = patch.get(field)
            if merge_key is None or (field in patch and not isinstance(patch_list, list)):
                continue  # nothing to order: the list is replaced or deleted outright
            current = original.get(field)
            current = current if isinstance(current, list) else []
            if field in patch:
                self.check_order(patch_list, order, merge_key, child)
                merged = self.merge_list(current, patch.pop(field), child)
            elif isinstance(original.get(field), list):
                merged = current
            else:
                continue
            listed, unlisted = _partition(merged, order, merge_key)
            original[field] = _arrange(listed, unlisted, order, current, merge_key)

    def check_order(
        self, patch_list: list[Any], order: list[Any], merge_key: str, path: tuple[str, ...]
    ) -> None:
        """Every patch element must appear in the order list, in the same relative order."""
        position = 0
        for item in patch_list:
            if isinstance(item, dict) and PATCH_DIRECTIVE in item:
                continue
            while position < len(order) and not _same_element(item, order[position], merge_key):
                position += 1
            if position == len(order):
                raise self.fail(
                    path, f"the order in the patch list doesn't match {SET_ELEMENT_ORDER}{path[-1]}"
                )
            position += 1

    def merge_list(self, original: list[Any], patch: list[Any], path: tuple[str, ...]) -> list[Any]:
        merge_key = MERGE_KEYS.get(path)
        if merge_key is None:
            return [
                self.fresh(item, path)
                for item in patch
                if not (isinstance(item, dict) and PATCH_DIRECTIVE in item)
            ]
        if merge_key == PRIMITIVE_SET:
            merged: list[Any] = []
            for item in original + patch:
                if not any(json_equal(item, seen) for seen in merged):
                    merged.append(item)
            listed, unlisted = _partition(merged, patch, merge_key)
            return _arrange(listed, unlisted, patch, original, merge_key)
        if not all(isinstance(item, dict) for item in original + patch):
            raise self.fail(path, f"list elements must be objects with merge key {merge_key!r}")
        upserts = []
        for item in patch:
            directive = item.get(PATCH_DIRECTIVE)
            if directive is None:
                upserts.append(item)
            elif directive == "replace":
                return [self.fresh(item, path) for item in patch if PATCH_DIRECTIVE not in item]
            elif directive == "delete":
                if merge_key not in item:
                    raise self.fail(
                        path, f"{item} does not contain declared merge key: {merge_key}"
                    )
                original = [kept for kept in original if not _same_element(kept, item, merge_key)]
            else:
                raise self.fail(path, f"unknown patch type: {directive}")
        server_order = list(original)
        for item in upserts:
            if merge_key not in item:
                raise self.fail(path, f"{item} does not contain declared merge key: {merge_key}")
            at = next(
                (
                    i
                    for i, existing in enumerate(original)
                    if _same_element(existing, item, merge_key)
                ),
                None,
            )
            if at is None:
                original.append(self.fresh(item, path))
            else:
                original[at] = self.merge_map(original[at], item, path)
        listed, unlisted = _partition(original, upserts, merge_key)
        return _arrange(listed, unlisted, upserts, server_order, merge_key)


def _same_element(left: Any, right: Any, merge_key: str) -> bool:
    if merge_key == PRIMITIVE_SET:
        return json_equal(left, right)
    return (
        isinstance(left, dict)
        and isinstance(right, dict)
        and merge_key in left
        and merge_key in right
        and json_equal(left[merge_key], right[merge_key])
    )


def _position(order: list[Any], item: Any, merge_key: str) -> int:
    return next(
        (i for i, candidate in enumerate(order) if _same_element(item, candidate, merge_key)), -1
    )


def _partition(items: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split items into those named in `by` and the rest, keeping their order."""
    listed = [item for item in items if _position(by, item, merge_key) >= 0]
    unlisted = [item for item in items if _position(by, item, merge_key) < 0]
    return listed, unlisted


def _sorted_by(items: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    """Stable sort by position in `order`; elements it lacks go last."""

    def rank(item: Any) -> int:
        found = _position(order, item, merge_key)
        return found if found >= 0 else len(order)

    return sorted(items, key=rank)


def _arrange(
    listed: list[Any],
    unlisted: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
) -> list[Any]:
    """Order a merged list like apimachinery's normalizeElementOrder.

    Patch elements follow the patch's order and server-only elements the live order; the
    two runs are interleaved by live position. An element the live list lacks goes before
    the remaining server-only ones, which is why a patch without `$setElementOrder`
    puts new elements first.
    """
    right = _sorted_by(listed, patch_order, merge_key)
    left = _sorted_by(unlisted, server_order, merge_key)
    result: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if j == len(right):
            result.append(left[i])
            i += 1
            continue
        if i < len(left):
            li = _position(server_order, left[i], merge_key)
            ri = _position(server_order, right[j], merge_key)
            if li >= 0 and ri >= 0 and li < ri:
                result.append(left[i])
                i += 1
                continue
        result.append(right[j])
        j += 1
    return result
