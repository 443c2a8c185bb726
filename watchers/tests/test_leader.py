"""Leader election over HTTP against simcluster's Leases (real resourceVersions and 409s)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from simcluster.cluster import SimCluster
from simcluster.testing import api_client_for
from watchers.leader import LeaderElector, default_identity, default_namespace, run_with_leadership
from watchers.lease import LeaseConfig, format_micro_time, parse_micro_time

# A 1 s lease (the wire's smallest) keeps takeovers short; the leader gives up at 0.6 s.
FAST = LeaseConfig(lease_duration_s=1.0, renew_deadline_s=0.6, retry_period_s=0.1)
# Where a test's point is an order of events, timings that a stalled loop cannot reorder: the
# leader that fails to renew gives up 4.4 s before its lease runs out, not 0.4 s; the release's
# requests get 0.5 s each (the retry period) rather than 0.1 s.
ROOMY = LeaseConfig(lease_duration_s=5.0, renew_deadline_s=0.6, retry_period_s=0.1)
RELEASING = LeaseConfig(lease_duration_s=2.0, renew_deadline_s=1.5, retry_period_s=0.5)
GROUP = "coordination.k8s.io"
LOGGER = "constellation.watcher.leader"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimCluster]:
    with SimCluster("empty") as cluster:
        yield cluster


@pytest.fixture
def lease_name(request: pytest.FixtureRequest) -> str:
    return request.node.name.replace("_", "-")[:60]


def elector(sim: SimCluster, name: str, identity: str, config: LeaseConfig = FAST) -> LeaderElector:
    return LeaderElector(
        api_client_for(sim), name=name, namespace="default", identity=identity, config=config
    )


def read_lease(sim: SimCluster, name: str) -> dict[str, Any]:
    return sim.get("leases", "default", name, group=GROUP)


def held_for(sim: SimCluster, name: str) -> float:
    """How long the current holder has renewed its lease without a break."""
    spec = read_lease(sim, name)["spec"]
    return parse_micro_time(spec["renewTime"]) - parse_micro_time(spec["acquireTime"])


def renewed_at(sim: SimCluster, name: str) -> float:
    return parse_micro_time(read_lease(sim, name)["spec"]["renewTime"])


async def until(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)
    return value


def takeovers(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Whom each takeover logged took the lease from: a holder's name, or "(released)"."""
    return [
        record.getMessage().split(" from=")[1].split()[0]
        for record in caplog.records
        if record.name == LOGGER and record.getMessage().startswith("took over lease=")
    ]


class Terms:
    """A `run_leader` that records each term and waits for its leader_stop."""

    def __init__(self) -> None:
        self.started: list[float] = []
        self.stopped: list[float] = []

    async def __call__(self, leader_stop: asyncio.Event) -> None:
        self.started.append(time.time())
        await leader_stop.wait()
        self.stopped.append(time.time())


async def test_the_first_candidate_creates_the_lease_and_leads(sim, lease_name):
    a = elector(sim, lease_name, "a")
    assert await a.acquire(asyncio.Event())
    spec = read_lease(sim, lease_name)["spec"]
    assert spec["holderIdentity"] == "a" and spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 0
    assert format_micro_time(parse_micro_time(spec["renewTime"])) == spec["renewTime"]
    assert a.is_leader


async def test_a_second_candidate_stands_by_while_the_leader_renews(sim, lease_name):
    a, b = elector(sim, lease_name, "a"), elector(sim, lease_name, "b")
    stop = asyncio.Event()
    a_terms, b_terms = Terms(), Terms()
    running = [asyncio.create_task(run_with_leadership(a, a_terms, stop))]
    await until(lambda: a_terms.started, "a to lead")
    running.append(asyncio.create_task(run_with_leadership(b, b_terms, stop)))
    await until(lambda: b.holder == "a", "b to see a leading")
    watched_from = time.time()
    await until(
        lambda: renewed_at(sim, lease_name) > watched_from + FAST.lease_duration_s,
        "a to keep renewing for longer than a lease duration",
    )
    assert not b_terms.started and not b.is_leader
    stop.set()
    await asyncio.gather(*running)


async def test_of_several_candidates_racing_for_a_new_lease_exactly_one_leads(sim, lease_name):
    candidates = [elector(sim, lease_name, identity) for identity in "abcd"]
    stop = asyncio.Event()
    terms = [Terms() for _ in candidates]
    pairs = zip(candidates, terms, strict=True)
    running = [asyncio.create_task(run_with_leadership(c, t, stop)) for c, t in pairs]
    await until(lambda: any(t.started for t in terms), "someone to lead")
    await until(lambda: held_for(sim, lease_name) > FAST.lease_duration_s, "renewals")
    assert sum(1 for t in terms if t.started) == 1
    stop.set()
    await asyncio.gather(*running)


