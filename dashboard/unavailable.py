"""A page asked for while Redis is unreachable answers 503 with the reason, never a 500.

Every page reads the snapshot from Redis (DESIGN §1: the web holds no state of its own), so an
outage of Redis is an expected condition of every page, not a bug in one: this middleware turns
it into "503 Service Unavailable" with a Retry-After for all of them at once. The REST API says
the same in JSON (dashboard/api.py); `/readyz` names it for probes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin
from redis.exceptions import RedisError

log = logging.getLogger("constellation.web")

RETRY_AFTER_S = "5"
_WARN_EVERY_S = 10.0


class SnapshotUnavailableMiddleware(MiddlewareMixin):
    """Answer 503 when a view fails because the snapshot store cannot be reached."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        super().__init__(get_response)
        self._warned_at = 0.0

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """The 503 for an unreachable Redis; anything else goes on to Django's handling."""
        if not isinstance(exception, RedisError | ConnectionError | TimeoutError):
            return None
        now = time.monotonic()
        if now - self._warned_at >= _WARN_EVERY_S:
            self._warned_at = now
            log.warning(
                "page unavailable path=%s error=%r; answering 503 until Redis is back",
                request.path,
                exception,
            )
        response = HttpResponse(
            "The dashboard's data store (Redis) is unreachable right now; this page will work "
            "again as soon as it is back. Retry in a few seconds.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = RETRY_AFTER_S
        response["Cache-Control"] = "no-store"
        return response
