"""Chaos: every fault an operator or a network inflicts, in a seeded random order (issue 15).

simcluster, a real Redis, `watch_cluster` and Daphne run as separate processes (LiveStack) with
20 protocol clients of every kind of view. Each round changes the cluster, injects one fault,
keeps changing the cluster while it lasts, and clears it; then every client, the snapshot and
`/api/state/` must converge to what the simulated API holds within CONVERGE_S. Throughout,
no HTTP endpoint may answer a 5xx other than 503, `/readyz` must say what is wrong while a
fault it can see lasts, and the lost-message counter must stay 0 through the fault-free
warm-up round.

`make test` runs every fault once (under two minutes). For longer runs:
CONSTELLATION_CHAOS_ROUNDS=60 CONSTELLATION_CHAOS_SEED=7 make test PYTEST_ARGS=tests/test_chaos.py
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Iterator

import aiohttp
import orjson
import pytest

from simcluster.errors import ApiError
from tests.chaos import (
    FAULTS,
    Fault,
    Fleet,
    HttpWatch,
    http_get,
    readyz,
    shown_pods,
    truth,
    until,
)
from tests.stack import LiveStack

SEED = int(os.environ.get("CONSTELLATION_CHAOS_SEED", "20261206"))
ROUNDS = int(os.environ.get("CONSTELLATION_CHAOS_ROUNDS", "0"))  # 0: each fault once
CLIENTS = 20
CONVERGE_S = 20.0
LOST = "constellation_web_fanout_lost_total"
ENV = {
    # Short enough that a watcher stopped for a few seconds is noticed, above its 5 s heartbeat.
    "CONSTELLATION_READYZ_MAX_AGE": "12",
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LiveStack]:
    # Bookmarks every second: a stalled watch is then noticed after three seconds.
    with LiveStack(scenario="demo", env=ENV, bookmark_interval_s=1.0) as live:
        yield live


class Churn:
    """Changes to the cluster while faults come and go: bare pods created and deleted."""

    def __init__(self, stack: LiveStack, rng: random.Random) -> None:
        self.stack = stack
        self.rng = rng
        self.count = 0
        self.alive: list[tuple[str, str]] = []

    def step(self) -> None:
        sim = self.stack.sim
        try:
            if self.alive and self.rng.random() < 0.4:
                namespace, name = self.alive.pop(self.rng.randrange(len(self.alive)))
                sim.delete("pods", namespace, name)
            else:
                self.count += 1
                namespace = self.rng.choice(["storefront", "payments", "batch"])
                name = f"chaos-{self.count}"
                sim.create(
                    "pods",
                    {
                        "metadata": {"name": name, "labels": {"app": "chaos"}},
                        "spec": {"containers": [{"name": "main", "image": "chaos:1"}]},
                    },
                    namespace,
                )
                self.alive.append((namespace, name))
        except ApiError as exc:
            # A fault of the API itself (error burst, 403 window) refuses writes too.
            assert exc.code in (403, 409, 404, 500), exc


def rounds(rng: random.Random) -> list[Fault]:
    if ROUNDS <= 0:
        order = list(FAULTS)
        rng.shuffle(order)
        return order
    return [rng.choice(FAULTS) for _ in range(ROUNDS)]


async def converged(stack: LiveStack, fleet: Fleet) -> list[str]:
    """What still differs from the simulated API (empty: everything converged)."""
    snapshot = stack.snapshot_if_reachable()
    if snapshot is None or not snapshot.present:
        return ["no snapshot"]
    namespaces, pods = truth(stack.sim)
    problems = []
    if set(snapshot.trees) != namespaces:
        problems.append(f"snapshot namespaces {sorted(set(snapshot.trees) ^ namespaces)}")
    if shown_pods(snapshot.trees) != pods:
        problems.append(f"snapshot pods differ by {sorted(shown_pods(snapshot.trees) ^ pods)[:5]}")
    problems += fleet.laggards(snapshot)
    status, body = await asyncio.to_thread(http_get, stack.url + "/api/state/")
    if status != 200:
        problems.append(f"/api/state/ answered {status}")
    else:
        state = orjson.loads(body)
        if state["epoch"] != snapshot.epoch or {t["name"]: t for t in state["hierarchy"]} != (
            snapshot.trees
        ):
            problems.append("/api/state/ differs from the snapshot")
    return problems


async def test_every_client_and_the_api_converge_after_each_fault(stack: LiveStack) -> None:
    rng = random.Random(SEED)
    churn = Churn(stack, rng)
    watch = HttpWatch(stack)
    fleet = Fleet.of(stack, ["storefront", "payments", "batch", "platform"], CLIENTS)
    async with aiohttp.ClientSession() as session:
        await fleet.start(session)
        try:
            # Warm-up: no fault at all, so nothing may be counted lost.
            lost_before = stack.web_metric(LOST)
            for _ in range(5):
                churn.step()
            await until(lambda: _clear(stack, fleet), CONVERGE_S, "convergence before faults")
            await until(lambda: _paced(stack), CONVERGE_S, "every watch's bookmark pace learned")
            assert stack.web_metric(LOST) == lost_before, "messages counted lost with no fault"

            for fault in rounds(rng):
                await run_fault(stack, fleet, churn, watch, fault)
        finally:
            await fleet.stop()
    assert watch.failures == [], watch.failures
    assert fleet.gaps == 0


async def run_fault(
    stack: LiveStack, fleet: Fleet, churn: Churn, watch: HttpWatch, fault: Fault
) -> None:
    churn.step()
    await asyncio.to_thread(fault.begin, stack)
    try:
        deadline = asyncio.get_running_loop().time() + fault.hold_s
        seen_reason = fault.readyz is None
        said: list[tuple[int, str]] = []
        while asyncio.get_running_loop().time() < deadline:
            churn.step()
            await asyncio.to_thread(watch.poll)
            if not seen_reason:
                status, body = await asyncio.to_thread(readyz, stack)
                said.append((status, body.get("reason", "")))
                seen_reason = status == 503 and fault.readyz in body.get("reason", "")
            await asyncio.sleep(0.3)
        assert seen_reason, f"{fault.name}: /readyz never said {fault.readyz!r}: {said[-3:]}"
    finally:
        if fault.end is not None:
            await asyncio.to_thread(fault.end, stack)
    churn.step()
    try:
        await until(lambda: _clear(stack, fleet), CONVERGE_S, f"convergence after {fault.name}")
    except AssertionError as exc:
        problems = await converged(stack, fleet)
        raise AssertionError(f"{exc}: {problems[:6]}\n{stack.logs()}") from None
    await asyncio.to_thread(watch.poll)


def _paced(stack: LiveStack) -> bool:
    """Every informer knows its bookmarks' pace, so a stall shows in seconds, not minutes."""
    resources = stack.snapshot().cluster.get("resources", {}).values()
    return all((r.get("silence_limit_s") or 1e9) < 10 for r in resources)


async def _clear(stack: LiveStack, fleet: Fleet) -> bool:
    if await converged(stack, fleet):
        return False
    status, body = await asyncio.to_thread(readyz, stack)
    return status == 200 and body.get("status") == "ready"
