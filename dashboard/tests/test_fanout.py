"""The per-process fan-out hub, through real consumers on every channel layer.

Many `WebsocketCommunicator` clients in one test share one event loop, so they share one hub,
as the browsers connected to one Daphne process do. Redis outages and slow reads use a Redis
this test owns (`redis_process`), stopped or frozen (SIGSTOP) under the clients.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis

from constellation import protocol
from dashboard import metrics
from dashboard.tests.wsworld import (
    World,
    counter,
    eventually,
    exchange,
    raw_envelope,
    receive,
    tree,
    world_on_redis,
)
from tests.redis_server import RedisProcess

pytestmark = pytest.mark.django_db(transaction=True)

CLUSTER = protocol.CLUSTER_GROUP
WEB = protocol.namespace_group("web")
API = protocol.namespace_group("api")


@pytest.fixture(params=["core", "pubsub"])
async def own_redis_world(
    request: pytest.FixtureRequest,
    settings: Any,
    redis_process: RedisProcess,
    hub_timings: pytest.MonkeyPatch,
) -> AsyncIterator[World]:
    """A Redis layer and snapshot on a Redis this test may stop or freeze."""
    async for built in world_on_redis(settings, redis_process.url, request.param):
        yield built


async def connected(world: World, count: int) -> list[Any]:
    """`count` clients that hold their first FullState."""
    clients = [await world.connect() for _ in range(count)]
    for client in clients:
        assert (await receive(client))["type"] == "FullState"
    return clients


async def test_the_process_is_one_member_of_each_group_however_many_clients(
    world: World,
) -> None:
    await world.start(tree("web"), tree("api"))
    clients = await connected(world, 3)

    await world.add_pod("web", "a")

    for client in clients:
        assert (await receive(client))["ns_seq"] == 1
    assert [await world.members(group) for group in (CLUSTER, WEB, API)] == [1, 1, 1]


async def test_a_client_watching_one_namespace_is_sent_nothing_else_while_others_get_all(
    world: World,
) -> None:
    await world.start(tree("web"), tree("api"))
    narrow, everything = await connected(world, 2)
    assert (await exchange(narrow, {"type": "Subscribe", "namespaces": ["api"]}))["hierarchy"] == [
        tree("api")
    ]

    for _ in range(2):
        await world.publish("web", tree("web"), protocol.relationship_updated("web", tree("web")))
        await world.publish("api", tree("api"), protocol.relationship_updated("api", tree("api")))

    assert [(await receive(everything))["namespace"] for _ in range(4)] == ["web", "api"] * 2
    # Each api message follows a web one: a web message that got through would come first.
    received = [await receive(narrow) for _ in range(2)]
    assert [(m["namespace"], m["ns_seq"]) for m in received] == [("api", 1), ("api", 2)]


async def test_a_client_waiting_on_a_snapshot_read_does_not_hold_up_the_others(
    frozen_snapshot_world: World, redis_process: RedisProcess
) -> None:
    world = frozen_snapshot_world
    epoch = await world.start(tree("web"))
    [ready] = await connected(world, 1)

    redis_process.pause()
    try:
        # Accepted, then stuck reading the snapshot for its FullState.
        waiting = await world.connect()
        await world.layer.group_send(WEB, raw_envelope(epoch, "web", 1))

        # Still frozen: what `ready` receives meanwhile was not held up by `waiting`.
        assert (await receive(ready, timeout=10))["ns_seq"] == 1
    finally:
        redis_process.resume()

    # FullState first, however late: nothing reached `waiting` before its snapshot read.
    assert (await receive(waiting))["type"] == "FullState"
    assert (await receive(waiting))["ns_seq"] == 1


async def test_every_client_of_the_process_heals_the_same_gap(world: World) -> None:
    epoch = await world.start(tree("web"))
    clients = await connected(world, 3)
    await world.add_pod("web", "a", lost=True)

    await world.add_pod("web", "a", "b")

    for client in clients:
        healed = await receive(client)
        assert (healed["type"], healed["epoch"], healed["ns_seq"]) == (
            "RelationshipUpdated",
            epoch,
            2,
        )
        assert healed["hierarchy"] == [tree("web", "a", "b")]


async def test_a_new_epoch_reaches_every_client_of_the_process(world: World) -> None:
    await world.start(tree("web"))
    clients = await connected(world, 3)

    epoch = await world.start(tree("web", "a"), tree("api"))

    for client in clients:
        full = await receive(client)
        assert (full["type"], full["epoch"]) == ("FullState", epoch)


async def test_after_redis_restarts_empty_the_hub_rejoins_and_clients_resync(
    own_redis_world: World, redis_process: RedisProcess
) -> None:
    world = own_redis_world
    await world.start(tree("web"))
    clients = await connected(world, 2)
    failures = counter(metrics.LAYER_FAILURES)

    redis_process.stop()
    await eventually(lambda: counter(metrics.LAYER_FAILURES) > failures, "the hub noticing")
    redis_process.start()  # empty: group memberships and snapshot are gone
    await eventually(lambda: world.members(WEB), "the hub re-joining its groups", timeout=5)
    epoch = await republished(world, tree("web", "a"))

    for client in clients:
        full = await receive(client, timeout=5)
        assert (full["type"], full["epoch"]) == ("FullState", epoch)
    await world.publish(
        "web", tree("web"), protocol.resource_deleted("web", "Pod/web/a", "Pod", "a")
    )
    for client in clients:
        assert (await receive(client))["ns_seq"] == 1


async def test_the_hub_leaves_a_group_when_its_last_client_stops_watching_it(
    world: World,
) -> None:
    await world.start(tree("web"), tree("api"))
    narrow, everything = await connected(world, 2)
    await exchange(narrow, {"type": "Subscribe", "namespaces": ["api"]})
    await exchange(everything, {"type": "Subscribe", "namespaces": ["api"]})

    await eventually(lambda: world.left(WEB), "the hub leaving web's group")
    assert await world.members(API) == 1


async def test_clients_disconnecting_leave_the_groups_the_last_one_out_leaves_all(
    world: World,
) -> None:
    await world.start(tree("web"), tree("api"))
    narrow, everything = await connected(world, 2)
    await exchange(narrow, {"type": "Subscribe", "namespaces": ["api"]})

    await everything.disconnect()
    await eventually(lambda: world.left(WEB), "the hub leaving web's group")
    assert [await world.members(group) for group in (CLUSTER, API)] == [1, 1]

    await narrow.disconnect()
    assert [await world.members(group) for group in (CLUSTER, WEB, API)] == [0, 0, 0]


async def test_a_client_connecting_after_the_last_one_left_is_served_again(world: World) -> None:
    await world.start(tree("web"))
    [first] = await connected(world, 1)
    await first.disconnect()

    [again] = await connected(world, 1)
    await world.publish("web", tree("web", "a"), protocol.relationship_updated("web", tree("web")))

    assert (await receive(again))["ns_seq"] == 1


async def republished(world: World, *trees: dict[str, Any]) -> str:
    """A new epoch, as the watcher publishes once Redis is back (retrying, as it does, while
    its own connections find out that the old server is gone)."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return await world.start(*trees)
        except redis.RedisError:
            assert time.monotonic() < deadline, "could not publish after the Redis restart"


async def test_a_quiet_namespace_is_never_counted_lost_and_a_dropped_message_is(
    world: World, fast_checks: None
) -> None:
    """Loss means a message that was really lost (issue 15 G): a namespace that changed only
    before this process started listening is never lost, however many checks pass."""
    await world.start(tree("web"), tree("api"))
    for pods in (("a",), ("a", "b"), ("a", "b", "c")):
        await world.add_pod("web", *pods)
    lost, healed = counter(metrics.HUB_LOST), counter(metrics.GAPS_HEALED)
    [client] = await connected(world, 1)
    checks = counter(metrics.HUB_CHECKS)

    await eventually(lambda: counter(metrics.HUB_CHECKS) >= checks + 5, "five snapshot checks")

    assert (counter(metrics.HUB_LOST), counter(metrics.GAPS_HEALED)) == (lost, healed)
    await world.add_pod("api", "x", lost=True)
    assert (await receive(client))["type"] == "RelationshipUpdated"
    assert counter(metrics.HUB_LOST) == lost + 1
