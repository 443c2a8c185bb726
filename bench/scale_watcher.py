"""The watcher at issue 14's scale: `bench/scale.py --parts watcher`.

One `large` simcluster of `options.pods` pods: start → first complete snapshot and RSS then,
then simcluster's churn steered to BURST_RATE pod events/s for `options.burst_s` while latency
probes time a change to its message on the channel layer. Then `churn` at each of CPU_RATES,
the watcher's CPU per pod event next to a bare `Watch.stream` loop on the same stream, and
next to them the floor: the watcher with rendering switched off. All of
it measured by bench/watcher.py's functions, which says how.
"""

from __future__ import annotations

from typing import Any

from bench.figures import Figure
from bench.watcher import measure_churn, measure_large, redis_server

PART = "watcher"
BURST_RATE = 2000.0
LATENCY_MS = 800.0  # the default 500 ms debounce + 300 ms
# pod events/s → the most watcher CPU per pod event allowed, as a multiple of the bare loop's
CPU_RATES = {200.0: 2.0, 1000.0: 1.5}


def measure(options: Any) -> list[Figure]:
    """Issue 14's watcher figures, each next to its target."""
    params = {"namespaces": options.namespaces, "services": options.services, "pods": options.pods}
    duration, probes = (12.0, 10) if options.quick else (30.0, 40)
    with redis_server(options.redis_url) as redis_url:
        large = measure_large(redis_url, params, burst_rate=BURST_RATE, burst_s=options.burst_s)
        churn = {
            rate: measure_churn(rate, redis_url, duration=duration, probes=probes, floor=True)
            for rate in CPU_RATES
        }
    produced = large["e_burst_pod_events_per_s_produced"]
    bare = large["e_burst_pod_events_per_s_bare_client"]
    seen = large["e_burst_pod_events_per_s_seen"]
    figures = [
        Figure(
            PART,
            "start → first complete snapshot",
            large["b_first_snapshot_s"],
            "s",
            ("<=", 15.0),
            f"{options.pods:,} pods, {large['b_namespaces']:,} namespaces",
        ),
        Figure(
            PART,
            "RSS at the first snapshot",
            large["b_rss_mb_at_first_snapshot"],
            "MB",
            ("<=", 1024.0),
        ),
        Figure(
            PART,
            f"burst of {BURST_RATE:,.0f} pod events/s: change → channel layer, p99",
            large["e_burst_latency_p99_ms"],
            "ms",
            ("<=", LATENCY_MS),
            f"{large['e_burst_s']:.0f} s; simcluster produced {produced:,}/s, a bare client got "
            f"{bare:,}/s, the watcher {seen:,}/s; p50 {large['e_burst_latency_p50_ms']} ms; "
            f"p99 of the change reaching a bare client's watch "
            f"{large['e_burst_probe_to_bare_client_p99_ms']} ms, and from there to the channel "
            f"layer {large['e_burst_latency_after_the_api_p99_ms']} ms",
        ),
        Figure(
            PART,
            "burst: probes lost",
            large["e_burst_probes_lost"],
            "",
            ("==", 0),
            f"of {large['e_burst_probes']}",
        ),
    ]
    for rate, bound in CPU_RATES.items():
        result = churn[rate]
        figures.append(
            Figure(
                PART,
                f"CPU per pod event vs a bare Watch.stream loop, churn at {rate:,.0f}/s",
                result["a_ratio"],
                "×",
                ("<=", bound),
                f"{result['pod_events_per_s']:,}/s seen; watcher "
                f"{result['a_watcher_cpu_s_per_10k_pod_events']} s, bare "
                f"{result['a_bare_client_cpu_s_per_10k_pod_events']} s per 10,000 events "
                f"({result['a_watcher_cpu_percent_of_a_core']}% of a core); the same watcher "
                f"rendering nothing {result['a_floor_ratio']}×",
            )
        )
    return figures
