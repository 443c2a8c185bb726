"""Fixtures shared by every app's tests: Redis, real or throwaway."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.redis_server import RedisProcess, flush_db
from tests.tools import MISSING


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


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """End the report with what a missing tool left untested (tests/tools.py), if anything."""
    reasons = sorted(
        {
            report.longrepr[2]
            for report in terminalreporter.stats.get("skipped", [])
            if isinstance(report.longrepr, tuple) and MISSING in report.longrepr[2]
        }
    )
    if not reasons:
        return
    terminalreporter.write_sep("=", "NOT TESTED: tools missing on this machine", yellow=True)
    for reason in reasons:
        terminalreporter.write_line(reason.removeprefix("Skipped: "), yellow=True)
