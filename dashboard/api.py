"""The read-only REST API (DESIGN §7): the snapshot over HTTP for scripts and the polling client.

`/api/state/` (and `/state`, the original project's path) answers with the same shape as the
WebSocket's FullState plus `ns_seq`, so the browser's polling fallback feeds it to the reducer it
uses for FullState and knows each namespace's position for when the socket returns:

    {"type": "FullState", "epoch", "seq", "synced", "updated_at", "ns_seq": {ns: n},
     "cluster": {…}, "hierarchy": [namespace tree, … by name],
     "summary": {"sum_seq", "namespaces": [summary, … by name]}   (with ?summary=1)}

A page polls for what it shows, as its WebSocket would subscribe: `?namespace=shop&summary=1`
(a namespace page), `?namespace=&summary=1` or `/api/summary/` (the overview: no trees).

`/api/namespaces/<name>/` answers `{"namespace", "epoch", "seq", "ns_seq", "updated_at", "tree"}`.
Both are 503 with `{"detail"}` until the watcher has written a snapshot.

Trees are large (100,000 pods is ~55 MB of JSON), so the body is joined from the trees' JSON as
Redis stores it, never parsed or re-encoded, and returned as a plain HttpResponse (DRF's
renderer would walk it again in Python), gzip-compressed when the client accepts it (Django's
`gzip_page`: ~20× smaller). DRF still does authentication, permissions and content negotiation
of errors. While Redis is unreachable the answer is 503 with the reason, never a 500.
"""

from __future__ import annotations

from typing import Any

import orjson
from asgiref.sync import async_to_sync
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.gzip import gzip_page
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.schemas.openapi import AutoSchema
from rest_framework.views import APIView

from constellation import protocol
from constellation.protocol import SUMMARY_STREAM, is_namespace
from constellation.snapshot import Snapshot
from constellation.summary import public
from dashboard.permissions import EVERY_NAMESPACE, NamespaceAccess, visible_namespaces
from dashboard.snapshots import read_snapshot

NO_SNAPSHOT = "No snapshot yet: the watcher has not published; retry shortly."
REDIS_DOWN = "The snapshot store (Redis) is unreachable: {error}; retry shortly."
RETRY_AFTER_S = "5"

_OBJECT = {"type": "object", "additionalProperties": True}
_STATE_SCHEMA = {
    "type": "object",
    "required": ["type", "epoch", "seq", "synced", "ns_seq", "hierarchy", "cluster"],
    "properties": {
        "type": {"type": "string", "enum": [protocol.FULL_STATE]},
        "epoch": {"type": "string", "description": "Watcher run; a change means start over."},
        "seq": {"type": "integer", "description": "Last global message number included."},
        "synced": {"type": "boolean"},
        "updated_at": {"type": "number", "description": "Unix time of the last write."},
        "ns_seq": {"type": "object", "additionalProperties": {"type": "integer"}},
        "hierarchy": {"type": "array", "items": _OBJECT, "description": "Namespace trees."},
        "cluster": _OBJECT,
        "summary": {
            "type": "object",
            "description": "With ?summary=1: every namespace's summary, by name.",
            "properties": {
                "sum_seq": {"type": "integer"},
                "namespaces": {"type": "array", "items": _OBJECT},
            },
        },
    },
}
SUMMARY_SCHEMA = {
    **_STATE_SCHEMA,
    "required": [*_STATE_SCHEMA["required"], "summary"],
    "description": "FullState without trees: every namespace's summary (the overview's poll).",
}
_NAMESPACE_SCHEMA = {
    "type": "object",
    "required": ["namespace", "epoch", "seq", "ns_seq", "tree"],
    "properties": {
        "namespace": {"type": "string"},
        "epoch": {"type": "string"},
        "seq": {"type": "integer"},
        "ns_seq": {"type": "integer"},
        "updated_at": {"type": "number"},
        "tree": _OBJECT,
    },
}
_DETAIL_SCHEMA = {"type": "object", "properties": {"detail": {"type": "string"}}}


class SnapshotSchema(AutoSchema):
    """OpenAPI for views that return hand-encoded JSON: DRF cannot see a serializer, so say it."""

    def __init__(
        self,
        operation_id: str,
        body: dict[str, Any],
        parameters: list[dict[str, Any]] | None = None,
        not_found: bool = False,
    ) -> None:
        super().__init__(tags=["state"])
        self._operation_id = operation_id
        self._body = body
        self._parameters = parameters or []
        self._not_found = not_found

    def get_operation_id(self, path: str, method: str) -> str:
        """Fixed ids: DRF's derivation would need the `inflection` package for list views."""
        return self._operation_id

    def get_filter_parameters(self, path: str, method: str) -> list[dict[str, Any]]:
        return self._parameters

    def get_responses(self, path: str, method: str) -> dict[str, Any]:
        detail = {"content": {"application/json": {"schema": _DETAIL_SCHEMA}}}
        responses: dict[str, Any] = {
            "200": {
                "description": "The snapshot.",
                "content": {"application/json": {"schema": self._body}},
            },
            "401": {"description": "Not logged in (session or token).", **detail},
            "503": {"description": "No snapshot yet, or Redis unreachable.", **detail},
        }
        if self._not_found:
            responses["404"] = {"description": "No such namespace in the snapshot.", **detail}
        return responses


