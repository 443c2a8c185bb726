"""Soak: the demo rolling for an hour, 200 clients, a fault every few minutes (issue 15).

Run: .venv/bin/python bench/soak.py [--minutes 60] [--clients 200] [--fault-every 300]
     [--quick] [--seed N] [--json]

The whole product runs as separate processes (tests/stack.py: simcluster with the demo's
rollouts and scaling driven, Redis, watch_cluster, Daphne) with `--clients` protocol clients of
every view (tests/chaos.py). Every `--fault-every` seconds one of the chaos test's faults is
injected and cleared; then the time until every client, the snapshot and /api/state/ match the
simulated API again is measured. Once a minute the web and watcher RSS, open WebSocket
connections and the loss counter are sampled. `--quick` is 4 minutes with a fault every 40 s.
It prints a markdown table per series (and JSON with --json); BENCHMARKS.md records them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "constellation.settings")

import aiohttp  # noqa: E402
import django  # noqa: E402

django.setup()

from tests.chaos import FAULTS, Fleet, HttpWatch, readyz, shown_pods, truth  # noqa: E402
from tests.stack import LiveStack, rss_mb  # noqa: E402

CONVERGE_TIMEOUT_S = 120.0
CLIENTS = "constellation_web_ws_clients"
LOST = "constellation_web_fanout_lost_total"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--fault-every", type=float, default=300.0, help="seconds")
    parser.add_argument("--sample-every", type=float, default=60.0, help="seconds")
    parser.add_argument("--quick", action="store_true", help="4 minutes, a fault every 40 s")
    parser.add_argument("--seed", type=int, default=20261206)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.fault_every, args.sample_every = 4.0, 40.0, 20.0
    return args


def diverged(stack: LiveStack, fleet: Fleet) -> list[str]:
    snapshot = stack.snapshot_if_reachable()
    if snapshot is None or not snapshot.present:
        return ["no snapshot"]
    namespaces, pods = truth(stack.sim)
    problems = []
    if set(snapshot.trees) != namespaces or shown_pods(snapshot.trees) != pods:
        problems.append("snapshot differs from the simulated API")
    return problems + fleet.laggards(snapshot)


async def converge(stack: LiveStack, fleet: Fleet) -> float | None:
    """Seconds until everything matches the simulated API and /readyz is ready; None: never."""
    started = time.monotonic()
    while time.monotonic() - started < CONVERGE_TIMEOUT_S:
        if not await asyncio.to_thread(diverged, stack, fleet):
            status, _ = await asyncio.to_thread(readyz, stack)
            if status == 200:
                return round(time.monotonic() - started, 2)
        await asyncio.sleep(0.25)
    return None


def sample(stack: LiveStack, started: float) -> dict[str, float]:
    assert stack.web is not None and stack.web.process is not None
    assert stack.watcher is not None and stack.watcher.process is not None
    return {
        "minute": round((time.monotonic() - started) / 60, 1),
        "web_rss_mb": round(rss_mb(stack.web.process.pid), 1),
        "watcher_rss_mb": round(rss_mb(stack.watcher.process.pid), 1),
        "open_websockets": stack.web_metric(CLIENTS),
        "lost_total": stack.web_metric(LOST),
    }


async def soak(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    results: dict = {"faults": [], "samples": []}
    # SIGTERM cancels the run like Ctrl-C does, so the LiveStack below unwinds and stops
    # simcluster, Redis, the watcher and Daphne; the default action would leave them running.
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    # The demo's own driver rolls and scales its deployments all along.
    with LiveStack(scenario="demo", drive=True, bookmark_interval_s=1.0) as stack:
        fleet = Fleet.of(stack, ["storefront", "payments", "batch", "platform"], args.clients)
        watch = HttpWatch(stack)
        # aiohttp's default connector holds 100 connections: the rest of a bigger fleet would
        # wait for a slot for ever and never converge.
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            await fleet.start(session)
            started = time.monotonic()
            end = started + args.minutes * 60
            next_fault = started + args.fault_every
            next_sample = started
            results["initial_converge_s"] = await converge(stack, fleet)
            try:
                while time.monotonic() < end:
                    now = time.monotonic()
                    if now >= next_sample:
                        results["samples"].append(await asyncio.to_thread(sample, stack, started))
                        next_sample += args.sample_every
                    if now >= next_fault:
                        results["faults"].append(await one_fault(stack, fleet, watch, rng))
                        next_fault += args.fault_every
                    await asyncio.to_thread(watch.poll)
                    await asyncio.sleep(1.0)
                results["samples"].append(await asyncio.to_thread(sample, stack, started))
            finally:
                await fleet.stop()
        results["client_gaps"] = fleet.gaps
        results["reconnects"] = sum(m.connects for m in fleet.members) - len(fleet.members)
        results["http_5xx"] = watch.failures
        results["http_requests"] = watch.answers
    return results


async def one_fault(stack: LiveStack, fleet: Fleet, watch: HttpWatch, rng: random.Random) -> dict:
    fault = rng.choice(FAULTS)
    lost_before = await asyncio.to_thread(stack.web_metric, LOST)
    await asyncio.to_thread(fault.begin, stack)
    await asyncio.sleep(fault.hold_s)
    await asyncio.to_thread(watch.poll)
    if fault.end is not None:
        await asyncio.to_thread(fault.end, stack)
    converge_s = await converge(stack, fleet)
    lost = await asyncio.to_thread(stack.web_metric, LOST) - lost_before
    return {"fault": fault.name, "converge_s": converge_s, "lost_counted": lost}


def markdown(results: dict, args: argparse.Namespace) -> str:
    lines = [
        f"{time.strftime('%Y-%m-%d')} · {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()} · {args.minutes:g} min, {args.clients} clients, a fault "
        f"every {args.fault_every:g} s, seed {args.seed}",
        "",
        "| minute | web RSS MB | watcher RSS MB | open WebSockets | lost (counter) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {s['minute']} | {s['web_rss_mb']} | {s['watcher_rss_mb']} | "
        f"{s['open_websockets']:.0f} | {s['lost_total']:.0f} |"
        for s in results["samples"]
    ]
    lines += ["", "| fault | converged after s | counted lost during it |", "|---|---|---|"]
    lines += [
        f"| {f['fault']} | {f['converge_s'] if f['converge_s'] is not None else 'never'} | "
        f"{f['lost_counted']:.0f} |"
        for f in results["faults"]
    ]
    times = [f["converge_s"] for f in results["faults"] if f["converge_s"] is not None]
    lines += [
        "",
        f"- initial convergence: {results['initial_converge_s']} s; faults: "
        f"{len(results['faults'])}, converged: {len(times)}, slowest "
        f"{max(times, default=0):.1f} s",
        f"- messages lost at the clients (ns_seq/sum_seq gaps they saw): "
        f"{results['client_gaps']} (target 0)",
        f"- client reconnects: {results['reconnects']}; HTTP requests during faults: "
        f"{results['http_requests']}, 5xx other than 503: {len(results['http_5xx'])}",
    ]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    try:
        results = asyncio.run(soak(args))
    except asyncio.CancelledError:
        sys.exit("soak: stopped (SIGTERM) before the end; every process it started is stopped")
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(markdown(results, args))


if __name__ == "__main__":
    main()
