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
- CONSTELLATION_CHANNEL_LAYER: which channels_redis layer class to use with REDIS_URL
  (default the pub/sub layer).
- CONSTELLATION_CHANNEL_CAPACITY, CONSTELLATION_CHANNEL_GROUP_EXPIRY: core layer tuning.
- CONSTELLATION_ALLOW_ANONYMOUS: boolean, default off: read access without login.
- CONSTELLATION_LEADER_ELECT: boolean, default off: watchers elect a leader on a Lease.
- CONSTELLATION_WATCHER_METRICS_PORT: the watcher's Prometheus port, default 0 (off).
- CONSTELLATION_LOG_LEVEL: DEBUG, INFO (default), WARNING, ERROR or CRITICAL.
- CONSTELLATION_READYZ_MAX_AGE: seconds without a watcher heartbeat before /readyz fails (30).
- HTTPS (defaults: on when DJANGO_DEBUG is off, so `check --deploy` is clean):
  CONSTELLATION_SECURE_SSL_REDIRECT (redirect http → https; turn off when the proxy redirects),
  CONSTELLATION_SECURE_COOKIES (Secure session and CSRF cookies),
  CONSTELLATION_HSTS_SECONDS (31536000; 0 turns HSTS off), CONSTELLATION_HSTS_INCLUDE_SUBDOMAINS,
  CONSTELLATION_HSTS_PRELOAD (only allows submitting to browsers' preload lists; nothing submits),
  CONSTELLATION_BEHIND_PROXY (default off: trust X-Forwarded-Proto from a TLS-terminating proxy;
  only behind a proxy that sets it, or any client could claim https).
- CONSTELLATION_CSP: the Content-Security-Policy header (default: no inline script or style).
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from constellation.env import (
    env_bool,
    env_choice,
    env_database,
    env_int,
    env_list,
    env_str,
    raw,
)
from constellation.redis import channel_host

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
    "rest_framework.authtoken",
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
    "dashboard.csp.ContentSecurityPolicyMiddleware",
    # Last, so it sees the views' exceptions first: a Redis outage is a 503, not a 500.
    "dashboard.unavailable.SnapshotUnavailableMiddleware",
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
WATCHER_LEADER_ELECT = env_bool(ENV, "CONSTELLATION_LEADER_ELECT", default=False)
# The pub/sub layer is the default because bench/fanout.py measured it ahead: the web
# process reads it without a Redis round trip per message (BENCHMARKS.md, fan-out).
REDIS_CHANNEL_LAYERS = (
    "channels_redis.pubsub.RedisPubSubChannelLayer",
    "channels_redis.core.RedisChannelLayer",
)
if REDIS_URL is None:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
else:
    channel_layer = env_choice(
        ENV, "CONSTELLATION_CHANNEL_LAYER", REDIS_CHANNEL_LAYERS[0], REDIS_CHANNEL_LAYERS
    )
    channel_config: dict[str, object] = {"hosts": [channel_host(REDIS_URL)]}
    if channel_layer == "channels_redis.core.RedisChannelLayer":
        # channels_redis' own defaults; the pub/sub layer has neither knob.
        channel_config["capacity"] = env_int(
            ENV, "CONSTELLATION_CHANNEL_CAPACITY", default=100, minimum=1
        )
        channel_config["group_expiry"] = env_int(
            ENV, "CONSTELLATION_CHANNEL_GROUP_EXPIRY", default=86400, minimum=1
        )
    CHANNEL_LAYERS = {"default": {"BACKEND": channel_layer, "CONFIG": channel_config}}

# /readyz fails once the watcher's heartbeat (every 5 s) is older than this.
READYZ_MAX_AGE = env_int(ENV, "CONSTELLATION_READYZ_MAX_AGE", default=30, minimum=1)

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    # Scripts use `Authorization: Token …` (manage.py drf_create_token), browsers the session.
    # Token first: its WWW-Authenticate header makes an anonymous call a 401, not a bare 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["dashboard.permissions.ReadOnlyDashboardPermission"],
    # JSON only: the browsable API would need inline script, which the CSP forbids.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}

# Production HTTPS: secure by default whenever DEBUG is off; each switch can be turned off
# for a TLS-terminating proxy that does the job itself.
SECURE_SSL_REDIRECT = env_bool(ENV, "CONSTELLATION_SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes speak plain HTTP inside the cluster, and kubelet counts a 301 as success, so a
# redirected /readyz would always pass.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env_bool(ENV, "CONSTELLATION_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int(
    ENV, "CONSTELLATION_HSTS_SECONDS", default=0 if DEBUG else 31_536_000, minimum=0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool(
    ENV, "CONSTELLATION_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG
)
SECURE_HSTS_PRELOAD = env_bool(ENV, "CONSTELLATION_HSTS_PRELOAD", default=not DEBUG)
if env_bool(ENV, "CONSTELLATION_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CONTENT_SECURITY_POLICY = env_str(
    ENV,
    "CONSTELLATION_CSP",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
)

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
STATICFILES_DIRS = [BASE_DIR / "static"]
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
