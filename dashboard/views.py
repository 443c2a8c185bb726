"""The pages people look at (DESIGN §7): overview, namespace tree, groups.

Every page is rendered on the server from the snapshot, so it is complete (and correct) before
any script runs; `static/dashboard/js` then connects to `/ws/state/` and keeps it moving. The
page models below are plain functions of snapshot trees so the same rules (filtering, grouping,
element ids) are easy to test and to mirror in the browser's code (`static/dashboard/js/model.js`).

Cluster data is user input: templates autoescape it, and nothing here marks anything safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from constellation.snapshot import Snapshot
from dashboard.permissions import login_required_unless_anonymous
from dashboard.snapshots import read_snapshot

Node = dict[str, Any]

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
FILTER_KINDS = ("HTTPRoute", "Ingress", "Service", "ServiceRef", "Pod")
REF_STATES = ("ok", "missing", "cross-namespace", "ignored")
_HEALTH_CLASSES = frozenset(h.lower() for h in HEALTH_LABELS)
# Where the live client connects (dashboard/routing.py); WebSocket routes have no reverse().
WS_PATH = "/ws/state/"


def health_label(health: str | None) -> str:
    """The words shown next to a health colour."""
    return HEALTH_LABELS.get(health or "", health or "Unknown")


def health_class(health: str | None) -> str:
    """CSS modifier for a health value (`health-healthy`, `health-warn`, ...)."""
    value = (health or "unknown").lower()
    return f"health-{value if value in _HEALTH_CLASSES else 'unknown'}"


def walk(tree: Node) -> Iterator[Node]:
    """Every node occurrence of a tree, parents first."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.get("children") or ()))


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


def _words(values: Iterable[Any]) -> list[str]:
    return [str(value) for value in values if value not in (None, "")]


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

    if kind == "Pod":
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


def card(node: Node, parent_id: str | None = None) -> Node:
    """A node with what its template needs precomputed, children included (recursively)."""
    view = dict(node)
    view.update(
        dom_id=dom_id(node, parent_id),
        health_label=health_label(node.get("health")),
        health_class=health_class(node.get("health")),
        labels_text=[f"{k}={v}" for k, v in _pairs(node.get("labels"))],
        facts=facts(node),
        refs=backend_refs(node),
        children=[card(child, node["id"]) for child in node.get("children") or ()],
    )
    if node["kind"] == "Service" and node.get("collapsed"):
        view.update(
            rollout_bars=rollout_bars(node), summary_text=pod_counts(node.get("pod_summary"))
        )
    return view


def churn_state(tree: Node) -> dict[str, Any]:
    """Whether the watcher is summarising part of the namespace because of churn or size."""
    # By id: a service under two routes occurs twice.
    collapsed = sorted(
        {
            n["id"]: n["name"] for n in walk(tree) if n["kind"] == "Service" and n.get("collapsed")
        }.values()
    )
    if collapsed:
        return {"state": "high", "label": "High churn", "services": collapsed}
    return {"state": "calm", "label": "Calm", "services": []}


def namespace_row(tree: Node) -> dict[str, Any]:
    """One overview tile: health, pod counts, churn state and what the namespace holds."""
    counts = {kind: 0 for kind in FILTER_KINDS}
    seen: set[str] = set()
    for node in walk(tree):
        if node["id"] not in seen and node["kind"] in counts:
            seen.add(node["id"])
            counts[node["kind"]] += 1
    summary = tree.get("pod_summary") or {}
    return {
        "name": tree["name"],
        "display_name": tree.get("display_name"),
        "group": tree.get("group"),
        "health": tree.get("health"),
        "health_label": health_label(tree.get("health")),
        "health_class": health_class(tree.get("health")),
        "ready": int(summary.get("ready") or 0),
        "total": int(summary.get("total") or 0),
        "pending": int(summary.get("pending") or 0),
        "failed": int(summary.get("failed") or 0),
        "routes": counts["HTTPRoute"] + counts["Ingress"],
        "services": counts["Service"],
        "churn": churn_state(tree),
        "url": reverse("dashboard:namespace", args=[tree["name"]]),
    }


@dataclass(frozen=True)
class OverviewFilter:
    """The overview's filter, kept in the URL query so a filtered view can be shared.

    name: substring of the namespace's name or display name; label: `key` or `key=value` on any
    node of the namespace; kind: the namespace holds a node of that kind; health: the
    namespace's own health. Empty fields match everything.
    """

    name: str = ""
    label: str = ""
    kind: str = ""
    health: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> OverviewFilter:
        """Read `?name=&label=&kind=&health=`, ignoring values no namespace could match."""
        kind = query.get("kind", "").strip()
        health = query.get("health", "").strip()
        return cls(
            name=query.get("name", "").strip()[:253],
            label=query.get("label", "").strip()[:317],
            kind=kind if kind in FILTER_KINDS else "",
            health=health if health in NAMESPACE_HEALTH else "",
        )

    @property
    def active(self) -> bool:
        return any(asdict(self).values())

    def _label_matches(self, labels: Any) -> bool:
        if not isinstance(labels, Mapping):
            return False
        key, has_value, value = self.label.partition("=")
        key = key.strip()
        if key not in labels:
            return False
        return not has_value or labels[key] == value.strip()

    def matches(self, tree: Node) -> bool:
        """Whether the namespace passes every active field."""
        needle = self.name.lower()
        if needle and not any(
            needle in (text or "").lower() for text in (tree["name"], tree.get("display_name"))
        ):
            return False
        if self.health and tree.get("health") != self.health:
            return False
        if self.kind and not any(n["kind"] == self.kind for n in walk(tree)):
            return False
        return not self.label or any(self._label_matches(n.get("labels")) for n in walk(tree))


