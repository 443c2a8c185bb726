"""The dashboard in real Chromium (Playwright) against the whole product on real ports.

`tests.stack.LiveStack` runs simcluster, Redis, `watch_cluster` and Daphne; these tests drive
Debian's /usr/bin/chromium (Playwright cannot download browsers here) and wait on page state
with Playwright's `expect` deadlines, never sleeps. Without Chromium they skip, saying why
(or fail, in CI: tests/tools.py). A console error or uncaught exception fails the test unless
the test expects that exact error.

Screenshots of the demo go to `docs/` when CONSTELLATION_UPDATE_SCREENSHOTS=1 (so a normal test
run does not rewrite tracked files), else to the test's temporary directory.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from constellation import protocol
from tests.stack import LiveStack
from tests.tools import require_chromium
from watchers.diff import apply_messages, child_sort_key, diff_namespace

CHROMIUM = require_chromium()
playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="browser tests need Playwright (requirements-dev.txt)"
)
expect = playwright_api.expect

LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
XSS = "<img src=x onerror=alert(1)>"
DOCS = Path(__file__).resolve().parent.parent / "docs"
# Convergence after an outage includes the client's backoff (1 s, 2 s, 4 s ... with jitter).
OUTAGE_DEADLINE_MS = 45_000
LIVE_DEADLINE_MS = 10_000
# The live socket, whatever view its query string asks for.
WS_ROUTE = re.compile(r"/ws/state/(\?.*)?$")


@pytest.fixture(scope="module")
def stack() -> Iterator[LiveStack]:
    with LiveStack(scenario="demo") as live:
        yield live


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        yield chromium
        chromium.close()


class Tab:
    """One page plus what it saw: console errors, uncaught exceptions and dialogs."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        self.expected_errors: set[str] = set()
        self.dialogs: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on(
            "console",
            lambda message: message.type == "error" and self.errors.append(message.text),
        )
        page.on("dialog", self._dialog)

    def expect_console_error(self, text: str) -> None:
        """Let this exact console error pass the teardown check (any other one fails it)."""
        self.expected_errors.add(text)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: str) -> Any:
        """Navigate and wait until live: the first FullState applied and drawn (the client
        draws on the animation frame after a message)."""
        self.page.goto(self.base_url + path)
        self.expect_connection("connected")
        self.page.evaluate("new Promise((r) => requestAnimationFrame(() => setTimeout(r)))")
        return self.page

    def expect_connection(self, state: str, timeout: float = LIVE_DEADLINE_MS) -> None:
        expect(self.page.locator("#connection")).to_have_attribute(
            "data-state", state, timeout=timeout
        )

    def node(self, node_id: str) -> Any:
        """Every occurrence of a node on the page (a pod under two services is two)."""
        return self.page.locator(f"[data-node-id={json.dumps(node_id)}]")


@contextlib.contextmanager
def new_tab(browser: Any, base_url: str) -> Iterator[Tab]:
    """A tab in a fresh context; an unexpected console error fails the test at the end."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    opened = Tab(context.new_page(), base_url)
    yield opened
    context.close()
    unexpected = [error for error in opened.errors if error not in opened.expected_errors]
    assert not unexpected, unexpected


@pytest.fixture
def tab(browser: Any, stack: LiveStack) -> Iterator[Tab]:
    with new_tab(browser, stack.url) as opened:
        yield opened


@pytest.fixture
def pods(stack: LiveStack) -> Iterator[Callable[..., str]]:
    """Create bare pods in simcluster; deleted again after the test."""
    created: list[tuple[str, str]] = []

    def create(namespace: str, name: str, labels: dict | None = None, **annotations: str) -> str:
        body = {
            "metadata": {"name": name, "labels": labels or {"app": "browser-probe"}},
            "spec": {"containers": [{"name": "main", "image": "registry.example/probe:1"}]},
        }
        if annotations:
            body["metadata"]["annotations"] = annotations
        # Unvalidated: a label value Kubernetes would refuse still must render as text.
        stack.sim.create("pods", body, namespace, validate=False)
        created.append((namespace, name))
        return f"Pod/{namespace}/{name}"

    yield create
    for namespace, name in created:
        try:
            stack.sim.delete("pods", namespace, name)
        except Exception:  # noqa: BLE001 - a test may have deleted it already
            continue


def first_pod(stack: LiveStack, namespace: str, service: str) -> str:
    tree = stack.snapshot().trees[namespace]
    nodes = [tree]
    while nodes:
        node = nodes.pop()
        if node["id"] == f"Service/{namespace}/{service}" and node["children"]:
            return node["children"][0]["id"]
        nodes.extend(node["children"])
    raise AssertionError(f"no pod under {service} in {namespace}")


def test_a_console_error_or_uncaught_exception_is_recorded_against_the_test(tab: Tab) -> None:
    page = tab.open("/")

    page.evaluate("console.error('boom')")
    page.evaluate("setTimeout(() => { throw new Error('bang'); })")

    deadline = time.monotonic() + 10
    while len(tab.errors) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert tab.errors == ["boom", "bang"]
    tab.expect_console_error("boom")
    tab.expect_console_error("bang")


def test_namespace_page_shows_the_tree_of_routes_services_and_pods(
    tab: Tab, stack: LiveStack
) -> None:
    page = tab.open("/namespaces/storefront/")
    route = page.locator('[id="node-HTTPRoute/storefront/storefront"]')
    service = route.locator('[data-node-id="Service/storefront/api"]')
    expect(route.locator(":scope > .card .badge")).to_have_text("Healthy")
    expect(service.locator(":scope > .card .card__title")).to_have_text("api")
    pod = first_pod(stack, "storefront", "api")
    expect(service.locator(f"[data-node-id={json.dumps(pod)}]")).to_have_count(1)
    expect(page.locator('[id="node-HTTPRoute/platform/status-page"]')).to_have_count(0)
    page.goto(stack.url + "/namespaces/platform/")
    missing = page.locator('[id="node-HTTPRoute/platform/status-page"] .ref--missing')
    expect(missing).to_contain_text("missing")


@pytest.mark.parametrize(
    "path", ["/", "/namespaces/storefront/", "/namespaces/platform/", "/groups/"]
)
def test_the_live_client_renders_what_the_server_rendered(
    browser: Any, tab: Tab, path: str
) -> None:
    """The templates and the browser's card builders must say the same thing."""
    static = browser.new_context(java_script_enabled=False)
    server_page = static.new_page()
    server_page.goto(tab.base_url + path)
    server_text = server_page.locator("main").inner_text()
    static.close()
    live = tab.open(path)
    # Rendered by the client once the first FullState arrived (every card rebuilt).
    live.wait_for_function("document.querySelectorAll('.is-entering').length === 0")
    assert live.locator("main").inner_text() == server_text


