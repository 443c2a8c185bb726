"""Strict parsers for settings read from the environment.

django-environ reads `DJANGO_DEBUG=ture` as False and lets `int("2O")` escape as a bare
ValueError, so a typo in a deployment either changes behaviour silently or fails far from its
cause. These parsers take the environment as an argument (so tests pass a literal dict) and
raise `ImproperlyConfigured` naming the variable and the accepted values. An empty value counts
as unset, because `FOO=` is how compose files and shell scripts usually leave a variable out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def raw(env: Mapping[str, str], name: str) -> str | None:
    """The stripped value of `name`, or None when it is unset or empty."""
    value = env.get(name, "").strip()
    return value or None


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    """A string; `default` when unset."""
    value = raw(env, name)
    return default if value is None else value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """A boolean spelled 1/0, true/false, yes/no or on/off (any case)."""
    value = raw(env, name)
    if value is None:
        return default
    word = value.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {value!r}"
    )


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int | None = None) -> int:
    """A base-10 integer, at least `minimum` when one is given."""
    value = raw(env, name)
    if value is None:
        return default
    try:
        number = int(value, 10)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {number}")
    return number


def env_choice(env: Mapping[str, str], name: str, default: str, choices: Collection[str]) -> str:
    """One of `choices`, compared exactly."""
    value = env_str(env, name, default)
    if value not in choices:
        allowed = ", ".join(sorted(choices))
        raise ImproperlyConfigured(f"{name} must be one of {allowed}; got {value!r}")
    return value


def env_list(env: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blank items are dropped so a trailing comma is harmless."""
    value = raw(env, name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_database(env: Mapping[str, str], name: str, default_url: str) -> dict[str, Any]:
    """A Django DATABASES entry from a URL such as `postgres://user@host:5432/db`."""
    url = env_str(env, name, default_url)
    scheme = urlsplit(url).scheme
    # django-environ passes an unknown scheme through as the ENGINE, which would only fail at
    # the first query; refuse it here instead.
    if scheme not in environ.Env.DB_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must be a database URL such as postgres://user@host:5432/name or "
            f"sqlite:////path/db.sqlite3, got {url!r}"
        )
    config = environ.Env.db_url_config(url)
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} names no database: {url!r}")
    return config
