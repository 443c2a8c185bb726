"""WATCH streams: chunked JSON lines, bookmarks, timeouts, 410, and injected faults.

The store calls each stream's listener under its lock, in resourceVersion
order; the listener only hands the event to the stream's queue through
`call_soon_threadsafe` (also from the loop's own thread), so bookmarks queued
the same way can never overtake an event they claim to cover.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from simcluster import errors, tables
from simcluster.faults import Faults
from simcluster.listing import Selection, parse_int
from simcluster.resources import ResourceType
from simcluster.store import Obj, Store, WatchEvent

INITIAL_EVENTS_END = "k8s.io/initial-events-end"
# Event lines are written together up to this many bytes while more are queued.
FLUSH_BYTES = 256 * 1024


def truthy(value: str | None) -> bool:
    """The apiserver's reading of `watch=...`: anything but absent, 0 and false."""
    return value is not None and value.lower() not in ("0", "false")


@dataclass(frozen=True)
class Bookmark:
    rv: int
    initial_events_end: bool = False


class Wake:
    """Queued to make a stream re-check faults (close, stall, slow)."""


WAKE = Wake()


def encode_event(event_type: str, obj_json: bytes) -> bytes:
    return b'{"type":"' + event_type.encode() + b'","object":' + obj_json + b"}\n"


def event_json(event: WatchEvent) -> bytes:
    if event.encoded is None:
        event.encoded = orjson.dumps(event.obj)
    return event.encoded


def project(event: WatchEvent, selection: Selection) -> str | None:
    """The event type this watcher sees: selector moves turn into ADDED/DELETED."""
    if not selection.used:
        return event.type
    now_matches = selection.matches(event.obj)
    if event.type != "MODIFIED" or event.old is None:
        return event.type if now_matches else None
    was_matching = selection.matches(event.old)
    if now_matches and was_matching:
        return "MODIFIED"
    if now_matches:
        return "ADDED"
    if was_matching:
        return "DELETED"
    return None


