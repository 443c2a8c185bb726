"""The watcher's Prometheus metrics (served by `watch_cluster --metrics-port` and embedded mode).

Informer-level numbers (events, relists, restarts) live in each informer's
health snapshot; `InformerCollector` reads them at scrape time instead of
keeping a second set of counters in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

MESSAGES = Counter(
    "constellation_watcher_messages_published", "Protocol messages published, by type", ["type"]
)
BYTES = Counter(
    "constellation_watcher_bytes_published", "Bytes of encoded protocol messages published"
)
NAMESPACES_FLUSHED = Counter(
    "constellation_watcher_namespaces_flushed", "Namespace flushes that produced messages"
)
PUBLISH_SECONDS = Histogram(
    "constellation_watcher_publish_seconds",
    "Time to write the snapshot and send one batch of messages",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
EPOCHS = Counter("constellation_watcher_epochs", "Full snapshots published under a new epoch")
PUBLISH_FAILURES = Counter(
    "constellation_watcher_publish_failures",
    "Publishes that failed (Redis unreachable); retried with backoff",
)
LAYER_SEND_FAILURES = Counter(
    "constellation_watcher_layer_send_failures",
    "Channel-layer sends that failed after their snapshot write (web processes heal from the "
    "snapshot), by what was sent",
    ["what"],
)
OBJECTS = Gauge("constellation_watcher_objects", "Objects held after pruning, by kind", ["kind"])
READY = Gauge(
    "constellation_watcher_ready", "1 once every informer synced and a snapshot was published"
)
SKIPPED = Gauge(
    "constellation_watcher_malformed_objects_skipped", "Malformed objects skipped since start"
)


class InformerCollector(Collector):
    """Per-resource informer health, read at scrape time."""

    def __init__(self, healths: Callable[[], Iterable]) -> None:
        self._healths = healths

    def collect(self) -> Iterable:
        events = CounterMetricFamily(
            "constellation_watcher_events", "Watch events received, by resource", labels=["kind"]
        )
        relists = CounterMetricFamily(
            "constellation_watcher_relists", "Full relists after the first list", labels=["kind"]
        )
        restarts = CounterMetricFamily(
            "constellation_watcher_watch_restarts",
            "Watches resumed without a relist",
            labels=["kind"],
        )
        connected = GaugeMetricFamily(
            "constellation_watcher_connected",
            "1 while the resource's watch stream is open",
            labels=["kind"],
        )
        synced = GaugeMetricFamily(
            "constellation_watcher_synced",
            "1 once the resource's first list arrived",
            labels=["kind"],
        )
        auth = GaugeMetricFamily(
            "constellation_watcher_auth_failed",
            "1 while the API answers 401/403 for the resource",
            labels=["kind"],
        )
        for health in self._healths():
            events.add_metric([health.kind], health.events)
            relists.add_metric([health.kind], health.relists)
            restarts.add_metric([health.kind], health.watch_restarts)
            connected.add_metric([health.kind], int(health.connected))
            synced.add_metric([health.kind], int(health.synced))
            auth.add_metric([health.kind], int(health.auth_failed))
        return [events, relists, restarts, connected, synced, auth]


def register_informers(healths: Callable[[], Iterable]) -> InformerCollector:
    collector = InformerCollector(healths)
    REGISTRY.register(collector)
    return collector


def unregister(collector: Collector) -> None:
    REGISTRY.unregister(collector)
