"""Operations endpoints: `/readyz` for orchestrators and `/metrics` for Prometheus.

Neither asks for a login: probes and scrapers carry no session. Anonymous callers of `/readyz`
get its status and a one-line reason only; the details (informer errors, resourceVersions,
epochs) are for users who may read the dashboard, and `/metrics` has the counters. Still,
expose both on the cluster network only (a NetworkPolicy, or the ingress not routing
`/metrics`), as for any Prometheus endpoint.

`/readyz` is readiness, not liveness (that is `/healthz`): this process can serve the dashboard
only while the snapshot it reads is present, complete and true. It fails when the watcher has
not published, has not finished its first LIST of every resource, or has not refreshed its
heartbeat (every 5 s) for `settings.READYZ_MAX_AGE` seconds; when the API server refuses the
watcher a resource (401/403), or a resource's watch has been silent longer than its bookmarks'
pace allows (a stalled stream: the picture would no longer move); and when Redis cannot be
reached. Each failure names its cause so that `kubectl describe pod` explains itself.
"""

from __future__ import annotations

import time
from typing import Any

import prometheus_client
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from redis.exceptions import RedisError

from constellation.snapshot import Snapshot
from dashboard import metrics as web_metrics
from dashboard.permissions import user_may_read
from dashboard.snapshots import read_snapshot

# Imported for its side effect: the web-side counters register in the default registry at import,
# so a scrape lists them (at zero) before the first WebSocket client connects.
_REGISTERED = web_metrics

RESOURCE_FIELDS = (
    "synced",
    "connected",
    "auth_failed",
    "last_error",
    "last_event_at",
    "last_heard_at",
    "silence_limit_s",
)


def _resources(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per-resource informer health, trimmed to what explains readiness."""
    resources = cluster.get("resources") or {}
    return {
        kind: {key: health.get(key) for key in RESOURCE_FIELDS}
        for kind, health in sorted(resources.items())
        if isinstance(health, dict)
    }


def _rbac_hint(resources: dict[str, dict[str, Any]]) -> str:
    denied = [kind for kind, health in resources.items() if health.get("auth_failed")]
    if not denied:
        return ""
    return (
        f" (RBAC: the watcher is refused list/watch on {', '.join(denied)}; "
        "check its ServiceAccount's ClusterRole)"
    )


def _untrue(resources: dict[str, dict[str, Any]], now: float) -> list[str]:
    """Resources whose part of the picture cannot be trusted now: refused, or stalled."""
    problems = []
    for kind, health in resources.items():
        heard, limit = health.get("last_heard_at"), health.get("silence_limit_s")
        if health.get("auth_failed"):
            problems.append(f"{kind} refused (401/403: check the watcher's RBAC)")
        elif heard and limit and now - heard > limit:
            problems.append(
                f"{kind} watch silent for {now - heard:.0f} s (bookmarks came every "
                f"{limit / 3:.0f} s): the picture is stale"
            )
    return problems


def readiness(snapshot: Snapshot, now: float, max_age: float) -> tuple[bool, dict[str, Any]]:
    """(ready, response body) for a snapshot read at `now`; pure, so tests pass literals."""
    cluster = snapshot.cluster or {}
    resources = _resources(cluster)
    heartbeat = cluster.get("heartbeat") or snapshot.updated_at
    age = round(now - heartbeat, 1) if heartbeat else None
    body: dict[str, Any] = {
        "epoch": snapshot.epoch,
        "seq": snapshot.seq,
        "synced": snapshot.synced and cluster.get("synced", True),
        "heartbeat_age_s": age,
        "namespaces": len(snapshot.ns_seq),
        "resources": resources,
    }
    if not snapshot.present:
        reason = "no snapshot yet: is the watcher running?"
    elif not body["synced"]:
        waiting = [kind for kind, health in resources.items() if not health.get("synced")]
        reason = f"watcher not synced: waiting for {', '.join(waiting) or 'its first publish'}"
        reason += _rbac_hint(resources)
    elif age is None or age > max_age:
        reason = f"watcher silent for {age if age is not None else 'unknown'} s"
        reason += _rbac_hint(resources)
    elif problems := _untrue(resources, now):
        reason = "; ".join(problems)
    else:
        return True, {"status": "ready", **body}
    return False, {"status": "unavailable", "reason": reason, **body}


@never_cache
@require_safe
async def readyz(request: HttpRequest) -> JsonResponse:
    """200 `{"status": "ready", …}` or 503 `{"status": "unavailable", "reason", …}`; the
    details only for users who may read the dashboard."""
    detailed = user_may_read(await request.auser())
    try:
        snapshot = await read_snapshot(namespaces=[])
    except (RedisError, OSError) as exc:
        reason = f"Redis unreachable: {exc}" if detailed else "Redis unreachable"
        return JsonResponse({"status": "unavailable", "reason": reason}, status=503)
    ready, body = readiness(snapshot, time.time(), settings.READYZ_MAX_AGE)
    if not detailed:
        body = {key: body[key] for key in ("status", "reason") if key in body}
    return JsonResponse(body, status=200 if ready else 503)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition of this process's default registry."""
    return HttpResponse(
        prometheus_client.generate_latest(prometheus_client.REGISTRY),
        content_type=prometheus_client.CONTENT_TYPE_LATEST,
    )
