"""The generated scenarios: `large` (a big, settled cluster) and `churn` (one that never rests).

Both spread their counts evenly: each namespace gets services/namespaces services,
each service a Deployment of pods/services pods (remainders go to the first ones),
and optionally an Ingress with a path per service. Seeding settles the engine, so
every pod is Running and Ready before the first client connects.

`churn` then keeps pods moving at a target rate of pod watch events per second.
Its driver is a small feedback loop:
- a store listener stamps every pod event; the observed rate is the count over
  the last second;
- each tick earns `gain × rate × dt` events of credit, and the driver spends it on
  actions (a rollout restart or a scale change of an idle deployment), each
  priced by the pod events it should cause (EVENTS_PER_REPLACED_POD per pod a
  rollout replaces, fewer for a scale step);
- the prices are estimates, so `gain` is corrected by integral feedback: it
  grows while the observed rate is below the target and shrinks while above,
  clamped to [MIN_GAIN, MAX_GAIN] and frozen during the first WARMUP_S (events
  lag the actions that cause them by a pod start-up).
When too few deployments are idle to meet the rate, the cluster is too small for
it; the driver then does what it can rather than pile rollouts on one deployment.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, ClassVar

from simcluster.scenarios import actions
from simcluster.scenarios.base import SYSTEM_NAMESPACES, Scenario, require
from simcluster.scenarios.manifests import (
    DEPLOYMENTS,
    PODS,
    Manifest,
    apply,
    deployment,
    ingress,
    namespace,
    service,
    service_port,
)
from simcluster.store import Store, WatchEvent

if TYPE_CHECKING:
    from simcluster.engine import WorkloadEngine

IMAGE = "registry.example.com/bulk/app:1.0.0"
CONTAINER_PORT = 8080

# Pod events per pod a rollout replaces: the new pod's ADDED, bind, accepted,
# Running and Ready writes; the old pod's deletion, unready write and DELETED.
EVENTS_PER_REPLACED_POD = 8
EVENTS_PER_ADDED_POD = 5
EVENTS_PER_REMOVED_POD = 3
WINDOW_S = 1.0
"""The observed rate counts pod events over this sliding window."""
WARMUP_S = 3.0
"""No gain correction before this: the first actions' events have not arrived yet."""
GAIN_RATE = 0.5
"""Integral gain per second at a 100% rate error: corrects within seconds, without ringing."""
MIN_GAIN, MAX_GAIN = 0.25, 4.0
MAX_CREDIT_S = 1.0
"""Unspent credit is capped at this many seconds of target rate (no bursts after a stall)."""
PICK_ATTEMPTS = 8
"""Random deployments tried per action before deciding none is idle."""
SCALE_SHARE = 0.3
"""Fraction of actions that are scale changes rather than rollouts."""
# Settling walks each pod through a few timers (start, ready): steps grow with the pods.
SETTLE_STEPS_PER_POD = 4


def spread(total: int, buckets: int) -> list[int]:
    """`total` split into `buckets` near-equal parts, larger parts first."""
    if buckets <= 0:
        return []
    base, extra = divmod(total, buckets)
    return [base + (1 if i < extra else 0) for i in range(buckets)]


def _name(prefix: str, index: int, count: int) -> str:
    return f"{prefix}-{index:0{max(2, len(str(count)))}d}"


@dataclasses.dataclass
class LargeScenario(Scenario):
    """namespaces × services × pods, every pod Ready; nothing moves unless a client moves it."""

    name: ClassVar[str] = "large"
    summary: ClassVar[str] = "a big settled cluster (namespaces, services, pods parameters)"

    namespaces: int = 200
    services: int = 2000
    pods: int = 10000
    ingress: bool = True
    """An Ingress per namespace with a path per service, so services sit under a route."""

    def __post_init__(self) -> None:
        require(self.namespaces >= 1, "namespaces must be at least 1")
        require(self.services >= 0, "services must not be negative")
        require(self.pods >= 0, "pods must not be negative")
        require(self.pods == 0 or self.services >= 1, "pods need at least one service")

    def layout(self) -> Iterator[tuple[str, list[tuple[str, int]]]]:
        """(namespace, [(service, replicas)]) in creation order."""
        replicas = iter(spread(self.pods, self.services))
        for i, per_namespace in enumerate(spread(self.services, self.namespaces), start=1):
            ns = _name("team", i, self.namespaces)
            yield (
                ns,
                [
                    (_name("app", j, per_namespace), next(replicas))
                    for j in range(1, per_namespace + 1)
                ],
            )

    def manifests(self) -> Iterable[Manifest]:
        yield from SYSTEM_NAMESPACES
        for ns, services in self.layout():
            yield namespace(ns, {"scenario": self.name})
            for name, replicas in services:
                yield deployment(ns, name, IMAGE, replicas, CONTAINER_PORT)
                yield service(
                    ns,
                    name,
                    [service_port("http", 80, "http")],
                    selector={"app.kubernetes.io/name": name},
                )
            if self.ingress and services:
                yield ingress(
                    ns, ns, f"{ns}.example.com", [(f"/{name}", name, 80) for name, _ in services]
                )

    def seed(self, store: Store, engine: WorkloadEngine) -> None:
        apply(store, self.manifests())
        engine.settle(max_steps=SETTLE_STEPS_PER_POD * self.pods + 1000)


