"""The snapshot: the latest tree of every namespace, shared by the watcher and web.

The watcher writes it (atomically with the sequence numbers of what it
publishes); web consumers read it on connect, on Resync and to heal a gap.
Two backends behind one interface: Redis for real deployments (any number of
web processes) and in-memory for the embedded one-process mode.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.exceptions import RedisError


@dataclass
class Snapshot:
    """What the snapshot held at one instant."""

    epoch: str = ""
    seq: int = 0
    synced: bool = False
    updated_at: float = 0.0
    trees: dict[str, dict[str, Any]] = field(default_factory=dict)
    ns_seq: dict[str, int] = field(default_factory=dict)
    cluster: dict[str, Any] = field(default_factory=dict)
    # Namespace summaries (constellation.summary), only when the read asked for them.
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The trees as stored JSON, instead of `trees`, when the read asked for them encoded: a
    # whole-cluster document is then joined from them without parsing 50 MB (dashboard.api).
    encoded_trees: dict[str, bytes] = field(default_factory=dict)

    @property
    def present(self) -> bool:
        return bool(self.epoch)


@dataclass
class SnapshotUpdate:
    """One atomic change: namespaces replaced or removed, and the new counters."""

    epoch: str
    seq: int
    trees: dict[str, dict[str, Any]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    ns_seq: dict[str, int] = field(default_factory=dict)
    synced: bool = True
    # Cluster-wide status (informer health); empty keeps what the snapshot had.
    cluster: dict[str, Any] = field(default_factory=dict)
    # JSON of some of `trees`, when the writer has it already (a store in Redis uses it).
    encoded: dict[str, bytes] = field(default_factory=dict)
    # Namespace summaries replaced, as JSON; `removed` namespaces lose theirs too.
    summaries: dict[str, bytes] = field(default_factory=dict)


class SnapshotLost(RuntimeError):
    """The store no longer holds the epoch being updated (Redis restarted empty)."""


Publish = tuple[str, bytes]  # a raw Redis PUBLISH: (channel, payload)


class SnapshotStore(ABC):
    """Where the snapshot lives."""

    @abstractmethod
    async def apply(self, update: SnapshotUpdate, publishes: Sequence[Publish] = ()) -> None:
        """Apply one update atomically (readers see all of it or none).

        Raises SnapshotLost when the store does not hold `update.epoch`: an update on
        top of nothing would leave a snapshot without the namespaces it did not touch.
        `publishes` are sent in the same atomic step, after the writes and only if they
        happen; only a store in Redis (`publishes_in_step`) takes them.
        """

    publishes_in_step = False

    @abstractmethod
    async def replace(self, update: SnapshotUpdate) -> None:
        """Replace the whole snapshot (new epoch): namespaces not in `update` vanish."""

    @abstractmethod
    async def read(
        self,
        namespaces: Iterable[str] | None = None,
        summaries: bool = False,
        encoded: bool = False,
    ) -> Snapshot:
        """The snapshot, optionally only some namespaces' trees (in `encoded_trees` as JSON
        when `encoded`), and the summaries if asked."""

    async def reachable(self) -> bool:
        """Whether the store answers now: a cheap probe, so a writer backing off after an
        outage retries as soon as the store is back rather than when its backoff ends."""
        return True

    async def close(self) -> None:  # noqa: B027 - optional hook; in-memory has nothing to close
        """Release connections."""


class InMemorySnapshotStore(SnapshotStore):
    """For embedded mode: the watcher and the web share one process."""

    def __init__(self) -> None:
        self._snapshot = Snapshot()

    async def apply(self, update: SnapshotUpdate, publishes: Sequence[Publish] = ()) -> None:
        if publishes:
            raise ValueError("the in-memory snapshot cannot publish to Redis")
        current = self._snapshot
        if current.epoch != update.epoch:
            raise SnapshotLost(f"snapshot holds epoch {current.epoch!r}, not {update.epoch!r}")
        removed = set(update.removed)
        trees = {k: v for k, v in current.trees.items() if k not in removed}
        trees.update(update.trees)
        summaries = {k: v for k, v in current.summaries.items() if k not in removed}
        summaries.update(_decoded(update.summaries))
        self._snapshot = Snapshot(
            update.epoch,
            update.seq,
            update.synced,
            time.time(),
            trees,
            {**current.ns_seq, **update.ns_seq},
            update.cluster or current.cluster,
            summaries,
        )

    async def replace(self, update: SnapshotUpdate) -> None:
        self._snapshot = Snapshot(
            update.epoch,
            update.seq,
            update.synced,
            time.time(),
            dict(update.trees),
            dict(update.ns_seq),
            dict(update.cluster),
            _decoded(update.summaries),
        )

    async def read(
        self,
        namespaces: Iterable[str] | None = None,
        summaries: bool = False,
        encoded: bool = False,
    ) -> Snapshot:
        current = self._snapshot
        trees = current.trees
        if namespaces is not None:
            wanted = set(namespaces)
            trees = {k: v for k, v in trees.items() if k in wanted}
        return Snapshot(
            current.epoch,
            current.seq,
            current.synced,
            current.updated_at,
            {} if encoded else trees,
            dict(current.ns_seq),
            current.cluster,
            current.summaries if summaries else {},
            {k: orjson.dumps(v) for k, v in trees.items()} if encoded else {},
        )


# One update is one script: the epoch check, every write and the messages it covers run as a
# single Redis command. A MULTI with the same commands costs the watcher a round trip more per
# flush when it also publishes, and on our machines a round trip after a pause costs ~1 ms of
# CPU (BENCHMARKS.md, watcher).
# KEYS: meta, trees, ns_seq, summaries. ARGV: epoch, then counted groups: meta field/value pairs,
# trees to set (name, JSON), namespaces to delete (trees and summaries), ns_seq pairs, summaries
# to set (name, JSON), publishes (channel, payload).
_APPLY_SCRIPT = """
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[1] then return 0 end
local i = 2
local function group()
  local n = tonumber(ARGV[i])
  local first = i + 1
  i = i + 1 + n
  return first, first + n - 1
