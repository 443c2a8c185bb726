"""A reference client of `/ws/state/`, applying the protocol the way the browser's code does.

It joins `Chunk` frames, replaces its picture on FullState (trees, and namespace summaries when
its view has them), applies namespace messages with the reference reducer
`watchers.diff.apply_messages`, follows the summary stream (SummaryUpdate, SummaryState),
answers Pings, and on a gap in `ns_seq` or `sum_seq` asks for a Resync, counting it: a healthy
server heals gaps itself, so tests expect `gaps == 0`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from constellation import protocol
from watchers.diff import apply_messages


class ProtocolClient:
    """One WebSocket connection and the picture it holds."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.trees: dict[str, dict] = {}
        self.summaries: dict[str, dict] = {}
        self.epoch: str | None = None
        self.ns_seq: dict[str, int] = {}
        self.sum_seq: int | None = None
        self.received: list[str] = []
        self.errors: list[dict] = []
        self.largest_frame = 0
        self.chunked = 0
        self.gaps = 0
        self.closed_with: int | None = None
        self._parts: dict[str, list[str | None]] = {}

    # -- applying messages ---------------------------------------------------------------

    def apply(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        self.received.append(kind)
        if kind == protocol.FULL_STATE:
            self.trees = {tree["name"]: tree for tree in message["hierarchy"]}
            self.epoch = message["epoch"]
            self.ns_seq = {}
            summary = message.get("summary")
            if summary is not None:
                self._replace_summaries(summary)
        elif kind == protocol.SUMMARY_STATE:
            self._replace_summaries(message)
        elif kind == protocol.SUMMARY_UPDATE:
            self._summary_update(message)
        elif kind == protocol.ERROR:
            self.errors.append(message)
        elif "namespace" in message and kind in protocol.NAMESPACE_MESSAGE_TYPES:
            self._namespace_message(message)

    def _replace_summaries(self, state: dict[str, Any]) -> None:
        self.summaries = {s["name"]: s for s in state["namespaces"]}
        self.sum_seq = state["sum_seq"]

    def _summary_update(self, message: dict[str, Any]) -> None:
        if self.sum_seq is not None and message["sum_seq"] != self.sum_seq + 1:
            if message["sum_seq"] > self.sum_seq:
                self.gaps += 1
            return
        for summary in message["summaries"]:
            self.summaries[summary["name"]] = summary
        for name in message["removed"]:
            self.summaries.pop(name, None)
        self.sum_seq = message["sum_seq"]

    def _namespace_message(self, message: dict[str, Any]) -> None:
        namespace = message["namespace"]
        known, ns_seq = self.ns_seq.get(namespace), message.get("ns_seq")
        whole = message["type"] in (protocol.RELATIONSHIP_UPDATED, protocol.NAMESPACE_DELETED)
        if known is not None and ns_seq is not None and not whole:
            if ns_seq <= known:
                return
            if ns_seq > known + 1:
                self.gaps += 1
        if ns_seq is not None:
            self.ns_seq[namespace] = ns_seq
        tree = apply_messages(self.trees.get(namespace), [message])
        if tree is None:
            self.trees.pop(namespace, None)
        else:
            self.trees[namespace] = tree

    def _join(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        parts = self._parts.setdefault(chunk["id"], [None] * chunk["count"])
        parts[chunk["index"]] = chunk["data"]
        if any(part is None for part in parts):
            return None
        del self._parts[chunk["id"]]
        self.chunked += 1
        return orjson.loads("".join(parts))  # type: ignore[arg-type]

    # -- the connection ------------------------------------------------------------------

    async def read(self, timeout: float) -> bool:
        """Apply the next frame if one arrives within `timeout`; False if none did."""
        try:
            frame = await self.ws.receive(timeout=timeout)
        except TimeoutError:
            return False
        assert frame.type == aiohttp.WSMsgType.TEXT, f"connection ended: {frame!r}"
        await self._handle(frame)
        return True

    async def read_or_end(self) -> bool:
        """Wait for the next frame and apply it; False once the connection has ended."""
        frame = await self.ws.receive()
        if frame.type != aiohttp.WSMsgType.TEXT:
            self.closed_with = self.ws.close_code
            return False
        await self._handle(frame)
        return True

    async def _handle(self, frame: aiohttp.WSMessage) -> None:
        self.largest_frame = max(self.largest_frame, len(frame.data.encode()))
        message = orjson.loads(frame.data)
        if message["type"] == protocol.CHUNK:
            message = self._join(message)
            if message is None:
                return
        if message["type"] == protocol.PING:
            await self.ws.send_str(protocol.encode({"type": protocol.PONG}))
        self.apply(message)

    async def until(
        self, condition: Callable[[ProtocolClient], bool], timeout: float, what: str
    ) -> float:
        """Seconds until `condition(self)` held, reading frames meanwhile; fails at the deadline."""
        started = time.monotonic()
        while not condition(self):
            if time.monotonic() - started > timeout:
                raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
            await self.read(0.1)
        return time.monotonic() - started
