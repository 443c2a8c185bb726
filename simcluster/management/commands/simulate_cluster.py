"""`manage.py simulate_cluster`: serve simcluster until interrupted."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from simcluster.cluster import SimCluster
from simcluster.scenarios import SCENARIOS


def parse_params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"--param expects KEY=VALUE, got {pair!r}")
        params[key] = value
    return params


class Command(BaseCommand):
    help = "Run simcluster, a simulated Kubernetes API server, and write a kubeconfig for it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scenario", default="demo", choices=sorted(SCENARIOS))
        parser.add_argument(
            "--param",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="scenario parameter, e.g. --param pods=10000",
        )
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument(
            "--advertise-url",
            help="server URL written into the kubeconfig (default: http://HOST:PORT), "
            "e.g. http://simcluster:8001 when clients reach it by another name",
        )
        parser.add_argument(
            "--kubeconfig",
            default=".simcluster.kubeconfig",
            help="where to write the kubeconfig for this cluster",
        )
        parser.add_argument(
            "--token", default=None, help="require this bearer token (401 without it)"
        )
        parser.add_argument(
            "--no-gateway-api",
            action="store_true",
            help="start without the Gateway API (HTTPRoute) CRDs",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            sim = SimCluster(
                options["scenario"],
                parse_params(options["param"]),
                host=options["host"],
                port=options["port"],
                token=options["token"],
                gateway_api=not options["no_gateway_api"],
            )
        except (ValueError, KeyError) as exc:
            raise CommandError(str(exc)) from exc
        try:
            # However long seeding takes (100,000 pods take a minute or more); until it is
            # done, Ctrl-C and SIGTERM keep their default effect of ending the process.
            sim.start(timeout=None)
        except (OSError, RuntimeError) as exc:
            raise CommandError(
                f"simcluster could not start on {options['host']}:"
                f"{options['port']}: {exc.__cause__ or exc}"
            ) from exc
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        kubeconfig = sim.write_kubeconfig(
            Path(options["kubeconfig"]).resolve(), server=options["advertise_url"]
        )
        self.stdout.write(
            f"simcluster is serving the '{options['scenario']}' scenario at {sim.url}\n"
            f"kubeconfig written to {kubeconfig}\n\n"
            f"  export KUBECONFIG={kubeconfig}\n"
            f"  kubectl get pods -A -w\n\n"
            f"Press Ctrl-C to stop.\n"
        )
        self.stdout.flush()
        stop.wait()
        self.stdout.write("stopping simcluster\n")
        sim.stop()