def test_a_pod_created_in_the_cluster_appears_without_reload_and_fades_when_deleted(
    tab: Tab, stack: LiveStack, pods: Callable[..., str]
) -> None:
    page = tab.open("/namespaces/batch/")
    page.evaluate("window.notReloaded = true")
    pod_id = pods("batch", "live-probe")
    expect(tab.node(pod_id)).to_have_count(1, timeout=LIVE_DEADLINE_MS)
    expect(tab.node(pod_id).locator(".card__title")).to_have_text("live-probe")
    stack.sim.delete("pods", "batch", "live-probe")
    expect(tab.node(pod_id)).to_have_count(0, timeout=LIVE_DEADLINE_MS)
    assert page.evaluate("window.notReloaded") is True


def test_after_a_web_restart_the_page_reconnects_and_shows_what_changed_meanwhile(
    tab: Tab, stack: LiveStack, pods: Callable[..., str]
) -> None:
    page = tab.open("/namespaces/batch/")
    # Chromium logs every refused reconnect while the web is down and, when a busy machine
    # restarts the web slower than three reconnects, the polling fallback's refused fetches.
    tab.expect_console_error(
        f"WebSocket connection to '{stack.ws_url}?namespaces=batch&summary=1' failed: "
        "Error in connection establishment: net::ERR_CONNECTION_REFUSED"
    )
    tab.expect_console_error("Failed to load resource: net::ERR_CONNECTION_REFUSED")
    stack.stop_web()
    tab.expect_connection("reconnecting")
    expect(page.locator("#connection")).to_contain_text("Reconnecting")
    pod_id = pods("batch", "born-offline")
    stack.start_web()
    tab.expect_connection("connected", timeout=OUTAGE_DEADLINE_MS)
    expect(tab.node(pod_id)).to_have_count(1, timeout=LIVE_DEADLINE_MS)


def test_when_websockets_keep_failing_the_page_polls_then_returns_to_them(
    tab: Tab, pods: Callable[..., str]
) -> None:
    blocked = {"on": True}

    def gate(ws: Any) -> None:
        if blocked["on"]:
            ws.close()
        else:
            ws.connect_to_server()

    tab.page.route_web_socket(WS_ROUTE, gate)
    tab.page.goto(tab.base_url + "/namespaces/batch/")
    tab.expect_connection("polling", timeout=OUTAGE_DEADLINE_MS)
    expect(tab.page.locator("#connection")).to_contain_text("Polling")
    pod_id = pods("batch", "seen-by-polling")
    expect(tab.node(pod_id)).to_have_count(1, timeout=LIVE_DEADLINE_MS)
    blocked["on"] = False
    tab.expect_connection("connected", timeout=OUTAGE_DEADLINE_MS)


