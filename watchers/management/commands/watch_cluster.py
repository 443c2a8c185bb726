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
        asyncio.run(self.watch(api))

    async def watch(self, api: Any) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        snapshots = snapshot_store(settings.REDIS_URL)
        service = WatcherService(
            api,
            Publisher(snapshots, get_channel_layer()),
            config=await load_watcher_config(),
            config_source=load_watcher_config,
        )
        try:
            await service.run(stop)
        finally:
            await snapshots.close()
            api.close()
