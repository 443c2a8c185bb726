"""Who may read the dashboard: one policy for pages, API and WebSocket (DESIGN §7 "Auth").

Login is required unless `settings.ALLOW_ANONYMOUS` (env CONSTELLATION_ALLOW_ANONYMOUS) is on.
The setting is read on every request, not at import, so `override_settings` in tests and a
settings reload behave. Everything here is read-only: the dashboard never changes the cluster.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import SAFE_METHODS, BasePermission

if TYPE_CHECKING:
    # Type-only: importing DRF's views at run time would import this module back through
    # api_settings.DEFAULT_PERMISSION_CLASSES before it is defined.
    from rest_framework.request import Request
    from rest_framework.views import APIView

View = TypeVar("View", bound=Callable[..., Any])


def anonymous_allowed() -> bool:
    """True when the deployment switched on read access without login."""
    return bool(getattr(settings, "ALLOW_ANONYMOUS", False))


def user_may_read(user: Any) -> bool:
    """The one rule: anonymous access is on, or the user is logged in and active."""
    if anonymous_allowed():
        return True
    return bool(user is not None and user.is_authenticated and user.is_active)


def login_required_unless_anonymous(view: View) -> View:
    """Redirect to LOGIN_URL unless the user may read; works on sync and async views.

    Async views resolve the user with `request.auser()` because touching `request.user`
    from the event loop would hit the session database synchronously.
    """
    if inspect.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if anonymous_allowed() or user_may_read(await request.auser()):
                return await view(request, *args, **kwargs)
            return redirect_to_login(request.get_full_path())

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(view)
    def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if user_may_read(request.user):
            return view(request, *args, **kwargs)
        return redirect_to_login(request.get_full_path())

    return sync_wrapper  # type: ignore[return-value]


class ReadOnlyDashboardPermission(BasePermission):
    """DRF: safe methods only, and only for users who may read (see `user_may_read`)."""

    message = "Log in (session or token) to read the dashboard API."

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Refuse writes outright; reads follow the login policy."""
        return request.method in SAFE_METHODS and user_may_read(request.user)
