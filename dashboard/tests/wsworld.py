"""What the `/ws/state/` tests share: cluster trees, the consumer app, a Publisher-driven world.

`World.publish` sends through the watcher's real `Publisher` (snapshot first, then one envelope
per flush); `World.drop` writes the snapshot but loses the messages, as a full channel-layer
queue or a Redis hiccup would. Clients are channels' `WebsocketCommunicator`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import redis.asyncio as aioredis
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from channels_redis.core import RedisChannelLayer
from django.urls import path

from constellation import protocol
from constellation.snapshot import RedisSnapshotStore, SnapshotStore
from dashboard import snapshots
from dashboard.consumers import StateConsumer
from dashboard.wsauth import WebSocketAuthStack
from watchers.pipeline import Flush
from watchers.publish import Publisher

# A handshake from the dashboard's own page: its host and the same origin (dashboard/origin.py).
ORIGIN = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
LAYERS = {
    "memory": "channels.layers.InMemoryChannelLayer",
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


def pod(namespace: str, name: str) -> dict[str, Any]:
    return {
        "id": f"Pod/{namespace}/{name}",
        "kind": "Pod",
        "name": name,
        "namespace": namespace,
        "health": "ok",
        "children": [],
    }


def tree(namespace: str, *pods: str) -> dict[str, Any]:
    return {
        "id": f"Namespace/{namespace}",
        "kind": "Namespace",
        "name": namespace,
        "namespace": namespace,
        "health": "Healthy",
        "children": [pod(namespace, name) for name in pods],
    }


def app(**timings: Any) -> Any:
    """The consumer behind the same auth stack as production, with test timings."""
    settings = {"retry_initial_s": 0.02, **timings}
    return WebSocketAuthStack(URLRouter([path("ws/state/", StateConsumer.as_asgi(**settings))]))


class World:
    """The snapshot store and a Publisher sharing this test's channel layer."""

    def __init__(self, store: SnapshotStore, redis_url: str | None = None) -> None:
        self.store = store
        self.redis_url = redis_url
        self.layer = get_channel_layer()
        self.publisher = Publisher(store, self.layer)
        self.clients: list[WebsocketCommunicator] = []

    async def start(self, *trees: dict[str, Any]) -> str:
        return await self.publisher.start_epoch(
            {t["name"]: t for t in trees}, {"synced": True, "ready": True}
        )

    async def publish(self, namespace: str, new_tree: dict | None, *messages: dict) -> None:
        await self.publisher.publish([Flush(namespace, list(messages), new_tree)])

    async def drop(self, namespace: str, new_tree: dict | None, *messages: dict) -> None:
        """Publish with the messages lost on the way: the snapshot moves, clients hear nothing."""
        self.publisher.layer = None
        try:
            await self.publish(namespace, new_tree, *messages)
        finally:
            self.publisher.layer = self.layer

    async def add_pod(self, namespace: str, *pods: str, lost: bool = False) -> None:
        """The namespace now holds `pods`, the last one just added; `lost`: nobody hears of it."""
        added = protocol.resource_added(
            namespace, f"Namespace/{namespace}", pod(namespace, pods[-1])
        )
        send = self.drop if lost else self.publish
        await send(namespace, tree(namespace, *pods), added)

    async def connect(
        self, application: Any = None, headers: list | None = None, query: str = ""
    ) -> Any:
        """A connected client; `query` is the view in its URL (`namespaces=web&summary=1`)."""
        path = f"/ws/state/?{query}" if query else "/ws/state/"
        client = WebsocketCommunicator(application or app(), path, headers=headers)
        connected, _ = await client.connect()
        assert connected
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            with contextlib.suppress(Exception):
                await client.disconnect()

    async def members(self, group: str) -> int:
        """How many channels the layer sends `group`'s messages to (one per web process)."""
        if isinstance(self.layer, InMemoryChannelLayer):
            return len(self.layer.groups.get(group, {}))
        assert self.redis_url is not None
        redis = aioredis.from_url(self.redis_url)
        try:
            if isinstance(self.layer, RedisChannelLayer):
                return await redis.zcard(self.layer._group_key(group))
            [(_, subscribers)] = await redis.pubsub_numsub(f"asgi__group__{group}")
            return subscribers
        finally:
            await redis.aclose()

    async def left(self, group: str) -> bool:
        """Whether no process is in `group` any more."""
        return await self.members(group) == 0


async def receive(client: WebsocketCommunicator, timeout: float = 3.0) -> dict[str, Any]:
    return orjson.loads(await client.receive_from(timeout))


async def receive_until(client: WebsocketCommunicator, type_: str, timeout: float = 3.0) -> dict:
    """The next message of `type_`, skipping others (e.g. heartbeat Pings), within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        message = await receive(client, max(0.01, deadline - time.monotonic()))
        if message["type"] == type_:
            return message


async def receive_close(client: WebsocketCommunicator, timeout: float = 3.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        output = await client.receive_output(max(0.01, deadline - time.monotonic()))
        if output["type"] == "websocket.close":
            return output.get("code", 1000)


async def exchange(client: WebsocketCommunicator, message: dict | str) -> dict[str, Any]:
    await client.send_to(
        text_data=message if isinstance(message, str) else orjson.dumps(message).decode()
    )
    return await receive(client)


def counter(metric: Any) -> float:
    return metric._value.get()


def raw_envelope(epoch: str, namespace: str, ns_seq: int, kind: str = "ResourceAdded") -> dict:
    """A single-message envelope as the watcher sends it, for sequences no publish produces."""
    text = protocol.encode({"type": kind, "namespace": namespace, "ns_seq": ns_seq})
    return {
        "type": "state.message",
        "text": text,
        "seq": ns_seq,
        "epoch": epoch,
        "namespace": namespace,
        "ns_seq": ns_seq,
    }


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 3.0
) -> None:
    """Poll `condition` until it holds; fail with `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        held = condition()
        if inspect.isawaitable(held):
            held = await held
        if held:
            return
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        await asyncio.sleep(0.01)  # polling interval, not a wait for luck


async def world_on_redis(settings: Any, url: str, layer: str) -> AsyncIterator[World]:
    """A World with the snapshot in Redis at `url` and the given channel layer (LAYERS)."""
    settings.REDIS_URL = url
    config = {} if layer == "memory" else {"CONFIG": {"hosts": [url]}}
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": LAYERS[layer], **config}}
    settings.ALLOW_ANONYMOUS = True
    store = RedisSnapshotStore(url)
    built = World(store, url)
    yield built
    await built.close()
    await store.close()
    # The web's per-loop snapshot stores belong to this test's loop, which ends with it.
    for web_store in list(snapshots._stores.values()):
        with contextlib.suppress(Exception):
            await web_store.close()
    snapshots._stores.clear()
