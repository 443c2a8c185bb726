"""simcluster at scale: seeding `large`, its memory, LISTing every pod, a churn burst (issue 14).

Run: .venv/bin/python bench/scale.py --parts sim [--pods 100000] [--quick]

simcluster runs as `manage.py simulate_cluster --scenario large` in its own process, as the
watcher meets it, so its RSS is its own; the LIST clients run here, over raw HTTP (the
official client's model objects would time the client, not simcluster), parsing each page
with orjson and counting the items, so a short page cannot pass for a fast one. The cyclic
GC is off while they parse: its collections over a 200 MB body's millions of fresh objects
would multiply the parse time several times over and time this client, not simcluster.

Last, the burst a watcher benchmark drives: the churn steered to CHURN_RATE pod events/s
(`POST /_simcluster/churn`), counted as delivered on a watch of every pod, with
simcluster's CPU over the same window.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402
import urllib3  # noqa: E402

from bench.figures import Figure  # noqa: E402
from simcluster.cluster import free_port  # noqa: E402

PAGE = 500
TARGET_SEED_S = 120.0
TARGET_RSS_MB = 3072.0
TARGET_PAGED_LIST_S = 5.0
READ_TIMEOUT_S = 600.0
CHURN_RATE = 2000.0
CHURN_WARMUP_S = 5.0
"""The churn's gain settles and its first rollouts' events arrive before the window opens."""


@dataclass(frozen=True)
class RunningSim:
    """A simcluster process serving `url`, and how long it took to get there."""

    process: subprocess.Popen
    url: str
    kubeconfig: Path
    seed_s: float


def proc_status_mb(pid: int, field: str) -> float:
    """A memory field of /proc/PID/status (VmRSS, VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def simulate(scenario: str, params: dict[str, Any]) -> Iterator[RunningSim]:
    """`manage.py simulate_cluster` on a free port, from launch to serving; stopped on exit.

    `seed_s` counts from launch to the port answering: interpreter and Django start-up
    (about a second) plus seeding, which is what a user of `--scenario large` waits for.
    """

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="scale-sim-") as workdir:
        kubeconfig = Path(workdir) / "sim.kubeconfig"
        argv = [sys.executable, "manage.py", "simulate_cluster", "--scenario", scenario,
                "--port", str(port), "--kubeconfig", str(kubeconfig)]
        for key, value in params.items():
            argv += ["--param", f"{key}={value}"]
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("kubeconfig written"):
                    break
            else:
                raise RuntimeError(f"simcluster {scenario} {params} exited before serving")
            seed_s = time.perf_counter() - started
            yield RunningSim(process, f"http://127.0.0.1:{port}", kubeconfig, seed_s)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def paged_list(http: urllib3.PoolManager, url: str, limit: int) -> tuple[float, int, int]:
    """(seconds, items, pages) to walk every page of all pods, each parsed."""
    started = time.perf_counter()
    token, items, pages = "", 0, 0
    while True:
        query = f"limit={limit}" + (f"&continue={token}" if token else "")
        response = http.request("GET", f"{url}/api/v1/pods?{query}")
        if response.status != 200:
            raise RuntimeError(f"paged LIST answered {response.status}: {response.data[:200]!r}")
        page = orjson.loads(response.data)
        items += len(page["items"])
        pages += 1
        token = page["metadata"].get("continue", "")
        if not token:
            return time.perf_counter() - started, items, pages


def full_list(http: urllib3.PoolManager, url: str) -> tuple[float, int, int]:
    """(seconds, items, body bytes) for one LIST of all pods without a limit."""
    started = time.perf_counter()
    response = http.request("GET", f"{url}/api/v1/pods")
    if response.status != 200:
        raise RuntimeError(f"LIST answered {response.status}: {response.data[:200]!r}")
    items = len(orjson.loads(response.data)["items"])
    return time.perf_counter() - started, items, len(response.data)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process so far (/proc/PID/stat, clock ticks of 1/100 s)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def churn_burst(sim: RunningSim, rate: float, window_s: float) -> tuple[float, float]:
    """(pod events/s delivered to a watch of all pods, simcluster CPU cores) at `rate`."""
    http = urllib3.PoolManager(retries=False)
    state = orjson.loads(http.request("GET", f"{sim.url}/_simcluster/state").data)
    # The server ends the watch itself a little after the window, so the counter finishes.
    lasts = int(CHURN_WARMUP_S + window_s) + 5
    watch = http.request(
        "GET",
        f"{sim.url}/api/v1/pods?watch=true&resourceVersion={state['resourceVersion']}"
        f"&timeoutSeconds={lasts}",
        preload_content=False,
        timeout=urllib3.Timeout(connect=10, read=READ_TIMEOUT_S),
    )
    delivered = [0]

    def count() -> None:
        for chunk in watch.stream(1 << 16):
            delivered[0] += chunk.count(b"\n")

    counter = threading.Thread(target=count, daemon=True)
    counter.start()
    steer = f"{sim.url}/_simcluster/churn"
    http.request("POST", steer, body=orjson.dumps({"rate": rate}))
    time.sleep(CHURN_WARMUP_S)
    started, cpu, events = time.perf_counter(), cpu_seconds(sim.process.pid), delivered[0]
    time.sleep(window_s)
    elapsed = time.perf_counter() - started
    cores = (cpu_seconds(sim.process.pid) - cpu) / elapsed
    rate_seen = (delivered[0] - events) / elapsed
    http.request("POST", steer, body=orjson.dumps({"rate": 0}))
    counter.join()
    return rate_seen, cores


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collections in this client while it parses a 200 MB LIST (it makes no cycles)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def measure(options: Any) -> list[Figure]:
    """Seed time, RSS, a paged LIST and a full LIST of `large` at the options' size."""
    params = {"pods": options.pods, "namespaces": options.namespaces,
              "services": options.services}
    http = urllib3.PoolManager(
        retries=False, timeout=urllib3.Timeout(connect=10, read=READ_TIMEOUT_S))
    with simulate("large", params) as sim, gc_paused():
        pid = sim.process.pid
        rss = proc_status_mb(pid, "VmRSS")
        paged_s, paged_items, pages = paged_list(http, sim.url, PAGE)
        full_s, full_items, body = full_list(http, sim.url)
        peak = proc_status_mb(pid, "VmHWM")
        churned, cores = churn_burst(sim, CHURN_RATE, options.burst_s)
    expected = options.pods
    shape = f"{options.pods:,} pods, {options.namespaces:,} ns, {options.services:,} svc"
    return [
        Figure("sim", "seed `large` (launch → serving)", round(sim.seed_s, 1), "s",
               ("<=", TARGET_SEED_S), shape),
        Figure("sim", "RSS after seeding", round(rss), "MB", ("<=", TARGET_RSS_MB),
               f"peak {peak:,.0f} MB after the LISTs below"),
        Figure("sim", f"paged LIST of all pods (limit={PAGE})", round(paged_s, 2), "s",
               ("<=", TARGET_PAGED_LIST_S),
               f"{pages} pages, {paged_items:,} items"
               + ("" if paged_items == expected else f" ≠ {expected:,} ❗")),
        Figure("sim", "full LIST of all pods (no limit)", round(full_s, 2), "s", None,
               f"{body / 1e6:,.0f} MB body, {full_items:,} items"
               + ("" if full_items == expected else f" ≠ {expected:,} ❗")),
        Figure("sim", f"churn steered to {CHURN_RATE:,.0f} pod events/s, delivered to a watch",
               round(churned), "events/s", None,
               f"over {options.burst_s:.0f} s; simcluster used {cores:.2f} CPU cores"),
    ]