end
local a, b = group()
if b >= a then redis.call('HSET', KEYS[1], unpack(ARGV, a, b)) end
a, b = group()
if b >= a then redis.call('HSET', KEYS[2], unpack(ARGV, a, b)) end
a, b = group()
if b >= a then
  redis.call('HDEL', KEYS[2], unpack(ARGV, a, b))
  redis.call('HDEL', KEYS[4], unpack(ARGV, a, b))
end
a, b = group()
if b >= a then redis.call('HSET', KEYS[3], unpack(ARGV, a, b)) end
a, b = group()
if b >= a then redis.call('HSET', KEYS[4], unpack(ARGV, a, b)) end
a, b = group()
for k = a, b, 2 do redis.call('PUBLISH', ARGV[k], ARGV[k + 1]) end
return 1
"""


def _decoded(encoded: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    return {name: orjson.loads(value) for name, value in encoded.items()}


def _counted(values: list[Any]) -> list[Any]:
    return [len(values), *values]


def _flat(pairs: Iterable[tuple[Any, Any]]) -> list[Any]:
    return [item for pair in pairs for item in pair]


class RedisSnapshotStore(SnapshotStore):
    """Four hashes under a prefix: meta, trees (ns → JSON), ns_seq, summaries (ns → JSON)."""

    publishes_in_step = True

    def __init__(self, url: str, prefix: str = "constellation:snapshot") -> None:
        import redis.asyncio as aioredis

        self.url = url
        self._redis = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._apply_script = self._redis.register_script(_APPLY_SCRIPT)
        self.meta_key = f"{prefix}:meta"
        self.trees_key = f"{prefix}:trees"
        self.ns_seq_key = f"{prefix}:ns_seq"
        self.summaries_key = f"{prefix}:summaries"

    def _meta(self, update: SnapshotUpdate) -> dict[str, Any]:
        meta = {
            "epoch": update.epoch,
            "seq": update.seq,
            "synced": int(update.synced),
            "updated_at": time.time(),
        }
        if update.cluster:
            meta["cluster"] = orjson.dumps(update.cluster)
        return meta

    async def apply(self, update: SnapshotUpdate, publishes: Sequence[Publish] = ()) -> None:
        encoded = update.encoded
        trees = (
            (name, encoded.get(name) or orjson.dumps(tree)) for name, tree in update.trees.items()
        )
        args = [
            update.epoch,
            *_counted(_flat(self._meta(update).items())),
            *_counted(_flat(trees)),
            *_counted(list(update.removed)),
            *_counted(_flat(update.ns_seq.items())),
            *_counted(_flat(update.summaries.items())),
            *_counted(_flat(publishes)),
        ]
        keys = [self.meta_key, self.trees_key, self.ns_seq_key, self.summaries_key]
        if not await self._apply_script(keys=keys, args=args):
            raise SnapshotLost(
                f"Redis does not hold epoch {update.epoch!r}; it restarted or was flushed"
            )

    async def replace(self, update: SnapshotUpdate) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.trees_key, self.ns_seq_key, self.summaries_key, self.meta_key)
            if update.trees:
                pipe.hset(
                    self.trees_key, mapping={k: orjson.dumps(v) for k, v in update.trees.items()}
                )
            if update.summaries:
                pipe.hset(self.summaries_key, mapping=update.summaries)
            if update.ns_seq:
                pipe.hset(self.ns_seq_key, mapping=update.ns_seq)
            pipe.hset(self.meta_key, mapping=self._meta(update))
            await pipe.execute()

    async def read(
        self,
        namespaces: Iterable[str] | None = None,
        summaries: bool = False,
        encoded: bool = False,
    ) -> Snapshot:
        wanted = None if namespaces is None else list(namespaces)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(self.meta_key)
            pipe.hgetall(self.ns_seq_key)
            if summaries:
                pipe.hgetall(self.summaries_key)
            if wanted is None:
                pipe.hgetall(self.trees_key)
            elif wanted:
                pipe.hmget(self.trees_key, wanted)
            meta, raw_ns_seq, *rest = await pipe.execute()
        raw_summaries = rest.pop(0) if summaries else {}
        raw_trees = rest
        if wanted is None:
            stored = {k.decode(): v for k, v in raw_trees[0].items()}
        else:
            values = raw_trees[0] if raw_trees else []
            stored = {ns: v for ns, v in zip(wanted, values, strict=False) if v}
        trees = {} if encoded else {ns: orjson.loads(v) for ns, v in stored.items()}
        encoded_trees = stored if encoded else {}
        if not meta:
            return Snapshot(trees=trees, encoded_trees=encoded_trees)
        return Snapshot(
            epoch=meta[b"epoch"].decode(),
            seq=int(meta[b"seq"]),
            synced=meta[b"synced"] == b"1",
            updated_at=float(meta[b"updated_at"]),
            trees=trees,
            ns_seq={k.decode(): int(v) for k, v in raw_ns_seq.items()},
            cluster=orjson.loads(meta.get(b"cluster", b"{}")),
            summaries={k.decode(): orjson.loads(v) for k, v in raw_summaries.items()},
            encoded_trees=encoded_trees,
        )

    async def reachable(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (OSError, RedisError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()


_embedded: InMemorySnapshotStore | None = None


def snapshot_store(redis_url: str | None) -> SnapshotStore:
    """Redis when a URL is configured; else the process's one in-memory store (embedded mode)."""
    global _embedded
    if redis_url:
        return RedisSnapshotStore(redis_url)
    if _embedded is None:
        _embedded = InMemorySnapshotStore()
    return _embedded
