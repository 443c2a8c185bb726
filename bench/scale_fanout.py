"""The horizontal web at scale for bench/scale.py: two Daphne processes on one Redis serving
1,000 browsers (500 each) that show namespace pages of a big cluster (issue 14, item 5).

Reuses bench/fanout.py's machinery (real Publisher, real Daphne via `manage.py web`, clients in
their own processes measuring send → receive per message); only the shape is fixed here. 200
namespace updates/s: a 100,000-pod cluster in a 2,000 pod events/s burst flushes each busy
namespace at most every 0.5-2 s (debounce, max wait), a few hundred flushes a second.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os

from bench.figures import Figure

PART = "fanout"


def measure(options) -> list[Figure]:  # noqa: ANN001 - bench.scale.ScaleOptions
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "constellation.settings")
    os.environ.setdefault("CONSTELLATION_LOG_LEVEL", "WARNING")
    django.setup()
    from bench import fanout
    from tests.redis_server import RedisProcess

    clients = 100 if options.quick else 1000
    args = argparse.Namespace(
        clients=[clients],
        rate=50.0 if options.quick else 200.0,
        duration=5.0 if options.quick else 15.0,
        processes=4,
        webs=2,
        view="page",
        api_requests=0,
    )
    data = {
        "api": {},
        "fanout": fanout.build_trees(options.namespaces, options.services, options.pods),
    }
    with contextlib.ExitStack() as stack:
        redis_url = options.redis_url or stack.enter_context(RedisProcess()).url
        result = asyncio.run(fanout.run_layer(redis_url, "pubsub", args, data))
    f = result["fanout"][0]
    note = f"{f['webs']} web processes, {clients} page clients, {f['rate']} updates/s"
    return [
        Figure(PART, "delivery p99, send → browser", f["p99_ms"], "ms", ("<=", 1000.0), note),
        Figure(PART, "delivery p50", f["p50_ms"], "ms"),
        Figure(PART, "delivered / expected", f"{f['delivered']}/{f['expected_deliveries']}"),
        Figure(PART, "unhealed gaps", f["unhealed_jumps"], "", ("==", 0)),
        Figure(PART, "clients behind at the end", f["behind_at_end"], "", ("==", 0)),
        Figure(PART, "connect failures", f["connect_failed"], "", ("==", 0)),
        Figure(PART, "CPU % daphnes / clients / redis",
               f"{f['daphne_cpu_pct']} / {f['clients_cpu_pct']} / {f['redis_cpu_pct']}"),
    ]
