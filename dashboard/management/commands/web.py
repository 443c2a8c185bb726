"""`manage.py web`: the web process of a deployment (DESIGN §1), Daphne as we configure it.

What `daphne -b HOST -p PORT constellation.asgi:application` does, plus what its command line
cannot set (dashboard/webserver.py): a close frame for clients whose message is too big, and
for every open WebSocket when the process stops (SIGTERM from Kubernetes or Docker).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from dashboard.webserver import build_server


class Command(BaseCommand):
    help = "Serve the dashboard (HTTP and WebSockets) with Daphne."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-b", "--bind", "--host", dest="host", default="127.0.0.1")
        parser.add_argument("-p", "--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        from constellation.asgi import application

        url = f"http://{options['host']}:{options['port']}/"
        build_server(
            application,
            options["host"],
            options["port"],
            ready=lambda: self.stdout.write(f"Constellation web listening on {url}\n"),
        ).run()
