"""How informers hand events to the rest of the watcher, and the adapter onto one asyncio loop.

Contract of `InformerListener`; every call comes from the informer's thread, in order:
- `on_events(kind, events, at)`: a batch of ("ADDED" | "MODIFIED" | "DELETED", object) in stream
  order, one per block read or the whole diff of a (re)list; `at` is the earliest time it can
  have arrived (`time.monotonic()`, the clock of `loop.time()`), which debounce deadlines count
  from. Objects are pruned to what the
  topology reads (`watchers.prune`) and carry no resourceVersion; a DELETED from a relist may be
  a tombstone carrying only kind, apiVersion, name, namespace, uid and resourceVersion. ADDED for
  a known key is an upsert and DELETED for an unknown key must be ignored (K8S_API §6,
  idempotence).
- `on_synced(kind)`: after every complete list's events, the first one meaning "initially synced".
The listener must not block: the thread is not reading its socket meanwhile.

`LoopListener` moves those calls onto the watcher's loop in batches. A real API server writes
one chunk per event, so handing each chunk over on its own would wake the loop (a self-pipe
write, a selector round, a callback) hundreds of times a second under churn, which cost more
CPU than parsing the events. Nothing downstream needs an event sooner than the debounce
(DESIGN §5), so batches wait in an inbox with their arrival times and reach the loop at most
`delay_s` later; whoever flushes calls `drain()` first, so a flush never misses an
event that already arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

from watchers.kube.relist import Event

log = logging.getLogger("watchers.listener")


class InformerListener(Protocol):
    """Receives an informer's events; see the module docstring for the contract."""

    def on_events(self, kind: str, events: list[Event], at: float) -> None:
        """A batch of events, in order, arrived no earlier than `at`."""

    def on_synced(self, kind: str) -> None:
        """A complete list has been delivered."""


class LoopListener:
    """Hands informer callbacks to `target` on one asyncio loop: in order, in batches."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, target: InformerListener, delay_s: float = 0.05
    ) -> None:
        self._loop = loop
        self._target = target
        self.delay_s = delay_s
        # deque.append/popleft are atomic under the GIL: informer threads append, the loop pops.
        self._inbox: deque[tuple[str, list[Event] | None, float]] = deque()
        # True while a drain is coming: informer threads then need not wake the loop. Races
        # between a thread and the loop cost at most one extra, empty drain.
        self._armed = False
        self._timer: asyncio.TimerHandle | None = None

    def on_events(self, kind: str, events: list[Event], at: float) -> None:
        """Queue a batch (informer thread); the loop takes it within `delay_s`."""
        self._inbox.append((kind, events, at))
        if not self._armed:
            self._armed = True
            self._call(self._arm)

    def on_synced(self, kind: str) -> None:
        """Queue the sync behind its list's events and hand both over now: readiness waits."""
        self._inbox.append((kind, None, 0.0))
        self._call(self.drain)

    def drain(self) -> None:
        """Deliver every queued call to the target, in order (on the loop)."""
        self._armed = False
        inbox = self._inbox
        delivered = bool(inbox)
        while inbox:
            kind, events, at = inbox.popleft()
            try:
                if events is None:
                    self._target.on_synced(kind)
                else:
                    self._target.on_events(kind, events, at)
            except Exception:
                # One bad batch must not strand the batches behind it.
                log.exception("listener failed on a batch kind=%s; continuing with the next", kind)
        if delivered:
            # Events are flowing: look again after the delay on the loop's own timer, instead of
            # a thread waking the loop (a self-pipe write) for the next batch.
            self._armed = True
            self._arm()

    def _arm(self) -> None:
        if self._timer is None:
            self._timer = self._loop.call_later(self.delay_s, self._timed_drain)

    def _timed_drain(self) -> None:
        self._timer = None
        self.drain()

    def _call(self, callback: Callable[..., object], *args: object) -> None:
        # A closed loop means the watcher is shutting down; nobody is left to tell.
        # (RuntimeError: it closed between the check and the call.)
        if not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(callback, *args)
