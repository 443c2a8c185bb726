"""How one Daphne process fans the watcher's messages out to many browsers, and how fast
`/api/state/` answers for a big cluster (issue 4, "Evidence expected").

Run: .venv/bin/python bench/fanout.py [--clients 100,500] [--rate 20] [--duration 15]
     [--layers core,pubsub] [--processes 4] [--api-pods 10000] [--json]
     [--webs 2] [--view tree|page] [--fanout-pods 30000 --fanout-namespaces 300]

`--webs N` runs N Daphne processes on one Redis with the clients spread over them (the
horizontal web of DESIGN §9); `--view page` has each client show one namespace's page (its tree
and the namespace summaries), as browsers do since views, instead of the whole tree.

Method, per channel layer (CONSTELLATION_CHANNEL_LAYER; both in the same run so that their
ratio survives machine noise):
- Redis: REDIS_URL, else a throwaway redis-server. One Daphne subprocess serves
  `constellation.asgi` with that layer and production settings (DEBUG off).
- `/api/state/` at 10,000 pods: the snapshot is simcluster's `large` scenario (200 namespaces,
  2,000 services, 10,000 Ready pods) built into trees by watchers.topology and written by a real
  `watchers.publish.Publisher`; N sequential GETs on one keep-alive connection, body included.
- Fan-out: a fresh epoch with a smaller `large` cluster (so 500 FullStates on connect do not
  dominate), then C WebSocket clients spread over P client processes (aiohttp), all holding
  their FullState before publishing starts. The bench process drives a real `Publisher`
  (RedisSnapshotStore + the same channels_redis layer) at R namespace updates per second:
  each a `ResourceUpdated` for one pod, its namespace's tree updated in the snapshot, exactly as
  the watcher publishes. Each message carries `sent_at` (time.time() before the snapshot write);
  clients record receive − send for every forwarded message.
- Gaps: a client holding ns_seq n that receives n+k (k>1) saw a gap. A `RelationshipUpdated`
  (the publisher sends none, so it is the consumer's repair from the snapshot) heals it: the
  skipped messages count as dropped-and-healed. Any other jump is an unhealed gap. After
  publishing stops, the bench waits (30 s at most) until every client holds each namespace's
  last ns_seq ("converged s"); (client, namespace) pairs still short then are "behind at end".
- CPU % is process CPU over the publishing and converging window for Daphne, the client
  processes together, and Redis: on a small machine they share the cores, so read them with it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

import orjson  # noqa: E402

LAYERS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}
CONNECT_CONCURRENCY = 10
"""Handshakes in flight per client process: Daphne builds a FullState per connection and
closes handshakes its application has not accepted within 5 s (--websocket_connect_timeout)."""
START_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 300.0
CONVERGE_TIMEOUT_S = 30.0
"""After the last publish, how long clients may take to hold every namespace's last ns_seq."""


# -- cluster data ------------------------------------------------------------------------


def build_trees(namespaces: int, services: int, pods: int) -> dict[str, dict]:
    """simcluster's `large` scenario, settled, as the watcher's topology trees."""
    from simcluster.engine import EngineConfig, WorkloadEngine
    from simcluster.resources import Registry, type_named
    from simcluster.scenarios import get_scenario
    from simcluster.store import Store
    from watchers.topology import NamespaceObjects, TopologyConfig, build_namespace

    store = Store(Registry(gateway_api=True))
    scenario = get_scenario("large", namespaces=namespaces, services=services, pods=pods)
    scenario.seed(store, WorkloadEngine(store, EngineConfig()))

    def by_namespace(plural: str, group: str = "") -> dict[str, dict[str, dict]]:
        found: dict[str, dict[str, dict]] = {}
        for obj in store.list(type_named(plural, group))[1]:
            meta = obj["metadata"]
            found.setdefault(meta["namespace"], {})[meta["name"]] = obj
        return found

    kinds = {
        "pods": by_namespace("pods"),
        "services": by_namespace("services"),
        "endpointslices": by_namespace("endpointslices", "discovery.k8s.io"),
        "ingresses": by_namespace("ingresses", "networking.k8s.io"),
    }
    trees = {}
    for ns_obj in store.list(type_named("namespaces"))[1]:
        name = ns_obj["metadata"]["name"]
        objs = NamespaceObjects(ns_obj, **{kind: got.get(name, {}) for kind, got in kinds.items()})
        tree = build_namespace(name, objs, TopologyConfig(), lambda ns, svc: None)
        if tree is not None:
            trees[name] = tree
    return trees


