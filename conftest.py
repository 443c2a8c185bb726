"""Fixtures shared by every app's tests: Redis, real or throwaway."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.redis_server import RedisProcess, flush_db


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis for this test session: REDIS_URL (flushed first) or a throwaway server."""
    configured = os.environ.get("REDIS_URL", "").strip()
    if configured:
        flush_db(configured)
        yield configured
        return
    with RedisProcess() as server:
        yield server.url


@pytest.fixture
def fresh_redis_url(redis_url: str) -> str:
    """`redis_url` with its database emptied, for tests that must not see earlier keys."""
    flush_db(redis_url)
    return redis_url


@pytest.fixture
def redis_process() -> Iterator[RedisProcess]:
    """A running Redis this test owns and may stop and restart; never the shared one."""
    with RedisProcess() as server:
        yield server
