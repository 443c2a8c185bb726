"""Issue 14, browser part: the big pages in Debian's Chromium, at rest and during a rollout.

Run: .venv/bin/python bench/scale.py --parts browser [--quick] [--pods N] [--namespaces N]

Method (Playwright driving /usr/bin/chromium, headless, --no-sandbox --disable-gpu
--disable-background-networking; a fresh browser context per page load, so nothing is cached):
- Loads: bench/scale_web.py's synthetic snapshot served by real Daphne (`options.namespaces`
  namespaces, and `wide`, 5,000 pods in 20 collapsed services). For the overview and the wide
  namespace page: navigation start → DOMContentLoaded and → first contentful paint (the
  page's own Navigation and Paint Timing entries), → live (the first FullState applied: the
  connection indicator turns "connected"), and the DOM's element count once live. On the
  overview, paging and filtering in the browser are timed from the click or keystroke to the
  next animation frame.
- Churn: the whole product (tests/stack.py: simcluster in this process, Redis, the watcher,
  Daphne) on simcluster's `large` scenario with one namespace of 5,000 pods in 20 services,
  realistic pod timings (EngineConfig defaults). With the namespace page open, rolling updates
  (`kubectl rollout restart`: the pod template's annotation stamped, maxSurge 10%) are started
  one deployment at a time whenever the namespace's pod events over the last second fall below
  CHURN_RATE; once they run at 80% of it, for `options.burst_s` seconds (60; quick: 10).
  Measured in the page: main-thread long tasks (PerformanceObserver 'longtask', p95 and max),
  animation frames per second, and the DOM's element count at the start and the end; then,
  once the rollouts in flight finished, how long until the page's cells are exactly the
  snapshot's pods. Every process shares the machine's cores: long tasks are wall-clock.
"""

from __future__ import annotations

import collections
import copy
import os
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bench.fanout import percentile
from bench.figures import Figure
from bench.scale_web import WIDE, synthetic_site

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CHURN_RATE = 500.0
"""Pod watch events per second in the namespace during the rollout."""
CHURN_PODS, CHURN_SERVICES = 5000, 20
TICK_S = 0.2
START_GAP_S = 1.0
"""At most one new rollout per this often: its events lag its start by a pod start-up."""
RAMP_TIMEOUT_S = 30.0
SETTLE_TIMEOUT_S = 300.0
LIVE_TIMEOUT_MS = 120_000

# Runs before the page's own scripts (Playwright's init script is not subject to the CSP).
OBSERVE = """
window.__longtasks = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.__longtasks.push([entry.startTime, entry.duration]);
}).observe({ type: 'longtask', buffered: true });
window.__frames = [];
(function frame(now) {
  if (now !== undefined) window.__frames.push(now);
  requestAnimationFrame(frame);
})();
document.addEventListener('DOMContentLoaded', () => {
  const box = document.getElementById('connection');
  if (!box) return;
  new MutationObserver(() => {
    if (box.dataset.state === 'connected' && !window.__liveAt) window.__liveAt = performance.now();
  }).observe(box, { attributes: true });
});
"""
TIMINGS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const paint = Object.fromEntries(performance.getEntriesByType('paint')
    .map((entry) => [entry.name, entry.startTime]));
  return {
    response: nav.responseEnd,
    dcl: nav.domContentLoadedEventEnd,
    fcp: paint['first-contentful-paint'],
    live: window.__liveAt,
    nodes: document.getElementsByTagName('*').length,
  };
}"""
# A click or keystroke's cost: its handlers run synchronously, then the next frame paints.
AFTER_FRAME = """(action) => new Promise((resolve) => {
  const started = performance.now();
  if (action.click) document.querySelector(action.click).click();
  if (action.type) {
    const field = document.querySelector(action.type[0]);
    field.value = action.type[1];
    field.dispatchEvent(new Event('input', { bubbles: true }));
  }
  requestAnimationFrame(() => resolve(performance.now() - started));
})"""


def missing() -> list[str]:
    """What this part needs and the machine lacks (bench/scale.py checks before any part)."""
    if os.access(CHROMIUM, os.X_OK):
        return []
    return [f"chromium: no executable at {CHROMIUM} (apt-get install chromium)"]


@contextmanager
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def opened(browser: Any, url: str) -> Iterator[Any]:
    """A page in a fresh context, navigated to `url` and live (first FullState applied)."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    context.add_init_script(script=OBSERVE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    try:
        page.goto(url, wait_until="domcontentloaded", timeout=LIVE_TIMEOUT_MS)
        page.wait_for_function("() => window.__liveAt !== undefined", timeout=LIVE_TIMEOUT_MS)
        page.wait_for_timeout(500)  # the first live frame has drawn
        yield page
        if errors:
            raise RuntimeError(f"the page at {url} logged errors: {errors[:3]}")
    finally:
        context.close()


def _ms(samples: list[dict], key: str) -> float:
    return round(statistics.median(s[key] for s in samples), 1)


