"""Leader election decisions on a coordination.k8s.io/v1 Lease, without I/O.

Two watcher replicas must never publish at once (DESIGN §9), so they compete for one Lease the
way client-go's `leaderelection` does: whoever holds an unexpired lease leads, a candidate takes
it over once it has expired, and every write carries the resourceVersion it read, so of two
candidates racing for an expired lease the API server lets exactly one win (409 for the other).

This module answers "given this Lease (or none), this identity and this time, what do I write?"
with literal dicts in and out; `watchers.leader` does the HTTP and the timing. Times are epoch
seconds (floats); on the wire they are RFC 3339 MicroTime strings.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

API_VERSION = "coordination.k8s.io/v1"


@dataclass(frozen=True)
class LeaseConfig:
    """client-go's timings; the defaults are its defaults for controllers."""

    lease_duration_s: float = 15.0
    """How long a standby waits after the last renewal before taking over: the takeover time."""
    renew_deadline_s: float = 10.0
    """A leader that has not renewed for this long stops publishing. Shorter than the lease
    duration, so the old leader has stopped before any standby may start."""
    retry_period_s: float = 2.0
    """How often the leader renews and a standby looks at the lease."""

    def __post_init__(self) -> None:
        if not 0 < self.retry_period_s < self.renew_deadline_s < self.lease_duration_s:
            raise ValueError(
                "lease timings need 0 < retry period < renew deadline < lease duration, got "
                f"{self.retry_period_s} / {self.renew_deadline_s} / {self.lease_duration_s} s"
            )

    @property
    def lease_duration_seconds(self) -> int:
        """The wire field is whole seconds; rounding up keeps the leader's margin intact."""
        return max(1, math.ceil(self.lease_duration_s))


class Action(enum.Enum):
    CREATE = "create"
    """No lease yet: POST one naming us."""
    ACQUIRE = "acquire"
    """Free, released or expired: PUT it (with its resourceVersion) naming us."""
    RENEW = "renew"
    """Ours: PUT a fresh renewTime."""
    WAIT = "wait"
    """Someone else holds a live lease."""


@dataclass(frozen=True)
class Decision:
    action: Action
    holder: str
    """Who holds the lease now ("" when nobody)."""
    body: dict[str, Any] | None
    """The Lease to POST or PUT; None for WAIT."""
    expires_at: float | None
    """When the current holder's claim runs out (WAIT only): a standby looks again then."""


@dataclass(frozen=True)
class Observation:
    """When this process first saw the lease's current record.

    client-go judges expiry from when *it* saw the record change rather than from the holder's
    renewTime alone, so a standby whose clock runs ahead of the leader's cannot take over
    early. We require both to have passed.
    """

    record: tuple[str, str, int]
    seen_at: float


def format_micro_time(t: float) -> str:
    """Epoch seconds as a Kubernetes MicroTime: `2026-11-23T12:00:00.000000Z`."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_micro_time(value: str | None) -> float | None:
    """A MicroTime or Time (RFC 3339) as epoch seconds; None when missing or malformed."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def observe(previous: Observation | None, lease: dict[str, Any] | None, now: float) -> Observation:
    """Carry the first-seen time forward while the record is unchanged; restart it when it moves."""
    spec = (lease or {}).get("spec") or {}
    record = (
        spec.get("holderIdentity") or "",
        spec.get("renewTime") or "",
        int(spec.get("leaseDurationSeconds") or 0),
    )
    if previous is not None and previous.record == record:
        return previous
    return Observation(record, now)


def expires_at(
    spec: dict[str, Any], config: LeaseConfig, observation: Observation | None = None
) -> float:
    """When the holder's claim runs out: renewTime + its duration, and no sooner than the
    same duration after we first saw this record."""
    duration = float(spec.get("leaseDurationSeconds") or config.lease_duration_seconds)
    renewed = parse_micro_time(spec.get("renewTime")) or parse_micro_time(spec.get("acquireTime"))
    claimed = renewed + duration if renewed is not None else -math.inf
    if observation is None:
        return claimed
    return max(claimed, observation.seen_at + duration)


def new_lease(name: str, namespace: str, identity: str, now: float, config: LeaseConfig) -> dict:
    """The Lease a first candidate creates."""
    stamp = format_micro_time(now)
    return {
        "apiVersion": API_VERSION,
        "kind": "Lease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "holderIdentity": identity,
            "leaseDurationSeconds": config.lease_duration_seconds,
            "acquireTime": stamp,
            "renewTime": stamp,
            "leaseTransitions": 0,
        },
    }


def decide(
    lease: dict[str, Any] | None,
    *,
    name: str,
    namespace: str,
    identity: str,
    now: float,
    config: LeaseConfig,
    observation: Observation | None = None,
) -> Decision:
    """What `identity` should write, having just read `lease` (None: 404) at `now`."""
    if lease is None:
        return Decision(Action.CREATE, "", new_lease(name, namespace, identity, now, config), None)
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or ""
    ours = holder == identity
    if holder and not ours:
        until = expires_at(spec, config, observation)
        if now < until:
            return Decision(Action.WAIT, holder, None, until)
    stamp = format_micro_time(now)
    transitions = int(spec.get("leaseTransitions") or 0)
    body = {
        **lease,
        "spec": {
            **spec,
            "holderIdentity": identity,
            "leaseDurationSeconds": config.lease_duration_seconds,
            "acquireTime": (spec.get("acquireTime") or stamp) if ours else stamp,
            "renewTime": stamp,
            "leaseTransitions": transitions if ours else transitions + 1,
        },
    }
    return Decision(Action.RENEW if ours else Action.ACQUIRE, holder, body, None)


def released(lease: dict[str, Any], identity: str, now: float) -> dict[str, Any] | None:
    """The lease handed back on clean shutdown so a standby takes over at once; None if it is
    no longer ours to release. Mirrors client-go's ReleaseOnCancel: empty holder, 1 s duration."""
    spec = lease.get("spec") or {}
    if (spec.get("holderIdentity") or "") != identity:
        return None
    stamp = format_micro_time(now)
    return {
        **lease,
        "spec": {
            **spec,
            "holderIdentity": "",
            "leaseDurationSeconds": 1,
            "acquireTime": stamp,
            "renewTime": stamp,
        },
    }
