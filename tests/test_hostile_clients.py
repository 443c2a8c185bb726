"""Clients that misbehave, against the real Daphne: no leak, no crash, no harm to others (issue 15).

One stack serves the module; a well-behaved observer (a namespace page's view) stays connected
throughout and must keep receiving every change while others send oversized frames, floods,
deeply nested JSON, binary frames, never read, or open and close thousands of connections.
After each, the web process's `constellation_web_ws_clients` gauge must come back to the
connections really open, and its memory must stay within a bound.

Closes from the consumer use 4000-range codes: autobahn refuses 1001/1008/1009 from an
application, and the connection's state leaked when one was tried (issue 15 A). The web runs as
deployed (`manage.py web`), so a frame over Daphne's own limit gets a close frame too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import orjson
import pytest

from constellation import protocol
from simcluster.testing import wait_for
from tests.protocol_client import ProtocolClient
from tests.stack import LiveStack

CLIENTS = "constellation_web_ws_clients"
DEADLINE_S = 30.0
# What a few thousand connections may leave behind in a Python process (allocator arenas,
# caches); the leak this guards against cost ~30 KB per connection, 60 MB per 2,000.
RSS_GROWTH_MB = 40.0
NAMESPACE = "storefront"


@pytest.fixture(scope="module")
def stack() -> Iterator[LiveStack]:
    with LiveStack(scenario="demo") as live:
        yield live


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
async def observer(stack: LiveStack, session: aiohttp.ClientSession) -> ProtocolClient:
    """A namespace page's connection that behaves, open for the whole test."""
    ws = await session.ws_connect(
        f"{stack.ws_url}?namespaces={NAMESPACE}&summary=1", origin=stack.url, heartbeat=None
    )
    client = ProtocolClient(ws)
    await client.until(lambda c: c.epoch is not None, DEADLINE_S, "the observer's FullState")
    return client


async def open_socket(stack: LiveStack, session: aiohttp.ClientSession) -> Any:
    """A connection that shows nothing (no tree, no summaries): the cheapest to open."""
    return await session.ws_connect(
        f"{stack.ws_url}?namespaces=", origin=stack.url, heartbeat=None, max_msg_size=0
    )


async def error_then_close(ws: Any) -> tuple[str | None, int | None]:
    """The code of the first Error frame, and the close code (None: no close frame)."""
    error = None
    while True:
        frame = await ws.receive(timeout=DEADLINE_S)
        if frame.type == aiohttp.WSMsgType.TEXT:
            message = orjson.loads(frame.data)
            if message["type"] == protocol.ERROR and error is None:
                error = message["code"]
        elif frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            return error, ws.close_code
        else:
            raise AssertionError(f"unexpected frame {frame!r}")


async def next_error(ws: Any) -> str:
    """The code of the next Error frame (FullState and Pings are passed over)."""
    while True:
        frame = await ws.receive(timeout=DEADLINE_S)
        assert frame.type == aiohttp.WSMsgType.TEXT, f"connection ended: {frame!r}"
        message = orjson.loads(frame.data)
        if message["type"] == protocol.ERROR:
            return message["code"]


async def still_answers(ws: Any) -> None:
    await ws.send_str(protocol.encode({"type": "Ping"}))
    while True:
        frame = await ws.receive(timeout=DEADLINE_S)
        assert frame.type == aiohttp.WSMsgType.TEXT, f"connection ended: {frame!r}"
        if orjson.loads(frame.data)["type"] == protocol.PONG:
            return


def gauge_settles(stack: LiveStack, open_now: int) -> None:
    wait_for(
        lambda: stack.web_metric(CLIENTS) == open_now,
        timeout=DEADLINE_S,
        message=f"{CLIENTS} back to the {open_now} connection(s) open",
    )


async def observer_sees_a_change(stack: LiveStack, observer: ProtocolClient, name: str) -> None:
    body = {
        "metadata": {"name": name, "labels": {"app": "hostile-probe"}},
        "spec": {"containers": [{"name": "main", "image": "registry.example/probe:1"}]},
    }
    stack.sim.create("pods", body, namespace=NAMESPACE)
    node_id = f"Pod/{NAMESPACE}/{name}"
    await observer.until(
        lambda c: node_id in orjson.dumps(c.trees.get(NAMESPACE, {})).decode(),
        DEADLINE_S,
        f"{node_id} at the observer",
    )
    stack.sim.delete("pods", NAMESPACE, name)


