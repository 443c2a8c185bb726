"""How fast and how big simcluster is: LIST latency, watch fan-out, memory.

Run: .venv/bin/python bench/simcluster.py [--pods 10000 --namespaces 200 --services 2000]
     [--events 20000] [--watchers 5] [--json]

simcluster runs in this process (as in the tests and the demo); the LIST and
watch clients run in separate processes so their parsing does not share the
server's GIL. Targets (issue 7): LIST of 10,000 pods <= 1 s, >= 2,000 watch
events/s delivered to each of 5 concurrent watchers, RSS <= 1 GB with `large`.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson  # noqa: E402
import urllib3  # noqa: E402

from simcluster.cluster import SimCluster  # noqa: E402
from simcluster.resources import type_named  # noqa: E402


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def list_client(url: str, repeats: int, results: multiprocessing.Queue) -> None:
    """Time full LISTs (request, body, JSON parse), as a watcher's initial sync does."""
    http = urllib3.PoolManager()
    timings = []
    count = 0
    for _ in range(repeats):
        start = time.perf_counter()
        response = http.request("GET", f"{url}/api/v1/pods", retries=False)
        count = len(orjson.loads(response.data)["items"])
        timings.append((time.perf_counter() - start) * 1000)
    paged = []
    for _ in range(repeats):
        start = time.perf_counter()
        token = ""
        while True:
            query = f"limit=500&continue={token}" if token else "limit=500"
            page = orjson.loads(http.request("GET", f"{url}/api/v1/pods?{query}").data)
            token = page["metadata"].get("continue", "")
            if not token:
                break
        paged.append((time.perf_counter() - start) * 1000)
    results.put({"count": count, "list_ms": timings, "paged_list_ms": paged})


def watch_client(url: str, rv: str, expected: int, results: multiprocessing.Queue) -> None:
    """Count events on one watch until `expected` arrived; report when the last one did."""
    http = urllib3.PoolManager()
    response = http.request(
        "GET",
        f"{url}/api/v1/pods?watch=true&resourceVersion={rv}",
        preload_content=False,
        retries=False,
        timeout=urllib3.Timeout(connect=5, read=120),
    )
    seen = 0
    buffer = b""
    for chunk in response.stream(65536):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        seen += len(lines)
        if seen >= expected:
            break
    results.put({"events": seen, "last_at": time.time()})
    response.release_conn()


def measure(args: argparse.Namespace) -> dict:
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue = ctx.Queue()
    start = time.perf_counter()
    sim = SimCluster(
        "large",
        {"namespaces": args.namespaces, "services": args.services, "pods": args.pods},
        drive=False,
    )
    sim.start(timeout=600)
    seed_s = time.perf_counter() - start
    gc.collect()
    rss = rss_mb()
    pods_type = type_named("pods")
    try:
        lister = ctx.Process(target=list_client, args=(sim.url, args.repeats, results))
        lister.start()
        listed = results.get(timeout=600)
        lister.join()

        rv = str(sim.store.resource_version)
        watchers = [
            ctx.Process(target=watch_client, args=(sim.url, rv, args.events, results))
            for _ in range(args.watchers)
        ]
        for process in watchers:
            process.start()
        deadline = time.monotonic() + 60
        while len(sim.server.watches) < args.watchers and time.monotonic() < deadline:
            time.sleep(0.01)
        _, pods = sim.store.list(pods_type)
        first_write = time.time()
        for i in range(args.events):
            current = sim.store.get(
                pods_type,
                pods[i % len(pods)]["metadata"]["namespace"],
                pods[i % len(pods)]["metadata"]["name"],
            )
            labels = {**current["metadata"].get("labels", {}), "bench": str(i)}
            sim.store.update(
                pods_type,
                current["metadata"]["namespace"],
                current["metadata"]["name"],
                {**current, "metadata": {**current["metadata"], "labels": labels}},
            )
        produced_s = time.time() - first_write
        delivered = [results.get(timeout=600) for _ in watchers]
        for process in watchers:
            process.join()
    finally:
        sim.stop()
    per_watcher = [args.events / (d["last_at"] - first_write) for d in delivered]
    return {
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "pods": listed["count"],
        "seed_s": round(seed_s, 2),
        "rss_mb_large_loaded": round(rss, 1),
        "list_ms_median": round(statistics.median(listed["list_ms"]), 1),
        "list_ms_max": round(max(listed["list_ms"]), 1),
        "paged_list_500_ms_median": round(statistics.median(listed["paged_list_ms"]), 1),
        "watch_events": args.events,
        "watchers": args.watchers,
        "produce_events_per_s": round(args.events / produced_s),
        "delivered_events_per_s_per_watcher_min": round(min(per_watcher)),
        "delivered_events_per_s_total": round(sum(per_watcher)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--namespaces", type=int, default=200)
    parser.add_argument("--services", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--watchers", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args)
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return
    targets = {
        "list_ms_median": ("<= 1000", result["list_ms_median"] <= 1000),
        "delivered_events_per_s_per_watcher_min": (
            ">= 2000",
            result["delivered_events_per_s_per_watcher_min"] >= 2000,
        ),
        "rss_mb_large_loaded": ("<= 1024", result["rss_mb_large_loaded"] <= 1024),
    }
    print("| measure | value | target |")
    print("|---|---|---|")
    for key, value in result.items():
        target, ok = targets.get(key, ("", None))
        mark = "" if ok is None else (" ✅" if ok else " ❌")
        print(f"| {key} | {value} | {target}{mark} |")


if __name__ == "__main__":
    main()
