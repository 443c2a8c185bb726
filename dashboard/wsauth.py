"""Who is at the other end of `/ws/state/`: the Django session and user, read at the handshake.

channels' `AuthMiddlewareStack` wraps `send` in its session middleware so an HTTP response can
save the session and set its cookie. A WebSocket frame can do neither, yet that wrapper reads
the session's state on every frame it passes on: about a tenth of a Daphne process's CPU when
it streams 10,000 frames a second (BENCHMARKS.md, fan-out). This stack reads the same session
and user (channels' cookie and auth middleware around a read-only session step) and leaves
`send` alone.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from channels.auth import AuthMiddleware
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware
from django.conf import settings


class ReadOnlySessionMiddleware(BaseMiddleware):
    """Puts the session named by the session cookie in `scope["session"]`; never saves it."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        """Add the session (loaded lazily, from the DB thread that resolves the user)."""
        store = import_module(settings.SESSION_ENGINE).SessionStore
        scope = {**scope, "session": store(scope["cookies"].get(settings.SESSION_COOKIE_NAME))}
        return await super().__call__(scope, receive, send)


def WebSocketAuthStack(inner: Any) -> Any:  # noqa: N802 - named like channels' AuthMiddlewareStack
    """`inner` with `scope["user"]` from the Django session, as AuthMiddlewareStack gives."""
    return CookieMiddleware(ReadOnlySessionMiddleware(AuthMiddleware(inner)))
