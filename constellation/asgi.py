"""The ASGI application Daphne serves: Django for HTTP, Channels consumers for WebSockets."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "constellation.settings")

# Set Django up before importing anything that touches models (auth, the consumers).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from dashboard.origin import SameOriginValidator  # noqa: E402
from dashboard.routing import websocket_urlpatterns  # noqa: E402
from dashboard.wsauth import WebSocketAuthStack  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Browsers send the session cookie with a handshake from any page: only this site's
        # own origin (scheme, host and port) may open one (dashboard/origin.py).
        "websocket": SameOriginValidator(
            WebSocketAuthStack(URLRouter(websocket_urlpatterns))
        ),
    }
)