@dataclasses.dataclass
class ChurnScenario(LargeScenario):
    """A smaller `large` whose deployments roll and rescale at a target pod-event rate."""

    name: ClassVar[str] = "churn"
    summary: ClassVar[str] = "steady rollouts and rescaling at `rate` pod events per second"

    namespaces: int = 20
    services: int = 100
    pods: int = 1000
    rate: float = 200.0
    """Target pod watch events per second."""
    random_seed: int = 1
    """Seeds which deployments move and how, so runs repeat."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.rate > 0, "rate must be positive")

    def driver(self, store: Store, engine: WorkloadEngine) -> ChurnDriver:
        base = {
            (ns, name): replicas for ns, services in self.layout() for name, replicas in services
        }
        return ChurnDriver(store, engine.clock, base, self.rate, random.Random(self.random_seed))


class ChurnDriver:
    """Steers rollouts and scale changes toward `rate` pod events per second."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        base_replicas: dict[tuple[str, str], int],
        rate: float,
        rng: random.Random,
    ) -> None:
        self.store = store
        self.clock = clock
        self.base = base_replicas
        self.keys = sorted(base_replicas)
        self.rate = rate
        self.rng = rng
        self.gain = 1.0
        self.credit = 0.0
        self.started: float | None = None
        self.last: float | None = None
        self.events: deque[float] = deque()
        store.add_listener(self._on_event)

    def _on_event(self, event: WatchEvent) -> None:
        # Runs under the store lock on every write: only stamp pod events.
        if event.rtype == PODS:
            self.events.append(self.clock())

    def observed_rate(self, now: float) -> float:
        """Pod events per second over the last WINDOW_S."""
        with self.store.lock:
            while self.events and self.events[0] <= now - WINDOW_S:
                self.events.popleft()
            return len(self.events) / WINDOW_S

    def tick(self, now: float) -> None:
        if self.started is None or self.last is None:
            self.started = self.last = now
            return
        dt = min(max(now - self.last, 0.0), MAX_CREDIT_S)
        self.last = now
        if now - self.started >= WARMUP_S:
            error = (self.rate - self.observed_rate(now)) / self.rate
            self.gain = min(MAX_GAIN, max(MIN_GAIN, self.gain * math.exp(GAIN_RATE * dt * error)))
        self.credit = min(self.credit + self.gain * self.rate * dt, self.rate * MAX_CREDIT_S)
        while self.credit > 0:
            cost = self._act(now)
            if cost is None:
                break
            self.credit -= cost

    def _act(self, now: float) -> int | None:
        """Start one action on an idle deployment; the pod events it should cause, or None."""
        key = self._idle_deployment()
        if key is None:
            return None
        ns, name = key
        replicas = int(self.store.get(DEPLOYMENTS, ns, name)["spec"].get("replicas", 1))
        base = self.base[key]
        if replicas and self.rng.random() >= SCALE_SHARE:
            actions.rollout_restart(self.store, ns, name, now)
            return replicas * EVENTS_PER_REPLACED_POD
        target = base if replicas != base else base + max(1, base // 2)
        actions.scale(self.store, ns, name, target)
        if target > replicas:
            return (target - replicas) * EVENTS_PER_ADDED_POD
        return (replicas - target) * EVENTS_PER_REMOVED_POD

    def _idle_deployment(self) -> tuple[str, str] | None:
        for _ in range(min(PICK_ATTEMPTS, len(self.keys))):
            key = self.rng.choice(self.keys)
            found = self.store.find(DEPLOYMENTS, *key)
            if found is None:
                # Deleted by a client: stop choosing it.
                self.keys.remove(key)
                if not self.keys:
                    return None
                continue
            if actions.rollout_complete(found):
                return key
        return None

    def close(self) -> None:
        self.store.remove_listener(self._on_event)
