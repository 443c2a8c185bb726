"""The web side's access to the snapshot the watcher keeps (DESIGN §1: web is stateless).

One store per event loop: redis.asyncio connections belong to the loop that made
them, and tests run several loops in one process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from django.conf import settings

from constellation.snapshot import RedisSnapshotStore, Snapshot, SnapshotStore, snapshot_store

_stores: dict[int, SnapshotStore] = {}


def current_store() -> SnapshotStore:
    """The snapshot store for this loop: Redis when REDIS_URL is set, else in-process memory."""
    if not settings.REDIS_URL:
        return snapshot_store(None)
    loop_id = id(asyncio.get_running_loop())
    store = _stores.get(loop_id)
    if store is None:
        store = _stores[loop_id] = RedisSnapshotStore(settings.REDIS_URL)
    return store


async def read_snapshot(namespaces: Iterable[str] | None = None) -> Snapshot:
    """The current snapshot (optionally only some namespaces' trees)."""
    return await current_store().read(namespaces)
