"""The admin's WatcherSettings row → the pipeline's WatcherConfig."""

from __future__ import annotations

from channels.db import database_sync_to_async

from watchers.churn import ChurnConfig
from watchers.models import WatcherSettings, split_patterns
from watchers.pipeline import WatcherConfig
from watchers.topology import TopologyConfig


def watcher_config(row: WatcherSettings) -> WatcherConfig:
    return WatcherConfig(
        churn=ChurnConfig(
            debounce_ms=row.debounce_ms,
            max_wait_ms=row.max_wait_ms,
            pending_grace_ms=row.pending_grace_ms,
            terminating_linger_ms=row.terminating_linger_ms,
            churn_window_s=row.churn_window_s,
            churn_threshold_per_min=row.churn_threshold_per_min,
            collapse_pods_over=row.collapse_pods_over,
        ),
        topology=TopologyConfig(annotation_prefix=row.annotation_prefix),
        include_namespaces=tuple(split_patterns(row.include_namespaces)),
        exclude_namespaces=tuple(split_patterns(row.exclude_namespaces)),
    )


# Unlike plain sync_to_async, this closes the polling thread's database connection after each
# read: a long-running watcher must not hold one open between polls (nor past a test database).
@database_sync_to_async
def load_watcher_config() -> WatcherConfig:
    """The current settings (created with defaults on first use)."""
    return watcher_config(WatcherSettings.load())
