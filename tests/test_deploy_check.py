"""`manage.py check --deploy` with production settings, in a fresh interpreter per case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "k3Vq8-Zr7pW2xN9mL4tB6yC1sD5fG0hJ8aE3uR7iO2wQ9vT4nM6bX1cS5zK0pL",
    "DJANGO_ALLOWED_HOSTS": "constellation.example.com",
}
PROBE = """
import json
from django.conf import settings
import django
django.setup()
print(json.dumps({
    "SECURE_PROXY_SSL_HEADER": settings.SECURE_PROXY_SSL_HEADER,
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
}))
"""


def environment(**overrides: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": "constellation.settings",
        **PRODUCTION,
        **overrides,
    }


def check_deploy(**overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=environment(**overrides),
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_with(**overrides: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=BASE_DIR,
        env=environment(**overrides),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def test_production_settings_pass_the_deployment_check_without_warnings() -> None:
    result = check_deploy()

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_defaults_are_https_only() -> None:
    assert settings_with() == {
        "SECURE_PROXY_SSL_HEADER": None,
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31_536_000,
    }


def test_behind_a_tls_proxy_the_forwarded_scheme_is_trusted() -> None:
    chosen = settings_with(
        CONSTELLATION_BEHIND_PROXY="1",
        CONSTELLATION_SECURE_SSL_REDIRECT="0",
        CONSTELLATION_HSTS_SECONDS="3600",
    )

    assert chosen["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert chosen["SECURE_SSL_REDIRECT"] is False
    assert chosen["SECURE_HSTS_SECONDS"] == 3600


def test_switching_hsts_off_is_allowed_and_the_check_says_so() -> None:
    result = check_deploy(CONSTELLATION_HSTS_SECONDS="0")

    assert result.returncode != 0
    assert "security.W004" in result.stderr


def test_development_settings_are_flagged_by_the_check() -> None:
    result = check_deploy(DJANGO_DEBUG="1")

    assert "security.W018" in result.stderr
