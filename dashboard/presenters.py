"""What the pages say about a node or a namespace: words, facts, element ids, grid cells, tiles.

Pure functions of snapshot data (trees and namespace summaries), free of Django and I/O, so
the same rules are easy to test and to mirror in the browser (`static/dashboard/js/model.js`,
which says the same thing when a page is re-rendered live). Views and view-models add URLs.

Cluster data is user input: templates autoescape it, and nothing here marks anything safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Node = dict[str, Any]
Summary = dict[str, Any]

# Text for every health value: colour is never the only signal (wall screens, colour blindness).
HEALTH_LABELS = {
    "Healthy": "Healthy",
    "Degraded": "Degraded",
    "Down": "Down",
    "Unknown": "Unknown",
    "ok": "Ready",
    "warn": "Warning",
    "error": "Error",
}
NAMESPACE_HEALTH = ("Healthy", "Degraded", "Down", "Unknown")
# Worst first (watchers/health.py): the order of "worst health first" and of the sidebar.
SEVERITY = {"Down": 0, "Degraded": 1, "Unknown": 2, "Healthy": 3}
FILTER_KINDS = ("HTTPRoute", "Ingress", "Service", "ServiceRef", "Pod")
REF_STATES = ("ok", "missing", "cross-namespace", "ignored")
_HEALTH_CLASSES = frozenset(h.lower() for h in HEALTH_LABELS)
# A grid cell's state: its CSS modifier and its word, in the legend's order.
CELL_STATES = {
    "ready": "Ready",
    "pending": "Pending",
    "notready": "Not ready",
    "terminating": "Terminating",
    "error": "Error",
}


def health_label(health: str | None) -> str:
    """The words shown next to a health colour."""
    return HEALTH_LABELS.get(health or "", health or "Unknown")


def health_class(health: str | None) -> str:
    """CSS modifier for a health value (`health-healthy`, `health-warn`, ...)."""
    value = (health or "unknown").lower()
    return f"health-{value if value in _HEALTH_CLASSES else 'unknown'}"


def dom_id(node: Node, parent_id: str | None) -> str:
    """The element id of one occurrence of a node: `node-<id>`, unique within the page.

    A pod under two services (or a service under two routes) occurs twice with one node id; the
    occurrence under its first relative keeps the plain id (the deep-link target), the others
    add `@<parent id>`. Node ids hold no whitespace, so they are valid HTML ids as they are.
    """
    relatives = node.get("relatives") or []
    if parent_id in relatives[1:]:
        return f"node-{node['id']}@{parent_id}"
    return f"node-{node['id']}"


def _pairs(mapping: Any) -> list[tuple[str, str]]:
    return sorted(mapping.items()) if isinstance(mapping, Mapping) else []


def _words(values: Iterable[Any]) -> list[str]:
    return [str(value) for value in values if value not in (None, "")]


def rollout_bars(service: Node) -> list[dict[str, Any]]:
    """The rollout split as bar segments (percent of the service's pods) with their words.

    Drawn as SVG rect widths: the CSP forbids inline style attributes, and SVG geometry
    attributes are not styles.
    """
    rollout = [r for r in service.get("rollout") or () if isinstance(r, Mapping)]
    total = sum(int(r.get("total") or 0) for r in rollout) or 1
    bars, offset = [], 0.0
    for entry in rollout:
        count, ready = int(entry.get("total") or 0), int(entry.get("ready") or 0)
        width = 100.0 * count / total
        bars.append(
            {
                "owner": entry.get("owner") or "unowned",
                "revision": entry.get("revision") or "",
                "total": count,
                "ready": ready,
                # Formatted here: the template's number localisation could write "12,5".
                "x": f"{offset:.3f}",
                "width": f"{width:.3f}",
                "ready_width": f"{100.0 * ready / total:.3f}",
                "tone": f"seg-{len(bars) % 6}",
            }
        )
        offset += width
    return bars


def pod_counts(summary: Any) -> str:
    """Pod counts as words: "3/5 ready", then the pending / terminating / failed that are not 0."""
    summary = summary if isinstance(summary, Mapping) else {}
    words = [f"{int(summary.get('ready') or 0)}/{int(summary.get('total') or 0)} ready"]
    words += [
        f"{int(summary.get(key) or 0)} {key}"
        for key in ("pending", "terminating", "failed")
        if summary.get(key)
    ]
    return " · ".join(words)


def facts(node: Node) -> list[dict[str, Any]]:
    """The card's facts as (term, values) rows, the per-kind fields of DESIGN §4.

    `tone` marks values a user must not miss (a crash reason); rows without values are left out.
    """
    kind, rows = node["kind"], []

    def add(term: str, values: Iterable[Any], tone: str = "") -> None:
        words = _words(values)
        if words:
            rows.append({"term": term, "values": words, "tone": tone})

    if kind in ("Pod", "PodCell"):
        add("Phase", [node.get("phase")])
        add("Ready", ["Yes" if node.get("ready") else "No"])
        add("Restarts", [node.get("restarts", 0)])
        add("Reason", [node.get("reason")], "alert")
        add("Pod IP", node.get("pod_ips") or ())
        add("Ports", node.get("container_ports") or ())
        add("Owner", [node.get("owner")])
        add("Node", [node.get("node_name")])
    elif kind == "Service":
        add("Type", [node.get("service_type")])
        add("Cluster IP", [node.get("cluster_ip")])
        add("External", node.get("external_ips") or ())
        add("External name", [node.get("external_name")])
        add("Ports", node.get("ports") or ())
        add("Selector", [f"{k}={v}" for k, v in _pairs(node.get("selector"))] or ["none"])
        add("Pods", [pod_counts(node.get("pod_summary"))])
    elif kind in ("HTTPRoute", "Ingress"):
        add("Class", [node.get("ingress_class")])
        add("Hosts", node.get("hostnames") or ["any host"])
    elif kind == "ServiceRef":
        missing = node.get("state") == "missing"
        add(
            "Backend",
            ["Service not found" if missing else f"in namespace {node['namespace']}"],
            "alert" if missing else "",
        )
    add("Group", [node.get("group")])
    return rows


def backend_refs(node: Node) -> list[dict[str, Any]]:
    """A route's backends as text, each with its state (`missing` is an error to show)."""
    refs = []
    for ref in node.get("backend_refs") or ():
        if not isinstance(ref, Mapping):
            continue
        target = f"{ref.get('name')}.{ref.get('namespace')}"
        if ref.get("port") is not None:
            target += f":{ref.get('port')}"
        where = f"{ref.get('host') or '*'}{ref.get('path') or ''}"
        state = str(ref.get("state") or "unknown")
        refs.append(
            {
                "text": f"{where} → {target}" if node["kind"] == "Ingress" else target,
                "state": state,
                "state_class": f"ref--{state}" if state in REF_STATES else "ref--unknown",
            }
        )
    return refs


def cell_state(cell: Node) -> str:
    """A grid cell's state (a key of CELL_STATES), from the pod's health and phase."""
    phase = cell.get("phase")
    if cell.get("health") == "error":
        return "error"
    if phase == "Terminating":
        return "terminating"
    if cell.get("health") == "ok":
        return "ready"
    return "pending" if phase == "Pending" else "notready"


def cell_label(cell: Node) -> str:
    """A cell's accessible name: the pod and its state, with the reason when there is one."""
    words = CELL_STATES[cell_state(cell)]
    if cell.get("reason"):
        words += f" ({cell['reason']})"
    return f"{cell['name']}: {words}"


def pod_grid(service: Node) -> dict[str, Any]:
    """A collapsed service's pods as a compact grid: one cell per pod, and a legend of counts.

    The cells carry only what a page of thousands of them can afford (state and accessible
    name); the browser shows a pod's details on hover, click or keyboard focus.
    """
    cells = [child for child in service.get("children") or () if child.get("kind") == "PodCell"]
    counts = dict.fromkeys(CELL_STATES, 0)
    rendered = []
    for cell in cells:
        state = cell_state(cell)
        counts[state] += 1
        rendered.append({"id": cell["id"], "state": state, "label": cell_label(cell)})
    return {
        "cells": rendered,
        "legend": [
            {"state": state, "label": CELL_STATES[state], "count": counts[state]}
            for state in CELL_STATES
            if counts[state]
        ],
        "label": f"Pods of {service['name']}: {pod_counts(service.get('pod_summary'))}",
    }


def card(node: Node, parent_id: str | None = None) -> Node:
    """A node with what its template needs precomputed, children included (recursively).

    A collapsed service gets its PodCell children as a `grid` instead of cards.
    """
    view = dict(node)
    collapsed = node["kind"] == "Service" and bool(node.get("collapsed"))
    view.update(
        dom_id=dom_id(node, parent_id),
        health_label=health_label(node.get("health")),
        health_class=health_class(node.get("health")),
        labels_text=[f"{k}={v}" for k, v in _pairs(node.get("labels"))],
        facts=facts(node),
        refs=backend_refs(node),
        children=[] if collapsed else [card(c, node["id"]) for c in node.get("children") or ()],
    )
    if collapsed:
        view.update(
            rollout_bars=rollout_bars(node),
            summary_text=pod_counts(node.get("pod_summary")),
            grid=pod_grid(node),
        )
    return view


def churn_words(churn: Any) -> dict[str, Any]:
    """A namespace's churn state from its summary: state, word and the summarised services."""
    churn = churn if isinstance(churn, Mapping) else {}
    services = [str(s) for s in churn.get("services") or ()]
    if churn.get("state") == "high" or services:
        return {"state": "high", "label": "High churn", "services": services}
    return {"state": "calm", "label": "Calm", "services": []}


def tile(summary: Summary) -> dict[str, Any]:
    """One namespace as the overview's tile (and the namespace page's header) shows it."""
    pods = summary.get("pod_summary") or {}
    counts = summary.get("counts") or {}
    return {
        "name": summary["name"],
        "display_name": summary.get("display_name"),
        "group": summary.get("group"),
        "health": summary.get("health"),
        "health_label": health_label(summary.get("health")),
        "health_class": health_class(summary.get("health")),
        "ready": int(pods.get("ready") or 0),
        "total": int(pods.get("total") or 0),
        "pending": int(pods.get("pending") or 0),
        "failed": int(pods.get("failed") or 0),
        "routes": int(counts.get("HTTPRoute") or 0) + int(counts.get("Ingress") or 0),
        "services": int(counts.get("Service") or 0),
        "churn": churn_words(summary.get("churn")),
        "reasons": [str(r) for r in (summary.get("reasons") or ())[:2]],
    }


def sidebar_row(summary: Summary) -> dict[str, Any]:
    """One namespace in the sidebar: name and health."""
    return {
        "name": summary["name"],
        "health": summary.get("health"),
        "health_label": health_label(summary.get("health")),
        "health_class": health_class(summary.get("health")),
    }


def groups(summaries: Iterable[Summary]) -> list[dict[str, Any]]:
    """Namespaces, routes and services by their `group` annotation, from the namespaces'
    summaries (`grouped`); groups by name, members namespaces first, then by namespace and id."""
    members: dict[str, dict[str, dict[str, Any]]] = {}
    for summary in summaries:
        namespace = summary["name"]
        for node in summary.get("grouped") or ():
            member = {
                "id": node["id"],
                "kind": node["kind"],
                "name": node["name"],
                "namespace": namespace,
                "display_name": node.get("display_name"),
                "health": node.get("health"),
                "health_label": health_label(node.get("health")),
                "health_class": health_class(node.get("health")),
                "anchor": "" if node["kind"] == "Namespace" else f"#{node['id']}",
            }
            members.setdefault(str(node["group"]), {})[node["id"]] = member
    return [
        {
            "name": name,
            "members": sorted(
                found.values(), key=lambda m: (m["kind"] != "Namespace", m["namespace"], m["id"])
            ),
        }
        for name, found in sorted(members.items())
    ]
