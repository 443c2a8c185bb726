"""The watcher's costs and latency against simcluster (issues 8 and 14).

Run: .venv/bin/python bench/watcher.py [--rates 200,1000] [--large-pods 100000]
     [--burst-rate 2000 --burst-s 60] [--parts churn,large] [--stages] [--floor] [--quick]
     [--json]

Each contender runs in its own process, so CPU is measured per process with
time.process_time(); simcluster runs as `manage.py simulate_cluster` in another.
(a) per rate in --rates, CPU per 10,000 pod events: the whole watcher (informers, pipeline,
    publish to Redis) vs a bare official-client loop (`Watch.stream(deserialize=False)`)
    watching the same pods at the same time on the `churn` scenario, side by side. With
    --floor, a third contender: the watcher with rendering switched off (it parses, prunes,
    stores and debounces, and renders and publishes nothing), the least a watcher that keeps
    the picture can pay per event; its ratio to the bare loop bounds what (a) can reach.
(b) start → first complete snapshot, and RSS then, on `large` (--large-pods pods in pods/100
    namespaces and pods/10 services, as issue 14 sizes it).
(c) bytes published per pod event during churn vs the size of a full snapshot.
(d) p50/p99 from a change in simcluster (a probe's PATCH sent) to its message on the channel
    layer, under the churn scenario's background pod events; split at the moment the change
    reached a bare client's watch (simcluster's part, then the watcher's).
(e) then, on the same cluster, the same latency during a burst: simcluster's churn steered to
    --burst-rate pod events/s, probed for --burst-s seconds; probes that never arrive are lost.
    The rate simcluster produced and the rates a bare client and the watcher received are
    reported next to it.
Redis: REDIS_URL if set, else a throwaway redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

SAMPLE_S = 0.1
# The watcher is sampled from its own loop, so each sample is a wake-up counted in its CPU
# (at 10 /s that was ~0.15 s per 10,000 pod events); the bare loop samples inline, for free.
WATCHER_SAMPLE_S = 1.0
READY_TIMEOUT_S = 900.0  # seeding and listing 100,000 pods on a busy 2-core machine
PROBE_TIMEOUT_S = 10.0  # a probe's message later than this is lost
SNAPSHOT_PREFIX = "bench:snapshot"
BURST_RAMP_S = 3.0  # simcluster's churn reaches a new rate within its warm-up


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_sim(scenario: str, params: dict, workdir: Path) -> tuple[subprocess.Popen, Path, str]:
    """`manage.py simulate_cluster` once it has seeded: the process, its kubeconfig and URL."""
    from simcluster.cluster import free_port

    kubeconfig = workdir / f"{scenario}.kubeconfig"
    port = free_port()
    argv = [
        sys.executable,
        "manage.py",
        "simulate_cluster",
        "--scenario",
        scenario,
        "--port",
        str(port),
        "--kubeconfig",
        str(kubeconfig),
    ]
    for key, value in params.items():
        argv += ["--param", f"{key}={value}"]
    process = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("kubeconfig written"):
            return process, kubeconfig, f"http://127.0.0.1:{port}"
    raise RuntimeError(f"simcluster {scenario} did not start")


def set_churn_rate(url: str, rate: float) -> None:
    """Steer simcluster's churn (`POST /_simcluster/churn`): `rate` pod events/s from now."""
    import urllib3

    response = urllib3.request("POST", f"{url}/_simcluster/churn", json={"rate": rate})
    if response.status != 200:
        raise RuntimeError(f"simcluster refused churn rate {rate}: {response.data[:200]!r}")


def produced_rate(url: str) -> float:
    """The pod events/s simcluster's churn produced over the last second."""
    import urllib3

    state = orjson.loads(urllib3.request("GET", f"{url}/_simcluster/state").data)
    return float((state.get("churn") or {}).get("observedRate") or 0.0)


