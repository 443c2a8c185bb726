"""Issue 14, web part: the pages and the REST API over a big snapshot, served by real Daphne.

Run: .venv/bin/python bench/scale.py --parts web [--quick] [--pods N] [--namespaces N]

Method: Redis (REDIS_URL, else a throwaway redis-server) holds a synthetic snapshot written the
way the watcher writes it (`watchers.publish.Publisher.start_epoch`: every tree and its
namespace summary): one namespace of simcluster's `large` scenario, settled and built by the
watcher's topology builder (bench/fanout.py `build_trees`), cloned into `options.namespaces`
namespaces of `options.pods / options.namespaces` pods; plus `wide`, one namespace of
WIDE_PODS pods in WIDE_SERVICES services, each over the collapse threshold and so collapsed
into PodCell grids as the watcher does. One Daphne process (production settings, anonymous
reads, the pub/sub channel layer) serves it; every figure is the median of sequential GETs on
one keep-alive connection (urllib3 in this process), the whole body read, after one warm-up
request. API requests accept gzip, as browsers and the polling client do.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from bench.fanout import LAYERS, Daphne, build_trees, cluster_status, percentile
from bench.figures import Figure

WIDE = "wide"
WIDE_PODS = 5000
WIDE_SERVICES = 20
COLLAPSE_PODS_OVER = 50  # the watcher's default (watchers.churn.ChurnConfig)
TEMPLATE = "team-01"  # the one namespace `build_trees(1, ...)` builds


def cloned(template: dict, name: str) -> dict:
    """The template namespace's tree under another name (ids, namespaces, hostnames)."""
    return orjson.loads(orjson.dumps(template).replace(TEMPLATE.encode(), name.encode()))


def collapsed(tree: dict, over: int = COLLAPSE_PODS_OVER) -> dict:
    """The tree as the watcher publishes it when every service over `over` pods is collapsed:
    its pods become PodCell nodes (watchers/topology/builder.py `_pod_cell`)."""
    from watchers.topology.model import CELL_FIELDS, node_id

    def visit(node: dict) -> None:
        pods = [c for c in node["children"] if c["kind"] == "Pod"]
        if node["kind"] == "Service" and len(pods) > over:
            node["collapsed"] = True
            node["children"] = [
                {
                    "id": node_id("PodCell", pod["namespace"], pod["name"]),
                    "kind": "PodCell",
                    "name": pod["name"],
                    "namespace": pod["namespace"],
                    "children": [],
                    **{field: pod[field] for field in CELL_FIELDS},
                }
                for pod in pods
            ]
        for child in node["children"]:
            visit(child)

    visit(tree)
    return tree


