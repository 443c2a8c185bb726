"""The topology's inputs and tunables, the memo builds share, and the parts of every node."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from watchers import health as h
from watchers.kobjects import annotation, as_dict, metadata, string_map
from watchers.routes import Backend, httproute_backends, ingress_backends

Node = dict[str, Any]
ServiceLookup = Callable[[str, str], "dict | None"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# Sibling order of the tree (the diff and the browser sort by it too).
CHILD_KIND_ORDER = ("HTTPRoute", "Ingress", "Service", "ServiceRef", "Pod", "PodCell")
_CHILD_ORDER = {kind: rank for rank, kind in enumerate(CHILD_KIND_ORDER)}
# What a pod cell (a collapsed service's grid, DESIGN §5) carries of its pod: enough to colour,
# label and explain the cell; labels, IPs and ports stay with the full pod node.
CELL_FIELDS = ("health", "phase", "ready", "restarts", "reason", "node_name", "owner")
_TEXT_LIMIT = 256  # display-name and group are free text; keep a runaway value off every screen


@dataclass(frozen=True)
class TopologyConfig:
    """Tunables of the picture."""

    annotation_prefix: str = "constellation.io/"
    """Prefix of the group / display-name / ignore annotations; configurable for clusters that
    already use the default for something else."""


@dataclass(frozen=True)
class NamespaceObjects:
    """One namespace's objects as the API returns them, each mapping keyed by object name."""

    namespace: dict | None = None
    pods: Mapping[str, dict] = field(default_factory=dict)
    services: Mapping[str, dict] = field(default_factory=dict)
    endpointslices: Mapping[str, dict] = field(default_factory=dict)
    ingresses: Mapping[str, dict] = field(default_factory=dict)
    httproutes: Mapping[str, dict] = field(default_factory=dict)


def node_id(kind: str, namespace: str, name: str) -> str:
    """The tree id of an object: "Kind/namespace/name", or "Namespace/name"."""
    return f"Namespace/{name}" if kind == "Namespace" else f"{kind}/{namespace}/{name}"


def _text(value: Any) -> str | None:
    return value[:_TEXT_LIMIT] if isinstance(value, str) else None


def is_ignored(obj: dict, config: TopologyConfig) -> bool:
    value = annotation(obj, f"{config.annotation_prefix}ignore") or ""
    return value.strip().lower() == "true"


def visible_objects(mapping: Mapping[str, Any], config: TopologyConfig) -> list[tuple[str, dict]]:
    """(name, object) pairs that are objects and not ignored, sorted by name."""
    return [
        (name, obj)
        for name, obj in sorted(mapping.items())
        if isinstance(obj, dict) and not is_ignored(obj, config)
    ]


def base_node(
    kind: str,
    namespace: str,
    name: str,
    obj: dict | None,
    config: TopologyConfig,
    labels: dict[str, str] | None = None,
) -> Node:
    meta = metadata(obj)
    annotations = as_dict(meta.get("annotations"))
    return {
        "id": node_id(kind, namespace, name),
        "kind": kind,
        "name": name,
        "namespace": namespace,
        "health": h.UNKNOWN,
        "children": [],
        "relatives": [],
        "labels": string_map(meta.get("labels")) if labels is None else labels,
        "group": _text(annotations.get(f"{config.annotation_prefix}group")),
        "display_name": _text(annotations.get(f"{config.annotation_prefix}display-name")),
    }


@dataclass(frozen=True, slots=True)
class PodEntry:
    obj: Any
    state: h.PodState | None  # None: never shown (ignored, Succeeded, not an object)
    template: Node | None  # the pod's node without relatives


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    """What a build decided about one visible service, for callers that act on it (churn
    collapse, routes elsewhere showing its health) without walking the tree."""

    health: str
    pods: int  # pods it claims (pod_summary total)
    collapsed: bool


class BuildMemo:
    """What one namespace's builds derived, reused by the next build while its inputs are the
    very same objects.

    For callers that never change objects in place (the watcher's store replaces an object on
    every change): identity then means "unchanged", so a rebuild of a busy namespace reads only
    the pods that changed and hands back the previous build's node for every part whose inputs
    are the same. Trees therefore share unchanged subtrees, which the diff skips by identity;
    nodes are never changed once built. Entries for objects gone from a build are dropped
    with it. A memo belongs to one namespace and one TopologyConfig.
    """

    def __init__(self) -> None:
        self.pods: dict[str, PodEntry] = {}
        # (label, value) → names of the pods that may be shown: a selector costs the size of
        # its smallest match set, and only pods that changed touch the index.
        self.label_index: dict[tuple[str, str], set[str]] = {}
        self.pod_nodes: dict[str, tuple[Node, tuple[str, ...], Node]] = {}
        self.cells: dict[str, tuple[Node, Node]] = {}  # pod name → (its pod node, its cell)
        self.nodes: dict[str, tuple[tuple, Node]] = {}  # Service / route / ServiceRef nodes
        self.backends: dict[tuple[str, str], tuple[Any, list[Backend]]] = {}  # per route
        self.selectors: dict[str, tuple[Any, dict[str, str]]] = {}  # per service
        self.services: dict[str, ServiceFacts] = {}  # by Service id, from the last build
        self.external: list[tuple[str, str]] = []  # as `external_backends`, last build


def sorted_children(children: Iterable[Node]) -> list[Node]:
    by_id = {child["id"]: child for child in children}
    return sorted(by_id.values(), key=lambda n: (_CHILD_ORDER[n["kind"]], n["name"], n["id"]))


def visible_routes(
    namespace: str, objs: NamespaceObjects, config: TopologyConfig, memo: BuildMemo | None = None
) -> list[tuple]:
    """(kind, name, object, backends) of every visible route, HTTPRoutes first."""
    found = []
    for kind, mapping, parse in (
        ("HTTPRoute", objs.httproutes, httproute_backends),
        ("Ingress", objs.ingresses, ingress_backends),
    ):
        for name, obj in visible_objects(mapping, config):
            cached = memo.backends.get((kind, name)) if memo is not None else None
            if cached is not None and cached[0] is obj:
                backends = cached[1]
            else:
                backends = parse(namespace, obj)
                if memo is not None:
                    memo.backends[(kind, name)] = (obj, backends)
            found.append((kind, name, obj, backends))
    return found


def external_pairs(namespace: str, routes: list[tuple]) -> list[tuple[str, str]]:
    pairs = {(b.namespace, b.name) for *_, found in routes for b in found}
    return sorted(pair for pair in pairs if pair[0] != namespace)
