"""A highly available watcher: two replicas, one Lease, one publisher, and a takeover on a crash.

In process: two elector + watcher pairs share one simcluster and one real Redis, each with its
own connections as separate processes would have. Only the leader may publish; when it crashes
(its task is cancelled without releasing the lease) the standby must take over once the lease
expires and republish the true state under a new epoch, which tells connected clients to resync.

As an operator runs it: two `watch_cluster --leader-elect` processes behind Daphne; the leader
is SIGKILLed and a WebSocket client must converge to the cluster's true state.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import aiohttp
import pytest
from channels_redis.core import RedisChannelLayer

from constellation import protocol
from constellation.redis import channel_host
from constellation.snapshot import RedisSnapshotStore, Snapshot
from simcluster.cluster import SimCluster
from simcluster.testing import FAST_ENGINE, api_client_for, wait_for
from tests.redis_server import free_port
from tests.stack import LiveStack, Service
from tests.test_e2e_live import bare_pod, connect, converged
from watchers.leader import LeaderElector, run_with_leadership
from watchers.lease import LeaseConfig, parse_micro_time
from watchers.publish import Publisher
from watchers.service import WatcherService
from watchers.tests.world import EXACT, FAST_OPTIONS, node_ids

LEASE = LeaseConfig(lease_duration_s=2.0, renew_deadline_s=1.2, retry_period_s=0.2)
POD = {"spec": {"containers": [{"name": "app", "image": "nginx"}]}}
# A deadline for the takeover to happen at all; how fast it is, is bench/takeover.py's figure
# (2.0-2.3 s with this lease, idle or with two busy loops on both cores).
TAKEOVER_DEADLINE_S = 60.0
LEADER_ELECT_FLAGS = [
    "--leader-elect",
    "--lease-duration", str(LEASE.lease_duration_s),
    "--renew-deadline", str(LEASE.renew_deadline_s),
    "--retry-period", str(LEASE.retry_period_s),
]  # fmt: skip


@pytest.fixture
def sim() -> Iterator[SimCluster]:
    cluster = SimCluster("empty", engine_config=FAST_ENGINE).start()
    cluster.create("namespaces", {"metadata": {"name": "shop"}})
    cluster.create("pods", {"metadata": {"name": "before"}, **POD}, "shop")
    yield cluster
    cluster.stop()


class Replica:
    """One watcher replica: an elector and a fresh WatcherService per leadership term."""

    def __init__(
        self,
        sim: SimCluster,
        redis_url: str,
        prefix: str,
        identity: str,
        config: LeaseConfig = LEASE,
        lease_name: str = "watcher",
    ) -> None:
        self.sim = sim
        self.identity = identity
        self.snapshots = RedisSnapshotStore(redis_url, prefix=prefix)
        self.layer = RedisChannelLayer(hosts=[channel_host(redis_url)], prefix=prefix)
        self.elector = LeaderElector(
            api_client_for(sim), name=lease_name, identity=identity, config=config
        )
        self.services: list[WatcherService] = []
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(run_with_leadership(self.elector, self.lead, self.stop))

    async def lead(self, leader_stop: asyncio.Event) -> None:
        service = WatcherService(
            api_client_for(self.sim),
            Publisher(self.snapshots, self.layer),
            config=EXACT,
            options=FAST_OPTIONS,
        )
        self.services.append(service)
        await service.run(leader_stop)

    async def crash(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.snapshots.close()


async def until(snapshots: RedisSnapshotStore, condition, what: str, timeout: float) -> Snapshot:
    deadline = time.monotonic() + timeout
    while True:
        snapshot = await snapshots.read()
        if condition(snapshot):
            return snapshot
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


def has_pod(snapshot: Snapshot, name: str) -> bool:
    return f"Pod/shop/{name}" in node_ids(snapshot.trees.get("shop", {"id": ""}))


def lease_spec(sim: SimCluster, name: str = "watcher") -> dict:
    try:
        return sim.get("leases", "default", name, group="coordination.k8s.io")["spec"]
    except KeyError:
        return {}


def lease_held_for(sim: SimCluster) -> float:
    spec = lease_spec(sim)
    return parse_micro_time(spec["renewTime"]) - parse_micro_time(spec["acquireTime"])


async def test_only_the_leader_publishes_and_the_standby_takes_over_a_crash_under_a_new_epoch(
    sim, fresh_redis_url
):
    prefix = f"ha:{uuid.uuid4().hex[:8]}"
    reader = RedisSnapshotStore(fresh_redis_url, prefix=prefix)
    client_layer = RedisChannelLayer(hosts=[channel_host(fresh_redis_url)], prefix=prefix)
    client = await client_layer.new_channel()
    await client_layer.group_add(protocol.CLUSTER_GROUP, client)
    replicas = [Replica(sim, fresh_redis_url, prefix, identity) for identity in ("a", "b")]
    try:
        first = await until(reader, lambda s: has_pod(s, "before"), "first snapshot", 15)
        leader, standby = sorted(replicas, key=lambda r: not r.services)
        await asyncio.wait_for(
            _until_true(lambda: lease_held_for(sim) > LEASE.lease_duration_s),
            TAKEOVER_DEADLINE_S,
        )
        assert len(leader.services) == 1 and standby.services == []
        assert (await reader.read()).epoch == first.epoch == leader.services[0].publisher.epoch

        await leader.crash()
        sim.create("pods", {"metadata": {"name": "after"}, **POD}, "shop")
        snapshot = await until(
            reader,
            lambda s: s.epoch != first.epoch and has_pod(s, "after") and has_pod(s, "before"),
            "the standby's snapshot",
            TAKEOVER_DEADLINE_S,
        )

        assert standby.elector.is_leader and len(standby.services) == 1
        assert snapshot.epoch == standby.services[0].publisher.epoch
        assert leader.services[0].publisher.epoch == first.epoch
        announced = await _next_epoch_message(client_layer, client, first.epoch)
        assert announced == snapshot.epoch
    finally:
        for replica in replicas:
            await replica.close()
        await reader.close()
        await client_layer.flush()


async def _until_true(condition) -> None:
    while not condition():
        await asyncio.sleep(0.05)


async def _next_epoch_message(layer: RedisChannelLayer, channel: str, old_epoch: str) -> str:
    """The first epoch announcement after `old_epoch`: what makes connected clients resync."""
    while True:
        message = await asyncio.wait_for(layer.receive(channel), TAKEOVER_DEADLINE_S)
        if message["type"] == "state.epoch" and message["epoch"] != old_epoch:
            return message["epoch"]


async def test_a_websocket_client_converges_after_the_leading_watch_cluster_process_is_killed():
    with LiveStack(scenario="demo") as stack:
        # Replace the stack's single watcher by two leader-electing replicas.
        stack.stop_watcher()
        first = stack.watcher
        assert first is not None
        base = list(first.argv)
        first.argv = [*base, *LEADER_ELECT_FLAGS, "--identity", "replica-1"]
        # Its own metrics port: two processes cannot both serve the stack's.
        metrics = base.index("--metrics-port") + 1
        second_argv = [*base[:metrics], str(free_port()), *base[metrics + 1 :]]
        second = Service(
            "watcher-2", [*second_argv, *LEADER_ELECT_FLAGS, "--identity", "replica-2"],
            first.env, stack.dir,
        )  # fmt: skip
        replicas = {"replica-1": first, "replica-2": second}
        old_epoch = stack.snapshot().epoch
        first.start()
        second.start()
        try:
            stack.wait_published(other_than=old_epoch)
            holder = wait_for(
                lambda: lease_spec(stack.sim, "constellation-watcher").get("holderIdentity"),
                timeout=TAKEOVER_DEADLINE_S,
                message="a leader",
            )
            leader = replicas.pop(holder)
            (standby,) = replicas.values()
            async with aiohttp.ClientSession() as session:
                client = await connect(session, stack)
                stack.sim.create("pods", bare_pod("ha-before"), namespace="default")
                await client.until(
                    converged(stack, {"Pod/default/ha-before"}, set()),
                    TAKEOVER_DEADLINE_S,
                    "ha-before",
                )
                epoch = client.epoch

                assert leader.process is not None
                leader.process.kill()
                stack.sim.create("pods", bare_pod("ha-after"), namespace="default")
                stack.sim.delete("pods", "default", "ha-before")
                await client.until(
                    lambda c: (
                        c.epoch != epoch
                        and converged(stack, {"Pod/default/ha-after"}, {"Pod/default/ha-before"})(c)
                    ),
                    TAKEOVER_DEADLINE_S,
                    f"convergence after the leader was killed\n{stack.logs()}\n{second.log_tail()}",
                )
                await client.ws.close()
            standby.check_alive()
            assert lease_spec(stack.sim, "constellation-watcher")["holderIdentity"] != holder
        finally:
            second.stop()
