"""`/ws/state/` through channels' WebsocketCommunicator, fed by the watcher's real Publisher.

`Publisher` writes the snapshot and sends envelopes exactly as `watch_cluster` does; dropping a
message is `publisher.layer = None` for one publish (snapshot written, nothing sent). The core
cases run three times: in-memory layer and snapshot, and each channels_redis layer with the
Redis snapshot.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
from channels.testing import WebsocketCommunicator

from constellation import protocol
from constellation.snapshot import SnapshotUpdate
from dashboard import metrics
from dashboard.consumers import StateConsumer
from dashboard.fanout import FanoutHub
from dashboard.tests.wsworld import (
    ORIGIN,
    World,
    app,
    counter,
    eventually,
    exchange,
    pod,
    raw_envelope,
    receive,
    receive_close,
    receive_until,
    tree,
)

pytestmark = pytest.mark.django_db(transaction=True)


# -- connect and FullState -----------------------------------------------------------------


async def test_connect_sends_full_state_of_every_namespace_sorted_by_name(world: World) -> None:
    epoch = await world.start(tree("web", "a"), tree("api"))

    client = await world.connect()
    full = await receive(client)

    assert full == {
        "type": "FullState",
        "seq": 0,
        "epoch": epoch,
        "hierarchy": [tree("api"), tree("web", "a")],
        "cluster": {"synced": True, "ready": True},
    }


async def test_connect_before_the_watcher_started_sends_an_empty_unsynced_full_state(
    mem: World,
) -> None:
    await mem.store.replace(SnapshotUpdate("", 0, synced=False))

    client = await mem.connect()

    assert await receive(client) == {
        "type": "FullState",
        "seq": 0,
        "epoch": "",
        "hierarchy": [],
        "cluster": {"synced": False, "ready": False},
    }


async def test_the_project_asgi_application_serves_the_consumer(mem: World) -> None:
    from constellation.asgi import application

    await mem.start(tree("web"))

    client = await mem.connect(application, headers=ORIGIN)

    assert (await receive(client))["type"] == "FullState"


# -- auth --------------------------------------------------------------------------------


async def test_anonymous_users_are_refused_unless_anonymous_access_is_on(
    mem: World, settings: Any
) -> None:
    settings.ALLOW_ANONYMOUS = False
    refused_before = counter(metrics.REFUSED)
    client = WebsocketCommunicator(app(), "/ws/state/")

    connected, _ = await client.connect()

    assert not connected
    assert counter(metrics.REFUSED) == refused_before + 1


async def test_anonymous_users_connect_when_anonymous_access_is_on(mem: World) -> None:
    await mem.start(tree("web"))

    client = await mem.connect()

    assert (await receive(client))["type"] == "FullState"


async def test_logged_in_users_connect_when_anonymous_access_is_off(
    mem: World, settings: Any, session_headers: list
) -> None:
    settings.ALLOW_ANONYMOUS = False
    await mem.start(tree("web"))

    client = await mem.connect(headers=session_headers)

    assert (await receive(client))["hierarchy"] == [tree("web")]


async def test_the_project_asgi_application_knows_logged_in_users(
    mem: World, settings: Any, session_headers: list
) -> None:
    from constellation.asgi import application

    settings.ALLOW_ANONYMOUS = False
    await mem.start(tree("web"))

    client = await mem.connect(application, headers=session_headers)

    assert (await receive(client))["type"] == "FullState"


async def test_a_cookie_of_no_session_is_anonymous_and_refused(mem: World, settings: Any) -> None:
    settings.ALLOW_ANONYMOUS = False
    client = WebsocketCommunicator(
        app(), "/ws/state/", headers=[*ORIGIN, (b"cookie", b"sessionid=not-a-session")]
    )

    connected, _ = await client.connect()

    assert not connected


# -- forwarding ----------------------------------------------------------------------------


async def test_every_message_type_is_forwarded_as_the_watcher_encoded_it(world: World) -> None:
    epoch = await world.start(tree("web", "a"))
    client = await world.connect()
    await receive(client)
    messages = [
        protocol.resource_deleted("web", "Pod/web/a", "Pod", "a"),
        protocol.resource_added("web", "Namespace/web", pod("web", "b")),
        protocol.resource_updated("web", {**pod("web", "b"), "health": "warn"}),
        protocol.relationship_updated("web", tree("web", "b")),
        protocol.namespace_summary_update("web", {"total": 1}, ["Pod/web/b"]),
        protocol.high_churn_warning("web", ["Service/web/api"], 120.0),
        protocol.namespace_deleted("web"),
    ]

    await world.publish("web", None, *messages)

    received = [await receive(client) for _ in messages]
    assert received == [
        {**message, "seq": n, "epoch": epoch, "ns_seq": n}
        for n, message in enumerate(messages, start=1)
    ]


async def test_messages_the_snapshot_already_held_are_dropped(world: World) -> None:
    epoch = await world.start(tree("web"))
    await world.publish(
        "web", tree("web", "a"), protocol.relationship_updated("web", tree("web", "a"))
    )
    client = await world.connect()
    assert (await receive(client))["hierarchy"] == [tree("web", "a")]
    stale = protocol.encode({"type": "RelationshipUpdated", "namespace": "web", "ns_seq": 1})

    await world.layer.group_send(
        protocol.namespace_group("web"),
        {
            "type": "state.message",
            "text": stale,
            "seq": 1,
            "epoch": epoch,
            "namespace": "web",
            "ns_seq": 1,
        },
    )
    await world.publish(
        "web", tree("web"), protocol.resource_deleted("web", "Pod/web/a", "Pod", "a")
    )

    assert (await receive(client))["ns_seq"] == 2


# -- gaps and epochs -----------------------------------------------------------------------


async def test_an_ns_seq_gap_is_healed_with_the_namespace_from_the_snapshot(world: World) -> None:
    epoch = await world.start(tree("web"))
    client = await world.connect()
    await receive(client)
    healed_before = counter(metrics.GAPS_HEALED)
    await world.drop(
        "web", tree("web", "a"), protocol.resource_added("web", "Namespace/web", pod("web", "a"))
    )

    await world.publish(
        "web",
        tree("web", "a", "b"),
        protocol.resource_added("web", "Namespace/web", pod("web", "b")),
    )

    assert await receive(client) == {
        "type": "RelationshipUpdated",
        "namespace": "web",
        "hierarchy": [tree("web", "a", "b")],
        "seq": (await world.store.read(())).seq,  # the snapshot's, summary messages included
        "epoch": epoch,
        "ns_seq": 2,
    }
    assert counter(metrics.GAPS_HEALED) == healed_before + 1
    await world.publish(
        "web", tree("web", "a"), protocol.resource_deleted("web", "Pod/web/b", "Pod", "b")
    )
    assert (await receive(client))["ns_seq"] == 3


async def test_a_gap_over_a_deleted_namespace_is_healed_with_namespace_deleted(
    mem: World,
) -> None:
    epoch = await mem.start(tree("web"), tree("old"))
    client = await mem.connect()
    await receive(client)
    await mem.drop("old", None, protocol.namespace_deleted("old"))
    late = protocol.encode({"type": "NamespaceDeleted", "namespace": "old", "ns_seq": 2})

    await mem.layer.group_send(
        protocol.namespace_group("old"),
        {"type": "state.message", "text": late, "seq": 2, "epoch": epoch,
         "namespace": "old", "ns_seq": 2},
    )  # fmt: skip
    await mem.store.apply(SnapshotUpdate(epoch, 2, removed=["old"], ns_seq={"old": 2}))

    healed = await receive(client)
    assert (healed["type"], healed["namespace"], healed["ns_seq"]) == ("NamespaceDeleted", "old", 2)


async def test_a_lost_last_message_is_healed_by_the_periodic_check(
    mem: World, fast_checks: None
) -> None:
    await mem.start(tree("web"))
    client = await mem.connect()
    await receive(client)

    await mem.drop(
        "web", tree("web", "a"), protocol.resource_added("web", "Namespace/web", pod("web", "a"))
    )

    healed = await receive_until(client, "RelationshipUpdated")
    assert healed["hierarchy"] == [tree("web", "a")]
    assert healed["ns_seq"] == 1


async def test_a_gap_ahead_of_the_snapshot_is_healed_once_the_snapshot_catches_up(
    mem: World,
) -> None:
    epoch = await mem.start(tree("web"), tree("api"))
    client = await mem.connect()
    await receive(client)

    await mem.layer.group_send(protocol.namespace_group("web"), raw_envelope(epoch, "web", 2))
    # The stream takes layer messages in order, so this one is sent only after the gap above
    # was handled, against a snapshot that is still behind: nothing for web may come first.
    await mem.layer.group_send(protocol.namespace_group("api"), raw_envelope(epoch, "api", 1))
    marker = await receive(client)
    assert (marker["namespace"], marker["ns_seq"]) == ("api", 1)
    await mem.store.apply(SnapshotUpdate(epoch, 2, {"web": tree("web", "x")}, ns_seq={"web": 2}))

    healed = await receive(client)
    assert (healed["type"], healed["ns_seq"], healed["hierarchy"]) == (
        "RelationshipUpdated",
        2,
        [tree("web", "x")],
    )


async def test_a_new_epoch_sends_full_state_from_the_new_snapshot(world: World) -> None:
    await world.start(tree("web", "a"))
    client = await world.connect()
    await receive(client)

    epoch = await world.start(tree("web", "b"), tree("api"))

    full = await receive(client)
    assert (full["type"], full["epoch"], full["hierarchy"]) == (
        "FullState",
        epoch,
        [tree("api"), tree("web", "b")],
    )
    await world.publish(
        "api", tree("api", "c"), protocol.resource_added("api", "Namespace/api", pod("api", "c"))
    )
    assert (await receive(client))["ns_seq"] == 1


async def test_a_message_from_an_unseen_epoch_resyncs_and_old_epoch_messages_are_dropped(
    mem: World,
) -> None:
    old_epoch = await mem.start(tree("web"))
    client = await mem.connect()
    await receive(client)
    mem.publisher.layer = None  # the state.epoch announcement is lost
    epoch = await mem.start(tree("web", "a"))
    mem.publisher.layer = mem.layer

    await mem.publish(
        "web",
        tree("web", "a", "b"),
        protocol.resource_added("web", "Namespace/web", pod("web", "b")),
    )
    full = await receive(client)
    stale = protocol.encode({"type": "ResourceAdded", "namespace": "web", "ns_seq": 9})
    await mem.layer.group_send(
        protocol.namespace_group("web"),
        {
            "type": "state.message",
            "text": stale,
            "seq": 9,
            "epoch": old_epoch,
            "namespace": "web",
            "ns_seq": 9,
        },
    )

    assert (full["type"], full["epoch"], full["hierarchy"]) == (
        "FullState",
        epoch,
        [tree("web", "a", "b")],
    )
    # Sent after the stale message, so it is the next frame unless that one got through.
    await mem.publish(
        "web",
        tree("web", "a", "b", "c"),
        protocol.resource_added("web", "Namespace/web", pod("web", "c")),
    )
    after = await receive(client)
    assert (after["type"], after.get("epoch"), after["ns_seq"]) == ("ResourceAdded", epoch, 2)


async def test_a_namespace_created_after_connect_reaches_a_client_watching_everything(
    mem: World, fast_checks: None
) -> None:
    await mem.start(tree("web"))
    client = await mem.connect()
    await receive(client)

    await mem.publish(
        "new", tree("new", "p"), protocol.relationship_updated("new", tree("new", "p"))
    )

    healed = await receive_until(client, "RelationshipUpdated")
    assert (healed["namespace"], healed["hierarchy"]) == ("new", [tree("new", "p")])
    await mem.publish("new", tree("new"), protocol.resource_deleted("new", "Pod/new/p", "Pod", "p"))
    assert (await receive_until(client, "ResourceDeleted"))["ns_seq"] == 2


async def test_a_deleted_namespace_is_forwarded_and_its_group_left(world: World) -> None:
    await world.start(tree("web"), tree("old"))
    client = await world.connect()
    await receive(client)

    await world.publish("old", None, protocol.namespace_deleted("old"))

    assert (await receive(client))["type"] == "NamespaceDeleted"
    group = protocol.namespace_group("old")
    await eventually(lambda: world.left(group), "the process leaving the group")


# -- client messages -----------------------------------------------------------------------


async def test_ping_is_answered_with_pong(mem: World) -> None:
    await mem.start(tree("web"))
    client = await mem.connect()
    await receive(client)

    assert await exchange(client, {"type": "Ping"}) == {"type": "Pong"}


async def test_resync_sends_full_state_again(world: World) -> None:
    await world.start(tree("web"))
    client = await world.connect()
    await receive(client)
    await world.drop(
        "web", tree("web", "a"), protocol.resource_added("web", "Namespace/web", pod("web", "a"))
    )

    full = await exchange(client, {"type": "Resync"})

    assert (full["type"], full["hierarchy"]) == ("FullState", [tree("web", "a")])


async def test_subscribe_narrows_full_state_and_messages_to_the_chosen_namespaces(
    world: World,
) -> None:
    await world.start(tree("web"), tree("api"), tree("db"))
    client = await world.connect()
    await receive(client)

    full = await exchange(client, {"type": "Subscribe", "namespaces": ["api"]})
    await world.publish(
        "web", tree("web", "w"), protocol.relationship_updated("web", tree("web", "w"))
    )
    await world.publish(
        "api", tree("api", "a"), protocol.relationship_updated("api", tree("api", "a"))
    )

    assert full["hierarchy"] == [tree("api")]
    only = await receive(client)
    assert (only["namespace"], only["ns_seq"]) == ("api", 1)
    await world.publish("web", tree("web"), protocol.relationship_updated("web", tree("web")))
    await world.publish("api", tree("api"), protocol.relationship_updated("api", tree("api")))
    # Each api message follows a web one: a leak would come first, however slowly.
    again = await receive(client)
    assert (again["namespace"], again["ns_seq"]) == ("api", 2)


async def test_subscribe_to_star_returns_to_every_namespace(mem: World) -> None:
    await mem.start(tree("web"), tree("api"))
    client = await mem.connect()
    await receive(client)
    await exchange(client, {"type": "Subscribe", "namespaces": ["api"]})

    full = await exchange(client, {"type": "Subscribe", "namespaces": "*"})
    await mem.publish(
        "web", tree("web", "w"), protocol.relationship_updated("web", tree("web", "w"))
    )

    assert [t["name"] for t in full["hierarchy"]] == ["api", "web"]
    assert (await receive(client))["namespace"] == "web"


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{nope", "bad_json"),
        ("[1, 2, 3]", "bad_message"),
        ('{"kind": "Ping"}', "bad_message"),
        ('{"type": "Hello"}', "unknown_type"),
        ('{"type": "Subscribe", "namespaces": "web"}', "bad_field"),
        ('{"type": "Subscribe", "namespaces": [1, 2]}', "bad_field"),
        ('{"type": "Subscribe", "namespaces": ["Not_A_Namespace"]}', "bad_field"),
        ('{"type": "Subscribe", "namespaces": [' + ",".join(['"a"'] * 501) + "]}", "bad_field"),
    ],
)
async def test_bad_frames_get_an_error_and_the_connection_keeps_working(
    mem: World, frame: str, code: str
) -> None:
    await mem.start(tree("web"))
    client = await mem.connect()
    await receive(client)

    error = await exchange(client, frame)

    assert error["type"] == "Error"
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert await exchange(client, {"type": "Ping"}) == {"type": "Pong"}


async def test_binary_frames_get_an_error(mem: World) -> None:
    await mem.start(tree("web"))
    client = await mem.connect()
    await receive(client)

    await client.send_to(bytes_data=b"\x00\x01")

    assert (await receive(client))["code"] == "binary_frame"
    assert await exchange(client, {"type": "Ping"}) == {"type": "Pong"}


async def test_an_oversized_frame_gets_an_error_and_close_4009_without_hurting_others(
    mem: World,
) -> None:
    await mem.start(tree("web"))
    bystander = await mem.connect()
    await receive(bystander)
    client = await mem.connect(app(max_frame_bytes=1024))
    await receive(client)

    await client.send_to(text_data='{"type": "Ping", "pad": "%s"}' % ("x" * 2000))

    assert (await receive(client))["code"] == "too_large"
    assert await receive_close(client) == 4009
    await mem.publish(
        "web", tree("web", "a"), protocol.relationship_updated("web", tree("web", "a"))
    )
    assert (await receive(bystander))["ns_seq"] == 1


async def test_a_flood_gets_an_error_and_close_4008(mem: World) -> None:
    await mem.start(tree("web"))
    client = await mem.connect(app(flood_limit=5))
    await receive(client)

    for _ in range(5):
        assert await exchange(client, {"type": "Ping"}) == {"type": "Pong"}
    flooded = await exchange(client, {"type": "Ping"})

    assert flooded["code"] == "rate_limited"
    assert await receive_close(client) == 4008


# -- heartbeat -----------------------------------------------------------------------------


async def test_the_server_pings_on_its_interval(mem: World) -> None:
    await mem.start(tree("web"))
    client = await mem.connect(app(ping_interval_s=0.05))
    await receive(client)

    assert await receive(client) == {"type": "Ping"}
    assert await receive(client) == {"type": "Ping"}


async def test_a_silent_client_is_closed_after_the_idle_timeout(mem: World) -> None:
    await mem.start(tree("web"))
    client = await mem.connect(app(idle_timeout_s=0.2))
    await receive(client)

    assert await receive_close(client) == 4001


async def test_any_client_frame_keeps_the_connection_alive(mem: World) -> None:
    await mem.start(tree("web"))
    idle_timeout_s = 1.0
    client = await mem.connect(app(idle_timeout_s=idle_timeout_s))
    await receive(client)

    # Paced client traffic (the behaviour under test) for half as long again as the timeout.
    # The gaps between frames stay ten times shorter than it: 0.10-0.12 s measured with two
    # busy loops on both cores, where the timeout needs 1 s.
    until = time.monotonic() + 1.5 * idle_timeout_s
    while time.monotonic() < until:
        await asyncio.sleep(0.1)
        await client.send_to(text_data='{"type": "Pong"}')

    assert await exchange(client, {"type": "Ping"}) == {"type": "Pong"}


async def test_group_memberships_lost_with_redis_are_restored_by_the_heartbeat(
    redis_world: World, fresh_redis_url: str, hub_timings: pytest.MonkeyPatch
) -> None:
    hub_timings.setattr(FanoutHub, "regroup_interval_s", 0.05)
    await redis_world.start(tree("web"))
    client = await redis_world.connect()
    await receive(client)
    group_key = redis_world.layer._group_key(protocol.namespace_group("web"))
    redis = aioredis.from_url(fresh_redis_url)
    try:
        await redis.delete(group_key)  # what a Redis restart does to group memberships
        deadline = time.monotonic() + 3
        while not await redis.zcard(group_key):
            assert time.monotonic() < deadline, "the group was not re-added"
            await asyncio.sleep(0.02)
    finally:
        await redis.aclose()

    await redis_world.publish(
        "web", tree("web", "a"), protocol.relationship_updated("web", tree("web", "a"))
    )

    assert (await receive(client))["ns_seq"] == 1


def test_unknown_timing_names_are_refused() -> None:
    with pytest.raises(TypeError):
        StateConsumer(ping_interval=3)


async def test_a_frame_too_large_to_send_is_logged_and_the_client_told(
    mem: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from dashboard import consumers

    # A FullState over the limit: chunking keeps real frames far below Daphne's 1 MiB.
    monkeypatch.setattr(consumers, "MAX_SEND_BYTES", 200)
    await mem.start(tree("web", "a", "b", "c"))

    client = await mem.connect()

    error = await receive(client)
    assert (error["type"], error["code"]) == ("Error", "unavailable")
    assert "could not be sent" in error["message"]
    assert "websocket frame too large to send bytes=" in caplog.text


# -- views: what a connection shows, said in its URL ---------------------------------------


def pod_counts(full_or_state: dict) -> dict[str, int]:
    return {s["name"]: s["counts"]["Pod"] for s in full_or_state["namespaces"]}


async def test_a_namespace_page_gets_its_namespace_only_from_the_first_message_on(
    world: World,
) -> None:
    await world.start(tree("web"), tree("api"))
    client = await world.connect(query="namespaces=api")

    full = await receive(client)
    await world.add_pod("web", "w")
    await world.add_pod("api", "a")

    assert full["hierarchy"] == [tree("api")] and "summary" not in full
    # Each api message follows a web one: a leak would come first, however slowly.
    only = await receive(client)
    assert (only["type"], only["namespace"]) == ("ResourceAdded", "api")


async def test_the_overview_gets_summaries_and_summary_updates_but_no_tree(world: World) -> None:
    await world.start(tree("web"), tree("api", "a"))
    client = await world.connect(query="namespaces=&summary=1")

    full = await receive(client)
    await world.add_pod("web", "w")

    assert full["hierarchy"] == []
    assert full["summary"]["sum_seq"] == 0
    assert pod_counts(full["summary"]) == {"api": 1, "web": 0}
    assert all("labels" not in s for s in full["summary"]["namespaces"])
    update = await receive(client)
    assert (update["type"], update["sum_seq"]) == ("SummaryUpdate", 1)
    assert [(s["name"], s["counts"]["Pod"]) for s in update["summaries"]] == [("web", 1)]
    assert update["removed"] == []


async def test_a_lost_summary_update_is_healed_with_the_whole_summary_state(
    world: World,
) -> None:
    await world.start(tree("web"), tree("api"))
    client = await world.connect(query="namespaces=&summary=1")
    await receive(client)

    await world.add_pod("web", "w", lost=True)
    await world.add_pod("api", "a")

    healed = await receive(client)
    assert (healed["type"], healed["sum_seq"]) == ("SummaryState", 2)
    assert pod_counts(healed) == {"api": 1, "web": 1}


async def test_a_url_asking_for_an_impossible_view_gets_an_error_and_close_4400(
    mem: World,
) -> None:
    await mem.start(tree("web"))
    client = await mem.connect(query="namespaces=Not_A_Namespace")

    error = await receive(client)
    assert (error["type"], error["code"]) == ("Error", "bad_field")
    assert await receive_close(client) == 4400


async def test_a_connection_shows_only_the_namespaces_the_reader_may_see(
    mem: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Who sees what (DESIGN §7): trees, summaries and summary updates alike."""
    import dashboard.consumers
    from dashboard.permissions import NamespaceAccess

    monkeypatch.setattr(
        dashboard.consumers,
        "visible_namespaces",
        lambda user: NamespaceAccess(names=frozenset({"web"})),
    )
    await mem.start(tree("web"), tree("api"))
    client = await mem.connect(query="namespaces=*&summary=1")

    full = await receive(client)
    await mem.add_pod("api", "a")
    await mem.add_pod("web", "w")

    assert full["hierarchy"] == [tree("web")]
    assert pod_counts(full["summary"]) == {"web": 0}
    hidden = await receive(client)
    assert (hidden["type"], hidden["summaries"], hidden["sum_seq"]) == ("SummaryUpdate", [], 1)
    seen = [await receive(client) for _ in range(2)]
    assert [m.get("namespace") for m in seen] == ["web", None]
    assert [s["name"] for s in seen[1]["summaries"]] == ["web"]
