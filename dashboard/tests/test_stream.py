"""`ClientStream` driven directly: the hub's hand-offs and checks, with real backends.

The hub's own periodic check is slowed down here so that each test decides what the stream
is told and when; the frames a stream sends are collected as its browser would receive them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest

from constellation import protocol
from dashboard.arrivals import Batch, Check
from dashboard.fanout import FanoutHub, hub_for
from dashboard.stream import ClientStream, Pacing
from dashboard.tests.wsworld import World, eventually, tree
from dashboard.wsprotocol import View
from tests.redis_server import RedisProcess

pytestmark = pytest.mark.django_db(transaction=True)

NOTHING_LOST: frozenset[str] = frozenset()


class Browser:
    """The frames one stream sent, decoded."""

    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    async def send(self, text: str) -> None:
        self.frames.append(orjson.loads(text))

    def types(self) -> list[str]:
        return [frame["type"] for frame in self.frames]


Opener = Callable[..., Awaitable[tuple[ClientStream, Browser]]]


@pytest.fixture(autouse=True)
def manual_checks(hub_timings: pytest.MonkeyPatch) -> None:
    """The hub checks once, when it starts; the tests call `review` themselves."""
    hub_timings.setattr(FanoutHub, "check_interval_s", 3600.0)


@pytest.fixture
async def open_stream() -> AsyncIterator[Opener]:
    """Opens streams on the default layer's hub (FullState sent); closes them afterwards."""
    streams: list[ClientStream] = []

    async def opener(**pacing: Any) -> tuple[ClientStream, Browser]:
        browser = Browser()
        stream = ClientStream(hub_for("default"), browser.send, Pacing(**pacing))
        streams.append(stream)
        await stream.open(View())
        return stream, browser

    yield opener
    for stream in streams:
        await stream.close()


def batch(epoch: str, namespace: str, *ns_seqs: int) -> Batch:
    """What the hub makes of one watcher envelope."""
    items = [
        {
            "ns_seq": n,
            "seq": n,
            "text": protocol.encode(protocol.resource_added(namespace, "x", {"n": n})),
        }
        for n in ns_seqs
    ]
    return Batch.from_envelope(
        {"type": "state.messages", "epoch": epoch, "namespace": namespace, "messages": items}
    )


async def idle(stream: ClientStream) -> None:
    """Until no repair is running or due: a heal the stream started has been sent by then,
    however slowly (a few loop ticks would miss one that takes a little longer)."""
    await eventually(lambda: stream._worker is None or stream._worker.done(), "an idle stream")


async def reading(stream: ClientStream) -> None:
    """Until the stream's worker holds its lock: the heal's snapshot read is under way."""
    await eventually(lambda: not stream._lock.free, "the heal's read to start")


async def test_in_order_messages_are_forwarded_at_once_and_counted_for_the_hub(
    mem: World, open_stream: Opener
) -> None:
    epoch = await mem.start(tree("web"))
    stream, browser = await open_stream()

    sent = await stream.offer(batch(epoch, "web", 1, 2))

    assert sent == 2
    assert [(frame["type"], frame["resource"]) for frame in browser.frames[1:]] == [
        ("ResourceAdded", {"n": 1}),
        ("ResourceAdded", {"n": 2}),
    ]


async def test_a_check_waits_a_round_for_a_message_this_process_has_not_received(
    mem: World, open_stream: Opener
) -> None:
    epoch = await mem.start(tree("web"))
    stream, browser = await open_stream(retry_initial_s=0.02)
    await mem.add_pod("web", "a", lost=True)

    stream.review(Check(epoch, {"web": 1}, received={}, lost=NOTHING_LOST))
    await idle(stream)
    assert browser.types() == ["FullState"]

    stream.review(Check(epoch, {"web": 1}, received={}, lost=frozenset({"web"})))
    await eventually(lambda: len(browser.frames) == 2, "a heal")
    assert (browser.frames[1]["type"], browser.frames[1]["hierarchy"]) == (
        "RelationshipUpdated",
        [tree("web", "a")],
    )


async def test_a_message_received_here_that_the_client_lacks_is_healed_on_the_next_check(
    mem: World, open_stream: Opener
) -> None:
    epoch = await mem.start(tree("web"))
    stream, browser = await open_stream(retry_initial_s=0.02)
    await mem.add_pod("web", "a", lost=True)
    check = Check(epoch, {"web": 1}, received={"web": 1}, lost=NOTHING_LOST)

    stream.review(check)
    await idle(stream)
    assert browser.types() == ["FullState"]

    stream.review(check)
    await eventually(lambda: browser.types() == ["FullState", "RelationshipUpdated"], "a heal")


async def test_a_check_that_finds_another_epoch_sends_full_state(
    mem: World, open_stream: Opener
) -> None:
    await mem.start(tree("web"))
    stream, browser = await open_stream(retry_initial_s=0.02)
    mem.publisher.layer = None  # the state.epoch announcement is lost
    epoch = await mem.start(tree("web", "a"))

    stream.review(Check(epoch, {"web": 0}, received={}, lost=NOTHING_LOST))

    await eventually(lambda: len(browser.frames) == 2, "a FullState")
    assert (browser.frames[1]["type"], browser.frames[1]["epoch"]) == ("FullState", epoch)


async def test_messages_queued_behind_a_slow_read_are_forwarded_not_mistaken_for_lost(
    frozen_snapshot_world: World, redis_process: RedisProcess, open_stream: Opener
) -> None:
    world = frozen_snapshot_world
    epoch = await world.start(tree("web"), tree("api"))
    stream, browser = await open_stream(retry_initial_s=0.02)
    await world.add_pod("api", "a", lost=True)
    await world.add_pod("api", "a", "b", lost=True)
    redis_process.pause()
    try:
        await stream.offer(batch(epoch, "api", 2))  # a gap: the heal's read now waits
        await reading(stream)
        for ns_seq in (1, 2, 3):
            await stream.offer(batch(epoch, "web", ns_seq))
        check = Check(epoch, {"web": 3, "api": 2}, {"web": 3, "api": 2}, NOTHING_LOST)
        stream.review(check)
        stream.review(check)
    finally:
        redis_process.resume()

    await eventually(lambda: len(browser.frames) == 5, "the heal and the queued messages")
    assert [(frame["type"], frame["namespace"]) for frame in browser.frames[1:]] == [
        ("RelationshipUpdated", "api"),
        ("ResourceAdded", "web"),
        ("ResourceAdded", "web"),
        ("ResourceAdded", "web"),
    ]


async def test_a_backlog_past_its_limit_is_replaced_by_a_full_state(
    frozen_snapshot_world: World, redis_process: RedisProcess, open_stream: Opener
) -> None:
    world = frozen_snapshot_world
    epoch = await world.start(tree("web"))
    stream, browser = await open_stream(retry_initial_s=0.02, max_backlog=2)
    redis_process.pause()
    try:
        await stream.offer(batch(epoch, "web", 2))  # a gap: the heal's read now waits
        await reading(stream)
        for ns_seq in (3, 4, 5):
            await stream.offer(batch(epoch, "web", ns_seq))
    finally:
        redis_process.resume()

    await eventually(lambda: "FullState" in browser.types()[1:], "a FullState instead")