class WatchStream:
    """One watch request from open to close."""

    def __init__(
        self,
        store: Store,
        faults: Faults,
        rtype: ResourceType,
        namespace: str | None,
        selection: Selection,
        query: Mapping[str, str],
        *,
        as_table: bool,
        default_timeout_s: float | None,
        bookmark_interval_s: float,
        register: Callable[[WatchStream], None],
        unregister: Callable[[WatchStream], None],
    ) -> None:
        self.store = store
        self.faults = faults
        self.rtype = rtype
        self.namespace = namespace
        self.selection = selection
        self.query = query
        self.as_table = as_table
        self.include_object = query.get("includeObject", "PartialObjectMetadata")
        self.send_initial = truthy(query.get("sendInitialEvents"))
        self.bookmarks = truthy(query.get("allowWatchBookmarks"))
        timeout = parse_int(query, "timeoutSeconds")
        if timeout is None:
            # Like the apiserver's min-request-timeout (1800 s) times [1, 2).
            timeout = default_timeout_s or 1800 * (1 + random.random())
        self.timeout_s = float(timeout)
        self.bookmark_interval_s = bookmark_interval_s
        self._register = register
        self._unregister = unregister
        self.queue: asyncio.Queue[WatchEvent | Bookmark | Wake] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self._check_options()

    def _check_options(self) -> None:
        match = self.query.get("resourceVersionMatch")
        if self.send_initial and match != "NotOlderThan":
            raise errors.invalid(
                "ListOptions.meta.k8s.io",
                "",
                [
                    {
                        "reason": "FieldValueForbidden",
                        "field": "resourceVersionMatch",
                        "message": "sendInitialEvents requires setting resourceVersionMatch to "
                        "NotOlderThan",
                    }
                ],
            )
        if match and not self.send_initial:
            raise errors.invalid(
                "ListOptions.meta.k8s.io",
                "",
                [
                    {
                        "reason": "FieldValueForbidden",
                        "field": "resourceVersionMatch",
                        "message": "resourceVersionMatch is forbidden for watch unless "
                        "sendInitialEvents is provided",
                    }
                ],
            )

    def wake(self) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, WAKE)

    def _concerns(self, event: WatchEvent) -> bool:
        return event.rtype == self.rtype and (
            self.namespace is None or event.namespace == self.namespace
        )

    def _listener(self, event: WatchEvent) -> None:
        if self._concerns(event):
            self.loop.call_soon_threadsafe(self.queue.put_nowait, event)

    def _subscribe(self) -> tuple[list[Obj], list[WatchEvent], int, bool]:
        """(initial objects, backlog, start rv, expired) — taken atomically."""
        requested = self.query.get("resourceVersion", "")
        with self.store.lock:
            if requested in ("", "0") or self.send_initial:
                rv, current = self.store.list(self.rtype, self.namespace)
                since = rv
                if requested not in ("", "0"):
                    since = self._parse_rv(requested)
                    current = []  # NotOlderThan a known RV: replay history instead
                try:
                    return current, self.store.subscribe(since, self._listener), rv, False
                except errors.ApiError:
                    return [], [], rv, True
            since = self._parse_rv(requested)
            try:
                return [], self.store.subscribe(since, self._listener), since, False
            except errors.ApiError:
                return [], [], since, True

    def _parse_rv(self, text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise errors.bad_request(f'invalid resource version: "{text}"') from None

    async def serve(self, request: web.Request) -> web.StreamResponse:
        # Taken before the stream is registered, so a close_watches racing the
        # start of this stream still ends it.
        self.generation = self.faults.close_generation
        initial, backlog, start_rv, expired = self._subscribe()
        response = web.StreamResponse(
            status=200,
            headers={"Content-Type": "application/json", "Cache-Control": "no-cache, private"},
        )
        response.enable_chunked_encoding()
        self._register(self)
        try:
            await response.prepare(request)
            if expired:
                status = errors.expired(
                    f"too old resource version: {self.query.get('resourceVersion')} "
                    f"({self.store.oldest_resource_version})"
                ).status()
                await response.write(encode_event("ERROR", orjson.dumps(status)))
                return response
            await self._stream(response, initial, backlog, start_rv)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.remove_listener(self._listener)
            self._unregister(self)
        return response

    async def _stream(
        self,
        response: web.StreamResponse,
        initial: list[Obj],
        backlog: list[WatchEvent],
        start_rv: int,
    ) -> None:
        deadline = time.monotonic() + self.timeout_s
        out = _Output(response)
        for obj in initial:
            if self.selection.matches(obj):
                await out.add(self._line("ADDED", obj, None))
        if self.send_initial:
            await out.add(self._bookmark_line(Bookmark(start_rv, initial_events_end=True)))
        for event in backlog:
            if self._concerns(event):
                await out.add(self._event_line(event))
        await self._pump(out, deadline)
        await out.flush()

    async def _pump(self, out: _Output, deadline: float) -> None:
        """Deliver queued events and bookmarks until the deadline or a close."""
        generation = self.generation
        next_bookmark = time.monotonic() + self.bookmark_interval_s
        while True:
            if self.faults.close_generation != generation:
                return
            now = time.monotonic()
            if now >= deadline:
                return
            if self.bookmarks and now >= next_bookmark and not self.faults.stalled:
                with self.store.lock:
                    rv = self.store.resource_version
                    self.loop.call_soon_threadsafe(self.queue.put_nowait, Bookmark(rv))
                next_bookmark = now + self.bookmark_interval_s
            wait = deadline - now
            if self.bookmarks:
                wait = min(wait, max(0.0, next_bookmark - now))
            if self.faults.stalled:
                await out.flush()
                wait = deadline - now  # only a fault change or the deadline wakes a stall
                try:
                    item = await asyncio.wait_for(self._next_wake(), timeout=wait)
                except TimeoutError:
                    return
                continue
            if self.queue.empty():
                # Caught up: what is buffered goes out before waiting for more.
                await out.flush()
                try:
                    item = await asyncio.wait_for(self.queue.get(), timeout=wait)
                except TimeoutError:
                    continue
            else:
                item = self.queue.get_nowait()
            if isinstance(item, Wake):
                continue
            if self.faults.watch_delay_s:
                await out.flush()
                await asyncio.sleep(self.faults.watch_delay_s)
            if isinstance(item, Bookmark):
                await out.add(self._bookmark_line(item))
            else:
                await out.add(self._event_line(item))

    async def _next_wake(self) -> None:
        """While stalled, hold events back and wait for a fault change."""
        held: list[Any] = []
        try:
            while True:
                item = await self.queue.get()
                if isinstance(item, Wake):
                    return
                held.append(item)
        finally:
            # Put held events back in front, in order, for after the stall.
            rest = []
            while not self.queue.empty():
                rest.append(self.queue.get_nowait())
            for item in held + rest:
                self.queue.put_nowait(item)

    def _event_line(self, event: WatchEvent) -> bytes | None:
        event_type = project(event, self.selection)
        if event_type is None:
            return None
        return self._line(event_type, event.obj, event)

    def _line(self, event_type: str, obj: Obj, event: WatchEvent | None) -> bytes:
        if self.as_table:
            payload = orjson.dumps(
                tables.watch_table(self.rtype, obj, time.time(), self.include_object)
            )
        elif event is not None:
            payload = event_json(event)
        else:
            payload = orjson.dumps(obj)
        return encode_event(event_type, payload)

    def _bookmark_line(self, bookmark: Bookmark) -> bytes | None:
        if not (self.bookmarks or bookmark.initial_events_end):
            return None
        metadata: dict[str, Any] = {"resourceVersion": str(bookmark.rv), "creationTimestamp": None}
        if bookmark.initial_events_end:
            metadata["annotations"] = {INITIAL_EVENTS_END: "true"}
        obj = {"kind": self.rtype.kind, "apiVersion": self.rtype.api_version, "metadata": metadata}
        return encode_event("BOOKMARK", orjson.dumps(obj))


class _Output:
    """Event lines on their way out: written together while more are queued behind them.

    One write per event cost a syscall and a chunk each; a watcher of 100,000 pods or a
    burst of thousands of events a second now gets them in writes of up to FLUSH_BYTES.
    The bytes and their order are what one write per event sent.
    """

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response
        self.lines: list[bytes] = []
        self.size = 0

    async def add(self, line: bytes | None) -> None:
        if line is None:
            return
        self.lines.append(line)
        self.size += len(line)
        if self.size >= FLUSH_BYTES:
            await self.flush()

    async def flush(self) -> None:
        if self.lines:
            data = b"".join(self.lines)
            self.lines, self.size = [], 0
            await self.response.write(data)
