"""End to end: simcluster → watch_cluster → Redis → Daphne → a real WebSocket client.

The client keeps the picture the way the browser does (tests/protocol_client.py: FullState
replaces it, namespace messages go through the reference reducer) and answers Pings.
Convergence means its trees equal the snapshot the watcher published, under the same epoch,
with the pods the cluster changed present or gone. One stack per channel layer serves the
module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest

from simcluster.testing import wait_for
from tests.protocol_client import ProtocolClient
from tests.stack import LiveStack

PUBLISH_FAILURES = "constellation_watcher_publish_failures_total"
# How long to wait for something that must happen. Only a broken product reaches it; how fast
# changes reach a client is bench/e2e.py's figure, not a test's.
DEADLINE_S = 30.0


LAYERS = {
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
}


@pytest.fixture(scope="module", params=sorted(LAYERS))
def stack(request: pytest.FixtureRequest) -> Iterator[LiveStack]:
    """The whole product, once per channel layer (both are supported settings)."""
    env = {"CONSTELLATION_CHANNEL_LAYER": LAYERS[request.param]}
    with LiveStack(scenario="demo", env=env) as live:
        yield live


def bare_pod(name: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"app": "e2e-probe"}},
        "spec": {"containers": [{"name": "main", "image": "registry.example/probe:1"}]},
    }


def pod_ids(trees: dict[str, dict]) -> set[str]:
    found: set[str] = set()
    stack = list(trees.values())
    while stack:
        node = stack.pop()
        if node["kind"] == "Pod":
            found.add(node["id"])
        stack.extend(node.get("children") or ())
    return found


def converged(
    stack: LiveStack, present: set[str], gone: set[str]
) -> Callable[[ProtocolClient], bool]:
    """The client equals the published snapshot and reflects the cluster's changes."""

    def check(client: ProtocolClient) -> bool:
        pods = pod_ids(client.trees)
        if not present <= pods or pods & gone:
            return False
        snapshot = stack.snapshot_if_reachable()
        if snapshot is None:
            return False
        return client.epoch == snapshot.epoch and client.trees == snapshot.trees

    return check


async def connect(session: aiohttp.ClientSession, stack: LiveStack) -> ProtocolClient:
    ws = await session.ws_connect(stack.ws_url, origin=stack.url, heartbeat=None)
    client = ProtocolClient(ws)
    await client.until(lambda c: c.epoch is not None, DEADLINE_S, "FullState")
    return client


async def test_a_pod_created_in_simcluster_reaches_the_client(stack: LiveStack) -> None:
    async with aiohttp.ClientSession() as session:
        client = await connect(session, stack)
        assert client.trees == stack.snapshot().trees

        stack.sim.create("pods", bare_pod("e2e-fresh"), namespace="default")

        await client.until(
            lambda c: "Pod/default/e2e-fresh" in pod_ids(c.trees), DEADLINE_S, "the new pod"
        )
        await client.ws.close()


async def test_the_client_converges_after_redis_stops_and_restarts(stack: LiveStack) -> None:
    async with aiohttp.ClientSession() as session:
        client = await connect(session, stack)
        stack.sim.create("pods", bare_pod("e2e-old"), namespace="default")
        await client.until(
            lambda c: "Pod/default/e2e-old" in pod_ids(c.trees), DEADLINE_S, "e2e-old"
        )
        failures = stack.watcher_metric(PUBLISH_FAILURES)

        stack.stop_redis()
        stack.sim.create("pods", bare_pod("e2e-outage"), namespace="default")
        stack.sim.delete("pods", "default", "e2e-old")
        # The watcher must notice the outage (else a quick restart looks like no outage to it).
        wait_for(
            lambda: stack.watcher_metric(PUBLISH_FAILURES) > failures,
            timeout=DEADLINE_S,
            message="a publish failure",
        )
        stack.start_redis()

        await client.until(
            converged(stack, {"Pod/default/e2e-outage"}, {"Pod/default/e2e-old"}),
            DEADLINE_S,
            f"convergence after the Redis restart\n{stack.logs()}",
        )
        assert not client.ws.closed
        await client.ws.close()


async def test_the_client_converges_after_the_watcher_restarts(stack: LiveStack) -> None:
    async with aiohttp.ClientSession() as session:
        client = await connect(session, stack)
        stack.sim.create("pods", bare_pod("e2e-before"), namespace="default")
        await client.until(
            lambda c: "Pod/default/e2e-before" in pod_ids(c.trees), DEADLINE_S, "pod"
        )
        epoch = client.epoch

        stack.stop_watcher()
        stack.sim.create("pods", bare_pod("e2e-while-down"), namespace="default")
        stack.sim.delete("pods", "default", "e2e-before")
        stack.start_watcher()

        await client.until(
            converged(stack, {"Pod/default/e2e-while-down"}, {"Pod/default/e2e-before"}),
            DEADLINE_S,
            f"convergence after the watcher restart\n{stack.logs()}",
        )
        assert client.epoch != epoch
        await client.ws.close()


async def test_a_restarted_web_process_serves_the_current_state_on_the_same_url(
    stack: LiveStack,
) -> None:
    stack.restart_web()

    async with aiohttp.ClientSession() as session:
        client = await connect(session, stack)

        assert client.trees == stack.snapshot().trees
        await client.ws.close()
