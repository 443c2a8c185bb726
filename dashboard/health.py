"""Health endpoints for load balancers and orchestrators.

`/healthz` is liveness: it answers whenever the process can serve a request, and checks no
dependency, because restarting a web process does not fix a Redis or database outage.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 `{"status": "ok"}` while this process serves requests."""
    return JsonResponse({"status": "ok"})