def groups(trees: Iterable[Node]) -> list[dict[str, Any]]:
    """Namespaces, routes and services by their `group` annotation, groups and members sorted."""
    members: dict[str, dict[str, Node]] = {}
    for tree in trees:
        for node in walk(tree):
            group = node.get("group")
            # Pods inherit their service's group; a ServiceRef stands for a service listed
            # under its own namespace already.
            if group and node["kind"] not in ("Pod", "ServiceRef"):
                members.setdefault(group, {})[node["id"]] = node
    return [
        {
            "name": name,
            "members": [
                {
                    "id": node["id"],
                    "kind": node["kind"],
                    "name": node["name"],
                    "namespace": node["namespace"],
                    "display_name": node.get("display_name"),
                    "health": node.get("health"),
                    "health_label": health_label(node.get("health")),
                    "health_class": health_class(node.get("health")),
                    "url": reverse("dashboard:namespace", args=[node["namespace"]])
                    + ("" if node["kind"] == "Namespace" else f"#{node['id']}"),
                }
                for node in sorted(
                    nodes.values(),
                    key=lambda n: (n["kind"] != "Namespace", n["namespace"], n["id"]),
                )
            ],
        }
        for name, nodes in sorted(members.items())
    ]


def sidebar(snapshot: Snapshot) -> list[dict[str, Any]]:
    """Every namespace with its health, for the navigation down the side of every page."""
    return [
        {
            "name": name,
            "health": tree.get("health"),
            "health_label": health_label(tree.get("health")),
            "health_class": health_class(tree.get("health")),
            "url": reverse("dashboard:namespace", args=[name]),
        }
        for name, tree in sorted(snapshot.trees.items())
    ]


def cluster_status(snapshot: Snapshot) -> dict[str, Any]:
    """What the banner says about the watcher: no snapshot yet, syncing, or fine."""
    if not snapshot.present:
        return {"state": "missing", "message": "Waiting for the watcher: no snapshot yet."}
    if not snapshot.synced or not snapshot.cluster.get("synced", True):
        return {"state": "syncing", "message": "The watcher is still listing the cluster."}
    return {"state": "ok", "message": ""}


def client_config(page: str, namespace: str | None = None) -> dict[str, Any]:
    """What the live client reads from the page (json_script): no inline script under the CSP."""
    return {
        "page": page,
        "namespace": namespace,
        "subscribe": [namespace] if namespace else "*",
        "ws_path": WS_PATH,
        "poll_url": reverse("dashboard:api-state")
        + (f"?{urlencode({'namespace': namespace})}" if namespace else ""),
        "namespace_url": reverse("dashboard:namespace", args=["NAMESPACE"]),
    }


async def _page(
    request: HttpRequest, template: str, snapshot: Snapshot, **context: Any
) -> HttpResponse:
    # The user resolved once, asynchronously: the auth context processor's lazy `user` would
    # query the session database from the event loop.
    context.update(
        user=await request.auser(),
        sidebar=sidebar(snapshot),
        cluster_status=cluster_status(snapshot),
    )
    response = render(request, template, context)
    # Live data: a cached page would show a cluster that has moved on.
    response["Cache-Control"] = "no-store"
    return response


@login_required_unless_anonymous
async def overview(request: HttpRequest) -> HttpResponse:
    """Every namespace (filtered by the query string) with health, pods and churn."""
    snapshot = await read_snapshot()
    active = OverviewFilter.from_query(request.GET)
    trees = [snapshot.trees[name] for name in sorted(snapshot.trees)]
    rows = [namespace_row(tree) for tree in trees if active.matches(tree)]
    totals = {
        health: sum(1 for tree in trees if tree.get("health") == health)
        for health in NAMESPACE_HEALTH
    }
    return await _page(
        request,
        "dashboard/overview.html",
        snapshot,
        rows=rows,
        filter=active,
        namespace_count=len(trees),
        health_totals=[
            {"health": h, "label": health_label(h), "class": health_class(h), "count": totals[h]}
            for h in NAMESPACE_HEALTH
        ],
        pods_ready=sum(int((t.get("pod_summary") or {}).get("ready") or 0) for t in trees),
        pods_total=sum(int((t.get("pod_summary") or {}).get("total") or 0) for t in trees),
        kinds=FILTER_KINDS,
        healths=NAMESPACE_HEALTH,
        config=client_config("overview"),
    )


@login_required_unless_anonymous
async def namespace(request: HttpRequest, name: str) -> HttpResponse:
    """One namespace's tree: routes → services → pods, every card complete."""
    snapshot = await read_snapshot()
    tree = snapshot.trees.get(name)
    if tree is None:
        raise Http404(f"No namespace {name!r} in the cluster (or it is not watched).")
    root = card(tree)
    return await _page(
        request,
        "dashboard/namespace.html",
        snapshot,
        ns=root,
        row=namespace_row(tree),
        current_namespace=name,
        config=client_config("namespace", name),
    )


@login_required_unless_anonymous
async def group_list(request: HttpRequest) -> HttpResponse:
    """Namespaces, routes and services by their group annotation."""
    snapshot = await read_snapshot()
    return await _page(
        request,
        "dashboard/groups.html",
        snapshot,
        groups=groups(snapshot.trees[name] for name in sorted(snapshot.trees)),
        config=client_config("groups"),
    )