def requested_namespaces(request: Request) -> list[str] | None:
    """`?namespace=a&namespace=b` or `?namespace=a,b`; None when no filter is given."""
    values = request.query_params.getlist("namespace")
    if not values:
        return None
    names = [name.strip() for value in values for name in value.split(",")]
    return list(dict.fromkeys(name for name in names if name))


def state_body(
    snapshot: Snapshot, summary: bool = False, access: NamespaceAccess = EVERY_NAMESPACE
) -> bytes:
    """The FullState-shaped document for a snapshot read with `encoded=True`: its trees are
    joined as stored, everything else is encoded here; only what `access` lets the reader
    see (DESIGN §7)."""
    encoded_trees = access.only(snapshot.encoded_trees)
    names = sorted(encoded_trees)
    head: dict[str, Any] = {
        "type": protocol.FULL_STATE,
        "epoch": snapshot.epoch,
        "seq": snapshot.seq,
        "synced": snapshot.synced,
        "updated_at": snapshot.updated_at,
        "ns_seq": {name: snapshot.ns_seq.get(name, 0) for name in names},
        "cluster": snapshot.cluster,
    }
    if summary:
        summaries = access.only(snapshot.summaries)
        head["summary"] = {
            "sum_seq": snapshot.ns_seq.get(SUMMARY_STREAM, 0),
            "namespaces": [public(summaries[name]) for name in sorted(summaries)],
        }
    trees = b",".join(encoded_trees[name] for name in names)
    return orjson.dumps(head)[:-1] + b',"hierarchy":[' + trees + b"]}"


def _json(body: bytes) -> HttpResponse:
    response = HttpResponse(body, content_type="application/json")
    # Live data: a cache in between would show a cluster that has moved on.
    response["Cache-Control"] = "no-store"
    return response


def _unavailable(detail: str = NO_SNAPSHOT) -> Response:
    return Response({"detail": detail}, status=503, headers={"Retry-After": RETRY_AFTER_S})


def _read(**kwargs: Any) -> Snapshot | Response:
    """The snapshot, or the 503 to answer while Redis is unreachable."""
    try:
        return async_to_sync(read_snapshot)(**kwargs)
    except (OSError, RedisError) as exc:
        return _unavailable(REDIS_DOWN.format(error=exc))


def wants_summary(request: Request) -> bool:
    return request.query_params.get("summary") in ("1", "true")


def _compressed(view: type[APIView]) -> type[APIView]:
    # gzip_page is Django's GZipMiddleware for one view: only these JSON documents, which hold
    # no secrets, are compressed (compressing pages with CSRF tokens invites BREACH).
    return method_decorator(gzip_page, name="dispatch")(view)


@_compressed
class StateView(APIView):
    """Every namespace's tree (or those `?namespace=` names) with cluster status."""

    schema = SnapshotSchema(
        "getState",
        _STATE_SCHEMA,
        parameters=[
            {
                "name": "namespace",
                "in": "query",
                "required": False,
                "description": "Only these namespaces; repeat the parameter or separate by commas.",
                "schema": {"type": "array", "items": {"type": "string"}},
                "style": "form",
                "explode": True,
            },
            {
                "name": "summary",
                "in": "query",
                "required": False,
                "description": "1: add every namespace's summary (what the overview shows).",
                "schema": {"type": "string", "enum": ["0", "1"]},
            },
        ],
    )
    summary_only = False

    def get(self, request: Request) -> HttpResponse:
        """The snapshot as one FullState-shaped document."""
        summary = self.summary_only or wants_summary(request)
        access = visible_namespaces(request.user)
        namespaces = () if self.summary_only else requested_namespaces(request)
        if namespaces is not None:
            namespaces = access.narrow(namespaces)
        snapshot = _read(namespaces=namespaces, summaries=summary, encoded=True)
        if isinstance(snapshot, Response):
            return snapshot
        if not snapshot.present:
            return _unavailable()
        return _json(state_body(snapshot, summary, access))


@_compressed
class NamespaceView(APIView):
    """One namespace's tree; 404 when the snapshot does not hold it."""

    schema = SnapshotSchema("getNamespace", _NAMESPACE_SCHEMA, not_found=True)

    def get(self, request: Request, name: str) -> HttpResponse:
        """The namespace's tree and its position in the message stream."""
        if not is_namespace(name) or not visible_namespaces(request.user).allows(name):
            return Response({"detail": f"No namespace {name!r} in the snapshot."}, status=404)
        snapshot = _read(namespaces=[name])
        if isinstance(snapshot, Response):
            return snapshot
        if not snapshot.present:
            return _unavailable()
        tree = snapshot.trees.get(name)
        if tree is None:
            return Response({"detail": f"No namespace {name!r} in the snapshot."}, status=404)
        return _json(
            orjson.dumps(
                {
                    "namespace": name,
                    "epoch": snapshot.epoch,
                    "seq": snapshot.seq,
                    "ns_seq": snapshot.ns_seq.get(name, 0),
                    "updated_at": snapshot.updated_at,
                    "tree": tree,
                }
            )
        )
