"""Fixtures of the `/ws/state/` tests: worlds over each channel layer and snapshot backend."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from django.test import Client

from constellation.snapshot import InMemorySnapshotStore, snapshot_store
from dashboard.fanout import FanoutHub
from dashboard.tests.wsworld import ORIGIN, World, world_on_redis
from tests.redis_server import RedisProcess


@pytest.fixture
def hub_timings(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The process's hub checks the snapshot often enough for tests to wait on it."""
    monkeypatch.setattr(FanoutHub, "check_interval_s", 0.3)
    monkeypatch.setattr(FanoutHub, "retry_initial_s", 0.02)
    return monkeypatch


@pytest.fixture
def fast_checks(hub_timings: pytest.MonkeyPatch) -> None:
    hub_timings.setattr(FanoutHub, "check_interval_s", 0.05)


@pytest.fixture
async def memory_world(settings: Any, hub_timings: pytest.MonkeyPatch) -> AsyncIterator[World]:
    settings.REDIS_URL = None
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.ALLOW_ANONYMOUS = True
    store = snapshot_store(None)
    assert isinstance(store, InMemorySnapshotStore)
    built = World(store)
    yield built
    await built.close()


@pytest.fixture
async def redis_world(
    settings: Any, fresh_redis_url: str, hub_timings: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    """channels_redis' core layer and the Redis snapshot."""
    async for built in world_on_redis(settings, fresh_redis_url, "core"):
        yield built


@pytest.fixture
async def pubsub_world(
    settings: Any, fresh_redis_url: str, hub_timings: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    """channels_redis' pub/sub layer and the Redis snapshot."""
    async for built in world_on_redis(settings, fresh_redis_url, "pubsub"):
        yield built


@pytest.fixture
async def frozen_snapshot_world(
    settings: Any, redis_process: RedisProcess, hub_timings: pytest.MonkeyPatch
) -> AsyncIterator[World]:
    """The in-memory layer with the snapshot on a Redis the test may freeze
    (`redis_process.pause()`): snapshot reads wait while messages still flow."""
    async for built in world_on_redis(settings, redis_process.url, "memory"):
        yield built


@pytest.fixture(params=["memory", "redis", "pubsub"])
def world(request: pytest.FixtureRequest) -> World:
    """The core cases run against every backend: in-memory, core layer, pub/sub layer."""
    return request.getfixturevalue(f"{request.param}_world")


@pytest.fixture
def mem(memory_world: World) -> World:
    return memory_world


@pytest.fixture
def session_headers(django_user_model: Any) -> Iterator[list]:
    user = django_user_model.objects.create_user("viewer", password="not-used-here")
    browser = Client()
    browser.force_login(user)
    yield [*ORIGIN, (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())]
