"""The pages people look at (DESIGN §7): overview, namespace tree, groups. Thin on purpose.

Every page is rendered on the server from the snapshot, so it is complete (and correct) before
any script runs; `static/dashboard/js` then connects to `/ws/state/` with the same view in its
URL and keeps it moving. A view only wires the request to what decides the page: who may see
which namespaces (`permissions.visible_namespaces`, asked before anything is read into the
page), the snapshot read of what the page shows (namespace summaries, never every tree), the
view-models (`overview.Overview`, `sidebar.sidebar`) and the presenters (`presenters`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from constellation.snapshot import Snapshot
from constellation.summary import namespace_summary
from dashboard import presenters
from dashboard.overview import FILTER_KINDS, NAMESPACE_HEALTH, ORDERS, PAGE_SIZE, Overview
from dashboard.overview import label_matches as namespaces_with_label
from dashboard.permissions import (
    NamespaceAccess,
    login_required_unless_anonymous,
    visible_namespaces,
)
from dashboard.sidebar import SIDEBAR_ROWS, sidebar
from dashboard.snapshots import read_snapshot

# Where the live client connects (dashboard/routing.py); WebSocket routes have no reverse().
WS_PATH = "/ws/state/"
NAMESPACE_PLACEHOLDER = "NAMESPACE"


def namespace_url(name: str) -> str:
    return reverse("dashboard:namespace", args=[name])


def cluster_status(snapshot: Snapshot) -> dict[str, Any]:
    """What the banner says about the watcher: no snapshot yet, syncing, or fine."""
    if not snapshot.present:
        return {"state": "missing", "message": "Waiting for the watcher: no snapshot yet."}
    if not snapshot.synced or not snapshot.cluster.get("synced", True):
        return {"state": "syncing", "message": "The watcher is still listing the cluster."}
    return {"state": "ok", "message": ""}


def client_config(page: str, namespace: str | None = None) -> dict[str, Any]:
    """What the live client reads from the page (json_script): no inline script under the CSP.

    The WebSocket URL and the polling URL ask for exactly what the page shows: this
    namespace's tree (or none) and the namespace summaries for the overview and the sidebar.
    """
    view = {"namespaces": namespace or "", "summary": "1"}
    if namespace:
        poll_url = f"{reverse('dashboard:api-state')}?{urlencode({'namespace': namespace})}"
        poll_url += "&summary=1"
    else:
        poll_url = reverse("dashboard:api-summary")
    return {
        "page": page,
        "namespace": namespace,
        "namespaces": [namespace] if namespace else [],
        "ws_path": f"{WS_PATH}?{urlencode(view)}",
        "poll_url": poll_url,
        "namespace_url": namespace_url(NAMESPACE_PLACEHOLDER),
        "overview_url": reverse("dashboard:overview"),
        "label_url": reverse("dashboard:label-matches"),
        "page_size": PAGE_SIZE,
        "sidebar_rows": SIDEBAR_ROWS,
    }


async def _reader(request: HttpRequest) -> tuple[Any, NamespaceAccess]:
    # The user resolved once, asynchronously: the auth context processor's lazy `user` would
    # query the session database from the event loop.
    user = await request.auser()
    return user, visible_namespaces(user)


async def _page(
    request: HttpRequest,
    template: str,
    snapshot: Snapshot,
    summaries: dict[str, dict[str, Any]],
    user: Any,
    build: Callable[[], dict[str, Any]],
    current: str | None = None,
) -> HttpResponse:
    """Render `template` with the context `build()` returns, plus what every page has.

    Built and rendered in a worker thread: a 5,000-pod namespace takes a few hundred ms of
    Python, which on the event loop would stall every WebSocket this process serves.
    """

    def rendered() -> HttpResponse:
        side = sidebar(summaries, current)
        for row in side["rows"]:
            row["url"] = namespace_url(row["name"])
        context = build()
        context.update(
            user=user,
            sidebar=side,
            current_namespace=current,
            cluster_status=cluster_status(snapshot),
        )
        response = render(request, template, context)
        # Live data: a cached page would show a cluster that has moved on.
        response["Cache-Control"] = "no-store"
        return response

    return await sync_to_async(rendered, thread_sensitive=False)()


def _overview_context(summaries: dict[str, dict[str, Any]], query: Any) -> dict[str, Any]:
    model = Overview(summaries, query, namespace_url)
    totals = model.totals()
    return {
        "overview": model,
        "health_totals": [
            {
                "health": health,
                "label": presenters.health_label(health),
                "class": presenters.health_class(health),
                "count": totals["by_health"][health],
            }
            for health in NAMESPACE_HEALTH
        ],
        "pods_ready": totals["pods_ready"],
        "pods_total": totals["pods_total"],
        "kinds": FILTER_KINDS,
        "healths": NAMESPACE_HEALTH,
        "orders": ORDERS,
        "config": client_config("overview"),
    }


@login_required_unless_anonymous
async def overview(request: HttpRequest) -> HttpResponse:
    """One page of namespaces (filtered by the query string) with health, pods and churn."""
    user, access = await _reader(request)
    snapshot = await read_snapshot((), summaries=True)
    summaries = access.only(snapshot.summaries)
    return await _page(
        request,
        "dashboard/overview.html",
        snapshot,
        summaries,
        user,
        lambda: _overview_context(summaries, request.GET),
    )


@login_required_unless_anonymous
async def label_matches(request: HttpRequest) -> JsonResponse:
    """The namespaces with a node carrying `?label=` (`key` or `key=value`), for the overview's
    live filter: labels stay on the server, so the browser cannot answer this one itself."""
    _, access = await _reader(request)
    label = request.GET.get("label", "")
    snapshot = await read_snapshot((), summaries=True)
    names = namespaces_with_label(access.only(snapshot.summaries), label) if label else []
    response = JsonResponse({"label": label, "namespaces": names})
    response["Cache-Control"] = "no-store"
    return response


@login_required_unless_anonymous
async def namespace(request: HttpRequest, name: str) -> HttpResponse:
    """One namespace's tree: routes → services → pods; big services as a grid of pod cells."""
    user, access = await _reader(request)
    missing = f"No namespace {name!r} in the cluster (or it is not watched)."
    if not access.allows(name):
        raise Http404(missing)
    snapshot = await read_snapshot([name], summaries=True)
    tree = snapshot.trees.get(name)
    if tree is None:
        raise Http404(missing)
    return await _page(
        request,
        "dashboard/namespace.html",
        snapshot,
        access.only(snapshot.summaries),
        user,
        lambda: {
            "ns": presenters.card(tree),
            "row": presenters.tile(namespace_summary(tree)),
            "config": client_config("namespace", name),
        },
        current=name,
    )


def _groups_context(summaries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    found = presenters.groups(summaries[name] for name in sorted(summaries))
    for group in found:
        for member in group["members"]:
            member["url"] = namespace_url(member["namespace"]) + member["anchor"]
    return {"groups": found, "config": client_config("groups")}


@login_required_unless_anonymous
async def group_list(request: HttpRequest) -> HttpResponse:
    """Namespaces, routes and services by their group annotation (from the summaries)."""
    user, access = await _reader(request)
    snapshot = await read_snapshot((), summaries=True)
    summaries = access.only(snapshot.summaries)
    return await _page(
        request,
        "dashboard/groups.html",
        snapshot,
        summaries,
        user,
        lambda: _groups_context(summaries),
    )
