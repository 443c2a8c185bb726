"""How long a standby watcher takes to publish after the leader crashes (README's takeover).

Run: .venv/bin/python bench/takeover.py [--runs 5] [--lease 2 --renew-deadline 1.2
     --retry-period 0.2] [--json]

Method: tests/test_ha.py's in-process scenario, timed. One simcluster (`empty`, a namespace and a
pod), Redis (REDIS_URL, else a throwaway redis-server), and two replicas in this process, each a
LeaderElector plus a fresh WatcherService per term, with connections of their own. Once the
leader has renewed for longer than a lease duration, its task is cancelled (a crash: the lease is
not released) and a pod is created. Takeover is the time from the crash until Redis holds a
snapshot under a new epoch that shows the pod; "after expiry" is the part of it after the
crashed leader's last renewal plus the lease's (whole-second) duration, i.e. what the standby
adds to the wait the lease imposes. Every run has its own lease and Redis prefix. The defaults
are the tests' lease; `--lease 15 --renew-deadline 10 --retry-period 2` are the product's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "constellation.settings")
# Quiet: racing candidates log 409s and every term logs its informers, all expected here.
os.environ.setdefault("CONSTELLATION_LOG_LEVEL", "ERROR")

POD_SPEC = {"spec": {"containers": [{"name": "app", "image": "nginx"}]}}


async def one_takeover(sim, redis_url: str, config, run: int) -> tuple[float, float]:
    """(crash → standby's snapshot, lease expiry → standby's snapshot) in seconds."""
    from constellation.snapshot import RedisSnapshotStore
    from tests.test_ha import Replica, has_pod, lease_spec, until
    from watchers.lease import parse_micro_time

    prefix, lease = f"bench-takeover:{uuid.uuid4().hex[:8]}", f"bench-takeover-{run}"
    pod = f"after-{run}"
    reader = RedisSnapshotStore(redis_url, prefix=prefix)
    replicas = [Replica(sim, redis_url, prefix, name, config, lease) for name in ("a", "b")]

    def held_for() -> float:
        spec = lease_spec(sim, lease)
        renewed, acquired = (parse_micro_time(spec.get(k)) for k in ("renewTime", "acquireTime"))
        return renewed - acquired if renewed and acquired else 0.0

    try:
        first = await until(reader, lambda s: has_pod(s, "before"), "first snapshot", 60)
        deadline = time.monotonic() + 60 + config.lease_duration_s
        while held_for() <= config.lease_duration_s:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no leader renewed lease {lease} for a full duration")
            await asyncio.sleep(0.05)
        leader = next(r for r in replicas if r.elector.is_leader)
        await leader.crash()
        crashed_at = time.monotonic()
        spec = lease_spec(sim, lease)  # the crashed leader's last renewal: it renews no more
        expires = parse_micro_time(spec["renewTime"]) + spec["leaseDurationSeconds"]
        sim.create("pods", {"metadata": {"name": pod}, **POD_SPEC}, "shop")
        await until(
            reader, lambda s: s.epoch != first.epoch and has_pod(s, pod), "the standby", 120
        )
        return time.monotonic() - crashed_at, time.time() - expires
    finally:
        for replica in replicas:
            await replica.close()
        await reader.close()


async def measure(runs: int, config, redis_url: str) -> list[tuple[float, float]]:
    from simcluster.cluster import SimCluster
    from simcluster.testing import FAST_ENGINE

    sim = SimCluster("empty", engine_config=FAST_ENGINE).start()
    try:
        sim.create("namespaces", {"metadata": {"name": "shop"}})
        sim.create("pods", {"metadata": {"name": "before"}, **POD_SPEC}, "shop")
        return [await one_takeover(sim, redis_url, config, run) for run in range(runs)]
    finally:
        sim.stop()


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lease", type=float, default=2.0, help="lease duration, s")
    parser.add_argument("--renew-deadline", type=float, default=1.2)
    parser.add_argument("--retry-period", type=float, default=0.2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from tests.redis_server import RedisProcess
    from watchers.lease import LeaseConfig

    config = LeaseConfig(args.lease, args.renew_deadline, args.retry_period)
    redis = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        redis = RedisProcess()
        redis.start()
        redis_url = redis.url
    try:
        results = asyncio.run(measure(args.runs, config, redis_url))
    finally:
        if redis is not None:
            redis.close()
    takeovers, after_expiry = [r[0] for r in results], [r[1] for r in results]
    if args.json:
        print(
            json.dumps(
                {"config": vars(args), "takeover_s": takeovers, "after_expiry_s": after_expiry}
            )
        )
        return
    print(
        f"lease {config.lease_duration_s:g} s, renew deadline {config.renew_deadline_s:g} s, "
        f"retry period {config.retry_period_s:g} s; {args.runs} runs; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(f"crash → standby's snapshot (min / median / max): {spread(takeovers)} s")
    print(f"  of which after the lease expired:              {spread(after_expiry)} s")
    print("runs: " + ", ".join(f"{t:.2f}" for t in takeovers))


if __name__ == "__main__":
    main()