def load_figures(browser: Any, url: str, what: str, loads: int) -> list[Figure]:
    samples = []
    for _ in range(loads):
        with opened(browser, url) as page:
            samples.append(page.evaluate(TIMINGS))
    how = f"median of {loads} cold loads"
    return [
        Figure("browser", f"{what}: navigation → DOMContentLoaded", _ms(samples, "dcl"), "ms",
               note=f"{how}; HTML received at {_ms(samples, 'response')} ms"),
        Figure("browser", f"{what}: navigation → first contentful paint", _ms(samples, "fcp"),
               "ms", note=how),
        Figure("browser", f"{what}: navigation → live (first FullState applied)",
               _ms(samples, "live"), "ms", note=how),
        Figure("browser", f"{what}: DOM elements once live", samples[-1]["nodes"]),
    ]


def overview_figures(browser: Any, base: str, namespaces: int, loads: int) -> list[Figure]:
    what = f"overview, {namespaces:,} namespaces"
    figures = load_figures(browser, f"{base}/", what, loads)
    with opened(browser, f"{base}/") as page:
        paging = page.evaluate(AFTER_FRAME, {"click": '#pager a[rel="next"]'})
        typing = page.evaluate(AFTER_FRAME, {"type": ['#filters input[name="name"]', "team-0"]})
        sidebar = page.evaluate(AFTER_FRAME, {"type": ["#sidebar-filter", "team-09"]})
        nodes = page.evaluate("document.getElementsByTagName('*').length")
    figures += [
        Figure("browser", f"{what}: next page, in the browser", round(paging, 1), "ms",
               note="click → next frame"),
        Figure("browser", f"{what}: name filter, in the browser", round(typing, 1), "ms",
               note="keystroke → next frame"),
        Figure("browser", f"{what}: sidebar filter", round(sidebar, 1), "ms",
               note=f"keystroke → next frame; {nodes:,} DOM elements after the three"),
    ]
    return figures


class RollingUpdates:
    """Rolling updates in one namespace at about `rate` pod events per second.

    Every TICK_S, while the namespace's pod events over the last second are below `rate` (and
    no rollout started in the last START_GAP_S), the next deployment at rest is restarted as
    `kubectl rollout restart` does. Pod events are counted by a simcluster store listener.
    """

    def __init__(self, store: Any, namespace: str, rate: float) -> None:
        from simcluster.scenarios.manifests import DEPLOYMENTS, PODS

        self.store = store
        self.namespace = namespace
        self.rate = rate
        self.pods = PODS
        self.deployments = DEPLOYMENTS
        self.recent: collections.deque[float] = collections.deque()
        self.total = 0
        self.started = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        names = sorted(obj["metadata"]["name"] for obj in store.list(DEPLOYMENTS, namespace)[1])
        self.names = collections.deque(names)
        self._smaller_surge()
        store.add_listener(self._on_event)

    def _smaller_surge(self) -> None:
        # 10% surge and no unavailable pods: each rollout replaces a few pods at a time, so the
        # rate is steered in small steps rather than in bursts of a quarter of a service.
        for name in self.names:
            with self.store.lock:
                deployment = copy.deepcopy(self.store.get(self.deployments, self.namespace, name))
                deployment["spec"]["strategy"] = {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "10%", "maxUnavailable": 0},
                }
                self.store.update(self.deployments, self.namespace, name, deployment)

    def _on_event(self, event: Any) -> None:
        # Under the store's lock, on every write: count this namespace's pod events only.
        if event.rtype == self.pods and event.namespace == self.namespace:
            self.recent.append(time.monotonic())
            self.total += 1

    def observed_rate(self) -> float:
        horizon = time.monotonic() - 1.0
        while self.recent and self.recent[0] < horizon:
            self.recent.popleft()
        return float(len(self.recent))

    def settled(self) -> bool:
        from simcluster.scenarios.actions import rollout_complete

        with self.store.lock:
            return all(
                rollout_complete(self.store.get(self.deployments, self.namespace, name))
                for name in self.names
            )

    def _idle(self) -> str | None:
        from simcluster.scenarios.actions import rollout_complete

        for _ in range(len(self.names)):
            self.names.rotate(-1)
            name = self.names[0]
            with self.store.lock:
                if rollout_complete(self.store.get(self.deployments, self.namespace, name)):
                    return name
        return None

    def _run(self) -> None:
        from simcluster.scenarios.actions import rollout_restart

        last_start = 0.0
        while not self._stop.wait(TICK_S):
            now = time.monotonic()
            if self.observed_rate() >= self.rate or now - last_start < START_GAP_S:
                continue
            name = self._idle()
            if name is not None:
                rollout_restart(self.store, self.namespace, name, time.time())
                self.started += 1
                last_start = now

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="rolling-updates", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.store.remove_listener(self._on_event)


