"""Model-based check: random cluster changes and injected faults, then the published
snapshot must equal the topology computed directly from simcluster's final state.

A seeded generator (so a failure names its seed and replays exactly) drives
creates, patches and deletes of namespaces, pods, services, ingresses and
HTTPRoutes through simcluster, interleaved with watch closes, history
compaction and error bursts. The watcher runs with smoothing off, so at rest
its snapshot must be exactly the pure topology of the objects simcluster holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

import pytest

from simcluster.cluster import SimCluster
from simcluster.errors import ApiError
from simcluster.resources import type_named
from simcluster.testing import FAST_ENGINE
from watchers.pipeline import Pipeline
from watchers.tests.world import EXACT, watching

NAMESPACES = ["alpha", "beta", "gamma"]
APPS = ["web", "api", "db"]
OPS = 150
GATEWAY = "gateway.networking.k8s.io"
WATCHED = [
    ("namespaces", "", "Namespace"),
    ("pods", "", "Pod"),
    ("services", "", "Service"),
    ("endpointslices", "discovery.k8s.io", "EndpointSlice"),
    ("ingresses", "networking.k8s.io", "Ingress"),
    ("httproutes", GATEWAY, "HTTPRoute"),
]


class Driver:
    """Random operations against simcluster; invalid ones (404/409/403) are simply skipped."""

    def __init__(self, sim: SimCluster, seed: int) -> None:
        self.sim = sim
        self.rng = random.Random(seed)

    def step(self) -> None:
        op = self.rng.choices(
            [
                self.namespace,
                self.pod,
                self.pod,
                self.pod,
                self.relabel,
                self.delete_pod,
                self.service,
                self.delete_any,
                self.route,
                self.fault,
            ],
            weights=[1, 3, 3, 3, 3, 2, 3, 2, 2, 1],
        )[0]
        with contextlib.suppress(ApiError, KeyError):
            op()

    def ns(self) -> str:
        return self.rng.choice(NAMESPACES)

    def namespace(self) -> None:
        name = self.ns()
        if self.sim.store.find(type_named("namespaces"), "", name) and self.rng.random() < 0.1:
            self.sim.delete("namespaces", None, name)
        else:
            self.sim.create("namespaces", {"metadata": {"name": name}})

    def labels(self) -> dict:
        labels = {"app": self.rng.choice(APPS)}
        if self.rng.random() < 0.5:
            labels["tier"] = self.rng.choice(["front", "back"])
        return labels

    def pod(self) -> None:
        self.sim.create(
            "pods",
            {
                "metadata": {"generateName": "p-", "labels": self.labels()},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
            self.ns(),
        )

    def pick(self, plural: str, group: str = "") -> dict | None:
        items = self.sim.store.list(type_named(plural, group))[1]
        return self.rng.choice(items) if items else None

    def relabel(self) -> None:
        pod = self.pick("pods")
        if pod:
            meta = pod["metadata"]
            self.sim.patch(
                "pods", meta["namespace"], meta["name"], {"metadata": {"labels": self.labels()}}
            )

    def delete_pod(self) -> None:
        pod = self.pick("pods")
        if pod:
            meta = pod["metadata"]
            self.sim.delete(
                "pods", meta["namespace"], meta["name"], grace_period=self.rng.choice([0, 1])
            )

    def service(self) -> None:
        name = self.rng.choice(APPS)
        selector = {"app": name} if self.rng.random() < 0.8 else None
        spec: dict = {"ports": [{"port": 80, "targetPort": 8080}]}
        if selector:
            spec["selector"] = selector
        namespace = self.ns()
        if self.sim.store.find(type_named("services"), namespace, name):
            self.sim.patch(
                "services", namespace, name, {"spec": {"selector": {"app": self.rng.choice(APPS)}}}
            )
        else:
            self.sim.create("services", {"metadata": {"name": name}, "spec": spec}, namespace)

    def route(self) -> None:
        namespace = self.ns()
        backend = self.rng.choice(APPS + ["missing"])
        if self.rng.random() < 0.5:
            self.sim.create(
                "ingresses",
                {
                    "metadata": {"generateName": "ing-"},
                    "spec": {
                        "rules": [
                            {
                                "host": "shop.example.com",
                                "http": {
                                    "paths": [
                                        {
                                            "path": "/",
                                            "pathType": "Prefix",
                                            "backend": {
                                                "service": {"name": backend, "port": {"number": 80}}
                                            },
                                        }
                                    ]
                                },
                            }
                        ]
                    },
                },
                namespace,
                group="networking.k8s.io",
            )
        else:
            ref = {"name": backend, "port": 80}
            if self.rng.random() < 0.3:
                ref["namespace"] = self.ns()
            self.sim.create(
                "httproutes",
                {"metadata": {"generateName": "rt-"}, "spec": {"rules": [{"backendRefs": [ref]}]}},
                namespace,
                group=GATEWAY,
            )

    def delete_any(self) -> None:
        plural, group = self.rng.choice(
            [("services", ""), ("ingresses", "networking.k8s.io"), ("httproutes", GATEWAY)]
        )
        obj = self.pick(plural, group)
        if obj:
            self.sim.delete(
                plural, obj["metadata"]["namespace"], obj["metadata"]["name"], group=group
            )

    def fault(self) -> None:
        choice = self.rng.choice(["close", "compact", "errors"])
        if choice == "close":
            self.sim.faults.close_watches()
        elif choice == "compact":
            self.sim.compact()
            self.sim.faults.close_watches()
        else:
            self.sim.faults.fail_next(3, code=500)


def expected_trees(sim: SimCluster) -> dict:
    """The topology computed directly from simcluster's objects now, with no watcher involved."""
    with sim.store.lock:  # one consistent cut across kinds while the engine keeps working
        listed = [(kind, sim.store.list(type_named(p, g))[1]) for p, g, kind in WATCHED]
    pipeline = Pipeline(EXACT)
    for kind, objects in listed:
        for obj in objects:
            pipeline.ingest(kind, "ADDED", obj, 0.0)
    return pipeline.full_render(0.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_published_snapshot_converges_to_the_topology_of_the_cluster(seed, fresh_redis_url):
    sim = SimCluster("empty", engine_config=FAST_ENGINE, bookmark_interval_s=0.2).start()
    try:
        driver = Driver(sim, seed)
        for name in NAMESPACES[:2]:
            sim.create("namespaces", {"metadata": {"name": name}})
        async with watching(sim, fresh_redis_url, []) as world:
            for _ in range(OPS):
                driver.step()
                await asyncio.sleep(driver.rng.choice([0, 0, 0.01, 0.05]))
            sim.faults.reset()
            assert sim.store.list(type_named("pods"))[1], "the run left no pods to compare"
            # Compared with the cluster as it is at each look, not as it was after a quiet spell
            # (which a stalled engine thread fakes): the engine may still be finishing rollouts.
            try:
                await world.until(
                    lambda s: s.trees == expected_trees(sim), "snapshot == topology", timeout=60
                )
            except AssertionError:
                got, want = (await world.snapshot()).trees, expected_trees(sim)
                differing = sorted(ns for ns in set(got) | set(want) if got.get(ns) != want.get(ns))
                raise AssertionError(f"seed {seed}: namespaces differ: {differing}") from None
    finally:
        sim.stop()
