"""The `demo` scenario: a small online shop that shows every case the dashboard draws.

Each namespace is there for a reason the topology rules care about:
- storefront: an Ingress and an HTTPRoute in front of Deployment-backed services,
  plus a service no route references (it sits under the namespace);
- payments: a service whose canary deployment crash-loops (Degraded) and one
  whose pods never pass readiness (Down);
- batch: bare pods no service selects, one Failed and one Succeeded job pod;
- platform: the shared Gateway, a route to a service in another namespace, and an
  HTTPRoute and an Ingress whose backends do not exist;
- observability: a headless service, and a selector-less one whose endpoints are
  a hand-made EndpointSlice;
- default and kube-system: what every cluster has.
`constellation.io/` annotations (group, display name) sit on a few objects.
The driver restarts one deployment after another and scales the storefront up
and down, so the picture keeps moving.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from simcluster.scenarios import actions
from simcluster.scenarios.base import SYSTEM_NAMESPACES, Scenario, require
from simcluster.scenarios.manifests import (
    Manifest,
    backend_ref,
    deployment,
    endpoint_slice,
    gateway,
    http_route,
    ingress,
    namespace,
    pod,
    service,
    service_port,
)
from simcluster.store import Store

if TYPE_CHECKING:
    from simcluster.engine import WorkloadEngine

GROUP = "constellation.io/group"
DISPLAY_NAME = "constellation.io/display-name"
CRASH_LOOP = {"simcluster.io/crash-loop": "true"}
NEVER_READY = {"simcluster.io/never-ready": "true"}
FAIL = {"simcluster.io/fail": "true"}
GATEWAY = ("platform", "public")

# Deployments the driver restarts, in turn; the unhealthy ones stay as they are.
ROTATION: tuple[tuple[str, str], ...] = (
    ("storefront", "frontend"),
    ("storefront", "api"),
    ("storefront", "cart"),
    ("platform", "auth"),
    ("observability", "grafana"),
    ("payments", "payments-api"),
)
SCALED = ("storefront", "frontend")
SCALE_LOW, SCALE_HIGH = 3, 5
# Each wait is the interval times a random factor in this range, so the beats do not line up.
JITTER = (0.8, 1.2)


def _web(
    ns: str,
    name: str,
    image: str,
    replicas: int,
    port: int,
    *,
    group: str | None = None,
    display: str | None = None,
    labels: dict[str, str] | None = None,
) -> list[Manifest]:
    """A Deployment and the ClusterIP service in front of it (80 → the container port)."""
    annotations = {k: v for k, v in ((GROUP, group), (DISPLAY_NAME, display)) if v}
    return [
        deployment(ns, name, image, replicas, port, labels=labels),
        service(
            ns,
            name,
            [service_port("http", 80, "http")],
            selector={"app.kubernetes.io/name": name},
            labels=labels,
            annotations=annotations,
        ),
    ]


def _completed_job_pod(ns: str, name: str, job: str, image: str) -> Manifest:
    """A job pod that succeeded before the cluster started (its final kubelet status)."""
    finished = "2024-01-01T02:00:41Z"
    return pod(
        ns,
        name,
        image,
        labels={"job-name": job, "batch.kubernetes.io/job-name": job},
        restart_policy="Never",
        container_name="report",
        node="sim-node-2",
        status={
            "phase": "Succeeded",
            "conditions": [
                {
                    "type": kind,
                    "status": "False" if kind in ("Ready", "ContainersReady") else "True",
                    "reason": "PodCompleted",
                }
                for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "hostIP": "172.18.0.3",
            "podIP": "10.244.200.17",
            "startTime": "2024-01-01T02:00:00Z",
            "containerStatuses": [
                {
                    "name": "report",
                    "image": image,
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "started": False,
                    "state": {
                        "terminated": {
                            "exitCode": 0,
                            "reason": "Completed",
                            "startedAt": "2024-01-01T02:00:03Z",
                            "finishedAt": finished,
                        }
                    },
                }
            ],
        },
    )


def kube_system() -> list[Manifest]:
    return [
        deployment(
            "kube-system",
            "coredns",
            "registry.k8s.io/coredns/coredns:v1.11.1",
            2,
            53,
            labels={"k8s-app": "kube-dns"},
        ),
        service(
            "kube-system",
            "kube-dns",
            [
                service_port("dns", 53, 53, "UDP"),
                service_port("dns-tcp", 53, 53),
                service_port("metrics", 9153),
            ],
            selector={"app.kubernetes.io/name": "coredns"},
            cluster_ip="10.96.0.10",
            labels={"k8s-app": "kube-dns"},
        ),
        # The API server's own service: selector-less, its slice written by the apiserver.
        service(
            "default",
            "kubernetes",
            [service_port("https", 443, 6443)],
            cluster_ip="10.96.0.1",
            labels={"component": "apiserver"},
        ),
        endpoint_slice(
            "default",
            "kubernetes",
            "kubernetes",
            ["172.18.0.2"],
            [{"name": "https", "port": 6443, "protocol": "TCP"}],
            managed_by="endpointslicemirroring-controller.k8s.io",
        ),
    ]


def storefront() -> list[Manifest]:
    ns, part_of = "storefront", {"app.kubernetes.io/part-of": "shop"}
    return [
        namespace(ns, {"team": "web", "env": "prod"}, {DISPLAY_NAME: "Storefront (prod)"}),
        *_web(
            ns,
            "frontend",
            "ghcr.io/acme/storefront-web:1.14.2",
            SCALE_LOW,
            8080,
            group="checkout",
            display="Web storefront",
            labels=part_of,
        ),
        *_web(
            ns,
            "api",
            "ghcr.io/acme/storefront-api:2.3.0",
            2,
            8000,
            group="checkout",
            labels=part_of,
        ),
        *_web(ns, "cart", "ghcr.io/acme/cart:0.9.4", 2, 8080, labels=part_of),
        ingress(
            ns,
            "storefront",
            "shop.example.com",
            [("/", "frontend", 80), ("/api", "api", 80)],
            tls_secret="shop-example-com-tls",
            load_balancer_ip="203.0.113.10",
        ),
        http_route(
            ns,
            "storefront",
            ["shop.example.com"],
            GATEWAY,
            [
                ("/api", [backend_ref("api", 80)]),
                ("/", [backend_ref("frontend", 80)]),
            ],
            annotations={GROUP: "checkout"},
        ),
    ]


def payments() -> list[Manifest]:
    ns, labels = "payments", {"app.kubernetes.io/part-of": "shop"}
    return [
        namespace(ns, {"team": "payments", "env": "prod", "pci": "true"}),
        # payments-api: two healthy pods and a crash-looping canary behind one service.
        deployment(
            ns,
            "payments-api",
            "ghcr.io/acme/payments:4.2.1",
            2,
            8443,
            app="payments-api",
            labels=labels,
        ),
        deployment(
            ns,
            "payments-api-canary",
            "ghcr.io/acme/payments:4.3.0-rc1",
            1,
            8443,
            app="payments-api",
            labels={**labels, "track": "canary"},
            pod_annotations=CRASH_LOOP,
        ),
        service(
            ns,
            "payments-api",
            [service_port("https", 443, "http")],
            selector={"app.kubernetes.io/name": "payments-api"},
            labels=labels,
            annotations={GROUP: "checkout", DISPLAY_NAME: "Payments API"},
        ),
        # ledger: running, but its readiness probe never passes.
        deployment(
            ns,
            "ledger",
            "ghcr.io/acme/ledger:1.0.7",
            2,
            5432,
            labels=labels,
            pod_annotations=NEVER_READY,
        ),
        service(
            ns,
            "ledger",
            [service_port("postgres", 5432)],
            selector={"app.kubernetes.io/name": "ledger"},
            labels=labels,
            annotations={GROUP: "checkout"},
        ),
    ]


def batch() -> list[Manifest]:
    ns = "batch"
    return [
        namespace(ns, {"team": "data"}),
        pod(
            ns,
            "reindex-catalog",
            "ghcr.io/acme/search-indexer:3.1.0",
            labels={"app": "reindex", "owner": "data-team"},
            container_name="indexer",
        ),
        pod(
            ns,
            "invoice-export-28911400-q9z4m",
            "ghcr.io/acme/invoice-export:1.2.0",
            labels={
                "job-name": "invoice-export-28911400",
                "batch.kubernetes.io/job-name": "invoice-export-28911400",
            },
            annotations=FAIL,
            restart_policy="Never",
            container_name="export",
        ),
        _completed_job_pod(
            ns,
            "nightly-report-28911520-x7k2p",
            "nightly-report-28911520",
            "ghcr.io/acme/nightly-report:2024.1",
        ),
    ]


def platform() -> list[Manifest]:
    ns = "platform"
    return [
        namespace(ns, {"team": "platform"}),
        gateway(ns, "public", "nginx", "203.0.113.20"),
        *_web(ns, "auth", "ghcr.io/acme/auth:5.0.2", 2, 9000, group="identity", display="Sign-in"),
        http_route(ns, "auth", ["login.example.com"], GATEWAY, [("/", [backend_ref("auth", 80)])]),
        # A partner API served straight from the storefront namespace.
        http_route(
            ns,
            "partner-api",
            ["partners.example.com"],
            GATEWAY,
            [("/v1", [backend_ref("api", 80, namespace="storefront")])],
            annotations={DISPLAY_NAME: "Partner API"},
        ),
        # Both point at services nobody has deployed yet: the dashboard must flag them.
        http_route(
            ns,
            "status-page",
            ["status.example.com"],
            GATEWAY,
            [("/", [backend_ref("status-page", 80)])],
        ),
        ingress(
            ns,
            "docs",
            "docs.example.com",
            [("/", "docs-site", 80)],
            load_balancer_ip="203.0.113.10",
        ),
    ]


def observability() -> list[Manifest]:
    ns, prometheus = "observability", {"app.kubernetes.io/name": "prometheus"}
    return [
        namespace(ns, {"team": "platform"}),
        # StatefulSet-style pods behind a headless service (DNS per pod, no cluster IP).
        *(
            pod(
                ns,
                f"prometheus-{i}",
                "quay.io/prometheus/prometheus:v2.53.0",
                port=9090,
                labels={**prometheus, "statefulset.kubernetes.io/pod-name": f"prometheus-{i}"},
                container_name="prometheus",
            )
            for i in range(2)
        ),
        service(
            ns, "prometheus", [service_port("web", 9090)], selector=prometheus, cluster_ip="None"
        ),
        *_web(ns, "grafana", "grafana/grafana:11.1.0", 1, 3000, display="Grafana"),
        ingress(
            ns,
            "grafana",
            "grafana.example.com",
            [("/", "grafana", 80)],
            load_balancer_ip="203.0.113.10",
        ),
        # Legacy VMs outside the cluster, reached through a selector-less service.
        service(
            ns,
            "legacy-metrics",
            [service_port("metrics", 9100)],
            annotations={DISPLAY_NAME: "Legacy VM exporters"},
        ),
        endpoint_slice(
            ns,
            "legacy-metrics-vms",
            "legacy-metrics",
            ["10.240.0.21", "10.240.0.22"],
            [{"name": "metrics", "port": 9100, "protocol": "TCP"}],
            managed_by="platform-team",
        ),
    ]


@dataclasses.dataclass
class DemoScenario(Scenario):
    """A shop of five namespaces; restarts and rescaling every few tens of seconds."""

    name: ClassVar[str] = "demo"
    summary: ClassVar[str] = "a small online shop with healthy, degraded and broken parts"
    tick_s: ClassVar[float] = 0.5

    rollout_interval: float = 25.0
    """Seconds between rolling restarts (±20%): often enough to watch, rare enough to read."""
    scale_interval: float = 40.0
    """Seconds between storefront scale changes (±20%), 3 ↔ 5 replicas."""
    random_seed: int = 1
    """Seeds the intervals, so two demo runs move alike."""

    def __post_init__(self) -> None:
        require(self.rollout_interval > 0, "rollout_interval must be positive")
        require(self.scale_interval > 0, "scale_interval must be positive")

    def manifests(self) -> Iterable[Manifest]:
        return [
            *SYSTEM_NAMESPACES,
            *kube_system(),
            *storefront(),
            *payments(),
            *batch(),
            *platform(),
            *observability(),
        ]

    def driver(self, store: Store, engine: WorkloadEngine) -> DemoDriver:
        return DemoDriver(
            store, self.rollout_interval, self.scale_interval, random.Random(self.random_seed)
        )


class DemoDriver:
    """Restarts the ROTATION deployments in turn and flips the storefront's size."""

    def __init__(
        self, store: Store, rollout_interval: float, scale_interval: float, rng: random.Random
    ) -> None:
        self.store = store
        self.rollout_interval = rollout_interval
        self.scale_interval = scale_interval
        self.rng = rng
        self.next_rollout: float | None = None
        self.next_scale: float | None = None
        self.rotation = 0
        self.scaled_up = False

    def _after(self, now: float, interval: float) -> float:
        return now + interval * self.rng.uniform(*JITTER)

    def tick(self, now: float) -> None:
        if self.next_rollout is None or self.next_scale is None:
            self.next_rollout = self._after(now, self.rollout_interval)
            self.next_scale = self._after(now, self.scale_interval)
            return
        if now >= self.next_rollout:
            self.next_rollout = self._after(now, self.rollout_interval)
            ns, name = ROTATION[self.rotation % len(ROTATION)]
            self.rotation += 1
            actions.rollout_restart(self.store, ns, name, now)
        if now >= self.next_scale:
            self.next_scale = self._after(now, self.scale_interval)
            self.scaled_up = not self.scaled_up
            actions.scale(self.store, *SCALED, SCALE_HIGH if self.scaled_up else SCALE_LOW)

    def close(self) -> None:
        """Nothing to release: the demo driver does not listen to the store."""