def _cells_match(page: Any, stack: Any, namespace: str) -> bool:
    wanted, nodes = set(), [stack.snapshot().trees[namespace]]
    while nodes:
        node = nodes.pop()
        if node["kind"] == "PodCell":
            wanted.add(node["id"])
        nodes.extend(node["children"])
    shown = page.eval_on_selector_all(
        ".cells > .cell:not(.is-leaving)", "cells => cells.map(c => c.dataset.nodeId)"
    )
    return len(shown) == len(wanted) and set(shown) == wanted


def churn_figures(browser: Any, burst_s: float) -> list[Figure]:
    from simcluster.engine import EngineConfig
    from tests.stack import LiveStack

    params = {"namespaces": 1, "services": CHURN_SERVICES, "pods": CHURN_PODS}
    what = f"namespace page, {CHURN_PODS:,} pods, rolling update"
    with LiveStack("large", scenario_params=params, engine_config=EngineConfig(seed=7)) as stack:
        namespace = next(name for name in stack.snapshot().trees if name.startswith("team-"))
        with opened(browser, f"{stack.url}/namespaces/{namespace}/") as page:
            page.wait_for_function(
                f"() => document.querySelectorAll('.cells > .cell').length >= {CHURN_PODS}",
                timeout=LIVE_TIMEOUT_MS,
            )
            updates = RollingUpdates(stack.sim.store, namespace, CHURN_RATE)
            start_nodes = page.evaluate("document.getElementsByTagName('*').length")
            updates.start()
            # The measured window starts once rollouts run at the rate (they ramp up one a second).
            ramp = time.monotonic() + RAMP_TIMEOUT_S
            while updates.observed_rate() < 0.8 * CHURN_RATE and time.monotonic() < ramp:
                page.wait_for_timeout(250)
            began = page.evaluate(
                "window.__longtasks = []; window.__frames = []; performance.now()"
            )
            events_before = updates.total
            started = time.monotonic()
            page.wait_for_timeout(burst_s * 1000)
            longtasks, frames, end_nodes = page.evaluate(
                "[window.__longtasks, window.__frames, document.getElementsByTagName('*').length]"
            )
            elapsed = time.monotonic() - started
            events = updates.total - events_before
            updates.stop()
            deadline = time.monotonic() + SETTLE_TIMEOUT_S
            while not updates.settled():
                if time.monotonic() > deadline:
                    raise RuntimeError("the rollouts did not finish")
                page.wait_for_timeout(500)
            settled_at = time.monotonic()
            while not _cells_match(page, stack, namespace):
                if time.monotonic() > deadline:
                    raise RuntimeError("the page never matched the cluster after the rollout")
                page.wait_for_timeout(250)
            caught_up = time.monotonic() - settled_at
    rate = events / elapsed
    durations = [duration for _, duration in longtasks]
    # A long task lasts over 50 ms by definition, so their own p95 says little: the p95 is over
    # one-second windows of the longest task that began in each (0 for a window without one).
    windows = [0.0] * max(1, round(elapsed))
    for at, duration in longtasks:
        index = min(len(windows) - 1, max(0, int((at - began) / 1000)))
        windows[index] = max(windows[index], duration)
    gaps = [later - earlier for earlier, later in zip(frames, frames[1:], strict=False)]
    window = f"over {elapsed:.0f} s at {rate:.0f} pod events/s"
    return [
        Figure("browser", f"{what}: pod events per second", round(rate), "/s",
               note=f"aimed at {CHURN_RATE:.0f}; {events:,} events, {updates.started} rollouts"),
        Figure("browser", f"{what}: long tasks p95 (longest per second)",
               round(percentile(windows, 0.95), 1), "ms", ("<=", 50.0),
               note=f"{len(durations)} long tasks {window}"),
        Figure("browser", f"{what}: long tasks max", round(max(durations, default=0.0), 1), "ms",
               ("<=", 200.0), note=window),
        Figure("browser", f"{what}: frame interval p95 / max",
               f"{percentile(gaps, 0.95):.0f} / {max(gaps, default=0.0):.0f} ms",
               note=f"{len(frames) / elapsed:.0f} frames/s {window}"),
        Figure("browser", f"{what}: DOM elements at start → end",
               f"{start_nodes:,} → {end_nodes:,}", note="every element of the document"),
        Figure("browser", f"{what}: page matches the cluster after the rollouts",
               round(caught_up, 1), "s", note="from the last rollout finishing in simcluster"),
    ]


def measure(options: Any) -> list[Figure]:
    loads = 1 if options.quick else 3
    figures: list[Figure] = []
    with chromium() as browser:
        with synthetic_site(options) as site:
            namespaces = len(site.trees)
            figures += overview_figures(browser, site.base, namespaces, loads)
            figures += load_figures(
                browser, f"{site.base}/namespaces/{WIDE}/", "namespace page, 5,000 pods", loads
            )
        figures += churn_figures(browser, options.burst_s)
    return figures
