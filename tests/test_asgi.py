"""The project's ASGI application: Django for HTTP, and who may open `/ws/state/`.

The origin tests log a user in first: anonymous access is off, so a handshake without a
session is refused for the login whatever its origin, and could not show that the origin
check works. With a valid session, only the dashboard's own origin gets through.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.testing import HttpCommunicator, WebsocketCommunicator
from django.test import Client

from constellation.asgi import application
from dashboard.origin import origin_allowed

HOST = (b"host", b"localhost:8000")
OWN_ORIGIN = b"http://localhost:8000"


async def test_http_requests_reach_django_through_the_asgi_router() -> None:
    communicator = HttpCommunicator(application, "GET", "/healthz",
                                    headers=[(b"host", b"localhost")])

    response = await communicator.get_response()

    assert response["status"] == 200
    assert response["body"] == b'{"status": "ok"}'


@pytest.fixture
def session_cookie(settings: Any, django_user_model: Any) -> tuple[bytes, bytes]:
    """A logged-in user's session cookie; the dashboard needs a login (no anonymous access)."""
    settings.ALLOW_ANONYMOUS = False
    settings.REDIS_URL = None
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    user = django_user_model.objects.create_user("grace", password="not-used-here")
    browser = Client()
    browser.force_login(user)
    return (b"cookie", f"sessionid={browser.cookies['sessionid'].value}".encode())


async def handshake(*headers: tuple[bytes, bytes]) -> bool:
    """Whether `/ws/state/` accepts a handshake with these headers."""
    communicator = WebsocketCommunicator(application, "/ws/state/", headers=list(headers))
    connected, _ = await communicator.connect()
    if connected:
        await communicator.disconnect()
    return connected


websocket_db = pytest.mark.django_db(transaction=True)


@websocket_db
async def test_a_logged_in_user_connects_from_the_dashboards_own_origin(
    session_cookie: tuple[bytes, bytes],
) -> None:
    assert await handshake(HOST, (b"origin", OWN_ORIGIN), session_cookie)


@websocket_db
async def test_websockets_from_another_site_are_refused(
    session_cookie: tuple[bytes, bytes],
) -> None:
    assert not await handshake(HOST, (b"origin", b"https://attacker.example"), session_cookie)


@websocket_db
async def test_another_port_of_an_allowed_host_is_another_site(
    session_cookie: tuple[bytes, bytes],
) -> None:
    assert not await handshake(HOST, (b"origin", b"http://localhost:9999"), session_cookie)


@websocket_db
async def test_a_handshake_without_an_origin_is_refused(
    session_cookie: tuple[bytes, bytes],
) -> None:
    assert not await handshake(HOST, session_cookie)


@websocket_db
async def test_a_trusted_origin_behind_a_proxy_connects(
    settings: Any, session_cookie: tuple[bytes, bytes]
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.org"]

    assert await handshake(HOST, (b"origin", b"https://dash.example.org"), session_cookie)


@pytest.mark.parametrize(
    ("origin", "host", "secure", "allowed"),
    [
        ("http://localhost:8000", "localhost:8000", False, True),
        ("HTTP://LocalHost:8000", "localhost:8000", False, True),
        ("https://dash.example.com", "dash.example.com", True, True),
        ("http://dash.example.com", "dash.example.com", True, False),  # scheme differs
        ("https://dash.example.com", "dash.example.com", False, False),
        ("http://localhost:8001", "localhost:8000", False, False),  # port differs
        ("http://localhost", "localhost:8000", False, False),
        ("http://evil.example", "evil.example", False, False),  # host not allowed
        ("null", "localhost:8000", False, False),  # sandboxed frames send "null"
        (None, "localhost:8000", False, False),
        ("http://localhost:8000", None, False, False),
    ],
)
def test_an_origin_is_the_requests_own_scheme_host_and_port(
    origin: str | None, host: str | None, secure: bool, allowed: bool
) -> None:
    hosts = ["localhost", "dash.example.com"]

    assert origin_allowed(origin, host, secure, hosts) is allowed


def test_trusted_origins_match_scheme_and_subdomain_wildcards() -> None:
    trusted = ["https://dash.example.org", "https://*.corp.example"]

    assert origin_allowed("https://dash.example.org", "internal:8000", False, [], trusted)
    assert origin_allowed("https://a.b.corp.example", "internal:8000", False, [], trusted)
    assert not origin_allowed("http://dash.example.org", "internal:8000", False, [], trusted)
    assert not origin_allowed("https://corp.example.evil", "internal:8000", False, [], trusted)
