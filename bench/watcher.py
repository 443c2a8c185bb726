"""The watcher's costs and latency against simcluster (issue 8's benchmark).

Run: .venv/bin/python bench/watcher.py [--quick] [--json]

Each contender runs in its own process, so CPU is measured per process with
time.process_time(); simcluster runs as `manage.py simulate_cluster` in another.
(a) CPU per 10,000 pod events: the whole watcher (informers, pipeline, publish to
    Redis) vs a bare official-client loop (`Watch.stream(deserialize=False)`)
    watching the same pods at the same time on the `churn` scenario, side by side.
(b) start → first complete snapshot, and RSS, on `large` (10,000 pods).
(c) bytes published per pod event during churn vs the size of a full snapshot.
(d) p50/p99 from a change in simcluster to its message on the channel layer,
    under the churn scenario's background pod events.
Redis: REDIS_URL if set, else a throwaway redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

SAMPLE_S = 0.1
# The watcher is sampled from its own loop, so each sample is a wake-up counted in its CPU
# (at 10 /s that was ~0.15 s per 10,000 pod events); the bare loop samples inline, for free.
WATCHER_SAMPLE_S = 1.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_sim(scenario: str, params: dict, workdir: Path) -> tuple[subprocess.Popen, Path]:
    from simcluster.cluster import free_port

    kubeconfig = workdir / f"{scenario}.kubeconfig"
    argv = [sys.executable, "manage.py", "simulate_cluster", "--scenario", scenario,
            "--port", str(free_port()), "--kubeconfig", str(kubeconfig)]
    for key, value in params.items():
        argv += ["--param", f"{key}={value}"]
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("kubeconfig written"):
            return process, kubeconfig
    raise RuntimeError(f"simcluster {scenario} did not start")


def setup_django(redis_url: str) -> None:
    os.environ["REDIS_URL"] = redis_url
    os.environ["CONSTELLATION_LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "constellation.settings")
    import django

    django.setup()


def watcher_process(kubeconfig: str, redis_url: str, duration_s: float, results,
                    done=None, stages: bool = False) -> None:
    """Run the real WatcherService and sample its CPU, pod events and bytes published."""
    setup_django(redis_url)
    from bench.stages import StageClock, instrument_watcher

    clock = StageClock()
    if stages:
        instrument_watcher(clock)
    from channels.layers import get_channel_layer

    from constellation.snapshot import RedisSnapshotStore
    from watchers import metrics
    from watchers.kube.client import load_api_client
    from watchers.publish import Publisher
    from watchers.service import WatcherService

    def bytes_published() -> float:
        # This one counter, not REGISTRY.get_sample_value: that collects every metric, ~1 ms
        # per sample on the watcher's loop thread, and counted as the watcher's CPU in (a).
        return next(s.value for s in metrics.BYTES.collect()[0].samples
                    if s.name.endswith("_total"))

    async def run() -> dict:
        snapshots = RedisSnapshotStore(redis_url, prefix="bench:snapshot")
        service = WatcherService(load_api_client(kubeconfig),
                                 Publisher(snapshots, get_channel_layer()))
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(service.run(stop))
        while not service.ready:
            await asyncio.sleep(0.01)
        first_snapshot_s = time.perf_counter() - started
        rss_at_snapshot = rss_mb()
        clock.running = stages
        samples = []
        end = time.monotonic() + duration_s
        # Sample for at least duration_s, and on until the parent's probes are done.
        while time.monotonic() < end or (done is not None and not done.is_set()):
            pods = service.informers["Pod"].health().events
            sent = bytes_published()
            # The loop thread's own CPU: the rest of the process is the informer threads.
            samples.append((time.time(), pods, time.process_time(), sent, time.thread_time(),
                            dict(clock.seconds)))
            await asyncio.sleep(WATCHER_SAMPLE_S)
        full = len(orjson.dumps(service.pipeline.trees))
        stop.set()
        await task
        await snapshots.close()
        return {"first_snapshot_s": first_snapshot_s, "rss_mb": rss_at_snapshot,
                "rss_mb_end": rss_mb(), "samples": samples, "full_snapshot_bytes": full,
                "namespaces": len(service.pipeline.trees)}

    results.put(("watcher", asyncio.run(run())))


def bare_process(kubeconfig: str, duration_s: float, results, done) -> None:
    """A bare official-client watch loop on the same pods: the baseline of (a)."""
    from kubernetes import client, config, watch

    api = config.new_client_from_config(config_file=kubeconfig)
    core = client.CoreV1Api(api)
    rv = core.list_pod_for_all_namespaces(limit=1).metadata.resource_version
    events = 0
    samples = []
    end = time.monotonic() + duration_s
    next_sample = 0.0
    stream = watch.Watch().stream(core.list_pod_for_all_namespaces, resource_version=rv,
                                  deserialize=False, timeout_seconds=int(duration_s) + 300)
    for _ in stream:
        events += 1  # noqa: SIM113 - counted while breaking out mid-stream
        now = time.monotonic()
        if now >= next_sample:
            samples.append((time.time(), events, time.process_time(), 0))
            next_sample = now + SAMPLE_S
            if now >= end and done.is_set():
                break
    results.put(("bare", {"samples": samples}))


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
    per_10k = {stage: (last[5].get(stage, 0.0) - first[5].get(stage, 0.0)) / events * 10_000
               for stage in last[5]}
    loop = (last[4] - first[4]) / events * 10_000
    rest = loop - sum(v for k, v in per_10k.items() if ":" not in k)  # top-level stages
    split = {f"a_loop_stage_cpu_s_per_10k: {k}": round(v, 3) for k, v in per_10k.items()}
    split["a_loop_stage_cpu_s_per_10k: rest (wake-ups, socket callbacks, timers)"] = round(rest, 3)
    return split


async def latency_probe(kubeconfig: Path, redis_url: str, probes: int, interval_s: float,
                        debounce_s: float) -> list[float]:
    """Patch a label on a probe pod; time until the watcher's message carrying it arrives."""
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
        core.create_namespaced_pod("probe", {"metadata": {"name": "probe"}, "spec": {
            "containers": [{"name": "c", "image": "nginx"}]}})
    setup_django(redis_url)
    layer = get_channel_layer()  # the one the watcher publishes to
    snapshots = RedisSnapshotStore(redis_url, prefix="bench:snapshot")
    channel = await layer.new_channel()
    await layer.group_add(protocol.namespace_group("probe"), channel)
    # A new epoch (after a failed publish) carries no per-namespace message; like a web
    # consumer, the probe then finds the change in the snapshot.
    await layer.group_add(protocol.CLUSTER_GROUP, channel)
    await asyncio.sleep(2 * debounce_s + 1.5)  # the probe pod is Running and shown
    latencies = []
    for n in range(probes):
        sent = time.time()
        await asyncio.to_thread(core.patch_namespaced_pod, "probe", "probe",
                                {"metadata": {"labels": {"bench-probe": str(n)}}})
        marker = f'"bench-probe":"{n}"'
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                message = await asyncio.wait_for(layer.receive(channel), 10)
            except (TimeoutError, RedisTimeout):
                continue
            if message["type"] == "state.epoch":
                tree = (await snapshots.read(["probe"])).trees.get("probe", {})
                found = marker in orjson.dumps(tree).decode()
            else:
                found = any(marker in item["text"] for item in message.get("messages", ()))
            if found:
                latencies.append(time.time() - sent)
                break
        else:
            latencies.append(float("inf"))  # never arrived: counts against p99
        await asyncio.sleep(interval_s)
    await layer.flush()
    await snapshots.close()
    return latencies