def pods_of(node: dict) -> Iterator[dict]:
    """Every pod occurrence in a tree (a pod under two services appears twice)."""
    for child in node["children"]:
        if child["kind"] == "Pod":
            yield child
        else:
            yield from pods_of(child)


def cluster_status() -> dict[str, Any]:
    kinds = ("Namespace", "Pod", "Service", "EndpointSlice", "Ingress", "HTTPRoute")
    resources = {
        kind: {"kind": kind, "synced": True, "connected": True, "auth_failed": False}
        for kind in kinds
    }
    return {"synced": True, "ready": True, "heartbeat": time.time(), "resources": resources}


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- WebSocket clients (in their own processes) ------------------------------------------


class ClientStats:
    """What one simulated browser saw."""

    def __init__(self, baseline: dict[str, int]) -> None:
        self.held = dict(baseline)
        self.latencies: list[float] = []
        self.gaps_healed = 0
        self.dropped_healed = 0
        self.unhealed = 0
        self.full_states = 0
        self.closed_by_server: int | None = None
        self.connect_error: str | None = None
        self._chunks: dict[str, dict[int, str]] = {}

    def receive(self, text: str, now: float) -> None:
        message = orjson.loads(text)
        kind = message["type"]
        if kind == "Chunk":
            parts = self._chunks.setdefault(message["id"], {})
            parts[message["index"]] = message["data"]
            if len(parts) < message["count"]:
                return
            del self._chunks[message["id"]]
            message = orjson.loads("".join(parts[i] for i in range(message["count"])))
            kind = message["type"]
        if kind == "FullState":
            self.full_states += 1
            return
        namespace = message.get("namespace")
        ns_seq = message.get("ns_seq")
        if namespace is None or ns_seq is None:
            return  # Ping, Error: not state
        held = self.held.get(namespace, 0)
        if ns_seq > held + 1:
            if kind == "RelationshipUpdated":
                self.gaps_healed += 1
                self.dropped_healed += ns_seq - held - 1
            else:
                self.unhealed += 1
        if "sent_at" in message:
            self.latencies.append((now - message["sent_at"]) * 1000)
        self.held[namespace] = max(held, ns_seq)


async def _client(
    session: Any, url: str, origin: str, stats: ClientStats, gate: asyncio.Semaphore,
    connected: asyncio.Event, stop: asyncio.Event,
) -> None:
    import aiohttp

    try:
        async with gate:
            ws = await session.ws_connect(url, origin=origin, max_msg_size=0, autoping=True)
            first = await ws.receive()
            if first.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"closed before FullState: {ws.close_code}")
            stats.receive(first.data, time.time())
    except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
        stats.connect_error = repr(exc)
        return
    finally:
        connected.set()
    try:
        while not stop.is_set():
            try:
                msg = await asyncio.wait_for(ws.receive(), timeout=0.2)
            except TimeoutError:
                continue
            if msg.type != aiohttp.WSMsgType.TEXT:
                stats.closed_by_server = ws.close_code or 0
                break
            if msg.data.startswith('{"type":"Ping"'):
                await ws.send_str('{"type":"Pong"}')
                continue
            stats.receive(msg.data, time.time())
    finally:
        await ws.close()