def test_the_client_answers_pings_toasts_churn_and_resyncs_after_a_gap(
    tab: Tab, stack: LiveStack
) -> None:
    """Frames injected between server and page through Playwright's WebSocket routing."""
    urls: list[str] = []
    sockets: list[Any] = []
    from_page: list[dict] = []

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()
        urls.append(ws.url)

        def upstream(message: str | bytes) -> None:
            from_page.append(json.loads(message))
            server.send(message)

        ws.on_message(upstream)
        sockets.append(ws)

    def page_sent(kind: str) -> None:
        deadline = time.monotonic() + LIVE_DEADLINE_MS / 1000
        # Playwright delivers route events while it waits, so wait in small steps.
        while not any(m.get("type") == kind for m in from_page):
            assert time.monotonic() < deadline, f"the page never sent {kind}: {from_page}"
            tab.page.wait_for_timeout(50)

    tab.page.route_web_socket(WS_ROUTE, relay)
    # A namespace no other test changes, so its true pod counts hold still.
    page = tab.open("/namespaces/observability/")
    real = page.locator("#ns-pods").inner_text()
    # The page asks for its view in the URL: its namespace's tree and the summaries.
    assert urls[-1].endswith("/ws/state/?namespaces=observability&summary=1")
    assert not any(m.get("type") == "Subscribe" for m in from_page)

    sockets[-1].send(json.dumps({"type": "Ping"}))
    page_sent("Pong")

    churn = {
        "type": "HighChurnWarning",
        "namespace": "observability",
        "affected_services": ["jobs"],
    }
    sockets[-1].send(json.dumps({**churn, "churn_rate": 120.0}))
    expect(page.locator(".toast")).to_contain_text("High churn in observability")
    expect(page.locator(".toast")).to_contain_text("120 pod changes/min · jobs summarised")

    summary = {
        "type": "NamespaceSummaryUpdate",
        "namespace": "observability",
        "individual_pods": None,
    }
    wrong = {"total": 99, "ready": 98, "pending": 0, "terminating": 0, "failed": 0}
    sockets[-1].send(json.dumps({**summary, "ns_seq": 10_000, "pod_summary": wrong}))
    expect(page.locator("#ns-pods")).to_have_text("98/99 ready")
    # ns_seq 10,001 never arrives: the client must not trust its copy and asks for the truth.
    sockets[-1].send(json.dumps({**summary, "ns_seq": 10_002, "pod_summary": wrong}))
    page_sent("Resync")
    expect(page.locator("#ns-pods")).to_have_text(real)


def test_the_overview_follows_summaries_joins_chunks_and_resyncs_after_a_gap(
    tab: Tab, stack: LiveStack
) -> None:
    """Summary frames injected between server and page: an update in order changes a tile, a
    SummaryState split into Chunk frames replaces them all, a sum_seq gap makes it Resync."""
    sockets: list[Any] = []
    from_page: list[dict] = []
    # The server's frames pass through here so the test knows the sum_seq the page holds, and
    # are held back while the test writes the stream: a real SummaryUpdate arriving between
    # the test's frames would make its sequence numbers a gap (seen under two busy loops).
    stream = {"open": True, "sum_seq": None}

    def from_server(ws: Any, message: str | bytes) -> None:
        if not stream["open"]:
            return
        frame = json.loads(message)
        kind = frame.get("type")
        if kind == "FullState":
            stream["sum_seq"] = (frame.get("summary") or {}).get("sum_seq")
        elif kind in ("SummaryUpdate", "SummaryState"):
            stream["sum_seq"] = frame["sum_seq"]
        ws.send(message)

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()
        ws.on_message(lambda message: (from_page.append(json.loads(message)), server.send(message)))
        server.on_message(lambda message: from_server(ws, message))
        sockets.append(ws)

    tab.page.route_web_socket(WS_ROUTE, relay)
    page = tab.open("/")
    tile = page.locator('.tile[data-namespace="observability"]')
    real = tile.locator(".tile__pods").text_content()
    snapshot = stack.snapshot()
    stream["open"] = False
    held = stream["sum_seq"]
    assert isinstance(held, int), f"the page got no summary stream: {stream}"
    summary = {
        "name": "observability",
        "display_name": None,
        "group": None,
        "health": "Degraded",
        "pod_summary": {"total": 99, "ready": 98, "pending": 0, "terminating": 0, "failed": 0},
        "counts": {"HTTPRoute": 0, "Ingress": 0, "Service": 1, "ServiceRef": 0, "Pod": 99},
        "churn": {"state": "calm", "services": []},
        "reasons": ["Service jobs: 98/99 pods ready"],
        "grouped": [],
    }
    envelope = {"seq": 10**6, "epoch": snapshot.epoch}
    update = {"type": "SummaryUpdate", **envelope, "summaries": [summary], "removed": []}
    sockets[-1].send(json.dumps({**update, "sum_seq": held + 1}))
    expect(tile.locator(".tile__pods")).to_have_text("98/99 pods ready")
    expect(tile.locator(".tile__reasons")).to_have_text("Service jobs: 98/99 pods ready")
    # Turning to high churn is worth a toast on the overview (it gets no HighChurnWarning).
    churning = {**summary, "churn": {"state": "high", "services": ["jobs"]}}
    sockets[-1].send(json.dumps({**update, "summaries": [churning], "sum_seq": held + 2}))
    expect(page.locator(".toast")).to_contain_text("High churn in observability")
    expect(page.locator(".toast")).to_contain_text("jobs summarised")
    expect(tile.locator(".churn dd")).to_have_text("High churn")

    down = {**summary, "health": "Down"}
    state = {"type": "SummaryState", **envelope, "sum_seq": held + 2, "namespaces": [down]}
    text = json.dumps(state)
    third = len(text) // 3 + 1
    parts = [text[i : i + third] for i in range(0, len(text), third)]
    for index, part in enumerate(parts):
        chunk = {"type": "Chunk", "id": "t1", "index": index, "count": len(parts), "data": part}
        sockets[-1].send(json.dumps(chunk))
    expect(page.locator(".tile")).to_have_count(1)  # the state named one namespace only
    expect(tile.locator(".badge")).to_have_text("Down")

    stream["open"] = True  # the page's Resync is answered by the server
    sockets[-1].send(json.dumps({**update, "sum_seq": held + 4}))  # held + 3 never arrives
    deadline = time.monotonic() + LIVE_DEADLINE_MS / 1000
    while not any(m.get("type") == "Resync" for m in from_page):
        assert time.monotonic() < deadline, f"the page never sent Resync: {from_page}"
        page.wait_for_timeout(50)
    expect(page.locator(".tile")).to_have_count(len(snapshot.trees))
    expect(tile.locator(".tile__pods")).to_have_text(real)


