"""The I/O-free half of an informer: request parameters, line parsing and resourceVersion state.

Shaped like lightkube's `WatchDriver`: the informer thread owns the sockets and hands every chunk
it reads to `feed`, which splits lines (keeping a split line for the next chunk), parses them,
tracks the resume resourceVersion, keeps the (namespace, name) → (uid, rv) index the relist
diff needs, and turns an ERROR event into a classified failure. Everything here is tested with
literal bytes.

Objects leave the driver pruned to what the topology reads (`watchers.prune.WireFormat` parses
and prunes in one pass) and without `metadata.resourceVersion`, which only the driver needs:
then an event that changed nothing shown yields an object equal to the stored one.

`feed` is the per-event hot path (DESIGN §3 budgets the whole watcher at 1.2× a bare client loop),
so it is one flat loop over local names.
"""

from __future__ import annotations

from typing import NamedTuple

import orjson

from watchers.kube.policy import Failure, ListMode, Phase, Rng, classify_status
from watchers.kube.relist import Entry, Event, Key, PagedList, relist_events, tombstone
from watchers.kube.resources import Resource
from watchers.prune import WireFormat

_UNRESUMABLE = ("", "0")  # "any version": a watch from there replays everything as ADDED
_UPSERTS = frozenset({"ADDED", "MODIFIED"})


class StreamError(NamedTuple):
    """Why a response failed, and the text an operator should read in the log."""

    failure: Failure
    message: str


def parse_status(body: bytes) -> dict:
    """The Status object in an error response body, or {} when there is none."""
    try:
        status = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {}
    return status if isinstance(status, dict) else {}


def status_error(code: int, status: dict, phase: Phase) -> StreamError:
    """Classify a failed response or ERROR event, with the server's reason and message."""
    reason = status.get("reason") or ""
    message = status.get("message") or ""
    text = " ".join(str(part) for part in (code, reason) if part)
    failure = classify_status(code, status, phase)
    return StreamError(failure, f"{text}: {message}" if message else text)


class WatchDriver:
    """Request parameters, event parsing and resume state for one resource's informer."""

    def __init__(
        self,
        resource: Resource,
        rng: Rng,
        *,
        page_size: int = 500,
        watch_timeout_s: tuple[int, int] = (300, 600),
    ) -> None:
        self.resource = resource
        self._rng = rng
        self._page_size = page_size
        self._watch_timeout_s = watch_timeout_s
        self.index: dict[Key, Entry] = {}
        self.last_rv: str | None = None  # where the next watch resumes; None before any list
        self.watch_events = 0  # events, bookmarks included, since the current watch began
        self.bookmarks_fed = 0  # bookmarks in the chunk last fed
        self._wire = WireFormat(resource.kind)
        self._selector = (
            [("labelSelector", resource.label_selector)] if resource.label_selector else []
        )
        self._tail = b""
        self._burst = False  # inside the synthetic ADDEDs of a watch started at "" or "0"

    @property
    def resumable(self) -> bool:
        """Whether a watch from `last_rv` would resume rather than replay."""
        return self.last_rv is not None and self.last_rv not in _UNRESUMABLE

    # -- LIST --------------------------------------------------------------------------------

    def list_params(
        self, mode: ListMode, continue_token: str | None = None
    ) -> list[tuple[str, str]]:
        """Query parameters for one page of a LIST in `mode`."""
        params = [] if mode is ListMode.UNPAGED else [("limit", str(self._page_size))]
        params += self._selector
        if continue_token:
            # The token pins the snapshot; the server rejects a resourceVersion next to it.
            params.append(("continue", continue_token))
        elif mode is ListMode.AT_LAST_RV and self.resumable:
            params.append(("resourceVersion", str(self.last_rv)))
            params.append(("resourceVersionMatch", "NotOlderThan"))
        return params

    def parse_page(self, body: bytes) -> object:
        """One LIST response body, its items pruned; raises ValueError when it is not JSON."""
        return self._wire.page(body)

    def apply_list(self, listing: PagedList) -> list[Event]:
        """Swap in a complete list; the events that bring a consumer from the old state to it.

        `listing` holds pages from `parse_page`.
        """
        if not listing.complete:
            raise ValueError("only a complete list may replace the cache")
        relist = relist_events(self.index, listing.items, self.resource)
        for obj in listing.items:
            meta = obj.get("metadata")
            if isinstance(meta, dict):
                meta.pop("resourceVersion", None)
        self.index = relist.index
        self.last_rv = listing.resource_version
        return relist.events

    def forget(self) -> list[Event]:
        """Synthetic DELETED for everything cached, and an empty cache (resource withdrawn)."""
        index = self.index
        events = [("DELETED", tombstone(self.resource, key, index[key])) for key in sorted(index)]
        self.index = {}
        self.last_rv = None
        return events

    # -- WATCH -------------------------------------------------------------------------------

    def watch_params(self) -> list[tuple[str, str]]:
        """Query parameters for a watch from `last_rv`; resets the per-stream state."""
        low, high = self._watch_timeout_s
        timeout = low + int(self._rng.random() * (high - low + 1))
        rv = self.last_rv or ""
        self._burst = rv in _UNRESUMABLE
        self._tail = b""
        self.watch_events = 0
        return [
            ("watch", "true"),
            ("resourceVersion", rv),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(min(timeout, high))),
            *self._selector,
        ]

    def feed(self, chunk: bytes) -> tuple[list[Event], StreamError | None]:
        """The complete events in `chunk` (plus what an earlier chunk left), and a stream error.

        BOOKMARKs only move the resume resourceVersion. An ERROR ends the batch: the server
        closes the stream after it. A malformed line also ends it, since the watcher cannot know
        what it described; the informer then relists.
        """
        if self._tail:
            chunk = self._tail + chunk
        lines = chunk.split(b"\n")
        self._tail = lines.pop()
        events: list[Event] = []
        append = events.append
        index = self.index
        parse = self._wire.event
        last_rv = self.last_rv
        burst = self._burst
        seen = 0
        error = None
        for line in lines:
            if not line:
                continue
            try:
                etype, obj = parse(line)
                if etype == "ERROR":
                    code = obj.get("code")
                    error = status_error(code if isinstance(code, int) else 0, obj, Phase.WATCH)
                    break
                meta = obj["metadata"]
                rv = meta.pop("resourceVersion", None)
                if etype in _UPSERTS:
                    index[(meta.get("namespace") or "", meta["name"])] = (meta.get("uid") or "", rv)
                    append((etype, obj))
                elif etype == "DELETED":
                    index.pop((meta.get("namespace") or "", meta["name"]), None)
                    append((etype, obj))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                error = StreamError(Failure.MALFORMED, f"bad watch line ({exc!r}): {line[:200]!r}")
                break
            seen += 1
            # The synthetic ADDEDs after a start at ""/"0" arrive in any RV order (K8S_API §3).
            if burst:
                if etype == "ADDED":
                    continue
                burst = False
            if rv:
                last_rv = rv
        self.last_rv = last_rv
        self._burst = burst
        self.watch_events += seen
        # Lines other than the events returned (and the ERROR) were bookmarks.
        self.bookmarks_fed = seen - len(events)
        return events, error

    def end_watch(self) -> int:
        """Close the stream's state; the byte count of an incomplete final line, discarded."""
        dropped = len(self._tail)
        self._tail = b""
        return dropped

