"""The web's shared snapshot reads, against a real Redis snapshot."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from dashboard.snapshots import read_shared
from dashboard.tests.wsworld import World, tree

pytestmark = pytest.mark.django_db(transaction=True)


async def transactions(url: str) -> int:
    """MULTI/EXEC blocks Redis has run: one per snapshot read."""
    redis = aioredis.from_url(url)
    try:
        stats = await redis.info("commandstats")
        return int(stats.get("cmdstat_exec", {}).get("calls", 0))
    finally:
        await redis.aclose()


async def test_callers_that_ask_together_share_one_read_and_one_encoding(
    redis_world: World,
) -> None:
    assert redis_world.redis_url is not None
    await redis_world.start(tree("web"), tree("api"))
    before = await transactions(redis_world.redis_url)
    builds = []

    def build() -> dict[str, str]:
        builds.append(1)
        return {"type": "FullState"}

    reads = await asyncio.gather(*(read_shared() for _ in range(20)))
    texts = {tuple(read.frames("full", build)) for read in reads}

    assert await transactions(redis_world.redis_url) == before + 1
    assert all(read is reads[0] for read in reads)
    assert sorted(reads[0].snapshot.trees) == ["api", "web"]
    assert (texts, builds) == ({('{"type":"FullState"}',)}, [1])


async def test_a_caller_asking_after_a_read_gets_a_new_one_that_sees_later_writes(
    redis_world: World,
) -> None:
    await redis_world.start(tree("web"))
    first = await read_shared(("web",))

    await redis_world.start(tree("web", "a"))
    second = await read_shared(("web",))

    assert second is not first
    assert second.snapshot.trees == {"web": tree("web", "a")}


async def test_every_caller_gets_the_failure_of_a_shared_read(
    settings: Any, redis_world: World
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    results = await asyncio.gather(read_shared(), read_shared(), return_exceptions=True)

    assert all(isinstance(result, Exception) for result in results)
