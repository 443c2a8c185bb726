"""LIST semantics: selectors, resourceVersion rules, and consistent paging.

A paged LIST is served from one snapshot of references (stored objects are
immutable), so every page shows the cluster at the first page's
resourceVersion, like etcd serving a continue token. Snapshots are dropped when
evicted or once history is compacted past them, which answers 410 Expired.
"""

from __future__ import annotations

import base64
import itertools
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from simcluster import errors
from simcluster.resources import ResourceType
from simcluster.selectors import (
    FieldSelector,
    LabelSelector,
    SelectorError,
    parse_field_selector,
    parse_label_selector,
)
from simcluster.store import Obj, Store

CONTINUE_EXPIRED = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this response "
    "to retrieve the remainder of the results. Continuing with the provided token results in an "
    "inconsistent list - objects that were created, modified, or deleted between the time the "
    "first chunk was returned and now may show up in the list."
)
RV_MATCH_VALUES = ("NotOlderThan", "Exact")


@dataclass(frozen=True)
class Selection:
    """The label and field selectors of a request, parsed and checked."""

    labels: LabelSelector
    fields: FieldSelector
    used: bool

    def matches(self, obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        return self.labels.matches(meta.get("labels")) and self.fields.matches(obj)


def parse_selection(rtype: ResourceType, query: Mapping[str, str]) -> Selection:
    label_text = query.get("labelSelector", "")
    field_text = query.get("fieldSelector", "")
    try:
        labels = parse_label_selector(label_text)
        fields = parse_field_selector(field_text)
    except SelectorError as exc:
        raise errors.bad_request(str(exc)) from exc
    allowed = {"metadata.name", "metadata.namespace", *rtype.extra_fields}
    for unsupported in sorted(fields.fields - allowed):
        raise errors.bad_request(f"field label not supported: {unsupported}")
    return Selection(labels, fields, bool(label_text.strip() or field_text.strip()))


def parse_int(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise errors.bad_request(f'invalid value for {name}: "{value}"') from None


def list_options_invalid(field: str, value: str, message: str) -> errors.ApiError:
    return errors.invalid(
        "ListOptions.meta.k8s.io",
        "",
        [
            {
                "reason": "FieldValueInvalid" if value else "FieldValueForbidden",
                "message": message,
                "field": field,
            }
        ],
    )


def check_resource_version_match(query: Mapping[str, str]) -> None:
    match = query.get("resourceVersionMatch")
    if not match:
        return
    if match not in RV_MATCH_VALUES:
        raise list_options_invalid(
            "resourceVersionMatch",
            match,
            f'Unsupported value: "{match}": supported values: "Exact", "NotOlderThan"',
        )
    if not query.get("resourceVersion") and match == "Exact":
        raise list_options_invalid(
            "resourceVersionMatch",
            "",
            'resourceVersionMatch "exact" is forbidden for resourceVersion ""',
        )
    if "resourceVersion" not in query:
        raise list_options_invalid(
            "resourceVersionMatch",
            "",
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        )


def too_large(requested: int, current: int) -> errors.ApiError:
    return errors.ApiError(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {requested}, current: {current}",
        {
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
        retry_after=1,
    )


@dataclass(frozen=True)
class Page:
    resource_version: int
    items: list[Obj]
    continue_token: str | None
    remaining: int | None


class Lister:
    """Serves LIST requests for one store, remembering snapshots for continue tokens."""

    def __init__(self, store: Store, max_snapshots: int = 64) -> None:
        self.store = store
        self.max_snapshots = max_snapshots
        self._snapshots: OrderedDict[int, tuple[int, list[Obj]]] = OrderedDict()
        self._ids = itertools.count(1)

    def page(self, rtype: ResourceType, namespace: str | None, query: Mapping[str, str]) -> Page:
        selection = parse_selection(rtype, query)
        check_resource_version_match(query)
        limit = parse_int(query, "limit") or 0
        if limit < 0:
            raise errors.bad_request("limit must be a non-negative integer")
        token = query.get("continue")
        if token:
            if query.get("resourceVersion") not in (None, ""):
                raise errors.bad_request(
                    "specifying resource version is not allowed when using continue"
                )
            rv, items, offset = self._resume(token)
        else:
            rv, items = self.store.list(rtype, namespace)
            self._check_requested_version(query, rv, limit)
            if selection.used:
                items = [obj for obj in items if selection.matches(obj)]
            offset = 0
        end = offset + limit if limit else len(items)
        next_token = None
        remaining = None
        if end < len(items):
            next_token = self._remember(rv, items, end)
            if not selection.used:
                remaining = len(items) - end
        return Page(rv, items[offset:end], next_token, remaining)

    def _check_requested_version(self, query: Mapping[str, str], current: int, limit: int) -> None:
        requested_text = query.get("resourceVersion")
        if requested_text in (None, "", "0"):
            return
        try:
            requested = int(requested_text)
        except ValueError:
            raise errors.bad_request(f'invalid resource version: "{requested_text}"') from None
        if requested > current:
            raise too_large(requested, current)
        exact = query.get("resourceVersionMatch") == "Exact" or (
            limit and query.get("resourceVersionMatch") != "NotOlderThan"
        )
        # simcluster keeps no old snapshots, so an exact read of the past has expired.
        if exact and requested != current:
            raise errors.expired(
                f"too old resource version: {requested} ({self.store.oldest_resource_version})"
            )

    def _remember(self, rv: int, items: list[Obj], offset: int) -> str:
        snapshot_id = next(self._ids)
        self._snapshots[snapshot_id] = (rv, items)
        while len(self._snapshots) > self.max_snapshots:
            self._snapshots.popitem(last=False)
        raw = orjson.dumps({"rv": rv, "id": snapshot_id, "start": offset})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _resume(self, token: str) -> tuple[int, list[Obj], int]:
        try:
            decoded: Any = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            rv, snapshot_id, start = int(decoded["rv"]), int(decoded["id"]), int(decoded["start"])
        except (ValueError, KeyError, TypeError):
            raise errors.bad_request(
                "continue key is not valid: incorrect encoded start "
                "resourceVersion (version meta.k8s.io/v1)"
            ) from None
        snapshot = self._snapshots.get(snapshot_id)
        if snapshot is None or rv < self.store.oldest_resource_version or snapshot[0] != rv:
            raise errors.expired(CONTINUE_EXPIRED)
        return rv, snapshot[1], start
