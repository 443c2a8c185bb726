"""Helpers for tests that run against simcluster (used by several apps' test suites)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from kubernetes import client as k8s

from simcluster.cluster import SimCluster
from simcluster.engine import EngineConfig

T = TypeVar("T")

# Pods become Ready within ~0.1 s and leave ~0.1 s after a graceful delete, so
# tests watch whole lifecycles quickly without depending on wall-clock luck.
FAST_ENGINE = EngineConfig(
    start_delay_s=0.05,
    ready_delay_s=0.05,
    stop_delay_s=0.1,
    crash_interval_s=0.3,
    tick_s=0.02,
    seed=7,
)


def api_client_for(sim: SimCluster) -> k8s.ApiClient:
    """An official-client ApiClient pointed at `sim` (with its token, if any)."""
    configuration = k8s.Configuration()
    configuration.host = sim.url
    if sim.token:
        configuration.api_key = {"authorization": sim.token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    return k8s.ApiClient(configuration)


def wait_for(
    condition: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "condition",
) -> T:
    """Poll until `condition()` is truthy; its value, or AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)
