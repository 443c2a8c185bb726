"""From a pod created in the cluster to a WebSocket client showing it, through the whole product.

Run: .venv/bin/python bench/e2e.py [--probes 20] [--layer pubsub|core] [--json]

Method: tests/stack.py's LiveStack, as the end-to-end tests run it: simcluster (`demo`, in this
process), a throwaway Redis, `manage.py watch_cluster` and Daphne as subprocesses. One WebSocket
client keeps the picture the way the browser does (tests/protocol_client.py). Each
probe creates a pod and times until the client's picture holds it; probes are a second apart,
so each starts from a namespace at rest (the watcher's debounce waits for 500 ms of quiet, at
most 2 s). tests/test_e2e_live.py used to assert this figure (<= 2 s) for one probe.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "constellation.settings")
os.environ.setdefault("CONSTELLATION_LOG_LEVEL", "WARNING")

LAYERS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}


async def probe_latencies(stack, probes: int) -> list[float]:
    import aiohttp

    from tests.test_e2e_live import bare_pod, connect, pod_ids

    latencies = []
    async with aiohttp.ClientSession() as session:
        client = await connect(session, stack)
        for n in range(probes):
            await asyncio.sleep(1.0)
            name = f"bench-e2e-{n}"
            stack.sim.create("pods", bare_pod(name), namespace="default")
            node = f"Pod/default/{name}"
            latencies.append(
                await client.until(lambda c, node=node: node in pod_ids(c.trees), 30, node)
            )
        await client.ws.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--layer", choices=sorted(LAYERS), default="pubsub")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from tests.stack import LiveStack

    env = {"CONSTELLATION_CHANNEL_LAYER": LAYERS[args.layer]}
    with LiveStack(scenario="demo", env=env) as stack:
        latencies = asyncio.run(probe_latencies(stack, args.probes))
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    if args.json:
        print(json.dumps({"layer": args.layer, "latencies_s": latencies}))
        return
    print(
        f"{args.probes} probes, {args.layer} layer; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    print(
        f"pod created → client shows it: min {ordered[0]:.2f} s, "
        f"median {statistics.median(ordered):.2f} s, p99 {p99:.2f} s, max {ordered[-1]:.2f} s"
    )


if __name__ == "__main__":
    main()
