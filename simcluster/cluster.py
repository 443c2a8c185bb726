"""`SimCluster`: simcluster as one object — store, workload engine, scenario, HTTP server.

It runs its own asyncio loop in a background thread, so tests, benchmarks and
the demo command start it the same way and then talk to it over real HTTP
(or through the thread-safe Python API below for setting up and faults).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from constellation.heap import PERIOD_S as HEAP_PERIOD_S
from constellation.heap import HeapGuard
from simcluster import patching
from simcluster.engine import EngineConfig, WorkloadEngine
from simcluster.faults import Faults
from simcluster.jsoncopy import copy_json
from simcluster.resources import GATEWAY_TYPES, Registry, ResourceType, type_named
from simcluster.scenarios import Driver, get_scenario
from simcluster.scenarios.churn import ChurnDriver
from simcluster.server import ApiServer
from simcluster.store import Obj, Store

log = logging.getLogger("simcluster")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class SimCluster:
    """A Kubernetes API stand-in on localhost; `start()`, use `url`, `stop()`."""

    def __init__(
        self,
        scenario: str = "empty",
        scenario_params: dict[str, Any] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        gateway_api: bool = True,
        engine_config: EngineConfig | None = None,
        history_size: int = 50_000,
        watch_timeout_s: float | None = None,
        bookmark_interval_s: float = 5.0,
        drive: bool = True,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.token = token
        self.store = Store(Registry(gateway_api=gateway_api), history_size=history_size)
        self.engine = WorkloadEngine(self.store, engine_config or EngineConfig())
        self.faults = Faults()
        self.scenario = get_scenario(scenario, **(scenario_params or {}))
        self.drive = drive
        # The scenario's ongoing activity, once serving (None without one or with drive=False).
        self.driver: Driver | None = None
        self.server = ApiServer(
            self.store,
            self.faults,
            token=token,
            watch_timeout_s=watch_timeout_s,
            bookmark_interval_s=bookmark_interval_s,
            control=self,
        )
        self.server.server_address = f"{host}:{self.port}"
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._heap = HeapGuard()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- lifecycle -------------------------------------------------------------

    def start(self, timeout: float | None = 120.0) -> SimCluster:
        """Seed the scenario and serve; returns once the port accepts requests.

        `timeout=None` waits as long as seeding takes.
        """
        self._thread = threading.Thread(target=self._run, name="simcluster", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"simcluster did not start within {timeout} s")
        if self._error is not None:
            raise RuntimeError("simcluster failed to start") from self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.engine.close()
        # The store frozen after seeding is garbage now (in a test process, among others).
        self._heap.close()

    def __enter__(self) -> SimCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _collect_garbage(self) -> None:
        """What churn left since the last full collection is walked once, then frozen."""
        assert self._stop is not None
        while not self._stop.is_set():
            self._heap.tick(time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), HEAP_PERIOD_S)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001 - reported to start()'s caller
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # The seeded store lives as long as the cluster: frozen, later collections skip it,
        # and what churn adds is frozen as it survives (constellation/heap.py). A full
        # collection over 100,000 pods stalled the loop for 4 s at a time.
        self._heap.hold()
        try:
            self.scenario.seed(self.store, self.engine)
        finally:
            self._heap.settle()
        runner = web.AppRunner(
            self.server.make_app(), access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        await site.start()
        tasks = [
            asyncio.create_task(self.engine.run(self._stop), name="simcluster-engine"),
            asyncio.create_task(self._collect_garbage(), name="simcluster-gc"),
        ]
        if self.drive:
            self.driver = self.scenario.driver(self.store, self.engine)
        if self.driver is not None:
            tasks.append(
                asyncio.create_task(
                    self.scenario.drive(self.driver, self.engine.clock, self._stop),
                    name="simcluster-drive",
                )
            )
        log.info("simcluster serving url=%s scenario=%s", self.url, self.scenario.name)
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            self.faults.close_watches()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runner.cleanup()

    # -- kubeconfig ------------------------------------------------------------

    def kubeconfig(self, namespace: str = "default", server: str | None = None) -> dict[str, Any]:
        """A kubeconfig for this cluster; `server` overrides the URL clients dial."""
        user: dict[str, Any] = {"token": self.token} if self.token else {}
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "simcluster", "cluster": {"server": server or self.url}}],
            "users": [{"name": "simcluster", "user": user}],
            "contexts": [
                {
                    "name": "simcluster",
                    "context": {
                        "cluster": "simcluster",
                        "user": "simcluster",
                        "namespace": namespace,
                    },
                }
            ],
            "current-context": "simcluster",
            "preferences": {},
        }

    def write_kubeconfig(self, path: str | Path, server: str | None = None) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(self.kubeconfig(server=server), sort_keys=False))
        target.chmod(0o600)
        return target

    # -- Python API (thread-safe; returns copies) --------------------------------

    def _type(self, plural: str, group: str) -> ResourceType:
        rtype = type_named(plural, group)
        if self.store.registry.lookup(rtype.group, rtype.version, rtype.plural) is None:
            raise KeyError(f"{rtype.qualified} is not served now")
        return rtype

    def create(
        self,
        plural: str,
        obj: Obj,
        namespace: str | None = None,
        group: str = "",
        validate: bool = True,
    ) -> Obj:
        """Create an object; `validate=False` stores it as given (malformed-object tests)."""
        return copy_json(
            self.store.create(self._type(plural, group), namespace, obj, validate=validate)
        )

    def get(self, plural: str, namespace: str | None, name: str, group: str = "") -> Obj:
        return copy_json(self.store.get(self._type(plural, group), namespace or "", name))

    def list(self, plural: str, namespace: str | None = None, group: str = "") -> list[Obj]:
        return copy_json(self.store.list(self._type(plural, group), namespace)[1])

    def patch(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        patch: dict,
        group: str = "",
        subresource: str | None = None,
    ) -> Obj:
        """A JSON merge patch (RFC 7386), applied atomically."""
        rtype = self._type(plural, group)
        with self.store.lock:
            current = self.store.get(rtype, namespace or "", name)
            patched = patching.merge_patch(current, patch)
            return copy_json(
                self.store.update(rtype, namespace, name, patched, subresource=subresource)
            )

    def update(
        self,
        plural: str,
        obj: Obj,
        namespace: str | None = None,
        group: str = "",
        subresource: str | None = None,
    ) -> Obj:
        rtype = self._type(plural, group)
        return copy_json(
            self.store.update(
                rtype, namespace, obj["metadata"]["name"], obj, subresource=subresource
            )
        )

    def delete(
        self,
        plural: str,
        namespace: str | None,
        name: str,
        group: str = "",
        grace_period: int | None = None,
    ) -> Obj:
        return copy_json(
            self.store.delete(self._type(plural, group), namespace, name, grace_period=grace_period)
        )

    def set_churn_rate(self, rate: float) -> None:
        """Steer the churn of a generated scenario (`large`, `churn`, `wide-namespace`).

        `rate` pod events per second from now on; 0 stops starting rollouts. ValueError
        when this cluster's scenario has no churn (or runs with `drive=False`).
        """
        self._churn().set_rate(rate)

    def churn_state(self) -> dict[str, Any] | None:
        """The churn's target and observed rates, if this cluster has a churn driver."""
        if not isinstance(self.driver, ChurnDriver):
            return None
        return self.driver.describe(self.engine.clock())

    def _churn(self) -> ChurnDriver:
        if not isinstance(self.driver, ChurnDriver):
            raise ValueError(f"scenario {self.scenario.name!r} has no churn rate to steer")
        return self.driver

    def compact(self) -> None:
        """Forget the watch history: the next resume from an older RV gets 410."""
        self.store.compact()

    def install_gateway_api(self) -> None:
        """Serve HTTPRoutes and Gateways, as installing the Gateway API CRDs would."""
        self.store.registry.install_gateway_api()

    def remove_gateway_api(self) -> None:
        """Remove the Gateway API CRDs: their objects are deleted, their watches end."""
        for rtype in GATEWAY_TYPES:
            for obj in self.store.list(rtype)[1]:
                self.store.remove(rtype, obj["metadata"].get("namespace"), obj["metadata"]["name"])
        self.store.registry.remove_gateway_api()
        self.faults.close_watches()