def _behind(client: ClientStats, targets: dict[str, int]) -> int:
    """How many of the namespaces this client shows it does not hold up to `targets`."""
    return sum(1 for ns, held in client.held.items() if held < targets.get(ns, 0))


def _converged(clients: list[ClientStats], targets: dict[str, int]) -> bool:
    return all(_behind(c, targets) == 0 for c in clients if c.connect_error is None)


def origin_of(ws_url: str) -> str:
    """The page origin a browser would send to this web process (scheme, host and port)."""
    return "http://" + ws_url.removeprefix("ws://").split("/", 1)[0]


async def _client_process_main(
    views: list[tuple[str, str, dict[str, int]]], ready: Any, control: Any
) -> dict[str, Any]:
    import resource

    import aiohttp

    stop = asyncio.Event()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    clients = [ClientStats(baseline) for _, _, baseline in views]
    events = [asyncio.Event() for _ in views]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [
            asyncio.create_task(
                _client(session, url + query, origin_of(url), stats, gate, event, stop)
            )
            for (url, query, _), stats, event in zip(views, clients, events, strict=True)
        ]
        await asyncio.gather(*(event.wait() for event in events))
        cpu_start = resource.getrusage(resource.RUSAGE_SELF)
        ready.put(len(views))
        loop = asyncio.get_running_loop()
        # The bench sends the publisher's final counters once it stops publishing.
        targets, published_at = await loop.run_in_executor(None, control.get)
        deadline = time.time() + CONVERGE_TIMEOUT_S
        while not _converged(clients, targets) and time.time() < deadline:
            await asyncio.sleep(0.05)
        converge_s = time.time() - published_at
        cpu_end = resource.getrusage(resource.RUSAGE_SELF)
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    behind = sum(_behind(c, targets) for c in clients if c.connect_error is None)
    return {
        "converge_s": converge_s,
        "behind_at_end": behind,
        "cpu_s": cpu_end.ru_utime + cpu_end.ru_stime - cpu_start.ru_utime - cpu_start.ru_stime,
        "latencies": [v for c in clients for v in c.latencies],
        "gaps_healed": sum(c.gaps_healed for c in clients),
        "dropped_healed": sum(c.dropped_healed for c in clients),
        "unhealed": sum(c.unhealed for c in clients),
        "full_states": sum(c.full_states for c in clients),
        "closed": [c.closed_by_server for c in clients if c.closed_by_server is not None],
        "connect_errors": [c.connect_error for c in clients if c.connect_error],
    }


def client_process(
    views: list[tuple[str, str, dict[str, int]]], ready: Any, control: Any, results: Any
) -> None:
    """Entry point of one client process: connect one client per (url, query, baseline) view,
    report once converged."""
    results.put(asyncio.run(_client_process_main(views, ready, control)))


# -- the server under test ---------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Daphne:
    """One Daphne process serving constellation.asgi with production settings."""

    def __init__(self, redis_url: str, layer: str) -> None:
        self.redis_url = redis_url
        self.port = free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "constellation.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CONSTELLATION_SECURE_SSL_REDIRECT": "0",
            # Clients carry no session; login is measured by the tests, not here.
            "CONSTELLATION_ALLOW_ANONYMOUS": "1",
            "CONSTELLATION_LOG_LEVEL": "WARNING",
            "REDIS_URL": redis_url,
            "CONSTELLATION_CHANNEL_LAYER": layer,
        }
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "web", "-b", "127.0.0.1", "-p", str(self.port)],
            cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        import urllib3

        http = urllib3.PoolManager(retries=False, timeout=1.0)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}")
            with contextlib.suppress(urllib3.exceptions.HTTPError):
                if http.request("GET", f"{self.base}/healthz").status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("daphne did not answer /healthz")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- measurements -------------------------------------------------------------------------


