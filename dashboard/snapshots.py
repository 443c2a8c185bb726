"""The web side's access to the snapshot the watcher keeps (DESIGN §1: web is stateless).

One store per event loop: redis.asyncio connections belong to the loop that made
them, and tests run several loops in one process.

Hundreds of browsers ask for the same thing at once — on connect, on a new epoch, when a
message every one of them needed was lost — so reads are shared: a caller gets a read that
*began after it asked* (what DESIGN §6 needs: its groups were joined before the read) together
with every caller that asked before that read began, and each frame built from it is encoded
once for all of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from django.conf import settings

from constellation import protocol
from constellation.snapshot import RedisSnapshotStore, Snapshot, SnapshotStore, snapshot_store
from dashboard import chunks

_stores: dict[int, SnapshotStore] = {}
_ReadKey = tuple[int, tuple[str, ...] | None, bool]  # (loop, namespaces, summaries)
_next_reads: dict[_ReadKey, asyncio.Future[SharedSnapshot]] = {}
_reading: set[asyncio.Task[None]] = set()  # the loop keeps only weak references to tasks


def current_store() -> SnapshotStore:
    """The snapshot store for this loop: Redis when REDIS_URL is set, else in-process memory."""
    if not settings.REDIS_URL:
        return snapshot_store(None)
    loop_id = id(asyncio.get_running_loop())
    store = _stores.get(loop_id)
    if store is None:
        store = _stores[loop_id] = RedisSnapshotStore(settings.REDIS_URL)
    return store


async def read_snapshot(
    namespaces: Iterable[str] | None = None, summaries: bool = False, encoded: bool = False
) -> Snapshot:
    """The current snapshot (optionally only some namespaces' trees, as JSON when `encoded`;
    summaries if asked)."""
    return await current_store().read(namespaces, summaries, encoded)


class SharedSnapshot:
    """One snapshot read handed to several consumers; frames built from it are encoded (and
    split into chunks) once."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._frames: dict[Hashable, list[str]] = {}

    def frames(self, key: Hashable, build: Callable[[], dict[str, Any]]) -> list[str]:
        """The frames of the message `build()` returns, built once per `key` for this read."""
        frames = self._frames.get(key)
        if frames is None:
            frames = self._frames[key] = chunks.split(protocol.encode(build()), chunks.new_id())
        return frames


async def read_shared(
    namespaces: Iterable[str] | None = None, summaries: bool = False
) -> SharedSnapshot:
    """A snapshot read that begins after this call, shared with callers that ask meanwhile."""
    loop = asyncio.get_running_loop()
    wanted = None if namespaces is None else tuple(sorted(namespaces))
    key = (id(loop), wanted, summaries)
    future = _next_reads.get(key)
    if future is None or future.get_loop() is not loop:  # a dead loop's entry with a reused id
        future = _next_reads[key] = loop.create_future()
        # Callers that gave up (disconnected) must not leave an unretrieved exception behind.
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        task = loop.create_task(_read_into(key, future))
        _reading.add(task)
        task.add_done_callback(_reading.discard)
    # shield: one caller's cancellation must not cancel the read the others wait for.
    return await asyncio.shield(future)


async def _read_into(key: _ReadKey, future: asyncio.Future[SharedSnapshot]) -> None:
    # Whoever asks from now on gets the next read: this one may already miss their groups.
    if _next_reads.get(key) is future:
        del _next_reads[key]
    try:
        snapshot = await read_snapshot(key[1], key[2])
    except Exception as exc:  # noqa: BLE001 - every waiter gets the failure and handles it
        future.set_exception(exc)
    else:
        future.set_result(SharedSnapshot(snapshot))
