"""A small simulated cluster on a fake clock, shared by the workload engine's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simcluster.engine import EngineConfig, WorkloadEngine
from simcluster.store import Obj, Store, WatchEvent
from simcluster.workload import (
    NAMESPACES,
    PODS,
)

START = 1_700_000_000.0


class FakeClock:
    """Time that moves only when a test moves it."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class World:
    """A Store with namespace `shop`, a workload engine, and the clock both share."""

    def __init__(self, **config: Any) -> None:
        self.clock = FakeClock()
        self.store = Store(clock=self.clock)
        self.engine = WorkloadEngine(
            self.store, EngineConfig(**{"seed": 7, **config}), clock=self.clock
        )
        self.events: list[WatchEvent] = []
        self.store.add_listener(self.events.append)
        self.store.create(NAMESPACES, None, {"metadata": {"name": "shop"}})

    def run(
        self, seconds: float, tick: float = 0.05, check: Callable[[World], None] | None = None
    ) -> None:
        """Advance the clock in ticks, stepping the engine (and `check`) after each."""
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now = round(self.clock.now + tick, 6)
            self.engine.step(self.clock.now)
            if check is not None:
                check(self)

    def settle(self) -> None:
        self.engine.settle()

    def pods(self, namespace: str = "shop") -> list[Obj]:
        return self.store.list(PODS, namespace)[1]

    def pod(self, name: str, namespace: str = "shop") -> Obj:
        return self.store.get(PODS, namespace, name)

    def events_for(self, name: str, kind: str = "Pod") -> list[WatchEvent]:
        return [
            e for e in self.events if e.rtype.kind == kind and e.obj["metadata"]["name"] == name
        ]


def container(name: str = "app", image: str = "nginx:1.25", port: int = 8080) -> dict:
    return {
        "name": name,
        "image": image,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
    }


def pod_body(
    name: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None
) -> dict:
    meta: dict[str, Any] = {"name": name, "labels": labels or {"app": "web"}}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": {"containers": [container()]}}


def deployment_body(
    name: str = "web",
    replicas: int = 3,
    image: str = "nginx:1.25",
    strategy: dict | None = None,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict:
    template_meta: dict[str, Any] = {"labels": {"app": name}}
    if annotations:
        template_meta["annotations"] = annotations
    body: dict[str, Any] = {
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": template_meta,
                "spec": {"containers": [container(image=image)]},
            },
            **spec,
        },
    }
    if strategy is not None:
        body["spec"]["strategy"] = strategy
    return body


def service_body(
    name: str = "web", selector: dict[str, str] | None = None, target_port: int | str = "http"
) -> dict:
    spec: dict[str, Any] = {"ports": [{"name": "http", "port": 80, "targetPort": target_port}]}
    if selector is not None:
        spec["selector"] = selector
    return {"metadata": {"name": name}, "spec": spec}


def is_ready(pod: Obj) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in pod.get("status", {}).get("conditions", ())
    )


def is_terminating(obj: Obj) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))