def setup_django(redis_url: str) -> None:
    os.environ["REDIS_URL"] = redis_url
    os.environ["CONSTELLATION_LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "constellation.settings")
    import django

    django.setup()


def watcher_process(
    kubeconfig: str,
    redis_url: str,
    duration_s: float,
    results,
    done=None,
    stages: bool = False,
    floor: bool = False,
) -> None:
    """Run the real WatcherService and sample its CPU, pod events and bytes published.

    With `floor`, the floor of (a): the same watcher with no namespace ever rendered, so it
    only parses, prunes, stores and debounces. Namespaces still fall due and are dropped as
    if nothing showed; its snapshot goes under its own prefix, and nothing to the layer.
    """
    setup_django(redis_url)
    from bench.stages import StageClock, instrument_watcher

    clock = StageClock()
    if stages:
        instrument_watcher(clock)
    from channels.layers import get_channel_layer

    from constellation.snapshot import RedisSnapshotStore
    from watchers import metrics
    from watchers.kube.client import load_api_client
    from watchers.pipeline import Flush, Pipeline
    from watchers.publish import Publisher
    from watchers.service import WatcherService

    if floor:
        Pipeline._flush_namespace = lambda self, namespace, now: Flush(
            namespace, [], self.trees.get(namespace)
        )

    def total(metric) -> float:
        # One metric, not REGISTRY.get_sample_value: that collects every metric, ~1 ms per
        # sample on the watcher's loop thread, and counted as the watcher's CPU in (a).
        samples = metric.collect()[0].samples
        return next(s.value for s in samples if s.name.endswith(("_total", "_count")))

    async def run() -> dict:
        prefix = f"{SNAPSHOT_PREFIX}-floor" if floor else SNAPSHOT_PREFIX
        snapshots = RedisSnapshotStore(redis_url, prefix=prefix)
        layer = None if floor else get_channel_layer()
        service = WatcherService(load_api_client(kubeconfig), Publisher(snapshots, layer))
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(service.run(stop))
        while not service.ready:
            await asyncio.sleep(0.01)
        first_snapshot_s = time.perf_counter() - started
        rss_at_snapshot = rss_mb()
        # A relist or a failure on the way to the first snapshot explains a slow one.
        pods_at_snapshot = service.informers["Pod"].health()
        clock.running = stages
        samples = []
        end = time.monotonic() + duration_s
        # Sample for at least duration_s, and on until the parent's probes are done.
        while time.monotonic() < end or (done is not None and not done.is_set()):
            pods = service.informers["Pod"].health().events
            sent = total(metrics.BYTES)
            # The loop thread's own CPU: the rest of the process is the informer threads.
            samples.append(
                (
                    time.time(),
                    pods,
                    time.process_time(),
                    sent,
                    time.thread_time(),
                    dict(clock.seconds),
                    total(metrics.NAMESPACES_FLUSHED),
                    total(metrics.PUBLISH_SECONDS),
                )
            )
            await asyncio.sleep(WATCHER_SAMPLE_S)
        full = len(orjson.dumps(service.pipeline.trees))
        stop.set()
        await task
        await snapshots.close()
        return {
            "first_snapshot_s": first_snapshot_s,
            "rss_mb": rss_at_snapshot,
            "rss_mb_end": rss_mb(),
            "samples": samples,
            "full_snapshot_bytes": full,
            "namespaces": len(service.pipeline.trees),
            "pods_at_snapshot": {
                "relists": pods_at_snapshot.relists,
                "watch_restarts": pods_at_snapshot.watch_restarts,
                "last_error": pods_at_snapshot.last_error,
            },
        }

    results.put(("floor" if floor else "watcher", asyncio.run(run())))


def bare_process(kubeconfig: str, duration_s: float, results, done) -> None:
    """A bare official-client watch loop on the same pods: the baseline of (a). It also notes
    when each latency probe's change reached it: how long the API itself took to deliver."""
    from kubernetes import client, config, watch

    api = config.new_client_from_config(config_file=kubeconfig)
    core = client.CoreV1Api(api)
    rv = core.list_pod_for_all_namespaces(limit=1).metadata.resource_version
    events = 0
    samples = []
    end = time.monotonic() + duration_s
    next_sample = 0.0
    stream = watch.Watch().stream(
        core.list_pod_for_all_namespaces,
        resource_version=rv,
        deserialize=False,
        timeout_seconds=int(duration_s) + 300,
    )
    probes_seen = []  # (wall-clock time, the probe's label)
    for event in stream:
        events += 1  # noqa: SIM113 - counted while breaking out mid-stream
        meta = event["object"]["metadata"]
        if meta.get("name") == "probe":
            probes_seen.append((time.time(), (meta.get("labels") or {}).get("bench-probe")))
        now = time.monotonic()
        if now >= next_sample:
            samples.append((time.time(), events, time.process_time(), 0))
            next_sample = now + SAMPLE_S
            if now >= end and done.is_set():
                break
    results.put(("bare", {"samples": samples, "probes_seen": probes_seen}))


def window_rate(samples: list, start: float, stop: float) -> tuple[float, int]:
    """(CPU seconds, pod events) between two wall-clock times, from a process's samples."""
    inside = [s for s in samples if start <= s[0] <= stop]
    if len(inside) < 2:
        raise RuntimeError("too few samples in the measuring window")
    first, last = inside[0], inside[-1]
    return last[2] - first[2], last[1] - first[1]


def stage_split(inside: list, events: int) -> dict:
    """The loop thread's CPU per 10,000 pod events by stage, over the measuring window."""
    first, last = inside[0], inside[-1]
    per_10k = {
        stage: (last[5].get(stage, 0.0) - first[5].get(stage, 0.0)) / events * 10_000
        for stage in last[5]
    }
    loop = (last[4] - first[4]) / events * 10_000
    rest = loop - sum(v for k, v in per_10k.items() if ":" not in k)  # top-level stages
    split = {f"a_loop_stage_cpu_s_per_10k: {k}": round(v, 3) for k, v in per_10k.items()}
    split["a_loop_stage_cpu_s_per_10k: rest (wake-ups, socket callbacks, timers)"] = round(rest, 3)
    return split


async def latency_probe(
    kubeconfig: Path,
    redis_url: str,
    *,
    probes: int | None = None,
    seconds: float | None = None,
    interval_s: float = 0.3,
    on_ready: Callable[[], Awaitable[object]] | None = None,
) -> list[tuple[float, float, float]]:
    """Patch a label on a probe pod; time until the watcher's message carrying it arrives.

    Starts once the watcher shows the probe pod (after its first snapshot, however long that
    takes) and `on_ready` has run, then probes `probes` times or for `seconds`, whichever ends
    first. A probe whose message does not arrive within PROBE_TIMEOUT_S counts as lost (inf).
    Per probe: (seconds from sending the change to its message, of which the API's answer,
    the wall-clock time it was sent).
    """
    from channels.layers import get_channel_layer
    from kubernetes import client, config
    from redis.exceptions import TimeoutError as RedisTimeout

    from constellation import protocol
    from constellation.snapshot import RedisSnapshotStore

    api = config.new_client_from_config(config_file=str(kubeconfig))
    core = client.CoreV1Api(api)
    with contextlib.suppress(client.ApiException):
        core.create_namespace({"metadata": {"name": "probe"}})
    with contextlib.suppress(client.ApiException):
        core.create_namespaced_pod(
            "probe",
            {
                "metadata": {"name": "probe"},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        )
    setup_django(redis_url)
    layer = get_channel_layer()  # the one the watcher publishes to
    snapshots = RedisSnapshotStore(redis_url, prefix=SNAPSHOT_PREFIX)
    channel = await layer.new_channel()
    await layer.group_add(protocol.namespace_group("probe"), channel)
    # A new epoch (after a failed publish) carries no per-namespace message; like a web
    # consumer, the probe then finds the change in the snapshot.
    await layer.group_add(protocol.CLUSTER_GROUP, channel)

    async def shown(marker: str) -> bool:
        tree = (await snapshots.read(["probe"])).trees.get("probe", {})
        return marker in orjson.dumps(tree).decode()

    deadline = time.monotonic() + READY_TIMEOUT_S
    while not await shown('"id":"Pod/probe/probe"'):
        if time.monotonic() > deadline:
            raise RuntimeError("the watcher never showed the probe pod")
        await asyncio.sleep(0.2)
    if on_ready is not None:
        await on_ready()
    latencies: list[tuple[float, float, float]] = []
    started = time.monotonic()
    n = 0
    while (probes is None or n < probes) and (
        seconds is None or time.monotonic() - started < seconds
    ):
        sent = time.time()
        await asyncio.to_thread(
            core.patch_namespaced_pod,
            "probe",
            "probe",
            {"metadata": {"labels": {"bench-probe": str(n)}}},
        )
        answered = time.time() - sent
        marker = f'"bench-probe":"{n}"'
        deadline = time.monotonic() + PROBE_TIMEOUT_S
        while time.monotonic() < deadline:
            try:
                message = await asyncio.wait_for(layer.receive(channel), PROBE_TIMEOUT_S)
            except (TimeoutError, RedisTimeout):
                continue
            if message["type"] == "state.epoch":
                found = await shown(marker)
            else:
                found = any(marker in item["text"] for item in message.get("messages", ()))
            if found:
                latencies.append((time.time() - sent, answered, sent))
                break
        else:
            latencies.append((float("inf"), answered, sent))  # lost: counts against p99
        n += 1
        await asyncio.sleep(interval_s)
    await layer.flush()
    await snapshots.close()
    return latencies


def round_ms(seconds: float) -> float:
    return round(1000 * seconds) if seconds != float("inf") else float("inf")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency_figures(
    prefix: str, probes: list[tuple[float, float, float]], bare: dict | None = None
) -> dict:
    """p50/p99 from a change to its message, lost probes, and how much of that simcluster
    took: its answer to the change (p99) and, with a bare client's result, the change
    reaching that client's watch (p99)."""
    latencies = [total for total, _, _ in probes]
    figures = {
        f"{prefix}_latency_p50_ms": round_ms(statistics.median(latencies)),
        f"{prefix}_latency_p99_ms": round_ms(percentile(latencies, 0.99)),
        f"{prefix}_probe_api_answer_p99_ms": round_ms(percentile([a for _, a, _ in probes], 0.99)),
        f"{prefix}_probes": len(latencies),
        f"{prefix}_probes_lost": sum(1 for x in latencies if x == float("inf")),
    }
    if bare is not None:
        seen: dict[str, float] = {}
        for at, label in bare["probes_seen"]:
            seen.setdefault(label, at)
        reached = [seen.get(str(n), float("inf")) - sent for n, (_, _, sent) in enumerate(probes)]
        figures[f"{prefix}_probe_to_bare_client_p99_ms"] = round_ms(percentile(reached, 0.99))
        # From the change reaching a watch to its message: the watcher's own part.
        after = [total - r for (total, _, _), r in zip(probes, reached, strict=True)]
        after = [x if math.isfinite(x) else float("inf") for x in after]  # lost or unseen
        figures[f"{prefix}_latency_after_the_api_p99_ms"] = round_ms(percentile(after, 0.99))
    return figures


@contextlib.contextmanager
def redis_server(url: str | None = None) -> Iterator[str]:
    """`url` when given, else a throwaway redis-server's URL for the duration."""
    if url:
        yield url
        return
    from tests.redis_server import RedisProcess

    redis = RedisProcess()
    redis.start()
    try:
        yield redis.url
    finally:
        redis.stop()


@contextlib.contextmanager
def simcluster(scenario: str, params: dict) -> Iterator[tuple[Path, str]]:
    """A `manage.py simulate_cluster` process, seeded and serving: its kubeconfig and URL."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-watcher-"))
    sim, kubeconfig, url = start_sim(scenario, params, workdir)
    try:
        yield kubeconfig, url
    finally:
        sim.terminate()
        sim.wait(30)


def clear_snapshot(redis_url: str) -> None:
    """Drop the last run's snapshot: the probes would find their pod in it and start before
    this run's watcher has published anything (a burst then overran its first list)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(f"{SNAPSHOT_PREFIX}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _spawn(target, *args) -> multiprocessing.Process:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    return process


def measure_churn(
    rate: float,
    redis_url: str,
    *,
    duration: float = 30.0,
    pods: int = 1000,
    probes: int = 40,
    stages: bool = False,
    floor: bool = False,
) -> dict:
    """(a), (c), (d) on `churn` at `rate` pod events/s: the watcher and the bare loop side by
    side over the same window of the same stream, and latency probes meanwhile; with `floor`,
    a third process beside them: the watcher that renders nothing (see `watcher_process`)."""
    ctx = multiprocessing.get_context("spawn")
    params = {"namespaces": 20, "services": 100, "pods": pods, "rate": rate}
    clear_snapshot(redis_url)
    with simcluster("churn", params) as (kubeconfig, _):
        results = ctx.Queue()
        done = ctx.Event()
        watcher = _spawn(
            watcher_process, str(kubeconfig), redis_url, duration, results, done, stages
        )
        bare = _spawn(bare_process, str(kubeconfig), duration, results, done)
        contenders = [watcher, bare]
        if floor:
            args = (str(kubeconfig), redis_url, duration, results, done, False, True)
            contenders.append(_spawn(watcher_process, *args))
        latencies = asyncio.run(latency_probe(kubeconfig, redis_url, probes=probes))
        done.set()
        got = dict(results.get(timeout=duration + READY_TIMEOUT_S) for _ in contenders)
        for process in contenders:
            process.join()
    start = max(g["samples"][0][0] for g in got.values()) + 2
    stop = min(g["samples"][-1][0] for g in got.values())
    w_cpu, w_events = window_rate(got["watcher"]["samples"], start, stop)
    b_cpu, b_events = window_rate(got["bare"]["samples"], start, stop)
    w_per = w_cpu / w_events * 10_000
    b_per = b_cpu / b_events * 10_000
    inside = [s for s in got["watcher"]["samples"] if start <= s[0] <= stop]
    bytes_sent = inside[-1][3] - inside[0][3]
    loop_per = (inside[-1][4] - inside[0][4]) / w_events * 10_000
    per_event = bytes_sent / w_events
    full = got["watcher"]["full_snapshot_bytes"]
    span = inside[-1][0] - inside[0][0]
    result = {
        "churn_pods": pods,
        "churn_window_s": round(stop - start, 1),
        "pod_events_in_window": w_events,
        "pod_events_per_s": round(w_events / (stop - start)),
        "a_watcher_cpu_s_per_10k_pod_events": round(w_per, 3),
        "a_bare_client_cpu_s_per_10k_pod_events": round(b_per, 3),
        "a_ratio": round(w_per / b_per, 2),
        "a_watcher_cpu_percent_of_a_core": round(100 * w_cpu / (stop - start), 1),
        "a_watcher_loop_thread_cpu_s_per_10k": round(loop_per, 3),
        "a_watcher_informer_threads_cpu_s_per_10k": round(w_per - loop_per, 3),
        "namespace_flushes_per_s": round((inside[-1][6] - inside[0][6]) / span, 1),
        "publishes_per_s": round((inside[-1][7] - inside[0][7]) / span, 1),
        "c_bytes_published_per_pod_event": round(per_event),
        "c_full_snapshot_bytes": full,
        "c_ratio_percent": round(100 * per_event / full, 3),
        **latency_figures("d", latencies, got["bare"]),
    }
    if floor:
        f_cpu, f_events = window_rate(got["floor"]["samples"], start, stop)
        f_per = f_cpu / f_events * 10_000
        result["a_floor_cpu_s_per_10k_pod_events"] = round(f_per, 3)
        result["a_floor_ratio"] = round(f_per / b_per, 2)
    if stages:
        result.update(stage_split(inside, w_events))
    return result


def large_shape(pods: int) -> dict:
    """`large`'s parameters at `pods` pods, shaped as issue 14's 100,000-pod cluster."""
    return {"namespaces": max(1, pods // 100), "services": max(1, pods // 10), "pods": pods}


def measure_large(
    redis_url: str,
    params: dict,
    burst_rate: float = 0.0,
    burst_s: float = 60.0,
    interval_s: float = 0.3,
) -> dict:
    """(b) the watcher alone on a settled `large`, from start to its first snapshot; then,
    with `burst_rate`, (e): latency probes for `burst_s` while simcluster's churn moves the
    same cluster at `burst_rate` pod events/s."""
    ctx = multiprocessing.get_context("spawn")
    burst: dict = {}
    produced: list[float] = []
    clear_snapshot(redis_url)
    with simcluster("large", params) as (kubeconfig, url):
        results = ctx.Queue()
        done = ctx.Event()
        watcher = _spawn(watcher_process, str(kubeconfig), redis_url, 3.0, results, done)
        # A bare client on the same stream says what the API delivered during the burst.
        bare = _spawn(bare_process, str(kubeconfig), 0.0, results, done) if burst_rate else None
        latencies = []
        if burst_rate:

            async def sample_producer() -> None:
                while True:
                    produced.append(await asyncio.to_thread(produced_rate, url))
                    await asyncio.sleep(1.0)

            async def start_burst() -> None:
                set_churn_rate(url, burst_rate)
                await asyncio.sleep(BURST_RAMP_S)
                burst["from"] = time.time()
                burst["sampler"] = asyncio.create_task(sample_producer())

            latencies = asyncio.run(
                latency_probe(
                    kubeconfig,
                    redis_url,
                    seconds=burst_s,
                    interval_s=interval_s,
                    on_ready=start_burst,
                )
            )
            burst["to"] = time.time()
        done.set()
        # The bare loop ends at its next event: the churn goes on until it has.
        got = dict(results.get(timeout=READY_TIMEOUT_S) for _ in range(1 + bool(bare)))
        if burst_rate:
            set_churn_rate(url, 0)
        for process in (watcher, bare):
            if process is not None:
                process.join()
    result = {
        "large_pods": params["pods"],
        "b_first_snapshot_s": round(got["watcher"]["first_snapshot_s"], 2),
        "b_rss_mb_at_first_snapshot": round(got["watcher"]["rss_mb"], 1),
        "b_rss_mb_at_the_end": round(got["watcher"]["rss_mb_end"], 1),
        "b_namespaces": got["watcher"]["namespaces"],
        "b_pod_informer_at_first_snapshot": got["watcher"]["pods_at_snapshot"],
    }
    if burst_rate:
        window = burst["from"], burst["to"]
        result.update(
            {
                "e_burst_target_pod_events_per_s": burst_rate,
                "e_burst_pod_events_per_s_produced": round(statistics.mean(produced or [0])),
                "e_burst_pod_events_per_s_bare_client": events_per_s(got["bare"], *window),
                "e_burst_pod_events_per_s_seen": events_per_s(got["watcher"], *window),
                "e_burst_s": round(burst["to"] - burst["from"], 1),
                **latency_figures("e_burst", latencies, got["bare"]),
            }
        )
    return result


def events_per_s(got: dict, start: float, stop: float) -> int:
    """Pod events a second a contender received between two wall-clock times."""
    inside = [s for s in got["samples"] if start <= s[0] <= stop]
    if len(inside) < 2:
        return 0
    return round((inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0]))


def measure(args: argparse.Namespace) -> dict:
    result: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}",
    }
    with redis_server(os.environ.get("REDIS_URL")) as redis_url:
        if "churn" in args.parts:
            for rate in args.rates:
                churn = measure_churn(
                    rate,
                    redis_url,
                    duration=args.duration,
                    pods=args.churn_pods,
                    probes=args.probes,
                    stages=args.stages,
                    floor=args.floor,
                )
                result.update({f"{key}@{rate:g}": value for key, value in churn.items()})
        if "large" in args.parts:
            result.update(
                measure_large(
                    redis_url,
                    large_shape(args.large_pods),
                    burst_rate=args.burst_rate,
                    burst_s=args.burst_s,
                )
            )
    return result


TARGETS = {
    "a_ratio@200": ("<= 2.0", lambda v: v <= 2.0),
    "a_ratio@1000": ("<= 1.5", lambda v: v <= 1.5),
    "b_first_snapshot_s": ("<= 15 (at 100,000 pods)", lambda v: v <= 15),
    "b_rss_mb_at_first_snapshot": ("<= 1024 (at 100,000 pods)", lambda v: v <= 1024),
    "c_ratio_percent": ("<= 1", lambda v: v <= 1),
    "d_latency_p99_ms": ("<= 800 (debounce 500 + 300)", lambda v: v <= 800),
    "e_burst_latency_p99_ms": ("<= 800 (debounce 500 + 300)", lambda v: v <= 800),
    "e_burst_probes_lost": ("== 0", lambda v: v == 0),
}


def target(key: str) -> tuple[str, object]:
    """The target of a result key: its own, else that of the key without its `@rate`."""
    return TARGETS.get(key) or TARGETS.get(key.split("@")[0], ("", None))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rates",
        default="200,1000",
        type=lambda v: [float(r) for r in v.split(",")],
        help="churn pod events/s targets, one side-by-side run each",
    )
    parser.add_argument("--duration", type=float, default=30.0, help="churn measuring seconds")
    parser.add_argument("--churn-pods", type=int, default=1000)
    parser.add_argument("--probes", type=int, default=40, help="latency probes per churn run")
    parser.add_argument("--large-pods", type=int, default=100_000)
    parser.add_argument(
        "--burst-rate", type=float, default=2000.0, help="pod events/s of (e); 0: no burst"
    )
    parser.add_argument("--burst-s", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--parts",
        default="churn,large",
        type=lambda v: v.split(","),
        help="churn: (a), (c), (d); large: (b) and (e)",
    )
    parser.add_argument(
        "--stages",
        action="store_true",
        help="also split the loop thread's CPU by stage (bench/stages.py)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also run, beside them, the watcher that renders nothing: the floor of (a)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.churn_pods, args.large_pods, args.probes = 12, 300, 10_000, 10
        args.burst_s = 10.0
    result = measure(args)
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return
    print("| measure | value | target |")
    print("|---|---|---|")
    for key, value in result.items():
        text, check = target(key)
        mark = "" if check is None else (" ✅" if check(value) else " ❌")
        print(f"| {key} | {value} | {text}{mark} |")


if __name__ == "__main__":
    main()