def round_ms(seconds: float) -> float:
    return round(1000 * seconds) if seconds != float("inf") else float("inf")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(args: argparse.Namespace) -> dict:
    from tests.redis_server import RedisProcess

    ctx = multiprocessing.get_context("spawn")
    redis_url = os.environ.get("REDIS_URL")
    redis = None
    if not redis_url:
        redis = RedisProcess()
        redis.start()
        redis_url = redis.url
    result: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python "
                   f"{platform.python_version()}",
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-watcher-"))
    try:
        if "churn" in args.parts:
            # (a), (c), (d): churn, both contenders side by side.
            churn = {"namespaces": 20, "services": 100, "pods": args.churn_pods, "rate": args.rate}
            sim, kubeconfig = start_sim("churn", churn, workdir)
            try:
                results = ctx.Queue()
                done = ctx.Event()
                watcher = ctx.Process(target=watcher_process, args=(
                    str(kubeconfig), redis_url, args.duration, results, done, args.stages))
                bare = ctx.Process(target=bare_process,
                                   args=(str(kubeconfig), args.duration, results, done))
                watcher.start()
                bare.start()
                latencies = asyncio.run(latency_probe(kubeconfig, redis_url, args.probes, 0.3, 0.5))
                done.set()
                got = dict(results.get(timeout=args.duration + 300) for _ in range(2))
                watcher.join()
                bare.join()
            finally:
                sim.terminate()
                sim.wait(30)
            start = max(got["watcher"]["samples"][0][0], got["bare"]["samples"][0][0]) + 2
            stop = min(got["watcher"]["samples"][-1][0], got["bare"]["samples"][-1][0])
            w_cpu, w_events = window_rate(got["watcher"]["samples"], start, stop)
            b_cpu, b_events = window_rate(got["bare"]["samples"], start, stop)
            w_per = w_cpu / w_events * 10_000
            b_per = b_cpu / b_events * 10_000
            inside = [s for s in got["watcher"]["samples"] if start <= s[0] <= stop]
            bytes_sent = inside[-1][3] - inside[0][3]
            loop_per = (inside[-1][4] - inside[0][4]) / w_events * 10_000
            if args.stages:
                result.update(stage_split(inside, w_events))
            per_event = bytes_sent / w_events
            full = got["watcher"]["full_snapshot_bytes"]
            result.update({
                "churn_pods": args.churn_pods,
                "churn_window_s": round(stop - start, 1),
                "pod_events_in_window": w_events,
                "pod_events_per_s": round(w_events / (stop - start)),
                "a_watcher_cpu_s_per_10k_pod_events": round(w_per, 3),
                "a_bare_client_cpu_s_per_10k_pod_events": round(b_per, 3),
                "a_ratio": round(w_per / b_per, 2),
                "a_watcher_loop_thread_cpu_s_per_10k": round(loop_per, 3),
                "a_watcher_informer_threads_cpu_s_per_10k": round(w_per - loop_per, 3),
                "c_bytes_published_per_pod_event": round(per_event),
                "c_full_snapshot_bytes": full,
                "c_ratio_percent": round(100 * per_event / full, 3),
                "d_latency_p50_ms": round_ms(statistics.median(latencies)),
                "d_latency_p99_ms": round_ms(percentile(latencies, 0.99)),
                "d_probes": len(latencies),
                "d_probes_never_delivered": sum(1 for x in latencies if x == float("inf")),
            })
        if "large" not in args.parts:
            return result  # finally: below still stops Redis
        # (b): large, the watcher alone.
        large = {"namespaces": 200, "services": 2000, "pods": args.large_pods}
        sim, kubeconfig = start_sim("large", large, workdir)
        try:
            results = ctx.Queue()
            watcher = ctx.Process(target=watcher_process,
                                  args=(str(kubeconfig), redis_url, 3.0, results))
            watcher.start()
            _, large_result = results.get(timeout=600)
            watcher.join()
        finally:
            sim.terminate()
            sim.wait(30)
        result.update({
            "large_pods": args.large_pods,
            "b_first_snapshot_s": round(large_result["first_snapshot_s"], 2),
            "b_rss_mb_at_first_snapshot": round(large_result["rss_mb"], 1),
            "b_rss_mb_after_3s": round(large_result["rss_mb_end"], 1),
            "b_namespaces": large_result["namespaces"],
        })
    finally:
        if redis is not None:
            redis.stop()
    return result


