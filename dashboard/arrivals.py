"""What a web process receives from the channel layer, and which messages never arrived.

The watcher's envelopes (`watchers.publish`) are unpacked here once per process into values
every client's stream can use without touching the dict again; `Arrivals` keeps what arrived
and, compared with the snapshot's counters, tells a message that is lost from one that is only
queued behind others. Pure: no I/O, no Django, time is whatever the caller's checks are.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from constellation import protocol

# protocol builders put `type` first and the watcher encodes with the same encoder, so a
# deletion is recognisable from the text's first bytes without parsing it.
_DELETED_PREFIX = protocol.encode({"type": protocol.NAMESPACE_DELETED})[:-1]
_EPOCHS_REMEMBERED = 4


@dataclass(frozen=True, slots=True)
class Batch:
    """One namespace flush as this process received it, unpacked once for all its consumers."""

    epoch: str
    namespace: str
    items: tuple[tuple[int, str], ...]
    """(ns_seq, the watcher's encoded text), in order."""
    last_ns_seq: int
    last_seq: int
    """The newest global `seq` among the items: what was published after them is newer."""
    deletes_namespace: bool
    """It carries NamespaceDeleted: "*" consumers then leave the namespace's group."""

    @classmethod
    def from_envelope(cls, envelope: dict[str, Any]) -> Batch:
        """Read a `state.messages` (or single `state.message`) envelope (watchers.publish)."""
        raw = envelope.get("messages", (envelope,))
        items = tuple((item["ns_seq"], item["text"]) for item in raw)
        return cls(
            envelope["epoch"],
            envelope["namespace"],
            items,
            max(ns_seq for ns_seq, _ in items),
            max(item["seq"] for item in raw),
            any(text.startswith(_DELETED_PREFIX) for _, text in items),
        )


@dataclass(frozen=True, slots=True)
class NewEpoch:
    """The watcher replaced the snapshot under a new epoch (`state.epoch`)."""

    epoch: str


@dataclass(frozen=True)
class Check:
    """One poll of the snapshot's counters, with what this process has received of them."""

    epoch: str
    ns_seq: dict[str, int]
    received: dict[str, int]
    """Highest ns_seq of each namespace this process received in `epoch`."""
    lost: frozenset[str]
    """Namespaces whose message the snapshot held a check ago has still not arrived here."""


class Arrivals:
    """What this process received, and which messages the snapshot holds never arrived.

    A message the snapshot held at one check and this process still lacks at the next is lost
    once something published after it has arrived (channels are delivered in order) or nothing
    arrived at all meanwhile; while older messages are still coming in, it may be queued
    behind them (a busy process reading its layer channel), so it is not given up on yet.
    """

    def __init__(self) -> None:
        self._ns_seq: dict[str, dict[str, int]] = {}  # epoch → namespace → newest ns_seq
        self._seq: dict[str, int] = {}  # epoch → newest global seq
        self._arrived = False
        self._suspects: dict[str, tuple[int, int]] = {}  # namespace → (ns_seq, seq) awaited

    def _received(self, epoch: str) -> dict[str, int]:
        received = self._ns_seq.get(epoch)
        if received is None:
            if len(self._ns_seq) >= _EPOCHS_REMEMBERED:
                oldest = next(iter(self._ns_seq))
                del self._ns_seq[oldest]
                self._seq.pop(oldest, None)
            received = self._ns_seq[epoch] = {}
        return received

    def note(self, batch: Batch) -> None:
        """One batch received from the layer."""
        self._arrived = True
        received = self._received(batch.epoch)
        if batch.last_ns_seq > received.get(batch.namespace, 0):
            received[batch.namespace] = batch.last_ns_seq
        if batch.last_seq > self._seq.get(batch.epoch, 0):
            self._seq[batch.epoch] = batch.last_seq

    def learned(self, epoch: str, counters: Mapping[str, int]) -> None:
        """Counters this process read from the snapshot (a client's FullState or repair).

        Messages up to them were published before the read, possibly before this process
        joined their group; the read's clients hold them, so none of them is awaited.
        """
        received = self._received(epoch)
        for namespace, value in counters.items():
            if value > received.get(namespace, 0):
                received[namespace] = value

    def check(
        self,
        epoch: str,
        ns_seq: dict[str, int],
        seq: int,
        watched: Collection[str] | None = None,
    ) -> Check:
        """Compare the snapshot's counters (`ns_seq`, global `seq`) with what arrived, for the
        namespaces (and streams) this process is in the group of (`watched`; None: all):
        another namespace's messages never come here, so none of them can be lost here."""
        received = self._ns_seq.get(epoch, {})
        newest = self._seq.get(epoch, 0)
        lost = set()
        suspects = {}
        for namespace, have in ns_seq.items():
            if watched is not None and namespace not in watched:
                continue
            got = received.get(namespace, 0)
            if got >= have:
                continue
            awaited = self._suspects.get(namespace)
            if awaited is None or got >= awaited[0]:
                suspects[namespace] = (have, seq)
            elif newest >= awaited[1] or not self._arrived:
                lost.add(namespace)
                suspects[namespace] = (have, seq)
            else:
                suspects[namespace] = awaited
        self._suspects = suspects
        self._arrived = False
        return Check(epoch, ns_seq, dict(received), frozenset(lost))
