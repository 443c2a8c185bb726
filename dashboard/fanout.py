"""One channel-layer reader per web process, handing each message to the consumers that want it.

With a layer channel per WebSocket consumer, every frame cost each consumer a layer receive
(a msgpack decode; on the core layer also a blocking pop and an envelope listing every
member), a task in channels' dispatch loop, and a snapshot read every second: at 500 browsers
and 20 updates/s one Daphne process spent its CPU on that plumbing and fell seconds behind
(BENCHMARKS.md, fan-out). The hub makes those costs per process instead of per browser:

- one layer channel; the hub is in a namespace's group while any local consumer wants it
  (joined when the first asks, left when the last goes), in the cluster group while it has
  consumers, re-adds its groups periodically (core-layer memberships expire) and after Redis
  was unreachable (a restart loses them);
- each envelope is received and decoded once and offered, in order, to the consumers watching
  its namespace (every "*" consumer, and those subscribed to it; the summary stream's only to
  those subscribed to summaries): nothing else is sent to a consumer that narrowed its view
  (DESIGN §6, Groups);
- one snapshot-counter poll per second feeds every consumer's lost-last-message check, with
  what this process has received (`dashboard.arrivals`), so a message still queued on its way
  here is not mistaken for a lost one.

Consumers never make the hub wait on Redis: `offer` forwards in-order text directly and
queues anything needing a snapshot read on the consumer's own backlog. A consumer that joins a
group waits until the hub's membership is in place, so its snapshot read comes after (§6).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from channels.layers import get_channel_layer

from constellation import protocol
from constellation.snapshot import Snapshot
from dashboard import metrics
from dashboard.arrivals import Arrivals, Batch, Check, NewEpoch
from dashboard.snapshots import read_snapshot

log = logging.getLogger("constellation.web.fanout")

MESSAGE_TYPES = frozenset({"state.messages", "state.message"})
EPOCH_TYPE = "state.epoch"
_WARN_EVERY_S = 10.0
_last_warning = 0.0


def warn_layer(what: str, exc: BaseException) -> None:
    """Count a Redis failure and log it at most every few seconds per process (not per client)."""
    global _last_warning
    metrics.LAYER_FAILURES.inc()
    now = time.monotonic()
    if now - _last_warning >= _WARN_EVERY_S:
        _last_warning = now
        log.warning("websocket %s failed error=%r; clients retry and resync on recovery", what, exc)


class Subscriber(Protocol):
    """What the hub needs from a consumer."""

    async def offer(self, delivery: Batch | NewEpoch) -> int:
        """Take one layer message, in order; must not wait on Redis. Returns the frames it
        sent at once (counted by the hub, one metric update per message)."""

    def review(self, check: Check) -> None:
        """Compare the client's state with the snapshot's counters; must not wait on Redis."""


class FanoutHub:
    """The channel-layer side of every `/ws/state/` consumer on one event loop."""

    check_interval_s = 1.0
    """How often the snapshot's counters are polled (lost trailing messages, missed epochs)."""
    regroup_interval_s = 25.0
    """Re-adding groups this often survives `group_expiry` and an unnoticed Redis restart."""
    retry_initial_s = 0.1
    retry_max_s = 2.0
    """Backoff of layer receives while Redis is unreachable."""

    def __init__(self, layer: Any, alias: str) -> None:
        self.layer = layer
        self.alias = alias
        self.channel_name: str | None = None
        self._consumers: set[Subscriber] = set()
        self._everything: set[Subscriber] = set()  # subscribed to "*"
        self._members: dict[str, set[Subscriber]] = {}  # group → consumers that need it
        self._effective: set[str] = set()  # groups the layer has this hub's channel in
        self._group_locks: dict[str, asyncio.Lock] = {}
        self._channel_lock = asyncio.Lock()
        self._arrivals = Arrivals()
        self._down = False
        self._unknown_types: set[object] = set()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._leaving: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    # -- consumers -----------------------------------------------------------------------

    def attach(self, consumer: Subscriber) -> None:
        """Start handing `consumer` the messages of the namespaces it joins (and epochs)."""
        self._consumers.add(consumer)
        if not self._tasks:
            self._tasks = [
                asyncio.create_task(self._receive_loop(), name="fanout-receive"),
                asyncio.create_task(self._maintain(), name="fanout-maintain"),
            ]
            log.info("fan-out hub started layer=%s", type(self.layer).__name__)

    def watch_everything(self, consumer: Subscriber, everything: bool) -> None:
        """Whether `consumer` gets every namespace's messages ("*") or only its groups'."""
        if everything:
            self._everything.add(consumer)
        else:
            self._everything.discard(consumer)

    async def join(self, consumer: Subscriber, group: str) -> None:
        """Add `consumer` to `group`; returns once this process is in the group on the layer."""
        self._members.setdefault(group, set()).add(consumer)
        if group not in self._effective:
            await self._sync_group(group)

    def leave(self, consumer: Subscriber, group: str) -> None:
        """Take `consumer` out of `group`; the hub leaves it in the background if it was last."""
        members = self._members.get(group)
        if members is None:
            return
        members.discard(consumer)
        if not members:
            del self._members[group]
            task = asyncio.get_running_loop().create_task(self._sync_group(group))
            self._leaving.add(task)
            task.add_done_callback(self._leaving.discard)

    async def detach(self, consumer: Subscriber) -> None:
        """Forget `consumer`; the last one out stops the hub and leaves every group."""
        self._consumers.discard(consumer)
        self._everything.discard(consumer)
        for group in [g for g, members in self._members.items() if consumer in members]:
            self.leave(consumer, group)
        if not self._consumers:
            await self._stop()

    # -- groups --------------------------------------------------------------------------

    async def _channel(self) -> str:
        async with self._channel_lock:
            if self.channel_name is None:
                self.channel_name = await self.layer.new_channel()
            return self.channel_name

    async def _sync_group(self, group: str, refresh: bool = False) -> None:
        """Make the layer membership match whether any consumer wants `group`.

        Serialised per group (one lock per group ever wanted, kept: dropping one a waiter
        still holds would let two run) and decided inside the lock, so a leave racing a join
        can never end with the group left while a consumer counts on it.
        """
        lock = self._group_locks.setdefault(group, asyncio.Lock())
        async with lock:
            wanted = bool(self._members.get(group))
            if wanted and (refresh or group not in self._effective):
                await self.layer.group_add(group, await self._channel())
                self._effective.add(group)
            elif not wanted and group in self._effective:
                self._effective.discard(group)
                try:
                    await self.layer.group_discard(group, await self._channel())
                except Exception as exc:  # noqa: BLE001 - the membership dies with Redis/expiry
                    warn_layer("group discard", exc)
        metrics.HUB_GROUPS.set(len(self._effective))

    async def _regroup(self) -> bool:
        """Re-add every wanted group; False if Redis refused."""
        try:
            for group in list(self._members):
                await self._sync_group(group, refresh=True)
        except Exception as exc:  # noqa: BLE001 - retried on the next check
            warn_layer("group re-add", exc)
            return False
        return True

    def _outage(self, what: str, exc: BaseException) -> None:
        warn_layer(what, exc)
        if not self._down:
            # Memberships may be gone when Redis returns: joins re-add until the regroup has.
            self._down = True
            self._effective.clear()
            self._wake.set()

    # -- messages ------------------------------------------------------------------------

    async def _receive_loop(self) -> None:
        delay = self.retry_initial_s
        while True:
            try:
                message = await self.layer.receive(await self._channel())
            except Exception as exc:  # noqa: BLE001 - any layer failure: wait and try again
                self._outage("channel-layer receive", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
                continue
            delay = self.retry_initial_s
            metrics.HUB_RECEIVED.inc()
            await self.dispatch(message)

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Offer one layer message to every consumer it concerns, in turn."""
        kind = message.get("type")
        delivery: Batch | NewEpoch
        if kind in MESSAGE_TYPES:
            delivery = Batch.from_envelope(message)
            self._arrivals.note(delivery)
            named = self._members.get(protocol.namespace_group(delivery.namespace), ())
            if protocol.is_namespace(delivery.namespace):
                targets = [*self._everything, *(c for c in named if c not in self._everything)]
            else:
                targets = list(named)  # the summary stream: its subscribers, "*" or not
        elif kind == EPOCH_TYPE:
            delivery = NewEpoch(message["epoch"])
            targets = list(self._consumers)
        else:
            if kind not in self._unknown_types:
                self._unknown_types.add(kind)
                log.warning("ignoring channel-layer messages of unknown type=%r", kind)
            return
        sent = 0
        for consumer in targets:
            try:
                sent += await consumer.offer(delivery)
            except Exception:
                # One consumer's bug must not stop the others' stream.
                log.exception("websocket consumer failed to take a message type=%s", kind)
        if sent:
            metrics.FORWARDED.inc(sent)

    # -- periodic work -------------------------------------------------------------------

    async def _maintain(self) -> None:
        """Poll the snapshot's counters, re-add groups, recover from outages; one task."""
        next_regroup = time.monotonic() + self.regroup_interval_s
        while True:
            self._wake.clear()
            try:
                probe = await read_snapshot(())
            except Exception as exc:  # noqa: BLE001 - Redis down: the next check retries
                self._outage("snapshot check", exc)
            else:
                now = time.monotonic()
                if (self._down or now >= next_regroup) and await self._regroup():
                    next_regroup = now + self.regroup_interval_s
                    if self._down:
                        self._down = False
                        log.info(
                            "channel layer reachable again; groups re-added groups=%d",
                            len(self._effective),
                        )
                if probe.present:
                    self._review(probe)
            with contextlib.suppress(TimeoutError):
                delay = self.retry_initial_s if self._down else self.check_interval_s
                await asyncio.wait_for(self._wake.wait(), delay)

    def learned(self, epoch: str, counters: dict[str, int]) -> None:
        """A consumer read these counters from the snapshot: messages up to them are not
        awaited (see Arrivals.learned)."""
        self._arrivals.learned(epoch, counters)

    def _review(self, probe: Snapshot) -> None:
        metrics.HUB_CHECKS.inc()
        prefix = protocol.NAMESPACE_GROUP_PREFIX
        watched = {g[len(prefix) :] for g in self._effective if g.startswith(prefix)}
        check = self._arrivals.check(probe.epoch, probe.ns_seq, probe.seq, watched)
        if check.lost:
            metrics.HUB_LOST.inc(len(check.lost))
        for consumer in list(self._consumers):
            try:
                consumer.review(check)
            except Exception:
                log.exception("websocket consumer failed its snapshot check")

    async def _stop(self) -> None:
        if _hubs.get((asyncio.get_running_loop(), self.alias)) is self:
            del _hubs[(asyncio.get_running_loop(), self.alias)]
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        groups, self._effective = list(self._effective), set()
        if self.channel_name is not None:
            for group in groups:
                with contextlib.suppress(Exception):
                    await self.layer.group_discard(group, self.channel_name)
        metrics.HUB_GROUPS.set(0)
        log.info("fan-out hub stopped; no consumers left")


_hubs: dict[tuple[asyncio.AbstractEventLoop, str], FanoutHub] = {}


def hub_for(alias: str) -> FanoutHub:
    """The hub of this event loop and channel layer (channels_redis connections are per loop)."""
    key = (asyncio.get_running_loop(), alias)
    hub = _hubs.get(key)
    if hub is None:
        layer = get_channel_layer(alias)
        if layer is None:
            raise RuntimeError(f"no channel layer configured under {alias!r}")
        hub = _hubs[key] = FanoutHub(layer, alias)
    return hub
