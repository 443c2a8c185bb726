"""Settings are imported in a fresh interpreter per case, with exactly the environment given."""

import json
import os
import subprocess
import sys
from pathlib import Path

from constellation.redis import channel_host

BASE_DIR = Path(__file__).resolve().parent.parent

PROBE = """
import json
from django.core.exceptions import ImproperlyConfigured
try:
    from constellation import settings
except ImproperlyConfigured as exc:
    print(json.dumps({"error": str(exc)}))
else:
    print(json.dumps({
        "DEBUG": settings.DEBUG,
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
        "DATABASE": settings.DATABASES["default"],
        "CHANNEL_LAYER": settings.CHANNEL_LAYERS["default"],
        "INSTALLED_APPS": settings.INSTALLED_APPS,
        "LOG_LEVEL": settings.LOGGING["root"]["level"],
    }))
"""


def load_settings(**environ: str) -> dict:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", **environ}
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=BASE_DIR, env=env, capture_output=True, text=True,
        check=True, timeout=30,
    )
    return json.loads(result.stdout)


def test_a_fresh_clone_runs_in_debug_with_sqlite_and_the_in_memory_layer() -> None:
    settings = load_settings()

    assert settings["DEBUG"] is True
    assert settings["SECRET_KEY"]
    assert settings["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert settings["DATABASE"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings["DATABASE"]["NAME"] == str(BASE_DIR / "db.sqlite3")
    assert settings["CHANNEL_LAYER"] == {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    assert settings["LOG_LEVEL"] == "INFO"


def test_daphne_comes_first_so_runserver_is_daphne() -> None:
    apps = load_settings()["INSTALLED_APPS"]

    assert apps[0] == "daphne"
    assert {"channels", "rest_framework", "dashboard", "watchers", "simcluster"} <= set(apps)


def test_production_without_a_secret_key_is_refused() -> None:
    settings = load_settings(DJANGO_DEBUG="0")

    assert settings == {"error": "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off"}


def test_production_takes_the_secret_key_and_hosts_from_the_environment() -> None:
    settings = load_settings(DJANGO_DEBUG="off", DJANGO_SECRET_KEY="s3cret",
                             DJANGO_ALLOWED_HOSTS="constellation.example,10.0.0.5")

    assert settings["DEBUG"] is False
    assert settings["SECRET_KEY"] == "s3cret"
    assert settings["ALLOWED_HOSTS"] == ["constellation.example", "10.0.0.5"]


def test_a_typo_in_a_boolean_names_the_variable() -> None:
    settings = load_settings(DJANGO_DEBUG="ture")

    assert settings["error"].startswith("DJANGO_DEBUG must be a boolean")


def test_a_typo_in_an_integer_names_the_variable() -> None:
    settings = load_settings(REDIS_URL="redis://127.0.0.1:6379/0",
                             CONSTELLATION_CHANNEL_LAYER="channels_redis.core.RedisChannelLayer",
                             CONSTELLATION_CHANNEL_CAPACITY="1O0")

    assert settings["error"] == "CONSTELLATION_CHANNEL_CAPACITY must be an integer, got '1O0'"


def test_database_url_selects_postgres() -> None:
    settings = load_settings(DATABASE_URL="postgres://postgres@127.0.0.1:5432/test")

    assert settings["DATABASE"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings["DATABASE"]["NAME"] == "test"


def test_redis_url_switches_to_the_redis_pubsub_layer() -> None:
    settings = load_settings(REDIS_URL="redis://127.0.0.1:6379/0")

    assert settings["CHANNEL_LAYER"] == {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [channel_host("redis://127.0.0.1:6379/0")]},
    }


def test_the_core_layer_can_be_chosen_with_its_capacity() -> None:
    settings = load_settings(REDIS_URL="redis://127.0.0.1:6379/3",
                             CONSTELLATION_CHANNEL_LAYER="channels_redis.core.RedisChannelLayer",
                             CONSTELLATION_CHANNEL_CAPACITY="1000")

    assert settings["CHANNEL_LAYER"] == {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [channel_host("redis://127.0.0.1:6379/3")], "capacity": 1000,
                   "group_expiry": 86400},
    }


def test_an_unknown_channel_layer_is_refused() -> None:
    settings = load_settings(REDIS_URL="redis://127.0.0.1:6379/0",
                             CONSTELLATION_CHANNEL_LAYER="channels_redis.core.RedisLayer")

    assert settings["error"].startswith("CONSTELLATION_CHANNEL_LAYER must be one of")


def test_the_log_level_comes_from_the_environment_and_is_checked() -> None:
    assert load_settings(CONSTELLATION_LOG_LEVEL="DEBUG")["LOG_LEVEL"] == "DEBUG"
    assert load_settings(CONSTELLATION_LOG_LEVEL="LOUD")["error"].startswith(
        "CONSTELLATION_LOG_LEVEL must be one of"
    )
