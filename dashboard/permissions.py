"""Who may read the dashboard: one policy for pages, API and WebSocket (DESIGN §7 "Auth").

Login is required unless `settings.ALLOW_ANONYMOUS` (env CONSTELLATION_ALLOW_ANONYMOUS) is on.
The setting is read on every request, not at import, so `override_settings` in tests and a
settings reload behave. Everything here is read-only: the dashboard never changes the cluster.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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
Value = TypeVar("Value")


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


@dataclass(frozen=True)
class NamespaceAccess:
    """The namespaces one reader may see (DESIGN §7 "Who sees what"): all, or only `names`.

    Every read path filters through this before anything renders or leaves the server, so a
    tile, a sidebar row, a count or a search result never reveals a namespace outside it.
    """

    everything: bool = False
    names: frozenset[str] = frozenset()

    def allows(self, namespace: str) -> bool:
        """Whether the reader may see `namespace`."""
        return self.everything or namespace in self.names

    def only(self, by_namespace: Mapping[str, Value]) -> dict[str, Value]:
        """The entries of a namespace-keyed mapping the reader may see."""
        if self.everything:
            return dict(by_namespace)
        return {name: value for name, value in by_namespace.items() if name in self.names}

    def narrow(self, namespaces: Iterable[str]) -> list[str]:
        """The requested namespaces the reader may see, in the order given."""
        return [name for name in namespaces if self.allows(name)]


EVERY_NAMESPACE = NamespaceAccess(everything=True)
NO_NAMESPACE = NamespaceAccess()


def visible_namespaces(user: Any) -> NamespaceAccess:
    """Which namespaces `user` may see: the one place that decides it for every read path.

    Today any reader (`user_may_read`) sees every namespace; later this follows the cluster's
    own RBAC for the logged-in identity, and no caller has to change.
    """
    return EVERY_NAMESPACE if user_may_read(user) else NO_NAMESPACE


class ReadOnlyDashboardPermission(BasePermission):
    """DRF: safe methods only, and only for users who may read (see `user_may_read`)."""

    message = "Log in (session or token) to read the dashboard API."

    def has_permission(self, request: Request, view: APIView) -> bool:
        """Refuse writes outright; reads follow the login policy."""
        return request.method in SAFE_METHODS and user_may_read(request.user)