def test_cluster_text_with_markup_shows_as_text_and_runs_nothing(
    tab: Tab, stack: LiveStack, pods: Callable[..., str]
) -> None:
    page = tab.open("/namespaces/batch/")
    display = {"constellation.io/display-name": XSS}
    pod_id = pods("batch", "xss-probe", labels={"note": XSS}, **display)
    node = tab.node(pod_id)
    expect(node.locator(".card__title")).to_have_text(XSS, timeout=LIVE_DEADLINE_MS)
    expect(node.locator(".chip")).to_have_text(f"note={XSS}")
    page.reload()  # now rendered by the server
    tab.expect_connection("connected")
    expect(node.locator(".card__title")).to_have_text(XSS)
    expect(node.locator(".chip")).to_have_text(f"note={XSS}")
    expect(page.locator("main img")).to_have_count(0)
    assert tab.dialogs == []


def test_a_deep_link_highlights_and_scrolls_to_its_node(tab: Tab, stack: LiveStack) -> None:
    pod = first_pod(stack, "storefront", "cart")
    tab.page.set_viewport_size({"width": 1200, "height": 600})
    page = tab.open(f"/namespaces/storefront/#{pod}")
    target = page.locator(f'[id="node-{pod}"]')
    expect(target).to_have_class(re.compile(r"\bis-target\b"))
    expect(target).to_be_in_viewport()
    expect(page.locator(".is-target")).to_have_count(1)


def test_the_overview_filters_live_and_keeps_the_filter_in_the_url(tab: Tab) -> None:
    page = tab.open("/")
    expect(page.locator(".tile")).to_have_count(7)
    page.locator('#filters select[name="health"]').select_option("Down")
    expect(page.locator(".tile:not(.is-leaving)")).to_have_count(3)
    assert "health=Down" in page.url
    page.locator('#filters input[name="name"]').fill("pay")
    expect(page.locator(".tile:not(.is-leaving)")).to_have_count(1)
    expect(page.locator("#result-count")).to_have_text("1 of 7 namespaces match")
    page.reload()
    expect(page.locator(".tile")).to_have_count(1)  # the server applied the URL's filter


def _occurrences(tree: dict, node_id: str) -> Iterator[dict]:
    nodes = [tree]
    while nodes:
        node = nodes.pop()
        if node["id"] == node_id:
            yield node
        nodes.extend(node["children"])


def _changed(tree: dict, change: Callable[[dict], None]) -> dict:
    changed = copy.deepcopy(tree)
    change(changed)
    return changed


