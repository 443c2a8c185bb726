"""Login, logout, the login decorator for pages (sync and async views) and the CSP header."""

from __future__ import annotations

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import include, path

from dashboard.csp import HEADER
from dashboard.permissions import login_required_unless_anonymous


@login_required_unless_anonymous
def sync_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("sync page")


@login_required_unless_anonymous
async def async_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async page")


def own_policy(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("framed")
    response[HEADER] = "frame-ancestors 'self'"
    return response


# This module doubles as the URLconf of the decorator tests (pytest.mark.urls).
urlpatterns = [
    path("sync", sync_page),
    path("async", async_page),
    path("own-policy", own_policy),
    path("", include("constellation.urls")),
]

pages = pytest.mark.parametrize("page", ["/sync", "/async"])


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user("ada", password="correct horse battery")


@pages
@pytest.mark.urls(__name__)
def test_a_page_sends_anonymous_visitors_to_the_login_form(client: Client, page: str) -> None:
    response = client.get(f"{page}?filter=a%20b")

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={page}%3Ffilter%3Da%2520b"


@pages
@pytest.mark.urls(__name__)
def test_a_page_serves_a_logged_in_user(client: Client, ada, page: str) -> None:
    client.force_login(ada)

    assert client.get(page).content == f"{page[1:]} page".encode()


@pages
@pytest.mark.urls(__name__)
def test_a_page_serves_anyone_when_anonymous_access_is_on(
    client: Client, settings, page: str
) -> None:
    settings.ALLOW_ANONYMOUS = True

    assert client.get(page).status_code == 200


@pages
@pytest.mark.urls(__name__)
def test_a_deactivated_user_is_sent_to_log_in_again(client: Client, ada, page: str) -> None:
    client.force_login(ada)
    ada.is_active = False
    ada.save()

    assert client.get(page).status_code == 302


def test_the_login_form_renders_with_its_csrf_token(client: Client) -> None:
    response = client.get("/accounts/login/?next=/namespaces/shop/")

    assert response.status_code == 200
    assert b'name="csrfmiddlewaretoken"' in response.content
    assert b'name="next" value="/namespaces/shop/"' in response.content


def test_logging_in_returns_to_the_page_asked_for(client: Client, ada) -> None:
    response = client.post(
        "/accounts/login/",
        {"username": "ada", "password": "correct horse battery", "next": "/api/state/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/api/state/"


def test_a_wrong_password_shows_an_error_and_no_session(client: Client, ada) -> None:
    response = client.post("/accounts/login/", {"username": "ada", "password": "nope"})

    assert response.status_code == 200
    assert b"did not match" in response.content
    assert "_auth_user_id" not in client.session


def test_logging_out_ends_the_session(client: Client, ada) -> None:
    client.force_login(ada)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_every_response_carries_a_policy_without_inline_script(client: Client) -> None:
    policy = client.get("/accounts/login/")[HEADER]

    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_the_policy_is_a_setting(client: Client, settings) -> None:
    settings.CONTENT_SECURITY_POLICY = "default-src 'none'"

    assert client.get("/healthz")[HEADER] == "default-src 'none'"


@pytest.mark.urls(__name__)
def test_a_view_that_sets_its_own_policy_keeps_it(client: Client) -> None:
    assert client.get("/own-policy")[HEADER] == "frame-ancestors 'self'"
