import pytest

from constellation.snapshot import (
    InMemorySnapshotStore,
    RedisSnapshotStore,
    SnapshotLost,
    SnapshotUpdate,
)


@pytest.fixture(params=["memory", "redis"])
async def store(request):
    if request.param == "memory":
        yield InMemorySnapshotStore()
        return
    url = request.getfixturevalue("fresh_redis_url")
    redis_store = RedisSnapshotStore(url, prefix="test:snapshot")
    yield redis_store
    await redis_store.close()


async def test_an_empty_snapshot_is_not_present(store):
    snapshot = await store.read()
    assert not snapshot.present and snapshot.trees == {}


async def test_updates_apply_trees_counters_and_removals_together(store):
    await store.replace(
        SnapshotUpdate(
            "e1",
            2,
            {"a": {"id": "Namespace/a"}, "b": {"id": "Namespace/b"}},
            ns_seq={"a": 1, "b": 1},
            cluster={"synced": True},
        )
    )
    await store.apply(
        SnapshotUpdate(
            "e1", 4, {"a": {"id": "Namespace/a", "v": 2}}, removed=["b"], ns_seq={"a": 2, "b": 2}
        )
    )
    snapshot = await store.read()
    assert (snapshot.epoch, snapshot.seq, snapshot.synced) == ("e1", 4, True)
    assert snapshot.trees == {"a": {"id": "Namespace/a", "v": 2}}
    assert snapshot.ns_seq == {"a": 2, "b": 2}
    assert snapshot.cluster == {"synced": True}
    assert snapshot.updated_at > 0


async def test_replace_drops_namespaces_of_the_old_epoch(store):
    await store.replace(SnapshotUpdate("e1", 1, {"old": {}}, ns_seq={"old": 1}))
    await store.replace(SnapshotUpdate("e2", 1, {"new": {}}, ns_seq={"new": 1}))
    snapshot = await store.read()
    assert snapshot.epoch == "e2" and set(snapshot.trees) == {"new"}
    assert snapshot.ns_seq == {"new": 1}


async def test_reading_some_namespaces_returns_only_their_trees(store):
    await store.replace(SnapshotUpdate("e1", 1, {"a": {"x": 1}, "b": {"x": 2}}))
    assert (await store.read(["b", "missing"])).trees == {"b": {"x": 2}}
    assert (await store.read([])).trees == {}


async def test_an_update_to_a_snapshot_that_was_lost_raises_snapshot_lost(store):
    await store.replace(SnapshotUpdate("e1", 1, {"a": {}}))
    with pytest.raises(SnapshotLost):
        await store.apply(SnapshotUpdate("e0", 2, {"b": {}}))


async def redis_subscriber(url: str, channel: str):
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    pubsub = client.pubsub()
    await pubsub.subscribe(channel)
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    return client, pubsub


async def test_publishes_go_out_in_the_same_step_as_the_writes_they_follow(fresh_redis_url):
    store = RedisSnapshotStore(fresh_redis_url, prefix="test:snapshot")
    client, pubsub = await redis_subscriber(fresh_redis_url, "news")
    try:
        await store.replace(SnapshotUpdate("e1", 1, {"a": {}}, ns_seq={"a": 1}))
        await store.apply(SnapshotUpdate("e1", 2, ns_seq={"a": 2}), [("news", b"a is 2")])
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
        assert message["data"] == b"a is 2"
        assert (await store.read()).ns_seq == {"a": 2}
        with pytest.raises(SnapshotLost):
            await store.apply(SnapshotUpdate("e0", 3, ns_seq={"a": 3}), [("news", b"lost")])
        assert (await store.read()).ns_seq == {"a": 2}
        # Published after the refused write: "lost" would arrive first had it gone out.
        await store.apply(SnapshotUpdate("e1", 3, ns_seq={"a": 3}), [("news", b"a is 3")])
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
        assert message["data"] == b"a is 3"
    finally:
        await pubsub.aclose()
        await client.aclose()
        await store.close()


async def test_the_in_memory_snapshot_refuses_publishes():
    with pytest.raises(ValueError):
        await InMemorySnapshotStore().apply(SnapshotUpdate("", 1), [("news", b"x")])