def test_the_browser_reducer_applies_messages_exactly_like_the_reference(
    tab: Tab, stack: LiveStack
) -> None:
    page = tab.open("/")
    start = stack.snapshot().trees["storefront"]
    api_pod = first_pod(stack, "storefront", "api")
    cart = "Service/storefront/cart"

    def drop_pod(tree: dict) -> None:
        for node in _occurrences(tree, "Service/storefront/api"):
            node["children"] = [c for c in node["children"] if c["id"] != api_pod]
        tree["pod_summary"] = {**tree["pod_summary"], "total": tree["pod_summary"]["total"] - 1}

    def add_pod(tree: dict) -> None:
        for node in _occurrences(tree, cart):
            template = copy.deepcopy(node["children"][0])
            template.update(id="Pod/storefront/cart-new", name="cart-new", health="warn")
            node["children"].insert(0, template)
            node["children"].sort(key=lambda c: (c["name"], c["id"]))

    def degrade(tree: dict) -> None:
        for node in _occurrences(tree, cart):
            node["health"] = "Degraded"

    def restructure(tree: dict) -> None:
        # The routes go; their services move up to the namespace: parents change, so the
        # diff must send the whole namespace (RelationshipUpdated).
        routed = {
            s["id"]: s
            for r in tree["children"]
            if r["kind"] in ("HTTPRoute", "Ingress")
            for s in r["children"]
        }
        kept = [c for c in tree["children"] if c["kind"] not in ("HTTPRoute", "Ingress")]
        for service in routed.values():
            service["relatives"] = []
        tree["children"] = sorted([*kept, *routed.values()], key=child_sort_key)

    steps = [start]
    for change in (drop_pod, add_pod, degrade, restructure):
        steps.append(_changed(steps[-1], change))
    sequencer = protocol.Sequencer("epoch-x")
    messages = [
        sequencer.stamp(message)
        for old, new in zip(steps, steps[1:], strict=False)
        for message in diff_namespace("storefront", old, new)
    ]
    kinds = {m["type"] for m in messages}
    assert {"ResourceDeleted", "ResourceAdded", "ResourceUpdated"} <= kinds
    assert {"RelationshipUpdated", "NamespaceSummaryUpdate"} <= kinds
    assert apply_messages(start, messages) == steps[-1]

    script = """async ([start, messages]) => {
        const { ClusterState } = await import('/static/dashboard/js/state.js');
        const run = (list) => {
            const state = new ClusterState('*');
            state.apply({type: 'FullState', epoch: 'epoch-x', seq: 0,
                         hierarchy: [structuredClone(start)], cluster: {}});
            const actions = list.map((m) => state.apply(structuredClone(m)).action);
            return {tree: state.trees.get('storefront') || null, actions};
        };
        const gap = run([messages[0], messages[2]]);
        const epoch = run([{...messages[0], epoch: 'epoch-y'}]);
        const twice = run([messages[0], messages[0]]);
        return {all: run(messages), gap: gap.actions, epoch: epoch.actions, twice: twice.actions};
    }"""
    result = page.evaluate(script, [start, messages])
    assert result["all"]["tree"] == steps[-1]
    assert set(result["all"]["actions"]) == {"update"}
    assert result["gap"] == ["update", "resync"]
    assert result["epoch"] == ["resync"]
    assert result["twice"] == ["update", "ignore"]


