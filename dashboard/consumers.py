"""`/ws/state/`: one browser's live view of the cluster over a WebSocket (DESIGN §6, §7).

This module is the connection: who may open it (login, origin checked by the ASGI stack), the
frames a browser may send (Ping, Pong, Resync, Subscribe; anything else earns an Error or a
close), and the heartbeat (server Pings, idle close). What the browser is sent, and how it is
kept in step with the cluster, is its `ClientStream` (`dashboard.stream`), fed by the process's
fan-out hub (`dashboard.fanout`) rather than a channel-layer channel of its own. The ORM is
used only by the auth middleware before `connect`, so dispatch skips channels' per-message DB
cleanup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.exceptions import DenyConnection, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from constellation import protocol
from dashboard import metrics, wsprotocol
from dashboard.fanout import hub_for
from dashboard.permissions import user_may_read, visible_namespaces
from dashboard.stream import ClientStream, Pacing

log = logging.getLogger("constellation.web.ws")

PING_TEXT = protocol.encode({"type": protocol.PING})
PONG_TEXT = protocol.encode({"type": protocol.PONG})

# An application may close with 1000 or 3000-4999 only: autobahn refuses any other code (1001,
# 1008, 1009 ...) with an exception, the close frame is never sent and, before this, the
# connection's state leaked (issue 15 A). The 4xxx codes mirror the standard ones they mean.
CLOSE_IDLE = 4001  # like 1001 "going away": the client stopped answering
CLOSE_FLOOD = 4008  # like 1008 "policy violation": too many frames
CLOSE_TOO_BIG = 4009  # like 1009 "message too big"
CLOSE_BAD_REQUEST = 4400  # a URL asking for a view that cannot exist
# Daphne's default limit on a WebSocket message; past it the server closes the socket (1011).
MAX_SEND_BYTES = 1024 * 1024


class StateConsumer(AsyncWebsocketConsumer):
    """Streams the cluster's state to one browser: FullState, then deltas, healed on gaps."""

    # Timings are class attributes so tests (and deployments behind picky proxies) can change
    # them with a subclass or `as_asgi(...)` keyword arguments.
    ping_interval_s = 25.0
    """Below the 30-60 s idle timeouts of common proxies, so quiet connections stay open."""
    idle_timeout_s = 60.0
    """A client that sent nothing (not even Pong) this long is gone; free its resources."""
    retry_initial_s = Pacing.retry_initial_s
    retry_max_s = Pacing.retry_max_s
    """Backoff while a heal or resync waits for Redis or for the snapshot to catch up."""
    max_backlog = Pacing.max_backlog
    """Messages queued behind a snapshot read; past this the client gets a FullState instead."""
    max_frame_bytes = wsprotocol.MAX_FRAME_BYTES
    flood_limit = 50
    flood_window_s = 10.0

    def __init__(self, **timings: Any) -> None:
        """`timings` override the class attributes above, e.g. `as_asgi(ping_interval_s=5)`."""
        super().__init__()
        for name, value in timings.items():
            if not hasattr(StateConsumer, name) or callable(getattr(StateConsumer, name)):
                raise TypeError(f"StateConsumer has no setting {name!r}")
            setattr(self, name, value)
        self._stream: ClientStream | None = None
        self._last_frame = time.monotonic()
        self._gate = wsprotocol.FloodGate(self.flood_limit, self.flood_window_s)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._accepted = False
        self._closing = False
        self._gone = False  # a send failed: the peer is gone, the disconnect is on its way

    # -- plumbing ----------------------------------------------------------------------

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """As AsyncConsumer.__call__, but without a channel-layer channel of its own: the
        process's hub receives from the layer for every consumer."""
        self.scope = scope
        self.base_send = send
        try:
            with contextlib.suppress(StopConsumer):
                while True:
                    await self.dispatch(await receive())
        finally:
            # However the connection ends (a disconnect, an error, Daphne cancelling an
            # instance that outlived its socket), what it holds is freed (issue 15 A).
            await self._release()

    async def dispatch(self, message: dict) -> None:
        """Route to the handler without channels' per-message DB cleanup: no ORM here."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def _send_text(self, text: str) -> None:
        """Send one frame; a failure is logged with its size and never ends the caller.

        The per-frame path: straight to the server, past AsyncWebsocketConsumer.send's two
        extra coroutine layers (10,000 frames/s at 500 clients).
        """
        if self._gone:
            return
        if wsprotocol.frame_too_large(text, MAX_SEND_BYTES):
            # Chunking (dashboard.chunks) keeps every frame far below this: a bug, told.
            metrics.SEND_FAILURES.labels("too_large").inc()
            log.error("websocket frame too large to send bytes=%d; sending an Error", len(text))
            message = f"a {len(text)}-byte message could not be sent; resync to recover"
            text = protocol.encode(protocol.error(wsprotocol.UNAVAILABLE, message))
        try:
            await self.base_send({"type": "websocket.send", "text": text})
        except Exception as exc:  # noqa: BLE001 - the peer went away between frames
            self._gone = True
            metrics.SEND_FAILURES.labels("closed").inc()
            log.info(
                "websocket send failed bytes=%d error=%r; dropping the connection's sends",
                len(text),
                exc,
            )

    # -- WebSocket lifecycle -----------------------------------------------------------

    async def connect(self) -> None:
        """Refuse unless the user may read; else accept and send the first FullState."""
        if not user_may_read(self.scope.get("user")):
            metrics.REFUSED.inc()
            raise DenyConnection
        await self.accept()
        self._accepted = True
        metrics.ACCEPTED.inc()
        metrics.CLIENTS.inc()
        try:
            query = parse_qs(self.scope.get("query_string", b"").decode(), keep_blank_values=True)
            view = wsprotocol.parse_view(query)
        except (wsprotocol.ClientError, UnicodeDecodeError) as exc:
            message = exc.message if isinstance(exc, wsprotocol.ClientError) else str(exc)
            await self._send_error(wsprotocol.BAD_FIELD, f"bad view in the URL: {message}")
            await self._close("bad_view", CLOSE_BAD_REQUEST)
            return
        pacing = Pacing(self.retry_initial_s, self.retry_max_s, self.max_backlog)
        access = visible_namespaces(self.scope.get("user"))
        self._stream = ClientStream(
            hub_for(self.channel_layer_alias), self._send_text, pacing, access
        )
        await self._stream.open(view)
        self._task = asyncio.create_task(self._heartbeat(), name="ws-state-heartbeat")

    async def disconnect(self, code: int) -> None:
        """Stop the heartbeat and the stream, which hands its groups back to the hub."""
        await self._release()

    async def _release(self) -> None:
        """Free what the connection holds. Runs when the server reports the disconnect and
        already when this side closes, so a close the server never confirms leaks nothing;
        the second call finds nothing left."""
        self._closing = True
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._accepted:
            metrics.CLIENTS.dec()
            self._accepted = False
        stream, self._stream = self._stream, None
        if stream is not None:
            await stream.close()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """One client frame: Ping, Pong, Resync or Subscribe; anything else earns an Error."""
        if self._closing or self._stream is None:
            return
        now = time.monotonic()
        self._last_frame = now
        if not self._gate.allow(now):
            await self._send_error(
                wsprotocol.RATE_LIMITED,
                f"more than {self.flood_limit} messages in {self.flood_window_s:g} s",
            )
            await self._close("flood", CLOSE_FLOOD)
            return
        if text_data is None:
            await self._send_error(wsprotocol.BINARY_FRAME, "only JSON text frames are accepted")
            return
        try:
            message = wsprotocol.parse_client_frame(text_data, self.max_frame_bytes)
        except wsprotocol.ClientError as exc:
            await self._send_error(exc.code, exc.message)
            if exc.code == wsprotocol.TOO_LARGE:
                await self._close("too_large", CLOSE_TOO_BIG)
            return
        if message.type == wsprotocol.PING:
            await self._send_text(PONG_TEXT)
            metrics.PONGS.inc()
        elif message.type == wsprotocol.RESYNC:
            await self._stream.resync("client")
        elif message.type == wsprotocol.SUBSCRIBE:
            assert message.view is not None
            await self._stream.subscribe(message.view)
        # Pong needs nothing beyond the liveness recorded above.

    # -- heartbeat ---------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        """Ping on the interval; close a connection silent past the idle timeout."""
        next_ping = time.monotonic() + self.ping_interval_s
        while not self._closing:
            self._wake.clear()
            now = time.monotonic()
            if now - self._last_frame >= self.idle_timeout_s:
                await self._close("idle", CLOSE_IDLE)
                return
            if now >= next_ping:
                next_ping = now + self.ping_interval_s
                try:
                    await self._send_text(PING_TEXT)
                    metrics.PINGS.inc()
                except Exception:
                    # A failed ping must not end the heartbeat of a live connection.
                    log.exception("websocket ping failed")
            deadline = min(next_ping, self._last_frame + self.idle_timeout_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, deadline - now))

    async def _send_error(self, code: str, message: str) -> None:
        await self._send_text(protocol.encode(protocol.error(code, message)))
        metrics.ERRORS.inc()
        metrics.ERRORS_SENT.labels(code).inc()

    async def _close(self, reason: str, code: int) -> None:
        self._wake.set()
        metrics.CLOSED.labels(reason).inc()
        log.info("closing websocket reason=%s code=%d", reason, code)
        await self._release()
        await self.close(code)
