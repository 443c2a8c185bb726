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


def namespace_group(namespace: str) -> str:
    return NAMESPACE_GROUP_PREFIX + namespace


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
    seq: int, epoch: str, trees: Iterable[dict[str, Any]], cluster: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": FULL_STATE,
        "seq": seq,
        "epoch": epoch,
        "hierarchy": list(trees),
        "cluster": cluster,
    }


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
        self.seq += 1
        stamped = {**message, "seq": self.seq, "epoch": self.epoch}
        namespace = message.get("namespace")
        if namespace is not None:
            self.ns_seq[namespace] = self.ns_seq.get(namespace, 0) + 1
            stamped["ns_seq"] = self.ns_seq[namespace]
        return stamped
