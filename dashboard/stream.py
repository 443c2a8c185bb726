"""One client's place in the watcher's numbered stream, kept in step with the snapshot (§6).

The watcher publishes numbered messages and keeps the snapshot; the process's fan-out hub
(`dashboard.fanout`) hands each message to the streams of the clients watching its namespace.
A stream turns that into frames a client can apply blindly: join the groups first, then read
the snapshot and send `FullState`, then forward only messages newer than what the snapshot
held. Anything that breaks the sequence is repaired from the snapshot instead of passed on:

- an `ns_seq` gap (the channel layer dropped a message) → `RelationshipUpdated` for that
  namespace, read from the snapshot; if the snapshot is behind the message it is retried;
- a new `epoch` (watcher restart, Redis outage) → `FullState`;
- a lost *last* message (no later one reveals the gap) and namespaces created since
  `FullState` → the hub's once-a-second look at the snapshot's counters (`review`).

The common case is most of the work at hundreds of clients, so it is cheap: an in-order
message is forwarded as the watcher's pre-encoded text straight from the hub's hand-off — no
task, no parse, no Redis. Whatever needs the snapshot waits in the stream's backlog for its own
worker task, under its lock, so a slow read never holds up other clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from constellation import protocol
from constellation.protocol import SUMMARY_STREAM, is_namespace
from constellation.snapshot import Snapshot
from constellation.summary import public
from dashboard import chunks, metrics
from dashboard.arrivals import Batch, Check, NewEpoch
from dashboard.fanout import FanoutHub, warn_layer
from dashboard.permissions import EVERY_NAMESPACE, NamespaceAccess
from dashboard.snapshots import SharedSnapshot, read_shared
from dashboard.turn import Turn
from dashboard.wsprotocol import View

log = logging.getLogger("constellation.web.ws")

_OLD_EPOCHS_KEPT = 16


@dataclass(frozen=True)
class Pacing:
    """How a stream retries and how much it queues."""

    retry_initial_s: float = 0.1
    retry_max_s: float = 2.0
    """Backoff while a heal or resync waits for Redis or for the snapshot to catch up."""
    max_backlog: int = 1000
    """Messages queued behind a snapshot read; past this the client gets a FullState instead."""


class ClientStream:
    """What one client has been sent, and the repairs that keep it right; a hub subscriber."""

    def __init__(
        self,
        hub: FanoutHub,
        send: Callable[[str], Awaitable[None]],
        pacing: Pacing,
        access: NamespaceAccess = EVERY_NAMESPACE,
    ) -> None:
        self.hub = hub
        self.pacing = pacing
        self.access = access
        self._send = send
        self.view = View()
        self._epoch: str | None = None
        self._old_epochs: deque[str] = deque(maxlen=_OLD_EPOCHS_KEPT)
        # namespace (or SUMMARY_STREAM) → last ns_seq (sum_seq) the client has
        self._held: dict[str, int] = {}
        self._joined: set[str] = set()
        self._pending: dict[str, int] = {}  # namespace → ns_seq a heal must reach
        self._suspects: dict[str, int] = {}  # namespace → snapshot ns_seq seen ahead last check
        self._resync_reason: str | None = None
        self._retry_delay = pacing.retry_initial_s
        self._retry_at = 0.0
        self._lock = Turn()
        self._backlog: deque[Batch | NewEpoch] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closed = False

    # -- lifecycle (the consumer's side) -------------------------------------------------

    @property
    def subscription(self) -> tuple[str, ...] | None:
        """The namespaces whose trees the client gets; None: every namespace ("*")."""
        return self.view.namespaces

    async def open(self, view: View) -> None:
        """Start receiving from the hub and send the first FullState of `view`."""
        self.view = self._visible(view)
        # Attached before the first read, so what arrives meanwhile waits in the backlog.
        self.hub.attach(self)
        self.hub.watch_everything(self, self.view.namespaces is None)
        await self.resync("connect")

    async def resync(self, reason: str) -> None:
        """Send FullState again (client Resync, connect)."""
        async with self._lock:
            await self._resync(reason)

    async def subscribe(self, view: View) -> None:
        """Show `view` from now on, starting with its FullState."""
        async with self._lock:
            self.view = self._visible(view)
            self.hub.watch_everything(self, self.view.namespaces is None)
            await self._resync("subscribe")

    def _visible(self, view: View) -> View:
        """`view` within what the reader may see (DESIGN §7): "*" for a reader who may see
        everything, else only the named namespaces they may see."""
        access = self.access
        if access.everything:
            return view
        wanted = sorted(access.names) if view.namespaces is None else view.namespaces
        return View(tuple(access.narrow(wanted)), view.summary)

    async def close(self) -> None:
        """Stop the worker and hand every group back to the hub."""
        self._closed = True
        self._backlog.clear()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        await self.hub.detach(self)
        self._joined.clear()

    # -- what the hub hands over ---------------------------------------------------------

    async def offer(self, delivery: Batch | NewEpoch) -> int:
        """A layer message from the hub: forwarded at once when in order, else queued.

        Returns how many frames were sent here; the hub counts them for all its clients.
        """
        if self._closed:
            return 0
        if not self._backlog and self._lock.free and isinstance(delivery, Batch):
            ready = self._in_order(delivery)
            if ready is not None:
                held, texts = ready
                if texts:
                    async with self._lock:  # free: does not suspend
                        await self._forward(delivery.namespace, held, texts)
                        self._after(delivery)
                return len(texts)
        if len(self._backlog) >= self.pacing.max_backlog:
            self._backlog.clear()
            self._resync_reason = "backlog"
            self._repair_now()
            return 0
        self._backlog.append(delivery)
        self._start_worker()
        return 0

    def review(self, check: Check) -> None:
        """The hub's look at the snapshot's counters: heal what stays behind the client.

        A namespace is healed when this process never received the message the snapshot held
        a check ago, or when it did but the client still lacks it a check later with nothing
        queued; messages merely in flight or waiting in the backlog are not mistaken for lost.
        """
        if self._closed or self._epoch is None or self._resync_reason is not None:
            return
        if check.epoch != self._epoch:
            self._resync_reason = "epoch"
            self._repair_now()
            return
        busy = bool(self._backlog) or not self._lock.free
        suspects = {}
        for namespace, have in check.ns_seq.items():
            held = self._held.get(namespace)
            if namespace in self._pending or not self._wants(namespace):
                continue
            if have <= (held or 0):
                continue
            if namespace in check.lost:
                self._pending[namespace] = have
            elif not busy and check.received.get(namespace, 0) >= have:
                seen = self._suspects.get(namespace)
                if seen is not None and (held or 0) < seen:
                    self._pending[namespace] = have
                else:
                    suspects[namespace] = have
        self._suspects = suspects
        if self._pending:
            self._repair_now()

    # -- forwarding ----------------------------------------------------------------------

    def _in_order(self, batch: Batch) -> tuple[int, list[str]] | None:
        """The texts to forward and the client's new ns_seq; None if the snapshot is needed."""
        if batch.epoch != self._epoch:
            return None
        held = self._held.get(batch.namespace)
        if held is None or batch.namespace in self._pending:
            return None
        texts = []
        for ns_seq, text in batch.items:
            if ns_seq == held + 1:
                held = ns_seq
                texts.append(text)
            elif ns_seq > held:
                return None  # a gap
            else:
                metrics.STALE_DROPPED.inc()
        return held, texts

    def _wants(self, key: str) -> bool:
        """Whether the client's view includes a namespace (or the summary stream)."""
        if key == SUMMARY_STREAM:
            return self.view.summary
        return self.subscription is None or key in self.subscription

    async def _forward(self, namespace: str, held: int, texts: list[str]) -> None:
        self._held[namespace] = held
        for text in texts:
            if namespace == SUMMARY_STREAM and not self.access.everything:
                text = _visible_summaries(text, self.access)
            await self._send_frames(chunks.forwarded(text))

    async def _send_frames(self, frames: list[str] | tuple[str, ...]) -> None:
        for frame in frames:
            await self._send(frame)

    def _after(self, batch: Batch) -> None:
        if batch.deletes_namespace and self.subscription is None and batch.epoch == self._epoch:
            self._leave(batch.namespace)  # its next life starts in the cluster group

    async def _process(self, delivery: Batch | NewEpoch) -> None:
        """One queued layer message, with everything a gap or a new epoch needs."""
        if isinstance(delivery, NewEpoch):
            if delivery.epoch != self._epoch and delivery.epoch not in self._old_epochs:
                await self._resync("epoch", seen_epoch=delivery.epoch)
            return
        for ns_seq, text in delivery.items:
            await self._receive_numbered(delivery, ns_seq, text)
        self._after(delivery)

    async def _receive_numbered(self, batch: Batch, ns_seq: int, text: str) -> None:
        epoch, namespace = batch.epoch, batch.namespace
        if epoch != self._epoch:
            if epoch in self._old_epochs:
                metrics.STALE_DROPPED.inc()
            else:
                await self._resync("epoch", seen_epoch=epoch)
            return
        held = self._held.get(namespace)
        if held is None:
            if self.subscription is None and is_namespace(namespace):
                await self._heal(namespace, ns_seq)  # created since our FullState
            else:
                metrics.STALE_DROPPED.inc()  # in flight from a group we left
            return
        if namespace in self._pending:
            self._pending[namespace] = max(self._pending[namespace], ns_seq)
            metrics.STALE_DROPPED.inc()
        elif ns_seq == held + 1:
            await self._forward(namespace, ns_seq, [text])
            metrics.FORWARDED.inc()
        elif ns_seq <= held:
            metrics.STALE_DROPPED.inc()
        else:
            await self._heal(namespace, ns_seq)

    # -- the worker: backlog and repairs, under the lock ---------------------------------

    def _start_worker(self) -> None:
        self._wake.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="ws-state-stream")

    async def _work(self) -> None:
        """Drain the backlog, then retry heals and resyncs when due; ends when idle."""
        while not self._closed:
            self._wake.clear()
            if self._backlog:
                async with self._lock:
                    while self._backlog and not self._closed:
                        await self._step(self._process, self._backlog.popleft())
                continue
            if not (self._pending or self._resync_reason):
                return
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            async with self._lock:
                await self._step(self._retry)

    async def _step(self, step: Callable[..., Awaitable[Any]], *args: Any) -> None:
        # A bug in one repair must not end the stream of a live connection.
        try:
            await step(*args)
        except Exception:
            log.exception("websocket stream step failed step=%s", step.__name__)

    async def _retry(self) -> None:
        if self._resync_reason is not None:
            await self._resync(self._resync_reason)
            return
        for namespace, target in list(self._pending.items()):
            if namespace in self._pending:
                await self._heal(namespace, target)

    def _schedule_retry(self, failed: bool) -> None:
        delay = self._retry_delay
        pacing = self.pacing
        self._retry_delay = min(delay * 2, pacing.retry_max_s) if failed else pacing.retry_initial_s
        self._retry_at = time.monotonic() + delay
        self._start_worker()

    def _repair_now(self) -> None:
        self._retry_at = time.monotonic()
        self._start_worker()

    # -- repairs (callers hold the lock) -------------------------------------------------

    async def _resync(self, reason: str, seen_epoch: str | None = None) -> None:
        """Send FullState for the subscription; on failure retry it with backoff."""
        try:
            shared = await self._joined_snapshot()
        except Exception as exc:  # noqa: BLE001 - Redis down: retried with backoff
            warn_layer("snapshot read for FullState", exc)
            self._resync_reason = reason
            self._schedule_retry(failed=True)
            return
        snapshot = shared.snapshot
        previous = self._epoch
        self._epoch = snapshot.epoch
        for old in (previous, seen_epoch):
            if old and old != snapshot.epoch and old not in self._old_epochs:
                self._old_epochs.append(old)
        if self.subscription is None:
            names = {ns for ns in snapshot.ns_seq if is_namespace(ns)}
        else:
            names = set(self.subscription)
        self._held = {ns: snapshot.ns_seq.get(ns, 0) for ns in names}
        if self.view.summary:
            self._held[SUMMARY_STREAM] = snapshot.ns_seq.get(SUMMARY_STREAM, 0)
        self.hub.learned(snapshot.epoch, self._held)
        self._pending.clear()
        self._suspects.clear()
        self._resync_reason = None
        self._retry_delay = self.pacing.retry_initial_s
        view = self.view

        def full_state() -> dict[str, Any]:
            cluster = {"synced": snapshot.synced, "ready": snapshot.synced, **snapshot.cluster}
            trees = [snapshot.trees[ns] for ns in sorted(snapshot.trees) if ns in names]
            summary = _summary_state(snapshot, self.access) if view.summary else None
            return protocol.full_state(snapshot.seq, snapshot.epoch, trees, cluster, summary)

        await self._send_frames(shared.frames(("full", view, self.access), full_state))
        metrics.FULL_STATES.inc()
        metrics.RESYNCS.labels(reason).inc()

    async def _joined_snapshot(self) -> SharedSnapshot:
        """The snapshot, read only after joining the group of every stream it shows."""
        summary = self.view.summary
        await self._join(protocol.CLUSTER_GROUP)
        if summary:
            await self._join(protocol.namespace_group(SUMMARY_STREAM))
        if self.subscription is not None:
            for namespace in self.subscription:
                await self._join(protocol.namespace_group(namespace))
            shared = await read_shared(self.subscription, summary)
        else:
            # Join every group, then read; a namespace that appeared between the two needs its
            # group and another read.
            held = {ns for ns in self._held if is_namespace(ns)}
            candidates = held or set((await read_shared(())).snapshot.ns_seq)
            for _ in range(3):
                for namespace in candidates:
                    if is_namespace(namespace):
                        await self._join(protocol.namespace_group(namespace))
                shared = await read_shared(None, summary)
                candidates = {
                    ns
                    for ns in shared.snapshot.trees
                    if protocol.namespace_group(ns) not in self._joined
                }
                if not candidates:
                    break
        wanted = set(shared.snapshot.trees) if self.subscription is None else set(self.subscription)
        if summary:
            wanted.add(SUMMARY_STREAM)
        for group in list(self._joined):
            if group.startswith(protocol.NAMESPACE_GROUP_PREFIX):
                namespace = group[len(protocol.NAMESPACE_GROUP_PREFIX) :]
                if namespace not in wanted:
                    self._leave(namespace)
        return shared

    async def _heal(self, namespace: str, target: int) -> None:
        """Re-send `namespace` (or every summary) from the snapshot once it holds ns_seq
        `target` or later."""
        summary = namespace == SUMMARY_STREAM
        try:
            await self._join(protocol.namespace_group(namespace))
            shared = await read_shared(() if summary else (namespace,), summary)
        except Exception as exc:  # noqa: BLE001 - Redis down: retried with backoff
            warn_layer("snapshot read for a gap", exc)
            self._pending[namespace] = max(target, self._pending.get(namespace, 0))
            self._schedule_retry(failed=True)
            return
        snapshot = shared.snapshot
        if snapshot.present and snapshot.epoch != self._epoch:
            await self._resync("epoch")
            return
        have = snapshot.ns_seq.get(namespace, 0)
        if have < target:
            # The message outran the snapshot it was written after (a replica, a slow
            # read): keep dropping this namespace's messages and try again shortly.
            self._pending[namespace] = max(target, self._pending.get(namespace, 0))
            self._schedule_retry(failed=False)
            return
        known = namespace in self._held
        self._pending.pop(namespace, None)
        self._suspects.pop(namespace, None)
        self._held[namespace] = have
        self.hub.learned(snapshot.epoch, {namespace: have})
        if summary:

            def summaries() -> dict[str, Any]:
                message = _summary_state(snapshot, self.access)
                message.update(type=protocol.SUMMARY_STATE, seq=snapshot.seq, epoch=snapshot.epoch)
                return message

            key = ("summary", have, self.access)
            await self._send_frames(shared.frames(key, summaries))
            metrics.HEALS.inc()
            metrics.GAPS_HEALED.inc()
            return
        tree = snapshot.trees.get(namespace)
        if tree is None:
            if self.subscription is None:
                self._leave(namespace)
            if not known:
                return  # a namespace that came and went unseen: nothing to tell the client

        def healed() -> dict[str, Any]:
            if tree is None:
                message = protocol.namespace_deleted(namespace)
            else:
                message = protocol.relationship_updated(namespace, tree)
            message.update(seq=snapshot.seq, epoch=snapshot.epoch, ns_seq=have)
            return message

        await self._send_frames(shared.frames(("heal", namespace), healed))
        metrics.HEALS.inc()
        metrics.GAPS_HEALED.inc()

    async def _join(self, group: str) -> None:
        await self.hub.join(self, group)
        self._joined.add(group)

    def _leave(self, namespace: str) -> None:
        group = protocol.namespace_group(namespace)
        self._joined.discard(group)
        self.hub.leave(self, group)


def _summary_state(snapshot: Snapshot, access: NamespaceAccess) -> dict[str, Any]:
    """The summary part of FullState (and the body of SummaryState): the summary of every
    namespace the reader may see, by name, as of the summary stream's `sum_seq`."""
    summaries = access.only(snapshot.summaries)
    state = protocol.summary_state(
        snapshot.ns_seq.get(SUMMARY_STREAM, 0), [public(summaries[ns]) for ns in sorted(summaries)]
    )
    del state["type"]
    return state


def _visible_summaries(text: str, access: NamespaceAccess) -> str:
    """A SummaryUpdate cut down to the namespaces the reader may see; still sent when empty,
    so the reader's `sum_seq` stays in step."""
    message = orjson.loads(text)
    message["summaries"] = [s for s in message["summaries"] if access.allows(s["name"])]
    message["removed"] = access.narrow(message["removed"])
    return protocol.encode(message)
