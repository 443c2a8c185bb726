"""`manage.py serve`: the whole product in one process (DESIGN §1, embedded mode).

Daphne serves the web; the watcher runs as a task on Daphne's own asyncio loop;
with `--simulate`, simcluster runs in a thread of the same process. Without
REDIS_URL the channel layer and the snapshot are in memory, so nothing else is
needed; with it, this process behaves like one web plus one watcher.

On SIGTERM (or Ctrl-C) every part stops within a few seconds and says so in the log: open
WebSockets get a close frame (1001, going away: dashboard/webserver.py) so browsers reconnect
at once instead of waiting for a dead TCP connection, the watcher stops its informers, then
simcluster stops.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboard.webserver import PART_STOP_TIMEOUT_S, build_server

log = logging.getLogger("constellation.serve")



class Command(BaseCommand):
    help = "Run Daphne, the watcher and (with --simulate) simcluster in one process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--simulate",
            metavar="SCENARIO",
            help="run simcluster with this scenario (e.g. demo) and watch it",
        )
        parser.add_argument("--kubeconfig", help="kubeconfig of the cluster to watch")
        parser.add_argument("--context", help="kubeconfig context")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        # Daphne's server module installs Twisted's asyncio reactor on import.
        from twisted.internet import defer, reactor

        from constellation.asgi import application

        sim = self._start_simulation(options["simulate"]) if options["simulate"] else None
        kubeconfig = options["kubeconfig"]
        if sim is not None:
            kubeconfig = str(
                sim.write_kubeconfig(Path(tempfile.mkdtemp(prefix="constellation-")) / "kubeconfig")
            )
        api = self._connect(kubeconfig, options["context"], simulated=sim is not None)
        stop = asyncio.Event()
        watcher: dict[str, asyncio.Task] = {}

        def start_watcher() -> None:
            watcher["task"] = asyncio.get_event_loop().create_task(self._watch(api, stop))

        def stop_watcher() -> defer.Deferred:
            stop.set()
            return defer.Deferred.fromFuture(
                asyncio.ensure_future(self._watcher_stopped(watcher["task"]))
            )

        reactor.callWhenRunning(start_watcher)
        reactor.addSystemEventTrigger("before", "shutdown", stop_watcher)
        url = f"http://{options['host']}:{options['port']}/"
        server = build_server(
            application,
            options["host"],
            options["port"],
            ready=lambda: self.stdout.write(
                f"Constellation is running at {url}\n"
                + (
                    f"  watching simcluster ({options['simulate']}); kubectl: "
                    f"KUBECONFIG={kubeconfig} kubectl get pods -A\n"
                    if sim
                    else f"  watching {api.configuration.host}\n"
                )
                + "  Press Ctrl-C to stop.\n"
            ),
        )
        try:
            server.run()
        finally:
            log.info("stopped part=web")
            api.close()
            if sim is not None:
                started = time.monotonic()
                sim.stop()
                log.info("stopped part=simcluster seconds=%.2f", time.monotonic() - started)
        self.stdout.write("stopped\n")

    def _start_simulation(self, scenario: str) -> Any:
        from simcluster.cluster import SimCluster

        try:
            return SimCluster(scenario).start()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    def _connect(self, kubeconfig: str | None, context: str | None, simulated: bool) -> Any:
        import yaml
        from kubernetes import client as k8s
        from kubernetes.config.config_exception import ConfigException

        from watchers.kube.client import load_api_client

        hint = (
            "Point --kubeconfig/--context (or KUBECONFIG) at a cluster, or run the built-in "
            "simulation: `python manage.py serve --simulate demo`."
        )
        try:
            api = load_api_client(kubeconfig, context)
        except (ConfigException, OSError, yaml.YAMLError) as exc:
            raise CommandError(f"no Kubernetes credentials: {exc}. {hint}") from exc
        try:
            k8s.VersionApi(api).get_code(_request_timeout=(3, 5))
        except Exception as exc:  # noqa: BLE001 - any failure to reach the API is fatal here
            api.close()
            raise CommandError(
                f"cannot reach the Kubernetes API at {api.configuration.host}: "
                f"{type(exc).__name__}: {exc}. {hint}"
            ) from exc
        if not simulated:
            log.info("watching cluster server=%s", api.configuration.host)
        return api

    async def _watcher_stopped(self, task: asyncio.Task) -> None:
        """Wait (bounded) for the watcher to stop its informers once told to; log it."""
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(task), PART_STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning(
                "the watcher did not stop within %g s; exiting without it", PART_STOP_TIMEOUT_S
            )
        except Exception:  # noqa: BLE001 - _watch logged it; shutdown goes on
            log.info("stopped part=watcher after failing")
        else:
            log.info("stopped part=watcher seconds=%.2f", time.monotonic() - started)

    async def _watch(self, api: Any, stop: asyncio.Event) -> None:
        from channels.layers import get_channel_layer

        from constellation.snapshot import snapshot_store
        from watchers.config import load_watcher_config
        from watchers.publish import Publisher
        from watchers.service import WatcherService

        snapshots = snapshot_store(settings.REDIS_URL)
        service = WatcherService(
            api,
            Publisher(snapshots, get_channel_layer()),
            config=await load_watcher_config(),
            config_source=load_watcher_config,
        )
        try:
            await service.run(stop)
        except Exception:
            log.exception("the watcher failed; the web keeps serving the last snapshot")
            raise
        finally:
            if settings.REDIS_URL:
                await snapshots.close()
