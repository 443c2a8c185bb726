"""`manage.py watch_cluster`: watch a Kubernetes API and publish its topology until stopped."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import yaml
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from kubernetes.config.config_exception import ConfigException
from prometheus_client import start_http_server

from constellation.snapshot import snapshot_store
from watchers.config import load_watcher_config
from watchers.kube.client import load_api_client
from watchers.leader import (
    DEFAULT_LEASE_NAME,
    LeaderElector,
    default_identity,
    default_namespace,
    run_with_leadership,
)
from watchers.lease import LeaseConfig
from watchers.publish import Publisher
from watchers.service import WatcherService

log = logging.getLogger("constellation.watcher")


class Command(BaseCommand):
    help = "Watch a Kubernetes cluster (read-only) and publish its topology to the dashboard."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--kubeconfig",
            help="kubeconfig file (default: $KUBECONFIG, "
            "~/.kube/config, or the in-cluster service account)",
        )
        parser.add_argument("--context", help="kubeconfig context to use")
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=settings.WATCHER_METRICS_PORT,
            help="serve Prometheus metrics on this port (0: off)",
        )
        lease = parser.add_argument_group("leader election (for more than one watcher replica)")
        lease.add_argument(
            "--leader-elect",
            action="store_true",
            default=settings.WATCHER_LEADER_ELECT,
            help="watch and publish only while holding a coordination.k8s.io Lease "
            "(default: $CONSTELLATION_LEADER_ELECT, off)",
        )
        lease.add_argument("--lease-name", default=DEFAULT_LEASE_NAME)
        lease.add_argument(
            "--lease-namespace", help="default: the pod's namespace, else \"default\""
        )
        lease.add_argument("--identity", help="this replica's name (default: hostname-pid)")
        defaults = LeaseConfig()
        lease.add_argument("--lease-duration", type=float, default=defaults.lease_duration_s)
        lease.add_argument("--renew-deadline", type=float, default=defaults.renew_deadline_s)
        lease.add_argument("--retry-period", type=float, default=defaults.retry_period_s)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            api = load_api_client(options["kubeconfig"], options["context"])
        except (ConfigException, OSError, yaml.YAMLError) as exc:
            raise CommandError(
                f"cannot load Kubernetes credentials: {exc}. Pass --kubeconfig/--context, set "
                "KUBECONFIG, or run `manage.py simulate_cluster` for a simulated cluster."
            ) from exc
        if options["metrics_port"]:
            start_http_server(options["metrics_port"])
            log.info("serving metrics port=%d", options["metrics_port"])
        log.info(
            "watching cluster server=%s redis=%s",
            api.configuration.host,
            "on" if settings.REDIS_URL else "off (in-memory: only useful embedded)",
        )
        elector = None
        if options["leader_elect"]:
            try:
                timings = LeaseConfig(
                    options["lease_duration"], options["renew_deadline"], options["retry_period"]
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            elector = LeaderElector(
                api,
                name=options["lease_name"],
                namespace=options["lease_namespace"] or default_namespace(),
                identity=options["identity"] or default_identity(),
                config=timings,
            )
        asyncio.run(self.watch(api, elector))

    async def watch(self, api: Any, elector: LeaderElector | None = None) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        snapshots = snapshot_store(settings.REDIS_URL)
        layer = get_channel_layer()

        async def run_watcher(watcher_stop: asyncio.Event) -> None:
            # A fresh service per leadership term, so each term publishes under a new epoch.
            service = WatcherService(
                api,
                Publisher(snapshots, layer),
                config=await load_watcher_config(),
                config_source=load_watcher_config,
            )
            await service.run(watcher_stop)

        try:
            if elector is None:
                await run_watcher(stop)
            else:
                await run_with_leadership(elector, run_watcher, stop)
        finally:
            await snapshots.close()
            api.close()
