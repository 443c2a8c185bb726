"""One namespace in a few hundred bytes: what the overview, the sidebar and the groups page show.

Pages that list namespaces must not receive, or hold, the trees of a 100,000-pod cluster
(DESIGN §6, Size), so the watcher condenses each namespace's tree when it publishes it, and
those pages subscribe to the stream of these summaries instead of the trees. A summary has
the namespace's health, pod counts, how many nodes of each kind it holds, its churn state,
the reasons for a bad health, and the nodes carrying a group annotation (the groups page).

`labels` (every distinct `key=value` on the namespace's nodes) is stored with the summary for
the overview's label filter, answered on the server, and is never sent to browsers
(`public`). Pure: a function of the tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Node = dict[str, Any]

COUNTED_KINDS = ("HTTPRoute", "Ingress", "Service", "ServiceRef", "Pod")
MAX_REASONS = 5
"""Enough to say what is wrong at a glance; the namespace page has the rest."""
_BAD = ("Down", "Degraded")
_PRIVATE = ("labels",)


def walk(tree: Node) -> Iterator[Node]:
    """Every node occurrence of a tree, parents first."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.get("children") or ()))


def _reason(node: Node) -> str | None:
    kind, name = node["kind"], node["name"]
    if kind == "ServiceRef" and node.get("state") == "missing":
        return f"Service {name} is missing (a route points at it)"
    if kind == "Service" and node.get("health") in _BAD:
        pods = node.get("pod_summary") or {}
        return f"Service {name}: {pods.get('ready', 0)}/{pods.get('total', 0)} pods ready"
    if kind in ("Pod", "PodCell") and node.get("health") == "error":
        return f"Pod {name}: {node.get('reason') or node.get('phase') or 'failed'}"
    return None


def namespace_summary(tree: Node) -> dict[str, Any]:
    """The summary of one namespace tree (see the module docstring for the fields)."""
    counts = dict.fromkeys(COUNTED_KINDS, 0)
    seen: set[str] = set()
    labels: set[str] = set()
    reasons: list[str] = []
    grouped: list[dict[str, Any]] = []
    collapsed: set[str] = set()
    for node in walk(tree):
        kind = node["kind"]
        counted = "Pod" if kind == "PodCell" else kind
        # One node per object: a pod under two services (in full under one, as a grid cell
        # under a collapsed other), a service under two routes.
        key = f"{counted}/{node['namespace']}/{node['name']}" if kind == "PodCell" else node["id"]
        if key in seen:
            continue
        seen.add(key)
        node_id = node["id"]
        if counted in counts:
            counts[counted] += 1
        for key, value in (node.get("labels") or {}).items():
            labels.add(f"{key}={value}")
        if kind == "Service" and node.get("collapsed"):
            collapsed.add(node["name"])
        if len(reasons) < MAX_REASONS:
            reason = _reason(node)
            if reason:
                reasons.append(reason)
        if node.get("group") and kind not in ("Pod", "PodCell", "ServiceRef"):
            grouped.append(
                {
                    "id": node_id,
                    "kind": kind,
                    "name": node["name"],
                    "group": node["group"],
                    "display_name": node.get("display_name"),
                    "health": node.get("health"),
                }
            )
    churn = sorted(collapsed)
    return {
        "name": tree["name"],
        "display_name": tree.get("display_name"),
        "group": tree.get("group"),
        "health": tree.get("health"),
        "pod_summary": dict(tree.get("pod_summary") or {}),
        "counts": counts,
        "churn": {"state": "high" if churn else "calm", "services": churn},
        "reasons": reasons,
        "grouped": sorted(grouped, key=lambda g: (g["kind"] != "Namespace", g["id"])),
        "labels": sorted(labels),
    }


def public(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary as browsers get it: without the server-side label index."""
    return {key: value for key, value in summary.items() if key not in _PRIVATE}
