"""The publisher's choice of path: group messages in the snapshot's own Redis command when the
layer is channels_redis' pub/sub layer on that Redis, `group_send` after the write otherwise."""

import asyncio

import orjson
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from constellation import protocol
from constellation.snapshot import InMemorySnapshotStore, RedisSnapshotStore
from watchers.pipeline import Flush
from watchers.publish import Publisher, pubsub_framer

TREE = {"id": "Namespace/shop", "kind": "Namespace", "name": "shop", "children": []}


async def test_a_pubsub_layer_on_the_snapshots_redis_publishes_in_the_same_command(
    fresh_redis_url,
):
    store = RedisSnapshotStore(fresh_redis_url)
    layer = RedisPubSubChannelLayer(hosts=[fresh_redis_url])
    try:
        assert pubsub_framer(layer, store) is not None
        channel = await layer.new_channel()
        await layer.group_add(protocol.namespace_group("shop"), channel)
        publisher = Publisher(store, layer)
        await publisher.start_epoch({"shop": TREE}, {})
        message = protocol.resource_updated("shop", {**TREE, "health": "Down"})
        await publisher.publish([Flush("shop", [message], TREE)])
        envelope = await asyncio.wait_for(layer.receive(channel), 5)
        assert envelope["type"] == "state.messages"
        [item] = envelope["messages"]
        assert (item["ns_seq"], orjson.loads(item["text"])["type"]) == (1, "ResourceUpdated")
        assert (await store.read()).ns_seq == {"shop": 1, protocol.SUMMARY_STREAM: 0}
    finally:
        await layer.flush()
        await store.close()


async def test_other_layers_and_other_redis_servers_get_group_send(fresh_redis_url):
    store = RedisSnapshotStore(fresh_redis_url)
    try:
        elsewhere = RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:1/0"])
        assert pubsub_framer(elsewhere, store) is None
        assert pubsub_framer(RedisChannelLayer(hosts=[fresh_redis_url]), store) is None
        here = RedisPubSubChannelLayer(hosts=[fresh_redis_url])
        assert pubsub_framer(here, InMemorySnapshotStore()) is None
        assert pubsub_framer(InMemoryChannelLayer(), store) is None
    finally:
        await store.close()


async def test_a_new_epoch_in_the_snapshot_is_published_even_if_announcing_it_fails(
    fresh_redis_url, redis_process, caplog
):
    """The layer's Redis is down while the snapshot's is up (a connection that died with a
    restarted Redis): the republish is one outcome, not a failure (issue 15 B)."""
    store = RedisSnapshotStore(fresh_redis_url)
    layer = RedisChannelLayer(hosts=[redis_process.url])
    redis_process.stop()
    try:
        publisher = Publisher(store, layer)

        epoch = await publisher.start_epoch({"shop": TREE}, {})

        assert (await store.read()).epoch == epoch
        assert "channel-layer send failed after the snapshot write what=state.epoch" in caplog.text
        await publisher.publish([Flush("shop", [protocol.resource_updated("shop", TREE)], TREE)])
        assert (await store.read()).ns_seq["shop"] == 1
    finally:
        await store.close()