def synthetic_trees(namespaces: int, pods: int, services: int) -> dict[str, dict]:
    """`namespaces` clones of one small namespace, plus the wide one."""
    per_ns_pods = max(1, pods // namespaces)
    per_ns_services = max(1, services // namespaces)
    template = build_trees(1, per_ns_services, per_ns_pods)[TEMPLATE]
    width = max(2, len(str(namespaces)))
    trees = {
        f"team-{i:0{width}d}": cloned(template, f"team-{i:0{width}d}")
        for i in range(1, namespaces + 1)
    }
    trees[WIDE] = collapsed(cloned(build_trees(1, WIDE_SERVICES, WIDE_PODS)[TEMPLATE], WIDE))
    return trees


async def _publish(redis_url: str, trees: dict[str, dict]) -> None:
    from constellation.snapshot import RedisSnapshotStore
    from watchers.publish import Publisher

    store = RedisSnapshotStore(redis_url)
    try:
        await Publisher(store, None).start_epoch(trees, cluster_status())
    finally:
        await store.close()


@dataclass
class Site:
    """Daphne serving a synthetic snapshot: where, and what it holds."""

    base: str
    trees: dict[str, dict]

    @property
    def pods(self) -> int:
        return sum(tree["pod_summary"]["total"] for tree in self.trees.values())


@contextlib.contextmanager
def synthetic_site(options: Any) -> Iterator[Site]:
    """Redis holding the synthetic snapshot and one Daphne serving it, stopped on exit."""
    from tests.redis_server import RedisProcess, flush_db

    redis = None
    redis_url = options.redis_url
    if redis_url:
        flush_db(redis_url)
    else:
        redis = RedisProcess()
        redis.start()
        redis_url = redis.url
    daphne = None
    try:
        trees = synthetic_trees(options.namespaces, options.pods, options.services)
        # In a thread of its own: a caller may run an event loop already (Playwright's sync API).
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _publish(redis_url, trees)).result()
        daphne = Daphne(redis_url, LAYERS["pubsub"])
        daphne.wait_ready()
        yield Site(daphne.base, trees)
    finally:
        if daphne is not None:
            daphne.stop()
        if redis is not None:
            redis.close()


@dataclass
class Timed:
    """Sequential GETs of one URL: milliseconds each, and the last body's sizes."""

    ms: list[float]
    wire_bytes: int
    body_bytes: int

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    def note(self) -> str:
        size = _size(self.wire_bytes)
        if self.wire_bytes != self.body_bytes:
            size += f" gzip of {_size(self.body_bytes)}"
        return f"p95 {percentile(self.ms, 0.95):.0f} ms, max {max(self.ms):.0f} ms, {size}"


def _size(count: int) -> str:
    return f"{count / 1e6:.2f} MB" if count >= 1e6 else f"{count / 1e3:.1f} KB"


def timed_get(http: Any, url: str, runs: int, gzipped: bool = False) -> Timed:
    headers = {"Accept-Encoding": "gzip"} if gzipped else {}
    timings, wire, body = [], 0, 0
    for _ in range(runs + 1):
        started = time.perf_counter()
        response = http.request("GET", url, headers=headers, decode_content=False)
        data = response.data
        timings.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise RuntimeError(f"GET {url} answered {response.status}")
        wire = len(data)
        encoded = response.headers.get("Content-Encoding") == "gzip"
        body = len(gzip.decompress(data)) if encoded else wire
    return Timed(timings[1:], wire, body)  # the first one warms templates and connections


def measure(options: Any) -> list[Figure]:
    import urllib3

    runs = 5 if options.quick else 15
    with synthetic_site(options) as site:
        http = urllib3.PoolManager(maxsize=1, timeout=120.0, retries=False)
        base = site.base
        one = next(name for name in sorted(site.trees) if name.startswith("team-"))
        namespaces = len(site.trees)
        overview = timed_get(http, f"{base}/", runs)
        worst = timed_get(http, f"{base}/?order=health&page=2", runs)
        wide = timed_get(http, f"{base}/namespaces/{WIDE}/", runs)
        groups = timed_get(http, f"{base}/groups/", runs)
        whole = timed_get(http, f"{base}/api/state/", max(3, runs // 3), gzipped=True)
        single = timed_get(http, f"{base}/api/state/?namespace={one}", runs, gzipped=True)
        summary = timed_get(http, f"{base}/api/summary/", runs, gzipped=True)
    part = "web"
    how = f"median of {runs}, real Daphne"
    return [
        Figure(part, f"overview page, {namespaces:,} namespaces ({how})",
               round(overview.median, 1), "ms", ("<=", 500.0), overview.note()),
        Figure(part, "overview page 2, worst health first", round(worst.median, 1), "ms",
               ("<=", 500.0), worst.note()),
        Figure(part, f"namespace page, {WIDE_PODS:,} pods in {WIDE_SERVICES} grids",
               round(wide.median, 1), "ms", ("<=", 1000.0), wide.note()),
        Figure(part, "groups page (from summaries)", round(groups.median, 1), "ms",
               note=groups.note()),
        Figure(part, f"/api/state/ whole cluster, {site.pods:,} pods", round(whole.median, 1),
               "ms", ("<=", 1500.0), whole.note()),
        Figure(part, "/api/state/?namespace=<one>", round(single.median, 1), "ms",
               ("<=", 20.0), single.note()),
        Figure(part, "/api/summary/ (the overview's poll)", round(summary.median, 1), "ms",
               note=summary.note()),
    ]
