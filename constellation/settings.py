"""Django settings for Constellation, read from the environment.

A fresh clone runs with no configuration: DEBUG on, SQLite next to this project, the in-memory
channel layer. Deployments set variables; every one is parsed strictly (`constellation.env`), so
a typo stops the process at start-up with the variable's name instead of changing behaviour.

Variables:
- DJANGO_SECRET_KEY: required when DJANGO_DEBUG is off.
- DJANGO_DEBUG: boolean, default on.
- DJANGO_ALLOWED_HOSTS, DJANGO_CSRF_TRUSTED_ORIGINS: comma-separated lists.
- DATABASE_URL: default `sqlite:///<project>/db.sqlite3`; `postgres://…` uses psycopg 3.
- REDIS_URL: when set, the channel layer is channels_redis; otherwise in-memory (one process).
- CONSTELLATION_CHANNEL_LAYER: which channels_redis layer class to use with REDIS_URL.
- CONSTELLATION_CHANNEL_CAPACITY, CONSTELLATION_CHANNEL_GROUP_EXPIRY: core layer tuning.
- CONSTELLATION_ALLOW_ANONYMOUS: boolean, default off: read access without login.
- CONSTELLATION_WATCHER_METRICS_PORT: the watcher's Prometheus port, default 0 (off).
- CONSTELLATION_LOG_LEVEL: DEBUG, INFO (default), WARNING, ERROR or CRITICAL.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from constellation.env import env_bool, env_choice, env_database, env_int, env_list, raw

BASE_DIR = Path(__file__).resolve().parent.parent
ENV = os.environ

DEBUG = env_bool(ENV, "DJANGO_DEBUG", default=True)

SECRET_KEY = raw(ENV, "DJANGO_SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
    SECRET_KEY = "django-insecure-constellation-development-only"

ALLOWED_HOSTS = env_list(ENV, "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list(ENV, "DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # First, so that `manage.py runserver` is Daphne's ASGI server.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "dashboard",
    "watchers",
    "simcluster",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Right after SecurityMiddleware, as WhiteNoise documents, so static files skip the rest.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "constellation.urls"
ASGI_APPLICATION = "constellation.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env_database(ENV, "DATABASE_URL", default_url=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = raw(ENV, "REDIS_URL")
# Pages, API and WebSocket require login unless this is on (the demo turns it on).
ALLOW_ANONYMOUS = env_bool(ENV, "CONSTELLATION_ALLOW_ANONYMOUS", default=False)
# The watcher process serves Prometheus metrics here (0: off).
WATCHER_METRICS_PORT = env_int(ENV, "CONSTELLATION_WATCHER_METRICS_PORT", default=0, minimum=0)
REDIS_CHANNEL_LAYERS = (
    "channels_redis.core.RedisChannelLayer",
    "channels_redis.pubsub.RedisPubSubChannelLayer",
)
if REDIS_URL is None:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    channel_layer = env_choice(
        ENV, "CONSTELLATION_CHANNEL_LAYER", REDIS_CHANNEL_LAYERS[0], REDIS_CHANNEL_LAYERS
    )
    channel_config: dict[str, object] = {"hosts": [REDIS_URL]}
    if channel_layer == "channels_redis.core.RedisChannelLayer":
        # channels_redis' own defaults; the pub/sub layer has neither knob.
        channel_config["capacity"] = env_int(
            ENV, "CONSTELLATION_CHANNEL_CAPACITY", default=100, minimum=1
        )
        channel_config["group_expiry"] = env_int(
            ENV, "CONSTELLATION_CHANNEL_GROUP_EXPIRY", default=86400, minimum=1
        )
    CHANNEL_LAYERS = {"default": {"BACKEND": channel_layer, "CONFIG": channel_config}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve app static files even before `collectstatic` has run (DEBUG off in a fresh clone,
# live-server tests); WhiteNoise indexes them once at start-up, so the cost is start-up only.
WHITENOISE_USE_FINDERS = True

LOG_LEVEL = env_choice(
    ENV, "CONSTELLATION_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"keyvalue": {"()": "constellation.logfmt.KeyValueFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "keyvalue"}},
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    # Django's default config gives these loggers handlers of their own; clearing them lets
    # their records reach the root handler once, in the same format as everything else.
    "loggers": {
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
    },
}
