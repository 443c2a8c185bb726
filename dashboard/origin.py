"""Which pages may open `/ws/state/`: the same origin rule as Django's CSRF protection.

A browser attaches the visitor's session cookie to a WebSocket handshake whatever page starts
it, so a page on another site could read the dashboard as the user (cross-site WebSocket
hijacking). Browsers always send `Origin` on a handshake; like Django's `CsrfViewMiddleware` we
accept it only when it is this site's own origin — scheme, host *and port* of the request,
whose host must be in ALLOWED_HOSTS — or listed in CSRF_TRUSTED_ORIGINS (`https://*.example.com`
covers subdomains). channels' `AllowedHostsOriginValidator` compares host names only, so any
port of an allowed host passed. A handshake without `Origin` comes from no browser page and is
refused too: scripts set the header themselves (README, web).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin1")
    return None


def _is_secure(scope: dict[str, Any]) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy:
        return False
    # "HTTP_X_FORWARDED_PROTO" → b"x-forwarded-proto", as Django reads it from META.
    name = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
    return (_header(scope, name) or "").split(",")[0].strip() == proxy[1]


def _trusted(origin: str, trusted: Iterable[str]) -> bool:
    parts = urlsplit(origin)
    for pattern in trusted:
        if "*" not in pattern:
            if origin == pattern.lower():
                return True
            continue
        wanted = urlsplit(pattern.lower())
        if wanted.scheme == parts.scheme and is_same_domain(
            parts.netloc, wanted.netloc.replace("*", "", 1)
        ):
            return True
    return False


def origin_allowed(
    origin: str | None,
    host: str | None,
    secure: bool,
    allowed_hosts: Iterable[str],
    trusted_origins: Iterable[str] = (),
) -> bool:
    """Whether a handshake with `Origin: origin` to `Host: host` may proceed (pure)."""
    if not origin or not host:
        return False
    origin = origin.strip().lower()
    if _trusted(origin, trusted_origins):
        return True
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, list(allowed_hosts)):
        return False
    return origin == f"{'https' if secure else 'http'}://{host.strip().lower()}"


def effective_allowed_hosts() -> list[str]:
    """ALLOWED_HOSTS as Django applies it (with DEBUG and none set: the local names)."""
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


class SameOriginValidator:
    """ASGI middleware: refuse (HTTP 403) WebSocket handshakes from another origin."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        """Pass the connection on, or deny it before it is accepted."""
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator guards WebSocket connections only")
        allowed = origin_allowed(
            _header(scope, b"origin"),
            _header(scope, b"host"),
            _is_secure(scope),
            effective_allowed_hosts(),
            settings.CSRF_TRUSTED_ORIGINS,
        )
        if allowed:
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
