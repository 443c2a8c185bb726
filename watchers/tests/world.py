"""A running watcher against simcluster and a real Redis, for integration tests."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from channels_redis.core import RedisChannelLayer
from redis.exceptions import RedisError

from constellation import protocol
from constellation.redis import channel_host
from constellation.snapshot import RedisSnapshotStore, Snapshot
from simcluster.cluster import SimCluster
from simcluster.testing import api_client_for
from watchers.churn import ChurnConfig
from watchers.kube.informer import InformerConfig
from watchers.kube.policy import BackoffConfig
from watchers.pipeline import WatcherConfig
from watchers.publish import Publisher
from watchers.service import ServiceOptions, WatcherService

# No smoothing and no collapsing: what the watcher publishes is then exactly the
# topology of simcluster's current objects, which is what these tests compare.
EXACT = WatcherConfig(
    churn=ChurnConfig(
        debounce_ms=50,
        max_wait_ms=200,
        pending_grace_ms=0,
        terminating_linger_ms=0,
        churn_threshold_per_min=1_000_000,
        collapse_pods_over=1_000_000,
    )
)
FAST_OPTIONS = ServiceOptions(
    heartbeat_s=0.5,
    gateway_recheck_s=0.5,
    settings_poll_s=0.5,
    retry_initial_s=0.1,
    retry_max_s=0.5,
    informer=InformerConfig(idle_timeout_s=5.0, backoff=BackoffConfig(initial_s=0.05, cap_s=0.4)),
)


class WatcherWorld:
    """simcluster + Redis (snapshot and channel layer) + a WatcherService in this loop."""

    def __init__(
        self,
        sim: SimCluster,
        redis_url: str,
        config: WatcherConfig = EXACT,
        options: ServiceOptions = FAST_OPTIONS,
    ) -> None:
        self.sim = sim
        self.prefix = f"test:{uuid.uuid4().hex[:8]}"
        self.snapshots = RedisSnapshotStore(redis_url, prefix=self.prefix)
        self.layer = RedisChannelLayer(hosts=[channel_host(redis_url)], prefix=self.prefix)
        self.service = WatcherService(
            api_client_for(sim),
            Publisher(self.snapshots, self.layer),
            config=config,
            options=options,
        )
        self.stop = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.channel = ""
        self._pending: list[tuple[dict, dict]] = []

    async def start(self, namespaces: list[str]) -> None:
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(protocol.CLUSTER_GROUP, self.channel)
        for namespace in namespaces:
            await self.layer.group_add(protocol.namespace_group(namespace), self.channel)
        self.task = asyncio.create_task(self.service.run(self.stop))
        await self.until(lambda s: s.present, "first snapshot")

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 20)
        await self.snapshots.close()
        await self.layer.flush()

    async def snapshot(self) -> Snapshot:
        """What the watcher published; raises when Redis cannot be read."""
        return await self.snapshots.read()

    async def until(
        self, condition: Callable[[Snapshot], Any], what: str, timeout: float = 15.0
    ) -> Snapshot:
        """The first snapshot satisfying `condition`. A failed read (Redis down in an outage
        test) is "not yet", never a match: an empty stand-in would satisfy "X is gone"."""
        deadline = time.monotonic() + timeout
        failure: Exception | None = None
        while True:
            try:
                snapshot = await self.snapshot()
            except (OSError, RedisError) as exc:
                failure = exc
            else:
                failure = None
                if condition(snapshot):
                    return snapshot
            if time.monotonic() > deadline:
                last = f"; the last read failed: {failure!r}" if failure else ""
                raise AssertionError(f"timed out after {timeout} s waiting for {what}{last}")
            await asyncio.sleep(0.05)

    async def receive(self, timeout: float = 10.0) -> dict:
        return await asyncio.wait_for(self.layer.receive(self.channel), timeout)

    async def next_message(self, timeout: float = 10.0) -> tuple[dict, dict]:
        """The next protocol message from a `state.messages` envelope: (item, decoded text)."""
        while not self._pending:
            envelope = await self.receive(timeout)
            if envelope["type"] == "state.messages":
                self._pending.extend(
                    (
                        {**item, "namespace": envelope["namespace"], "epoch": envelope["epoch"]},
                        orjson.loads(item["text"]),
                    )
                    for item in envelope["messages"]
                )
        return self._pending.pop(0)


@contextlib.asynccontextmanager
async def watching(
    sim: SimCluster,
    redis_url: str,
    namespaces: list[str],
    config: WatcherConfig = EXACT,
    options: ServiceOptions = FAST_OPTIONS,
) -> AsyncIterator[WatcherWorld]:
    world = WatcherWorld(sim, redis_url, config, options)
    await world.start(namespaces)
    try:
        yield world
    finally:
        await world.close()


def node_ids(tree: dict) -> set[str]:
    ids = {tree["id"]}
    for child in tree.get("children") or ():
        ids |= node_ids(child)
    return ids
