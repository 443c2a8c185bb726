"""Numbered messages out to the channel layer, with the snapshot updated first.

Order matters for consumers (DESIGN §6): the snapshot is written before the
messages it covers are sent, so a consumer that joined its groups and then read
the snapshot either finds a message's change in the snapshot (and drops the
message by its seq) or receives the message. Each message is encoded once here;
consumers forward the text.

Channel-layer envelopes (internal, not the browser protocol):
    {"type": "state.messages", "epoch", "namespace",
     "messages": [{"text": <encoded>, "seq", "ns_seq"}, ...]}  — one per namespace flush, so a
        flush costs one group send (channels_redis' core layer spends three Redis commands on
        each), not one per message
    {"type": "state.message", "text", "seq", "epoch", "namespace", "ns_seq"}  — the same for a
        single message; consumers accept it too
    {"type": "state.epoch", "epoch", "seq"}  — a new epoch: consumers resync from the snapshot

Each namespace's summary (constellation.summary) is written to the snapshot with its tree,
and a flush that changed any summary also sends one SummaryUpdate to the summary stream
(`state.messages` for the pseudo-namespace SUMMARY_STREAM, numbered by `sum_seq`), which the
overview and sidebar follow instead of every namespace's tree.

With channels_redis' pub/sub layer on the snapshot's Redis (the default), a flush's group
messages go out in the same Redis command as its snapshot write (`RedisSnapshotStore.apply`
takes them as raw PUBLISHes, framed exactly as the layer's own `group_send` frames them): one
round trip per flush instead of one plus one per group, and message and snapshot are atomic.
Any other layer gets `group_send` after the write.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

from constellation import protocol
from constellation.protocol import SUMMARY_STREAM
from constellation.snapshot import Publish, SnapshotStore, SnapshotUpdate
from constellation.summary import namespace_summary, public
from watchers import metrics
from watchers.pipeline import Flush

log = logging.getLogger("constellation.watcher.publish")


GroupFramer = Callable[[str, dict[str, Any]], Publish]


def new_epoch() -> str:
    """Unique per (re)start and sortable by time, so logs read in order."""
    return f"{int(time.time())}-{uuid.uuid4().hex[:8]}"


def pubsub_framer(layer: Any, snapshots: SnapshotStore) -> GroupFramer | None:
    """How to put a group message on Redis as channels_redis' pub/sub layer would (a PUBLISH
    of the serialised message to the group's channel), or None when `layer` is not that layer
    on the one Redis the snapshot lives in. Call on the loop that publishes: the layer keeps
    its connections per loop."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    if not isinstance(layer, RedisPubSubChannelLayer) or not snapshots.publishes_in_step:
        return None
    loop_layer = layer._get_layer()
    shards = loop_layer._shards
    if len(shards) != 1 or shards[0].host.get("address") != getattr(snapshots, "url", None):
        return None
    return lambda group, message: (
        loop_layer._get_group_channel_name(group),
        layer.serialize(message),
    )