TARGETS = {
    "a_ratio": ("<= 1.2", lambda v: v <= 1.2),
    "b_first_snapshot_s": ("<= 5", lambda v: v <= 5),
    "b_rss_mb_at_first_snapshot": ("<= 250", lambda v: v <= 250),
    "c_ratio_percent": ("<= 1", lambda v: v <= 1),
    "d_latency_p99_ms": ("<= 800 (debounce 500 + 300)", lambda v: v <= 800),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="churn measuring seconds")
    parser.add_argument("--rate", type=float, default=200.0, help="churn pod events/s target")
    parser.add_argument("--churn-pods", type=int, default=1000)
    parser.add_argument("--large-pods", type=int, default=10_000)
    parser.add_argument("--probes", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--parts", default="churn,large", type=lambda v: v.split(","),
                        help="churn: (a), (c), (d); large: (b)")
    parser.add_argument("--stages", action="store_true",
                        help="also split the loop thread's CPU by stage (bench/stages.py)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.churn_pods, args.large_pods, args.probes = 12, 300, 1000, 10
    result = measure(args)
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return
    print("| measure | value | target |")
    print("|---|---|---|")
    for key, value in result.items():
        target, check = TARGETS.get(key, ("", None))
        mark = "" if check is None else (" ✅" if check(value) else " ❌")
        print(f"| {key} | {value} | {target}{mark} |")


if __name__ == "__main__":
    main()
