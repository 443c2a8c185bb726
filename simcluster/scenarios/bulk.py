"""The generated scenarios: `large`, `churn` and `wide-namespace`, sized by parameters.

Each spreads its counts evenly: each namespace gets services/namespaces services,
each service a Deployment of pods/services pods (remainders go to the first ones),
and routes in front of them. Seeding settles the engine, so every pod is Running
and Ready before the first client connects.
- `large`: many namespaces (`team-NN`), an Ingress per namespace with a path per
  service; it holds still unless given a `rate`.
- `churn`: a smaller `large` that keeps moving at `rate` pod events per second.
- `wide-namespace`: one namespace (`wide`) of many pods behind a few services,
  half of them under an Ingress and half under an HTTPRoute (on a Gateway).
All three carry a churn driver (`simcluster.scenarios.churn`) steering rollouts
and scale changes to `rate` pod events per second, changeable while running.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, ClassVar

from simcluster.scenarios.base import SYSTEM_NAMESPACES, Scenario, require
from simcluster.scenarios.churn import ChurnDriver
from simcluster.scenarios.manifests import (
    Manifest,
    apply,
    backend_ref,
    deployment,
    gateway,
    http_route,
    ingress,
    namespace,
    service,
    service_port,
)
from simcluster.store import Store

if TYPE_CHECKING:
    from simcluster.engine import WorkloadEngine

IMAGE = "registry.example.com/bulk/app:1.0.0"
CONTAINER_PORT = 8080
SERVICE_PORT = 80
# Settling walks each pod through a few timers (start, ready): steps grow with the pods.
SETTLE_STEPS_PER_POD = 4
# Virtual seconds per settling step: long enough that every pod's jittered start (or
# readiness) falls in one step, so each ReplicaSet and Deployment is reconciled a few
# times rather than once per 50 ms tick (a quarter less CPU to seed 100,000 pods).
SETTLE_TICK_S = 1.0
WIDE_NAMESPACE = "wide"
WIDE_GATEWAY_ADDRESS = "203.0.113.30"

Services = list[tuple[str, int]]  # (service and deployment name, replicas)


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
    """namespaces × services × pods, every pod Ready; moving only at `rate` (0: not at all)."""

    name: ClassVar[str] = "large"
    summary: ClassVar[str] = "a big settled cluster (namespaces, services, pods parameters)"

    namespaces: int = 200
    services: int = 2000
    pods: int = 10000
    ingress: bool = True
    """An Ingress per namespace with a path per service, so services sit under a route."""
    rate: float = 0.0
    """Target pod watch events per second of rollouts and scale changes; 0 holds still."""
    scale_share: float = 0.3
    """Fraction of the churn's actions that are scale changes (0: rolling updates only)."""
    random_seed: int = 1
    """Seeds which deployments move and how, so runs repeat."""

    def __post_init__(self) -> None:
        require(self.namespaces >= 1, "namespaces must be at least 1")
        require(self.services >= 0, "services must not be negative")
        require(self.pods >= 0, "pods must not be negative")
        require(self.pods == 0 or self.services >= 1, "pods need at least one service")
        require(self.rate >= 0, "rate must not be negative")
        require(0 <= self.scale_share <= 1, "scale_share must be between 0 and 1")

    def namespace_name(self, index: int) -> str:
        return _name("team", index, self.namespaces)

    def layout(self) -> Iterator[tuple[str, Services]]:
        """(namespace, [(service, replicas)]) in creation order."""
        replicas = iter(spread(self.pods, self.services))
        for i, per_namespace in enumerate(spread(self.services, self.namespaces), start=1):
            yield (
                self.namespace_name(i),
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
                    [service_port("http", SERVICE_PORT, "http")],
                    selector={"app.kubernetes.io/name": name},
                )
            if services:
                yield from self.routes(ns, services)

    def routes(self, ns: str, services: Services) -> Iterable[Manifest]:
        """What routes traffic to a namespace's services: an Ingress with a path for each."""
        if self.ingress:
            yield ingress(ns, ns, f"{ns}.example.com", _paths(services))

    def seed(self, store: Store, engine: WorkloadEngine) -> None:
        apply(store, self.manifests())
        engine.settle(max_steps=SETTLE_STEPS_PER_POD * self.pods + 1000, tick_s=SETTLE_TICK_S)

    def driver(self, store: Store, engine: WorkloadEngine) -> ChurnDriver:
        base = {
            (ns, name): replicas for ns, services in self.layout() for name, replicas in services
        }
        return ChurnDriver(
            store,
            engine.clock,
            base,
            self.rate,
            random.Random(self.random_seed),
            self.scale_share,
        )


@dataclasses.dataclass
class ChurnScenario(LargeScenario):
    """A smaller `large` whose deployments roll and rescale at a target pod-event rate."""

    name: ClassVar[str] = "churn"
    summary: ClassVar[str] = "steady rollouts and rescaling at `rate` pod events per second"

    namespaces: int = 20
    services: int = 100
    pods: int = 1000
    rate: float = 200.0

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.rate > 0, "rate must be positive")


@dataclasses.dataclass
class WideNamespaceScenario(LargeScenario):
    """One namespace of many pods behind a few services, under an Ingress and an HTTPRoute."""

    name: ClassVar[str] = "wide-namespace"
    summary: ClassVar[str] = (
        "one namespace: `pods` pods behind `services` services, an Ingress and an HTTPRoute"
    )

    namespaces: int = dataclasses.field(default=1, init=False)
    services: int = 20
    pods: int = 5000
    ingress: bool = dataclasses.field(default=True, init=False)

    def namespace_name(self, index: int) -> str:
        return WIDE_NAMESPACE

    def routes(self, ns: str, services: Services) -> Iterable[Manifest]:
        """An Ingress to the first half of the services, an HTTPRoute to the rest (or all)."""
        half = (len(services) + 1) // 2
        web, api = services[:half], services[half:] or services
        yield ingress(ns, f"{ns}-web", f"{ns}.example.com", _paths(web))
        yield gateway(ns, ns, "nginx", WIDE_GATEWAY_ADDRESS)
        yield http_route(
            ns,
            f"{ns}-api",
            [f"api.{ns}.example.com"],
            (ns, ns),
            [(f"/{name}", [backend_ref(name, SERVICE_PORT)]) for name, _ in api],
        )


def _paths(services: Services) -> list[tuple[str, str, int]]:
    return [(f"/{name}", name, SERVICE_PORT) for name, _ in services]
