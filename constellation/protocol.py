"""The WebSocket protocol's server messages (DESIGN.md §6), shared by watcher and web.

The watcher builds and numbers messages here and encodes each once; web
consumers forward the encoded text and only parse the envelope fields
(`type`, `seq`, `namespace`, `ns_seq`, `epoch`) to spot gaps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

FULL_STATE = "FullState"
RESOURCE_ADDED = "ResourceAdded"
RESOURCE_UPDATED = "ResourceUpdated"
RESOURCE_DELETED = "ResourceDeleted"
RELATIONSHIP_UPDATED = "RelationshipUpdated"
NAMESPACE_SUMMARY_UPDATE = "NamespaceSummaryUpdate"
HIGH_CHURN_WARNING = "HighChurnWarning"
NAMESPACE_DELETED = "NamespaceDeleted"
SUMMARY_UPDATE = "SummaryUpdate"
SUMMARY_STATE = "SummaryState"
CHUNK = "Chunk"
PING = "Ping"
PONG = "Pong"
ERROR = "Error"

NAMESPACE_MESSAGE_TYPES = frozenset(
    {
        RESOURCE_ADDED,
        RESOURCE_UPDATED,
        RESOURCE_DELETED,
        RELATIONSHIP_UPDATED,
        NAMESPACE_SUMMARY_UPDATE,
        HIGH_CHURN_WARNING,
        NAMESPACE_DELETED,
    }
)

# Channel-layer group names must be ASCII [A-Za-z0-9-_.] under 100 characters;
# Kubernetes namespace names (DNS-1123 labels, <= 63) always fit after the prefix.
CLUSTER_GROUP = "constellation.cluster"
NAMESPACE_GROUP_PREFIX = "constellation.ns."


# The namespace-summary stream (overview, sidebar, groups) is numbered and delivered like one
# more namespace under this key; the underscore keeps it apart from every namespace name.
SUMMARY_STREAM = "_summary"


def namespace_group(namespace: str) -> str:
    """The group of a namespace's messages (or of the summary stream, SUMMARY_STREAM)."""
    return NAMESPACE_GROUP_PREFIX + namespace


def is_namespace(key: str) -> bool:
    """Whether a stream key names a namespace (not the summary stream)."""
    return key != SUMMARY_STREAM


def resource_added(namespace: str, parent_id: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": RESOURCE_ADDED,
        "namespace": namespace,
        "parent_id": parent_id,
        "resource": resource,
    }


def resource_updated(namespace: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"type": RESOURCE_UPDATED, "namespace": namespace, "resource": resource}


def resource_deleted(namespace: str, resource_id: str, kind: str, name: str) -> dict[str, Any]:
    return {
        "type": RESOURCE_DELETED,
        "namespace": namespace,
        "resource_id": resource_id,
        "resource_kind": kind,
        "resource_name": name,
    }


def relationship_updated(namespace: str, tree: dict[str, Any]) -> dict[str, Any]:
    return {"type": RELATIONSHIP_UPDATED, "namespace": namespace, "hierarchy": [tree]}


def namespace_summary_update(
    namespace: str, pod_summary: dict[str, Any], individual_pods: list[dict[str, Any]] | None
) -> dict[str, Any]:
    return {
        "type": NAMESPACE_SUMMARY_UPDATE,
        "namespace": namespace,
        "pod_summary": pod_summary,
        "individual_pods": individual_pods,
    }


def high_churn_warning(
    namespace: str, affected_services: list[str], churn_rate: float
) -> dict[str, Any]:
    return {
        "type": HIGH_CHURN_WARNING,
        "namespace": namespace,
        "affected_services": affected_services,
        "churn_rate": round(churn_rate, 1),
    }


def namespace_deleted(namespace: str) -> dict[str, Any]:
    return {"type": NAMESPACE_DELETED, "namespace": namespace}


def full_state(
    seq: int,
    epoch: str,
    trees: Iterable[dict[str, Any]],
    cluster: dict[str, Any],
    summary: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The state a connection asked for: its namespaces' trees, and the namespace summaries
    (`summary_state` without its envelope) when it subscribed to them."""
    message = {
        "type": FULL_STATE,
        "seq": seq,
        "epoch": epoch,
        "hierarchy": list(trees),
        "cluster": cluster,
    }
    if summary is not None:
        message["summary"] = summary
    return message


def summary_update(summaries: list[dict[str, Any]], removed: list[str]) -> dict[str, Any]:
    """Namespace summaries that changed, and namespaces that are gone (unstamped)."""
    return {"type": SUMMARY_UPDATE, "summaries": summaries, "removed": removed}


def summary_state(sum_seq: int, summaries: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Every namespace's summary, as of `sum_seq` (a repair of the summary stream)."""
    return {"type": SUMMARY_STATE, "sum_seq": sum_seq, "namespaces": list(summaries)}


def error(code: str, message: str) -> dict[str, Any]:
    return {"type": ERROR, "code": code, "message": message}


def encode(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


@dataclass
class Sequencer:
    """Numbers messages: `seq` across the cluster, `ns_seq` per namespace (+1 each)."""

    epoch: str
    seq: int = 0
    ns_seq: dict[str, int] = field(default_factory=dict)

    def stamp(self, message: dict[str, Any]) -> dict[str, Any]:
        """`seq` and `epoch`, and `ns_seq` for a namespace's message (`sum_seq` for the
        summary stream's, counted in `ns_seq` under SUMMARY_STREAM)."""
        self.seq += 1
        stamped = {**message, "seq": self.seq, "epoch": self.epoch}
        if message["type"] == SUMMARY_UPDATE:
            stamped["sum_seq"] = self._next(SUMMARY_STREAM)
        elif message.get("namespace") is not None:
            stamped["ns_seq"] = self._next(message["namespace"])
        return stamped

    def _next(self, key: str) -> int:
        self.ns_seq[key] = self.ns_seq.get(key, 0) + 1
        return self.ns_seq[key]