class Publisher:
    """Writes the snapshot and sends messages; one per watcher process."""

    def __init__(self, snapshots: SnapshotStore, channel_layer: Any) -> None:
        self.snapshots = snapshots
        self.layer = channel_layer
        self.sequencer: protocol.Sequencer | None = None
        # Namespaces clients may already hold; the first message of any other namespace
        # also goes to the cluster group, whose "*" subscribers have not joined its group.
        self._published: set[str] = set()
        # The last summary published per namespace: a flush sends one only when it changed.
        self._summaries: dict[str, dict[str, Any]] = {}

    @property
    def epoch(self) -> str | None:
        return self.sequencer.epoch if self.sequencer else None

    async def start_epoch(self, trees: dict[str, dict], cluster: dict[str, Any]) -> str:
        """Replace the whole snapshot under a new epoch and tell every consumer to resync."""
        sequencer = protocol.Sequencer(new_epoch())
        started = time.perf_counter()
        summaries = {ns: namespace_summary(tree) for ns, tree in trees.items()}
        await self.snapshots.replace(
            SnapshotUpdate(
                sequencer.epoch,
                0,
                dict(trees),
                ns_seq={**dict.fromkeys(trees, 0), SUMMARY_STREAM: 0},
                synced=True,
                cluster=cluster,
                summaries={ns: orjson.dumps(summary) for ns, summary in summaries.items()},
            )
        )
        self.sequencer = sequencer
        self._published = set(trees)
        self._summaries = summaries
        if self.layer is not None:
            epoch_message = {"type": "state.epoch", "epoch": sequencer.epoch, "seq": 0}
            await self._announce([(protocol.CLUSTER_GROUP, epoch_message)])
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        metrics.EPOCHS.inc()
        log.info("published full snapshot epoch=%s namespaces=%d", sequencer.epoch, len(trees))
        return sequencer.epoch

    async def publish(self, flushes: list[Flush], cluster: dict[str, Any] | None = None) -> int:
        """Stamp, store and send the flushes' messages; the number of messages sent."""
        if self.sequencer is None:
            raise RuntimeError("publish before start_epoch")
        started = time.perf_counter()
        sequencer = self.sequencer
        sends = []  # (group, envelope)
        sent = 0
        for flush in flushes:
            namespace = flush.namespace
            items = []
            for message in flush.messages:
                stamped = sequencer.stamp(message)
                text = protocol.encode(stamped)
                items.append({"text": text, "seq": stamped["seq"], "ns_seq": stamped["ns_seq"]})
                metrics.MESSAGES.labels(message["type"]).inc()
                metrics.BYTES.inc(len(text))
            envelope = {
                "type": "state.messages",
                "epoch": sequencer.epoch,
                "namespace": namespace,
                "messages": items,
            }
            sends.append((protocol.namespace_group(namespace), envelope))
            if flush.tree is not None and namespace not in self._published:
                sends.append((protocol.CLUSTER_GROUP, envelope))
            sent += len(items)
        summaries, summary_send = self._summary_update(flushes)
        if summary_send is not None:
            sends.append(summary_send)
            sent += 1
        update = SnapshotUpdate(
            sequencer.epoch,
            sequencer.seq,
            trees={f.namespace: f.tree for f in flushes if f.tree is not None},
            removed=[f.namespace for f in flushes if f.tree is None],
            ns_seq={
                key: sequencer.ns_seq[key]
                for key in [*(f.namespace for f in flushes), SUMMARY_STREAM]
                if key in sequencer.ns_seq
            },
            synced=True,
            cluster=cluster or {},
            encoded={f.namespace: f.encoded for f in flushes if f.encoded is not None},
            summaries=summaries,
        )
        framer = None if self.layer is None else pubsub_framer(self.layer, self.snapshots)
        if framer is not None:
            await self.snapshots.apply(update, [framer(group, env) for group, env in sends])
        else:
            await self.snapshots.apply(update)
            if self.layer is not None:
                await self._announce(sends)
        for flush in flushes:
            if flush.tree is None:
                self._published.discard(flush.namespace)
            else:
                self._published.add(flush.namespace)
        metrics.NAMESPACES_FLUSHED.inc(len(flushes))
        metrics.PUBLISH_SECONDS.observe(time.perf_counter() - started)
        return sent

    def _summary_update(
        self, flushes: list[Flush]
    ) -> tuple[dict[str, bytes], tuple[str, dict[str, Any]] | None]:
        """The flushed namespaces' summaries that changed, encoded for the snapshot, and the
        summary stream's envelope for them (None when no summary changed)."""
        changed, removed = [], []
        for flush in flushes:
            if flush.tree is None:
                if self._summaries.pop(flush.namespace, None) is not None:
                    removed.append(flush.namespace)
                continue
            summary = namespace_summary(flush.tree)
            if summary != self._summaries.get(flush.namespace):
                self._summaries[flush.namespace] = summary
                changed.append(summary)
        if not (changed or removed):
            return {}, None
        assert self.sequencer is not None
        stamped = self.sequencer.stamp(
            protocol.summary_update([public(summary) for summary in changed], removed)
        )
        text = protocol.encode(stamped)
        metrics.MESSAGES.labels(protocol.SUMMARY_UPDATE).inc()
        metrics.BYTES.inc(len(text))
        envelope = {
            "type": "state.messages",
            "epoch": self.sequencer.epoch,
            "namespace": SUMMARY_STREAM,
            "messages": [{"text": text, "seq": stamped["seq"], "ns_seq": stamped["sum_seq"]}],
        }
        encoded = {summary["name"]: orjson.dumps(summary) for summary in changed}
        return encoded, (protocol.namespace_group(SUMMARY_STREAM), envelope)

    async def _announce(self, sends: list[tuple[str, dict[str, Any]]]) -> None:
        """Send what the snapshot now holds to the channel layer, as far as it goes.

        The snapshot was written first and is the truth: a web process finds a new epoch at
        its next snapshot check (within a second) and heals a message that never arrived from
        the snapshot. So a layer that fails here (a connection that died with a restarted
        Redis, a layer on another Redis) costs latency, not correctness, and must not fail
        the publish: that would back off and leave the picture unpublished (issue 15 B).
        """
        assert self.layer is not None
        for group, envelope in sends:
            try:
                await self.layer.group_send(group, envelope)
            except Exception as exc:  # noqa: BLE001 - see above; the rest are tried too
                what = envelope["type"]
                metrics.LAYER_SEND_FAILURES.labels(what).inc()
                log.warning(
                    "channel-layer send failed after the snapshot write what=%s group=%s "
                    "error=%r; web processes heal from the snapshot at their next check",
                    what,
                    group,
                    exc,
                )

    async def heartbeat(self, cluster: dict[str, Any]) -> None:
        """Refresh the snapshot's timestamp and cluster status while nothing changes."""
        if self.sequencer is None:
            return
        await self.snapshots.apply(
            SnapshotUpdate(self.sequencer.epoch, self.sequencer.seq, synced=True, cluster=cluster)
        )