def redis_cpu_seconds(redis_url: str) -> float:
    """Redis server CPU so far, to show how busy the shared machine was."""
    import redis

    info = redis.Redis.from_url(redis_url).info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def make_publisher(redis_url: str, layer: str) -> Any:
    from channels_redis.core import RedisChannelLayer
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from constellation.snapshot import RedisSnapshotStore
    from watchers.publish import Publisher

    layer_class = RedisChannelLayer if layer == LAYERS["core"] else RedisPubSubChannelLayer
    return Publisher(RedisSnapshotStore(redis_url), layer_class(hosts=[redis_url]))


async def measure_api(base: str, publisher: Any, trees: dict[str, dict], requests: int) -> dict:
    """Time GET /api/state/ over a snapshot of `trees`."""
    import aiohttp

    await publisher.start_epoch(trees, cluster_status())
    timings = []
    size = 0
    async with aiohttp.ClientSession() as session:
        for _ in range(requests + 1):
            start = time.perf_counter()
            async with session.get(f"{base}/api/state/") as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"/api/state/ answered {response.status}")
            timings.append((time.perf_counter() - start) * 1000)
            size = len(body)
    timings = timings[1:]  # the first request opens the connection and warms the store
    pods = sum(tree["pod_summary"]["total"] for tree in trees.values())
    return {
        "pods": pods,
        "namespaces": len(trees),
        "bytes": size,
        "requests": requests,
        "p50_ms": round(statistics.median(timings), 1),
        "p99_ms": round(percentile(timings, 0.99), 1),
        "max_ms": round(max(timings), 1),
    }