def test_the_browser_page_models_say_what_the_server_says(tab: Tab) -> None:
    """static/dashboard/js/model.js mirrors presenters.py, overview.py and sidebar.py: a page
    the server rendered and the same page redrawn live must page, order and word alike."""
    from django.core.paginator import Paginator

    from dashboard import presenters
    from dashboard.overview import Overview
    from dashboard.sidebar import sidebar

    healths = ["Healthy", "Down", "Degraded", "Unknown", None]
    summaries = {
        f"ns-{i:02d}": {
            "name": f"ns-{i:02d}",
            "display_name": "Pay me" if i % 7 == 0 else None,
            "health": healths[i % 5],
            "pod_summary": {"ready": i, "total": i + i % 3, "pending": i % 2, "failed": i % 4},
            "counts": {"HTTPRoute": i % 2, "Ingress": i % 3, "Service": i, "Pod": i % 5},
            "churn": {"state": "high" if i % 6 == 0 else "calm", "services": []},
            "reasons": [f"reason {n}" for n in range(i % 4)],
            "grouped": [
                {
                    "id": f"Service/ns-{i:02d}/s",
                    "kind": "Service",
                    "name": "s",
                    "group": f"g{i % 3}",
                    "display_name": None,
                    "health": healths[i % 5],
                },
            ],
        }
        for i in range(130)
    }
    queries = [
        {},
        {"name": "ns-1"},
        {"health": "Down", "order": "health"},
        {"kind": "Ingress"},
        {"name": "pay", "page": "2"},
        {"page": "3"},
        {"order": "health", "page": "9"},
    ]
    cells = [
        {"name": "a", "health": "ok", "phase": "Running"},
        {"name": "b", "health": "warn", "phase": "Pending"},
        {"name": "c", "health": "warn", "phase": "Running", "reason": "Probe"},
        {"name": "d", "health": "warn", "phase": "Terminating"},
        {"name": "e", "health": "error", "phase": "Running", "reason": "CrashLoopBackOff"},
        {"name": "f", "health": "error", "phase": "Failed"},
    ]
    expected = {
        "pages": [
            [
                None if n == Paginator.ELLIPSIS else n
                for n in Paginator(range(pages), 1).get_elided_page_range(number)
            ]
            for pages in range(1, 26)
            for number in range(1, pages + 1)
        ],
        "views": [
            [[t["name"] for t in view.tiles], view.result_text(), view.query(view.page.number)]
            for view in (Overview(summaries, q, str) for q in queries)
        ],
        "sidebar": [
            [r["name"] for r in sidebar(summaries, current, 200)["rows"]]
            for current in (None, "ns-77")
        ],
        "cells": [[presenters.cell_state(c), presenters.cell_label(c)] for c in cells],
        "tiles": [
            [t["routes"], t["services"], t["churn"]["label"], t["reasons"]]
            for t in map(presenters.tile, summaries.values())
        ],
        "groups": [
            [g["name"], [m["id"] for m in g["members"]]]
            for g in presenters.groups(summaries.values())
        ],
    }
    script = """async ([summaries, queries, cells]) => {
        const m = await import('/static/dashboard/js/model.js');
        const all = Object.values(summaries);
        const pages = [];
        for (let total = 1; total <= 25; total += 1) {
            for (let n = 1; n <= total; n += 1) pages.push(m.elidedPageRange(n, total));
        }
        const views = queries.map((query) => {
            const view = m.readView(new URLSearchParams(query));
            const matched = all.filter((s) => m.filterMatches(view.filter, s, null))
                .sort(m.orderCompare(view.order));
            const page = m.paginate(matched, view.page, 60);
            const active = m.filterActive(view.filter);
            const text = m.resultText(all.length, matched.length, active, page);
            return [page.shown.map((s) => s.name), text, m.viewQuery({...view, page: page.number})];
        });
        const sidebar = [null, 'ns-77'].map((current) =>
            [...all].sort(m.sidebarCompare(current)).map((s) => s.name));
        return {
            pages, views, sidebar,
            cells: cells.map((c) => [m.cellState(c), m.cellLabel(c)]),
            tiles: all.map(m.tile).map((t) => [t.routes, t.services, t.churn.label, t.reasons]),
            groups: m.groups(all).map((g) => [g.name, g.members.map((n) => n.id)]),
        };
    }"""
    page = tab.open("/")
    assert page.evaluate(script, [summaries, queries, cells]) == expected


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots_of_the_demo(
    browser: Any, stack: LiveStack, tmp_path: Path, scheme: str
) -> None:
    target = DOCS if os.environ.get("CONSTELLATION_UPDATE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(exist_ok=True)
    context = browser.new_context(
        viewport={"width": 1440, "height": 960}, color_scheme=scheme, device_scale_factor=1
    )
    tab = Tab(context.new_page(), stack.url)
    suffix = "" if scheme == "light" else "-dark"
    for path, name in (("/", "overview"), ("/namespaces/storefront/", "namespace")):
        page = tab.open(path)
        page.wait_for_function("document.getAnimations().length <= 1")  # the live dot pulses
        shot = target / f"{name}{suffix}.png"
        page.screenshot(path=str(shot), full_page=name == "namespace")
        assert shot.stat().st_size > 10_000
    context.close()
    assert not tab.errors, tab.errors


# -- at scale (small sizes): 150 namespaces, a service over the collapse threshold ----------

TEAMS = 150
GRID_NAMESPACE, GRID_SERVICE, GRID_PODS = "team-001", "grid", 60  # over collapse_pods_over (50)


@pytest.fixture(scope="module")
def many_stack() -> Iterator[LiveStack]:
    """`large` at 150 namespaces of one one-pod service each, plus one service of 60 pods."""
    from simcluster.scenarios.manifests import apply, deployment, service, service_port

    params = {"namespaces": TEAMS, "services": TEAMS, "pods": TEAMS}
    with LiveStack(scenario="large", scenario_params=params) as live:
        apply(
            live.sim.store,
            [
                deployment(GRID_NAMESPACE, GRID_SERVICE, "registry.example/grid:1", GRID_PODS, 80),
                service(
                    GRID_NAMESPACE,
                    GRID_SERVICE,
                    [service_port("http", 80, 80)],
                    selector={"app.kubernetes.io/name": GRID_SERVICE},
                ),
            ],
        )
        yield live


@pytest.fixture
def many_tab(browser: Any, many_stack: LiveStack) -> Iterator[Tab]:
    with new_tab(browser, many_stack.url) as opened:
        yield opened


def tiles_shown(page: Any) -> list[str]:
    return page.eval_on_selector_all(
        ".tile:not(.is-leaving)", "tiles => tiles.map(t => t.dataset.namespace)"
    )


def wait_for(page: Any, condition: Callable[[], bool], what: str) -> None:
    """Poll a condition read through Playwright (which delivers page events while it waits)."""
    deadline = time.monotonic() + LIVE_DEADLINE_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(100)


def test_the_overview_at_many_namespaces_pages_filters_and_updates_one_tile(
    many_tab: Tab, many_stack: LiveStack
) -> None:
    names = sorted(many_stack.snapshot().trees)
    total = len(names)
    page = many_tab.open("/")
    page.evaluate("window.notReloaded = true")
    assert tiles_shown(page) == names[:60]
    expect(page.locator("#result-count")).to_have_text(f"{total} namespaces · 1–60 shown")

    page.locator('#pager a[data-page="2"]').first.click()
    wait_for(page, lambda: tiles_shown(page) == names[60:120], "page 2")
    assert page.url.endswith("/?page=2")
    expect(page.locator('#pager [aria-current="page"]')).to_have_text("2")

    page.locator('#filters input[name="name"]').fill("team-14")
    teens = [f"team-{i}" for i in range(140, 150)]
    wait_for(page, lambda: tiles_shown(page) == teens, "the name filter")
    expect(page.locator("#result-count")).to_have_text(f"10 of {total} namespaces match")
    expect(page.locator("#pager")).to_be_hidden()
    assert page.url.endswith("/?name=team-14")  # a new filter starts again at page 1

    # A live change redraws its tile and no other.
    page.evaluate(
        "document.querySelectorAll('.tile').forEach(t => { t.firstElementChild.probe = 1; })"
    )
    many_stack.sim.patch("deployments", "team-142", "app-01", {"spec": {"replicas": 3}}, "apps")
    changed = page.locator('.tile[data-namespace="team-142"] .tile__of')
    expect(changed).to_have_text("/3", timeout=LIVE_DEADLINE_MS)
    kept = page.evaluate(
        "[...document.querySelectorAll('.tile')].filter(t => t.firstElementChild.probe)"
        ".map(t => t.dataset.namespace)"
    )
    assert kept == [name for name in teens if name != "team-142"]

    # Labels stay on the server: the label filter is answered there.
    page.locator('#filters input[name="name"]').fill("")
    page.locator('#filters input[name="label"]').fill("kubernetes.io/metadata.name=team-007")
    wait_for(page, lambda: tiles_shown(page) == ["team-007"], "the label filter")
    assert page.evaluate("window.notReloaded") is True
    page.reload()  # the server applies the URL's filter
    assert tiles_shown(page) == ["team-007"]


def test_the_sidebar_stays_bounded_and_filters_over_every_namespace(
    many_tab: Tab, many_stack: LiveStack
) -> None:
    total = len(many_stack.snapshot().trees)
    page = many_tab.open(f"/namespaces/{GRID_NAMESPACE}/")
    rows = page.locator("#sidebar-list > li:not(.is-leaving)")
    expect(rows).to_have_count(50)
    expect(rows.first).to_have_attribute("data-namespace", GRID_NAMESPACE)
    expect(page.locator("#sidebar-more")).to_contain_text(f"{total - 50} more")
    page.locator("#sidebar-filter").fill("team-14")
    expect(rows).to_have_count(10)
    expect(page.locator("#sidebar-more")).to_be_hidden()


def grid_cells(page: Any) -> list[list[str]]:
    return page.eval_on_selector_all(
        f'[data-node-id="Service/{GRID_NAMESPACE}/{GRID_SERVICE}"] .cells > .cell:not(.is-leaving)',
        "cells => cells.map(c => [c.dataset.nodeId, c.className.replace(/ is-\\\\w+/g, ''),"
        " c.getAttribute('aria-label')])",
    )


def expected_cells(stack: LiveStack) -> list[list[str]]:
    """What the grid must show: one cell per pod of the service in the snapshot, with the
    state's class and the pod's name and state as its accessible name."""
    from dashboard.presenters import cell_label, cell_state

    tree = stack.snapshot().trees[GRID_NAMESPACE]
    found = list(_occurrences(tree, f"Service/{GRID_NAMESPACE}/{GRID_SERVICE}"))
    if not found or not found[0]["collapsed"]:
        return []  # not published yet, or not yet over the collapse threshold
    [grid] = found
    return [
        [cell["id"], f"cell cell--{cell_state(cell)}", cell_label(cell)]
        for cell in grid["children"]
    ]


def settled_grid(stack: LiveStack, gone: str = "") -> list[list[str]]:
    """The grid's expected cells once every pod of the service is ready (and `gone` is)."""
    deadline = time.monotonic() + OUTAGE_DEADLINE_MS / 1000
    while True:
        cells = expected_cells(stack)
        ready = all(c[1] == "cell cell--ready" and not c[0].endswith(f"/{gone}") for c in cells)
        if len(cells) == GRID_PODS and ready:
            return cells
        assert time.monotonic() < deadline, f"the grid service never settled: {cells[:3]}"
        time.sleep(0.2)


def open_grid(tab: Tab, stack: LiveStack) -> tuple[Any, list[list[str]]]:
    """The grid's namespace page once it shows the settled service, and the cells expected."""
    expected = settled_grid(stack)
    page = tab.open(f"/namespaces/{GRID_NAMESPACE}/")
    wait_for(page, lambda: grid_cells(page) == expected, "the grid to match the pods")
    return page, expected


def test_a_big_service_shows_one_cell_per_pod_with_its_state_and_name(
    many_tab: Tab, many_stack: LiveStack
) -> None:
    page, expected = open_grid(many_tab, many_stack)
    assert all(label.endswith(": Ready") for _, _, label in expected)
    legend = page.locator(
        f'[data-node-id="Service/{GRID_NAMESPACE}/{GRID_SERVICE}"] .podgrid__legend'
    )
    expect(legend).to_have_text(f"{GRID_PODS} ready")
    # One tab stop per grid.
    stops = page.locator(".cells > .cell[tabindex='0']")
    expect(stops).to_have_count(1)

    # A pod going wrong shows in its cell, by class and by name.
    victim = expected[5][0].rsplit("/", 1)[1]
    many_stack.sim.patch(
        "pods",
        GRID_NAMESPACE,
        victim,
        {"status": {"phase": "Failed", "reason": "Evicted"}},
        subresource="status",
    )
    wait_for(page, lambda: grid_cells(page) == expected_cells(many_stack), "the failed pod")
    cell = page.locator(f'.cell[data-node-id="PodCell/{GRID_NAMESPACE}/{victim}"]')
    expect(cell).to_have_class(re.compile(r"\bcell--error\b"))
    expect(cell).to_have_attribute("aria-label", re.compile(rf"^{victim}: Error"))
    many_stack.sim.delete("pods", GRID_NAMESPACE, victim)  # its replacement runs already


def test_a_pod_cells_details_show_on_focus_and_follow_the_arrow_keys(
    many_tab: Tab, many_stack: LiveStack
) -> None:
    settled_grid(many_stack)
    page = many_tab.open(f"/namespaces/{GRID_NAMESPACE}/")
    grid = page.locator(f'[data-node-id="Service/{GRID_NAMESPACE}/{GRID_SERVICE}"] .podgrid')
    cells = grid.locator(".cells > .cell:not(.is-leaving)")
    details = grid.locator(".podgrid__details")
    expect(details).to_be_hidden()
    first, second = (cells.nth(i).get_attribute("data-node-id") for i in range(2))
    cells.nth(0).focus()
    expect(details).to_be_visible()
    expect(details.locator(".podgrid__title strong")).to_have_text(first.rsplit("/", 1)[1])
    expect(details.locator(".fact").first).to_have_text("PhaseRunning")  # term, value
    page.keyboard.press("ArrowRight")
    focused = page.evaluate("document.activeElement.dataset.nodeId")
    assert focused == second
    expect(details.locator(".podgrid__title strong")).to_have_text(second.rsplit("/", 1)[1])
    expect(cells.nth(1)).to_have_attribute("tabindex", "0")
    expect(cells.nth(0)).to_have_attribute("tabindex", "-1")
    page.keyboard.press("Escape")
    expect(details).to_be_hidden()
    cells.nth(2).hover()
    third = cells.nth(2).get_attribute("data-node-id").rsplit("/", 1)[1]
    expect(details.locator(".podgrid__title strong")).to_have_text(third)
    # A deep link to the pod finds its cell in the grid.
    page.goto(f"{many_tab.base_url}/namespaces/{GRID_NAMESPACE}/#Pod/{GRID_NAMESPACE}/{third}")
    target = page.locator(f'.cell[data-node-id="PodCell/{GRID_NAMESPACE}/{third}"]')
    expect(target).to_have_class(re.compile(r"\bis-target\b"))
    expect(target).to_be_in_viewport()


def test_a_live_change_patches_only_the_cells_whose_pod_changed(
    many_tab: Tab, many_stack: LiveStack
) -> None:
    page, before = open_grid(many_tab, many_stack)
    page.evaluate("document.querySelectorAll('.cells > .cell').forEach(c => { c.probe = 1; })")
    gone = before[10][0].rsplit("/", 1)[1]
    many_stack.sim.delete("pods", GRID_NAMESPACE, gone)
    after = settled_grid(many_stack, gone=gone)
    wait_for(page, lambda: grid_cells(page) == after, "the replacement pod's cell")
    kept = page.eval_on_selector_all(
        ".cells > .cell:not(.is-leaving)", "cells => cells.filter(c => c.probe).length"
    )
    assert kept == GRID_PODS - 1  # every cell but the new pod's is the element drawn before