async def test_clean_shutdown_releases_the_lease_and_the_standby_takes_over_at_once(
    sim, lease_name, caplog
):
    caplog.set_level(logging.INFO, logger=LOGGER)
    a, b = elector(sim, lease_name, "a", RELEASING), elector(sim, lease_name, "b", RELEASING)
    a_stop, b_stop = asyncio.Event(), asyncio.Event()
    a_terms, b_terms = Terms(), Terms()
    a_task = asyncio.create_task(run_with_leadership(a, a_terms, a_stop))
    await until(lambda: a_terms.started, "a to lead")
    b_task = asyncio.create_task(run_with_leadership(b, b_terms, b_stop))
    await until(lambda: b.holder == "a", "b to see a leading")
    a_stop.set()
    await a_task
    assert a_terms.stopped and not a.is_leader
    await until(lambda: b_terms.started, "b to take over")
    # At once: b found the lease released, not a's claim run out (which would name a).
    assert takeovers(caplog) == ["(released)"]
    spec = read_lease(sim, lease_name)["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1
    b_stop.set()
    await b_task
    assert read_lease(sim, lease_name)["spec"]["holderIdentity"] == ""


async def test_a_crashed_leaders_lease_is_taken_over_once_it_expires(sim, lease_name, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    a, b = elector(sim, lease_name, "a"), elector(sim, lease_name, "b")
    stop = asyncio.Event()
    a_terms, b_terms = Terms(), Terms()
    a_task = asyncio.create_task(run_with_leadership(a, a_terms, stop))
    await until(lambda: a_terms.started, "a to lead")
    b_task = asyncio.create_task(run_with_leadership(b, b_terms, stop))
    await until(lambda: b.holder == "a", "b to see a leading")
    a_task.cancel()
    await asyncio.gather(a_task, return_exceptions=True)
    last_renewal = parse_micro_time(read_lease(sim, lease_name)["spec"]["renewTime"])
    assert read_lease(sim, lease_name)["spec"]["holderIdentity"] == "a"
    await until(lambda: b_terms.started, "b to take over")
    assert last_renewal + FAST.lease_duration_s <= b_terms.started[0]
    assert takeovers(caplog) == ["a"]  # how soon after expiry: bench/takeover.py
    stop.set()
    await b_task


async def test_a_leader_that_cannot_renew_stops_before_its_lease_expires_then_leads_again(
    sim, lease_name
):
    a = elector(sim, lease_name, "a", ROOMY)
    stop = asyncio.Event()
    terms = Terms()
    task = asyncio.create_task(run_with_leadership(a, terms, stop))
    await until(lambda: terms.started, "a to lead")
    sim.faults.deny("leases", GROUP)
    try:
        await until(lambda: terms.stopped, "a to stop leading")
        spec = read_lease(sim, lease_name)["spec"]
        assert terms.stopped[0] < parse_micro_time(spec["renewTime"]) + ROOMY.lease_duration_s
        assert not a.is_leader
    finally:
        sim.faults.allow("leases", GROUP)
    await until(lambda: len(terms.started) == 2, "a to lead again once the API answers")
    stop.set()
    await task


async def test_a_leader_that_finds_another_holder_stops_and_stands_by(sim, lease_name):
    a = elector(sim, lease_name, "a")
    stop = asyncio.Event()
    terms = Terms()
    task = asyncio.create_task(run_with_leadership(a, terms, stop))
    await until(lambda: terms.started, "a to lead")
    lease = read_lease(sim, lease_name)
    lease["metadata"].pop("resourceVersion")
    lease["spec"].update(holderIdentity="intruder", renewTime=format_micro_time(time.time() + 60))
    sim.update("leases", lease, "default", group=GROUP)
    await until(lambda: terms.stopped, "a to stop leading")
    await until(lambda: a.holder == "intruder", "a to stand by")
    assert len(terms.started) == 1
    stop.set()
    await task
    assert read_lease(sim, lease_name)["spec"]["holderIdentity"] == "intruder"


async def test_a_failing_watcher_releases_the_lease_and_its_error_propagates(sim, lease_name):
    a = elector(sim, lease_name, "a")

    async def broken(leader_stop: asyncio.Event) -> None:
        raise RuntimeError("watcher broke")

    with pytest.raises(RuntimeError, match="watcher broke"):
        await run_with_leadership(a, broken, asyncio.Event())
    assert read_lease(sim, lease_name)["spec"]["holderIdentity"] == ""


async def test_a_candidate_stops_campaigning_when_told_to(sim, lease_name):
    # a holds a lease that outlives the test, so b can only stop by being told to.
    a, b = elector(sim, lease_name, "a", ROOMY), elector(sim, lease_name, "b", ROOMY)
    assert await a.acquire(asyncio.Event())
    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.3, stop.set)
    assert not await b.acquire(stop)


def test_default_identity_is_hostname_and_pid():
    assert default_identity() == f"{socket.gethostname()}-{os.getpid()}"


def test_default_namespace_is_the_service_accounts_else_default(tmp_path: Path):
    path = tmp_path / "namespace"
    assert default_namespace(path) == "default"
    path.write_text("constellation\n")
    assert default_namespace(path) == "constellation"