async def publish_updates(
    publisher: Any, trees: dict[str, dict], rate: float, duration: float
) -> tuple[int, float]:
    """ResourceUpdated messages at `rate` per second, round-robin over namespaces."""
    from constellation import protocol
    from watchers.pipeline import Flush

    pods = {ns: list(pods_of(tree)) for ns, tree in trees.items()}
    names = sorted(ns for ns in pods if pods[ns])  # system namespaces have no pods to update
    interval = 1.0 / rate
    total = int(rate * duration)
    started = time.perf_counter()
    per_namespace: dict[str, int] = {}
    for i in range(total):
        await asyncio.sleep(max(0.0, started + i * interval - time.perf_counter()))
        namespace = names[i % len(names)]
        candidates = pods[namespace]
        target = candidates[(i // len(names)) % len(candidates)]
        for node in candidates:
            if node["id"] == target["id"]:
                node["restarts"] = node.get("restarts", 0) + 1
        message = protocol.resource_updated(namespace, dict(target))
        message["sent_at"] = time.time()
        await publisher.publish([Flush(namespace, [message], trees[namespace])])
        per_namespace[namespace] = per_namespace.get(namespace, 0) + 1
    elapsed = time.perf_counter() - started
    return per_namespace, total / elapsed


def updated_namespaces(trees: dict[str, dict]) -> list[str]:
    """The namespaces publish_updates sends to (those with pods), in its order."""
    return sorted(ns for ns, tree in trees.items() if any(True for _ in pods_of(tree)))


def client_views(
    webs: list[Daphne], trees: dict[str, dict], clients: int, view: str
) -> list[tuple[str, str, dict[str, int]]]:
    """(WebSocket URL, query, namespaces it shows → 0) per client, spread over the webs.

    `tree`: every client shows the whole tree, as scripts and the old pages did. `page`: each
    shows one namespace's page (its tree and the summaries), as browsers do now.
    """
    names = updated_namespaces(trees)
    views = []
    for i in range(clients):
        url = f"ws://127.0.0.1:{webs[i % len(webs)].port}/ws/state/"
        if view == "tree":
            views.append((url, "?namespaces=*", dict.fromkeys(trees, 0)))
        else:
            namespace = names[i % len(names)]
            views.append((url, f"?namespaces={namespace}&summary=1", {namespace: 0}))
    return views


async def measure_fanout(
    webs: list[Daphne], publisher: Any, trees: dict[str, dict], clients: int, processes: int,
    rate: float, duration: float, view: str,
) -> dict:
    """Connect `clients` (spread over the web processes), publish, collect what every client
    saw."""
    await publisher.start_epoch(trees, cluster_status())
    views = client_views(webs, trees, clients, view)
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    shares = [views[i::processes] for i in range(processes) if views[i::processes]]
    controls = [context.Queue() for _ in shares]
    workers = [
        context.Process(
            target=client_process,
            args=(share, ready, control, results),
        )
        for share, control in zip(shares, controls, strict=True)
    ]
    try:
        connect_started = time.perf_counter()
        for worker in workers:
            worker.start()
        loop = asyncio.get_running_loop()
        for _ in workers:
            await loop.run_in_executor(None, ready.get, True, CONNECT_TIMEOUT_S)
        connect_s = time.perf_counter() - connect_started
        cpu_before = sum(web.cpu_seconds() for web in webs)
        redis_before = redis_cpu_seconds(webs[0].redis_url)
        started = time.perf_counter()
        per_namespace, achieved = await publish_updates(publisher, trees, rate, duration)
        final = dict(publisher.sequencer.ns_seq)
        for control in controls:
            control.put((final, time.time()))
        reports = [
            await loop.run_in_executor(None, results.get, True, CONVERGE_TIMEOUT_S + 30)
            for _ in workers
        ]
        window = time.perf_counter() - started
        cpu = sum(web.cpu_seconds() for web in webs) - cpu_before
        redis_cpu = redis_cpu_seconds(webs[0].redis_url) - redis_before
    finally:
        # A failed phase must not leave client processes (and this process) hanging.
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.terminate()
    latencies = [v for r in reports for v in r["latencies"]]
    expected = sum(per_namespace.get(ns, 0) for _, _, shown in views for ns in shown)
    return {
        "clients": clients,
        "webs": len(webs),
        "view": view,
        "published": sum(per_namespace.values()),
        "rate": round(achieved, 1),
        "expected_deliveries": expected,
        "delivered": len(latencies),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "gaps_healed": sum(r["gaps_healed"] for r in reports),
        "dropped_healed": sum(r["dropped_healed"] for r in reports),
        "unhealed_jumps": sum(r["unhealed"] for r in reports),
        "behind_at_end": sum(r["behind_at_end"] for r in reports),
        "converge_s": round(max(r["converge_s"] for r in reports), 2),
        "extra_full_states": sum(r["full_states"] for r in reports) - clients,
        "closed_by_server": sorted(code for r in reports for code in r["closed"]),
        "connect_errors": [error for r in reports for error in r["connect_errors"]][:5],
        "connect_failed": sum(len(r["connect_errors"]) for r in reports),
        "connect_s": round(connect_s, 1),
        "daphne_cpu_pct": round(100 * cpu / window),
        "clients_cpu_pct": round(100 * sum(r["cpu_s"] for r in reports) / window),
        "redis_cpu_pct": round(100 * redis_cpu / window),
        "daphne_rss_mb": round(max(web.rss_mb() for web in webs), 0),
    }


async def run_layer(redis_url: str, name: str, args: argparse.Namespace, data: dict) -> dict:
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    webs = [Daphne(redis_url, LAYERS[name]) for _ in range(args.webs)]
    publisher = await make_publisher(redis_url, LAYERS[name])
    try:
        for web in webs:
            web.wait_ready()
        api = None
        if args.api_requests:
            api = await measure_api(webs[0].base, publisher, data["api"], args.api_requests)
        fanout = []
        for clients in args.clients:
            fanout.append(
                await measure_fanout(
                    webs, publisher, data["fanout"], clients, args.processes, args.rate,
                    args.duration, args.view,
                )
            )
            # Progress on stderr, so a long run shows each phase as it finishes.
            print(f"{name} {clients} clients: {fanout[-1]}", file=sys.stderr)
        return {"layer": name, "api": api, "fanout": fanout}
    finally:
        for web in webs:
            web.stop()
        await publisher.snapshots.close()


def markdown(results: list[dict], meta: dict) -> str:
    lines = [
        f"{meta['date']}, Python {meta['python']}, {meta['machine']}; fan-out: "
        f"{meta['fanout_pods']} pods in {meta['fanout_namespaces']} namespaces, "
        f"{meta['rate']} updates/s for {meta['duration']} s, {meta['processes']} client processes",
        "",
        "| layer | view | web processes | clients | rate/s | delivered/expected | p50 ms "
        "| p99 ms | max ms | gaps healed (msgs) | unhealed | behind at end | converged s "
        "| connect s (failed) | CPU % daphne / clients / redis |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for f in result["fanout"]:
            lines.append(
                f"| {result['layer']} | {f['view']} | {f['webs']} | {f['clients']} | {f['rate']} "
                f"| {f['delivered']}/{f['expected_deliveries']} | {f['p50_ms']} | {f['p99_ms']} "
                f"| {f['max_ms']} | {f['gaps_healed']} ({f['dropped_healed']}) "
                f"| {f['unhealed_jumps']} | {f['behind_at_end']} | {f['converge_s']} "
                f"| {f['connect_s']} ({f['connect_failed']} failed) "
                f"| {f['daphne_cpu_pct']} / {f['clients_cpu_pct']} / {f['redis_cpu_pct']} |"
            )
    lines += [
        "",
        "| layer | /api/state/ pods | namespaces | body MB | requests | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        a = result["api"]
        if a is None:
            continue
        lines.append(
            f"| {result['layer']} | {a['pods']} | {a['namespaces']} | {a['bytes'] / 1e6:.1f} "
            f"| {a['requests']} | {a['p50_ms']} | {a['p99_ms']} | {a['max_ms']} |"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="100,500",
                        type=lambda v: [int(x) for x in v.split(",")])
    parser.add_argument("--rate", type=float, default=20.0, help="namespace updates per second")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of publishing")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--webs", type=int, default=1, help="Daphne processes (one Redis)")
    parser.add_argument("--view", choices=("tree", "page"), default="tree",
                        help="tree: every client shows the whole tree; page: one namespace "
                             "and the summaries, as browsers do")
    parser.add_argument("--layers", default="core,pubsub",
                        type=lambda v: [x for x in v.split(",") if x])
    parser.add_argument("--api-pods", type=int, default=10_000)
    parser.add_argument("--api-requests", type=int, default=30, help="0: skip /api/state/")
    parser.add_argument("--fanout-namespaces", type=int, default=20)
    parser.add_argument("--fanout-pods", type=int, default=1_000)
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    unknown = set(args.layers) - set(LAYERS)
    if unknown:
        raise SystemExit(f"unknown layers {sorted(unknown)}; choose from {sorted(LAYERS)}")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "constellation.settings")
    os.environ.setdefault("CONSTELLATION_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from tests.redis_server import RedisProcess

    started = time.perf_counter()
    data = {
        "api": build_trees(args.api_pods // 50, args.api_pods // 5, args.api_pods),
        "fanout": build_trees(
            args.fanout_namespaces, args.fanout_pods // 5, args.fanout_pods
        ),
    }
    build_s = time.perf_counter() - started
    meta = {
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
        "rate": args.rate,
        "duration": args.duration,
        "processes": args.processes,
        "fanout_pods": args.fanout_pods,
        "fanout_namespaces": args.fanout_namespaces,
        "build_s": round(build_s, 1),
    }
    with contextlib.ExitStack() as stack:
        redis_url = os.environ.get("REDIS_URL", "").strip()
        if not redis_url:
            redis_url = stack.enter_context(RedisProcess()).url
        results = [asyncio.run(run_layer(redis_url, name, args, data)) for name in args.layers]
    if args.json:
        print(orjson.dumps({"meta": meta, "results": results}, option=orjson.OPT_INDENT_2).decode())
    else:
        print(markdown(results, meta))


if __name__ == "__main__":
    main()
