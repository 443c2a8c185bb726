"""`/ws/state/`: one browser's live view of the cluster, never silently out of step (DESIGN §6).

The watcher publishes numbered messages to channel-layer groups (one per namespace, one
cluster-wide) and keeps the snapshot. This consumer turns that into a stream a client can
apply blindly: join the groups first, then read the snapshot and send `FullState`, then
forward only messages newer than what the snapshot held. Anything that breaks the sequence is
repaired from the snapshot instead of being passed on:

- an `ns_seq` gap (the channel layer dropped a message) → `RelationshipUpdated` for that
  namespace, read from the snapshot; if the snapshot is behind the message it is retried;
- a new `epoch` (watcher restart, Redis outage) → `FullState`;
- a lost *last* message (no later one reveals the gap), lost group memberships (Redis
  restarted, `group_expiry`) and namespaces created since `FullState` → a periodic check of
  the snapshot's counters finds namespaces that stay ahead of the client and heals them.

Per message the work is a dict lookup and forwarding the watcher's pre-encoded `text`; the
envelope was decoded by the layer and `text` is never parsed. The ORM is used only by the
auth middleware before `connect`, so `dispatch` skips channels' per-message DB cleanup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import DenyConnection, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch

from constellation import protocol
from constellation.snapshot import Snapshot
from dashboard import metrics, wsprotocol
from dashboard.permissions import user_may_read
from dashboard.snapshots import read_snapshot

log = logging.getLogger("constellation.web.ws")

PING_TEXT = protocol.encode({"type": protocol.PING})
PONG_TEXT = protocol.encode({"type": protocol.PONG})
# protocol builders put `type` first and the watcher encodes with the same encoder, so a
# deletion is recognisable from the text's first bytes without parsing it.
_DELETED_PREFIX = protocol.encode({"type": protocol.NAMESPACE_DELETED})[:-1]

CLOSE_GOING_AWAY = 1001  # idle: the client stopped answering
CLOSE_POLICY = 1008  # flood
CLOSE_TOO_BIG = 1009  # oversized frame

_OLD_EPOCHS_KEPT = 16
_WARN_EVERY_S = 10.0
_last_warning = 0.0


def _warn_layer(what: str, exc: BaseException) -> None:
    """Count a Redis failure and log it at most every few seconds per process (not per client)."""
    global _last_warning
    metrics.LAYER_FAILURES.inc()
    now = time.monotonic()
    if now - _last_warning >= _WARN_EVERY_S:
        _last_warning = now
        log.warning("websocket %s failed error=%r; clients retry and resync on recovery", what, exc)


class StateConsumer(AsyncWebsocketConsumer):
    """Streams the cluster's state to one browser: FullState, then deltas, healed on gaps."""

    # Timings are class attributes so tests (and deployments behind picky proxies) can change
    # them with a subclass or `as_asgi(...)` keyword arguments.
    ping_interval_s = 25.0
    """Below the 30-60 s idle timeouts of common proxies, so quiet connections stay open."""
    idle_timeout_s = 60.0
    """A client that sent nothing (not even Pong) this long is gone; free its resources."""
    regroup_interval_s = 25.0
    """Re-adding groups this often survives a Redis restart and `group_expiry`."""
    check_interval_s = 1.0
    """How often the snapshot's counters are compared with the client's (lost last messages)."""
    retry_initial_s = 0.1
    retry_max_s = 2.0
    """Backoff while a heal or resync waits for Redis or for the snapshot to catch up."""
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
        self._subscription: tuple[str, ...] | None = None  # None: every namespace ("*")
        self._epoch: str | None = None
        self._old_epochs: deque[str] = deque(maxlen=_OLD_EPOCHS_KEPT)
        self._held: dict[str, int] = {}  # namespace → last ns_seq the client has
        self._joined: set[str] = set()
        self._pending: dict[str, int] = {}  # namespace → ns_seq a heal must reach
        self._suspects: dict[str, int] = {}  # namespace → snapshot ns_seq seen ahead last check
        self._resync_reason: str | None = None
        self._retry_delay = self.retry_initial_s
        self._retry_at = 0.0
        self._layer_down = False
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._last_frame = time.monotonic()
        self._gate = wsprotocol.FloodGate(self.flood_limit, self.flood_window_s)
        self._task: asyncio.Task[None] | None = None
        self._accepted = False
        self._closing = False

    # -- plumbing ----------------------------------------------------------------------

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """As AsyncConsumer.__call__, but a Redis outage pauses layer receives instead of
        raising out of the consumer and closing every browser's connection."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.channel_name = await self.channel_layer.new_channel()
        self.channel_receive = self._receive_from_layer
        self.base_send = send
        with contextlib.suppress(StopConsumer):
            await await_many_dispatch([receive, self._receive_from_layer], self.dispatch)

    async def _receive_from_layer(self) -> dict:
        delay = self.retry_initial_s
        while True:
            try:
                message = await self.channel_layer.receive(self.channel_name)
            except Exception as exc:  # noqa: BLE001 - any layer failure: wait and try again
                _warn_layer("channel-layer receive", exc)
                self._layer_down = True
                self._wake.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
            else:
                return message

    async def dispatch(self, message: dict) -> None:
        """Route to the handler without channels' per-message DB cleanup: no ORM here."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

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
        async with self._lock:
            await self._resync("connect")
        self._task = asyncio.create_task(self._maintain(), name="ws-state-maintain")

    async def disconnect(self, code: int) -> None:
        """Stop the maintenance task and leave every group."""
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._accepted:
            metrics.CLIENTS.dec()
            self._accepted = False
        for group in self._joined:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)
        self._joined.clear()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """One client frame: Ping, Pong, Resync or Subscribe; anything else earns an Error."""
        if self._closing:
            return
        now = time.monotonic()
        self._last_frame = now
        if not self._gate.allow(now):
            await self._send_error(
                wsprotocol.RATE_LIMITED,
                f"more than {self.flood_limit} messages in {self.flood_window_s:g} s",
            )
            await self._close("flood", CLOSE_POLICY)
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
            await self.send(text_data=PONG_TEXT)
            metrics.PONGS.inc()
        elif message.type == wsprotocol.RESYNC:
            async with self._lock:
                await self._resync("client")
        elif message.type == wsprotocol.SUBSCRIBE:
            async with self._lock:
                self._subscription = message.namespaces
                await self._resync("subscribe")
        # Pong needs nothing beyond the liveness recorded above.

    # -- channel-layer handlers --------------------------------------------------------

    async def state_message(self, event: dict) -> None:
        """A numbered protocol message: forward it, drop it, or heal a gap from the snapshot."""
        async with self._lock:
            await self._receive_numbered(
                event["epoch"], event["namespace"], event["ns_seq"], event["text"]
            )

    async def state_messages(self, event: dict) -> None:
        """One namespace flush's messages in order (the watcher sends one envelope per flush)."""
        async with self._lock:
            for item in event["messages"]:
                await self._receive_numbered(
                    event["epoch"], event["namespace"], item["ns_seq"], item["text"]
                )

    async def _receive_numbered(self, epoch: str, namespace: str, ns_seq: int, text: str) -> None:
        if epoch != self._epoch:
            if epoch in self._old_epochs:
                metrics.STALE_DROPPED.inc()
            else:
                await self._resync("epoch", seen_epoch=epoch)
            return
        held = self._held.get(namespace)
        if held is None:
            if self._subscription is None:
                await self._heal(namespace, ns_seq)  # created since our FullState
            else:
                metrics.STALE_DROPPED.inc()  # in flight from a group we left
            return
        if namespace in self._pending:
            self._pending[namespace] = max(self._pending[namespace], ns_seq)
            metrics.STALE_DROPPED.inc()
        elif ns_seq == held + 1:
            self._held[namespace] = ns_seq
            await self.send(text_data=text)
            metrics.FORWARDED.inc()
            if self._subscription is None and text.startswith(_DELETED_PREFIX):
                await self._leave(namespace)
        elif ns_seq <= held:
            metrics.STALE_DROPPED.inc()
        else:
            await self._heal(namespace, ns_seq)

    async def state_epoch(self, event: dict) -> None:
        """The watcher started a new epoch: everything the client holds is replaced."""
        async with self._lock:
            epoch = event["epoch"]
            if epoch != self._epoch and epoch not in self._old_epochs:
                await self._resync("epoch", seen_epoch=epoch)

    # -- state repair (callers hold self._lock) ----------------------------------------

    def _wanted(self, snapshot_namespaces: set[str]) -> set[str]:
        if self._subscription is None:
            return snapshot_namespaces
        return set(self._subscription)

    async def _resync(self, reason: str, seen_epoch: str | None = None) -> None:
        """Send FullState for the subscription; on failure leave it pending for `_maintain`."""
        try:
            snapshot = await self._joined_snapshot()
        except Exception as exc:  # noqa: BLE001 - Redis down: retried with backoff
            _warn_layer("snapshot read for FullState", exc)
            self._resync_reason = reason
            self._schedule_retry(failed=True)
            return
        previous = self._epoch
        self._epoch = snapshot.epoch
        for old in (previous, seen_epoch):
            if old and old != snapshot.epoch and old not in self._old_epochs:
                self._old_epochs.append(old)
        names = set(snapshot.ns_seq) if self._subscription is None else set(self._subscription)
        self._held = {ns: snapshot.ns_seq.get(ns, 0) for ns in names}
        self._pending.clear()
        self._suspects.clear()
        self._resync_reason = None
        self._retry_delay = self.retry_initial_s
        cluster = {"synced": snapshot.synced, "ready": snapshot.synced, **snapshot.cluster}
        trees = [snapshot.trees[ns] for ns in sorted(snapshot.trees) if ns in names]
        await self.send(
            text_data=protocol.encode(
                protocol.full_state(snapshot.seq, snapshot.epoch, trees, cluster)
            )
        )
        metrics.FULL_STATES.inc()
        metrics.RESYNCS.labels(reason).inc()

    async def _joined_snapshot(self) -> Snapshot:
        """The snapshot, read only after joining the group of every namespace it shows."""
        await self._join(protocol.CLUSTER_GROUP)
        if self._subscription is not None:
            for namespace in self._subscription:
                await self._join(protocol.namespace_group(namespace))
            snapshot = await read_snapshot(self._subscription)
        else:
            # Re-add every group (memberships may have been lost with Redis), then read; a
            # namespace that appeared between the two needs its group and another read.
            candidates = set(self._held) or set((await read_snapshot(())).ns_seq)
            snapshot = None
            for _ in range(3):
                for namespace in candidates:
                    await self._join(protocol.namespace_group(namespace))
                snapshot = await read_snapshot()
                candidates = {
                    ns for ns in snapshot.trees if protocol.namespace_group(ns) not in self._joined
                }
                if not candidates:
                    break
        for group in list(self._joined):
            if group.startswith(protocol.NAMESPACE_GROUP_PREFIX):
                namespace = group[len(protocol.NAMESPACE_GROUP_PREFIX) :]
                if namespace not in self._wanted(set(snapshot.trees)):
                    await self._leave(namespace)
        return snapshot

    async def _heal(self, namespace: str, target: int) -> None:
        """Re-send `namespace` from the snapshot once it holds ns_seq `target` or later."""
        try:
            await self._join(protocol.namespace_group(namespace))
            snapshot = await read_snapshot((namespace,))
        except Exception as exc:  # noqa: BLE001 - Redis down: retried with backoff
            _warn_layer("snapshot read for a gap", exc)
            self._pending[namespace] = max(target, self._pending.get(namespace, 0))
            self._schedule_retry(failed=True)
            return
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
        tree = snapshot.trees.get(namespace)
        if tree is None:
            if self._subscription is None:
                await self._leave(namespace)
            if not known:
                return  # a namespace that came and went unseen: nothing to tell the client
            message = protocol.namespace_deleted(namespace)
        else:
            message = protocol.relationship_updated(namespace, tree)
        message.update(seq=snapshot.seq, epoch=snapshot.epoch, ns_seq=have)
        await self.send(text_data=protocol.encode(message))
        metrics.HEALS.inc()
        metrics.GAPS_HEALED.inc()

    async def _check(self) -> None:
        """Compare the snapshot's counters with the client's; heal what stays behind.

        A namespace is healed when the client still lacks what the previous check saw, so
        messages merely in flight are not mistaken for lost ones.
        """
        try:
            probe = await read_snapshot(())
        except Exception as exc:  # noqa: BLE001 - Redis down: the next check retries
            _warn_layer("snapshot check", exc)
            self._layer_down = True  # groups may be gone when it returns: re-add them then
            return
        if not probe.present:
            return  # Redis lost the snapshot; the watcher republishes under a new epoch
        if probe.epoch != self._epoch:
            await self._resync("epoch")
            return
        suspects = {}
        for namespace, have in probe.ns_seq.items():
            held = self._held.get(namespace)
            if namespace in self._pending or (held is None and self._subscription is not None):
                continue
            if have > (held or 0):
                seen = self._suspects.get(namespace)
                if seen is not None and (held or 0) < seen:
                    await self._heal(namespace, have)
                else:
                    suspects[namespace] = have
        self._suspects = suspects

    async def _retry(self) -> None:
        if self._resync_reason is not None:
            await self._resync(self._resync_reason)
            return
        for namespace, target in list(self._pending.items()):
            if namespace in self._pending:
                await self._heal(namespace, target)

    def _schedule_retry(self, failed: bool) -> None:
        delay = self._retry_delay
        self._retry_delay = min(delay * 2, self.retry_max_s) if failed else self.retry_initial_s
        self._retry_at = time.monotonic() + delay
        self._wake.set()

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self._joined.add(group)

    async def _leave(self, namespace: str) -> None:
        group = protocol.namespace_group(namespace)
        self._joined.discard(group)
        try:
            await self.channel_layer.group_discard(group, self.channel_name)
        except Exception as exc:  # noqa: BLE001 - the membership expires or dies with Redis
            _warn_layer("group discard", exc)

    async def _regroup(self) -> bool:
        try:
            for group in list(self._joined):
                await self.channel_layer.group_add(group, self.channel_name)
        except Exception as exc:  # noqa: BLE001 - retried on the next tick
            _warn_layer("group re-add", exc)
            return False
        return True

    # -- heartbeat and periodic work ---------------------------------------------------

    async def _maintain(self) -> None:
        """Ping, idle close, group refresh, snapshot check and retries, in one task."""
        now = time.monotonic()
        next_ping = now + self.ping_interval_s
        next_regroup = now + self.regroup_interval_s
        # Jitter so that hundreds of clients connected together do not check in lockstep.
        next_check = now + self.check_interval_s * random.uniform(0.5, 1.0)
        outage = False
        while not self._closing:
            self._wake.clear()
            now = time.monotonic()
            if now - self._last_frame >= self.idle_timeout_s:
                await self._close("idle", CLOSE_GOING_AWAY)
                return
            if now >= next_ping:
                next_ping = now + self.ping_interval_s
                await self._step(self._send_ping)
            if self._layer_down and not outage:
                outage = True
                next_regroup = min(next_regroup, now + self.retry_initial_s)
            if now >= next_regroup:
                if await self._locked(self._regroup):
                    next_regroup = now + self.regroup_interval_s
                    if outage:
                        outage = self._layer_down = False
                        next_check = now  # Redis is back: look for a new epoch right away
                else:
                    next_regroup = now + self.retry_max_s
            if (self._pending or self._resync_reason) and now >= self._retry_at:
                await self._locked(self._retry)
            if now >= next_check:
                next_check = now + self.check_interval_s
                await self._locked(self._check)
            idle_at = self._last_frame + self.idle_timeout_s
            deadlines = [next_ping, next_check, next_regroup, idle_at]
            if self._pending or self._resync_reason:
                deadlines.append(self._retry_at)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, min(deadlines) - now))

    async def _locked(self, step: Callable[[], Awaitable[Any]]) -> Any:
        async with self._lock:
            return await self._step(step)

    async def _step(self, step: Callable[[], Awaitable[Any]]) -> Any:
        # A bug in one periodic step must not end the heartbeat of a live connection.
        try:
            return await step()
        except Exception:
            log.exception("websocket maintenance step failed step=%s", step.__name__)
            return None

    async def _send_ping(self) -> None:
        await self.send(text_data=PING_TEXT)
        metrics.PINGS.inc()

    async def _send_error(self, code: str, message: str) -> None:
        await self.send(text_data=protocol.encode(protocol.error(code, message)))
        metrics.ERRORS.inc()
        metrics.ERRORS_SENT.labels(code).inc()

    async def _close(self, reason: str, code: int) -> None:
        self._closing = True
        self._wake.set()
        metrics.CLOSED.labels(reason).inc()
        log.info("closing websocket reason=%s code=%d", reason, code)
        await self.close(code)