@pytest.mark.parametrize(
    ("frame", "error", "code"),
    [
        pytest.param("x" * 70_000, "too_large", 4009, id="70-KB-frame"),
        # Past Daphne's own 1 MiB limit the server closes before the consumer sees it: no Error
        # frame, but a close frame (dashboard/webserver.py), not a dropped connection (1006).
        pytest.param("x" * 1_100_000, None, 1009, id="1-MB-frame"),
    ],
)
async def test_oversized_frames_on_fresh_connections_are_closed_and_leave_nothing_behind(
    stack: LiveStack,
    session: aiohttp.ClientSession,
    observer: ProtocolClient,
    frame: str,
    error: str | None,
    code: int,
) -> None:
    rss_before = stack.web_rss_mb()

    for _ in range(100):
        ws = await open_socket(stack, session)
        await ws.send_str(frame)
        assert await error_then_close(ws) == (error, code)

    gauge_settles(stack, 1)
    assert stack.web_rss_mb() - rss_before < RSS_GROWTH_MB
    await observer_sees_a_change(stack, observer, "after-oversized")


async def test_a_flood_is_told_and_closed_and_others_keep_their_stream(
    stack: LiveStack, session: aiohttp.ClientSession, observer: ProtocolClient
) -> None:
    ws = await open_socket(stack, session)
    for _ in range(60):
        await ws.send_str(protocol.encode({"type": "Ping"}))

    assert await error_then_close(ws) == ("rate_limited", 4008)
    gauge_settles(stack, 1)
    await observer_sees_a_change(stack, observer, "after-flood")


@pytest.mark.parametrize(
    ("send", "error"),
    [
        pytest.param(lambda ws: ws.send_str("[" * 30_000 + "]" * 30_000), "bad_json", id="nesting"),
        pytest.param(lambda ws: ws.send_bytes(b"\x00\x01binary"), "binary_frame", id="binary"),
        pytest.param(lambda ws: ws.send_str('{"type": "Sub'), "bad_json", id="truncated"),
        pytest.param(lambda ws: ws.send_str('{"type": "Evil"}'), "unknown_type", id="unknown"),
    ],
)
async def test_malformed_frames_get_an_error_and_the_connection_goes_on(
    stack: LiveStack, session: aiohttp.ClientSession, observer: ProtocolClient, send: Any,
    error: str,
) -> None:
    ws = await open_socket(stack, session)

    await send(ws)

    assert await next_error(ws) == error
    await still_answers(ws)
    await ws.close()
    gauge_settles(stack, 1)
    await observer_sees_a_change(stack, observer, f"after-{error.replace('_', '-')}")


async def test_clients_that_never_read_do_not_hold_up_others(
    stack: LiveStack, session: aiohttp.ClientSession, observer: ProtocolClient
) -> None:
    # Whole-tree views: every change is sent to them, and they read nothing at all.
    sleepers = [
        await session.ws_connect(
            f"{stack.ws_url}?namespaces=*&summary=1", origin=stack.url, heartbeat=None
        )
        for _ in range(20)
    ]
    rss_before = stack.web_rss_mb()

    for i in range(10):
        await observer_sees_a_change(stack, observer, f"past-sleepers-{i}")

    assert stack.web_rss_mb() - rss_before < RSS_GROWTH_MB
    for ws in sleepers:
        await ws.close()
    gauge_settles(stack, 1)


async def test_thousands_of_connect_close_cycles_leave_the_gauge_and_memory_where_they_were(
    stack: LiveStack, session: aiohttp.ClientSession, observer: ProtocolClient
) -> None:
    rss_before = stack.web_rss_mb()
    gate = asyncio.Semaphore(20)

    async def cycle() -> None:
        async with gate:
            ws = await open_socket(stack, session)
            await ws.receive(timeout=DEADLINE_S)  # the FullState: the stream was set up
            await ws.close()

    await asyncio.gather(*(cycle() for _ in range(2000)))

    gauge_settles(stack, 1)
    assert stack.web_rss_mb() - rss_before < RSS_GROWTH_MB
    await observer_sees_a_change(stack, observer, "after-cycles")
