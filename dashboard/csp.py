"""Content-Security-Policy on every response (Django 5.2 has no built-in CSP).

Cluster data is user input (labels, annotations); templates and scripts render it as text, and
this header is the second line: a value that slipped through as markup still cannot run script,
because only same-origin script files may execute and inline script is refused.
The policy is `settings.CONTENT_SECURITY_POLICY` (env CONSTELLATION_CSP), read per response so
tests can override it; a view that sets its own header keeps it.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.deprecation import MiddlewareMixin

HEADER = "Content-Security-Policy"


class ContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Adds the configured policy header; MiddlewareMixin makes it sync and async capable."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        """Set the header unless the view chose its own or the policy is configured empty."""
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", "")
        if policy and HEADER not in response:
            response[HEADER] = policy
        return response
