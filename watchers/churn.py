"""Keeping the picture calm while pods churn (DESIGN §5): lifecycle smoothing and churn rates.

Rollouts and autoscaling replace pods by the hundred. Shown raw, a pod that is Pending for 300 ms
blinks in and out, a deleted pod vanishes before anyone saw it go, and a service with 200 pods
turning over is an unreadable flicker. This module decides, per namespace:

- which pods to hide for now (`PodSmoothing.hidden_pods`: Pending pods the watcher first saw
  less than `pending_grace_ms` ago) and which deleted pods to keep showing as Terminating
  (`PodSmoothing.lingering`: for `terminating_linger_ms` after the deletion was seen);
- which services show a pod summary instead of their pods (`ChurnMonitor.collapsed_services`)
  and when to send a HighChurnWarning (`ChurnMonitor.warnings`).

The debounce that decides *when* a namespace is rebuilt lives in `watchers.debounce`.

Per flush of a namespace with live pods `live` (name → object), the pipeline builds the tree
from `{**smoothing.lingering(ns, now, live), **live}` with `hidden_pods=smoothing.hidden_pods(
ns, live, now)` and `collapsed_services=monitor.collapsed_services(ns, counts, now)`, then
flushes the namespace again at `smoothing.next_deadline(ns)`. Pod ADDED/DELETED events feed
`monitor.record_pod_event` (a pod node's `relatives` are its services) and DELETED events
`smoothing.pod_deleted`.

Everything here is a pure function of the events it is told about and of `now`, a time in
seconds passed in by the caller, so tests need no sleeps. Use one monotonic clock for every call
(`loop.time()`): wall-clock steps would stretch or cut the grace and linger periods.

Clock choice for the pending grace: the pod's age is counted from when the watcher first saw it
Pending, not from its `creationTimestamp`. The timestamp is stamped by the API server's clock and
compared with the watcher's, so any skew beyond the 1 s grace either hides every new pod for the
skew or disables the grace, silently; "first seen" needs no second clock and no parsing (a
missing or garbled timestamp cannot matter). Its one blind spot is the first look at a namespace
(watcher start, relist of a new namespace), where a pod seen for the first time may have been
Pending for an hour: pods present at the first look are therefore treated as old and shown at
once. A pod re-created under the same name (new uid) is a new sighting.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from watchers.kobjects import as_str, metadata

__all__ = [
    "RATE_RELEASE_FRACTION",
    "SIZE_RELEASE_FRACTION",
    "UNKNOWN_DELETION_TIME",
    "ChurnConfig",
    "ChurnMonitor",
    "ChurnWarning",
    "PodSmoothing",
]

# Hysteresis: a collapsed service expands again only once its churn rate fell below this share
# of the threshold, so a rate hovering around the threshold does not toggle the view each flush.
RATE_RELEASE_FRACTION = 0.5
# Likewise for size: a service that collapsed above `collapse_pods_over` pods expands again at
# or below this share of it, so one pod replaced at the boundary (51 → 50 → 51) does not flap.
SIZE_RELEASE_FRACTION = 0.9

# A ghost needs a deletionTimestamp for the topology to show it Terminating; when the API gave
# none (a relist's synthetic DELETE for a pod that vanished while the watch was down) this
# stands in. The topology only checks that the field is set; the value is never displayed.
UNKNOWN_DELETION_TIME = "1970-01-01T00:00:00Z"


@dataclass(frozen=True)
class ChurnConfig:
    """The churn tunables (DESIGN §5); the admin edits them and `set_config` applies them live."""

    debounce_ms: int = 500
    """Quiet period before a namespace is rebuilt: a rollout step emits a pod's ADDED, a few
    MODIFIED and the EndpointSlice update within a few hundred ms; half a second coalesces them
    into one update and still feels live."""

    max_wait_ms: int = 2000
    """Upper bound on the delay after the first unflushed change, so a namespace that never goes
    quiet (steady churn) still updates every 2 s instead of freezing."""

    pending_grace_ms: int = 1000
    """A Pending pod is hidden this long after the watcher first saw it: most pods on a warm
    node are Running within a second, and showing their Pending blip is flicker, not news."""

    terminating_linger_ms: int = 2000
    """A deleted pod stays visible as Terminating at least this long after the deletion was
    seen, so a fast delete reads as "went away" rather than "was never there"."""

    churn_window_s: int = 60
    """Sliding window of the churn rate: a minute smooths a rollout's bursts into one rate and
    matches the unit users think in (pods per minute)."""

    churn_threshold_per_min: float = 60
    """Pod add/delete events per minute above which a service collapses and a warning is sent:
    one event per second is about as fast as a person can follow individual pods; a 30-replica
    rollout (30 adds + 30 deletes) crosses it, scaling 3 → 10 replicas does not."""

    collapse_pods_over: int = 50
    """A service with more pods than this shows a summary: 50 pod cards is about two screens,
    past which the tree stops being readable and the counts say more."""

    warning_cooldown_s: int = 60
    """At most one HighChurnWarning per namespace per this period while churn stays high: the
    rate is a per-minute figure, so a minute keeps the toast current without stacking toasts
    for the length of a long rollout."""

    def __post_init__(self) -> None:
        if self.churn_window_s <= 0:
            raise ValueError("churn_window_s must be positive")
        negative = [name for name, value in vars(self).items() if value < 0]
        if negative:
            raise ValueError(f"must not be negative: {', '.join(sorted(negative))}")


class ChurnWarning(NamedTuple):
    """A HighChurnWarning's content: the services churning above the threshold (ids, sorted;
    may be empty when the churn is spread thin or hits pods no service selects) and the
    namespace's rate in pods per minute."""

    affected_services: list[str]
    rate: float


@dataclass(frozen=True, slots=True)
class _Sighting:
    uid: str
    first_seen: float


@dataclass(frozen=True, slots=True)
class _Ghost:
    obj: dict[str, Any]
    seen: float


def _phase(pod: Any) -> Any:
    # Runs for every pod of a namespace on each of its flushes: inline the tolerant reads.
    pod_status = pod.get("status") if isinstance(pod, dict) else None
    return pod_status.get("phase") if isinstance(pod_status, dict) else None


def _uid(obj: Mapping[str, Any]) -> str:
    return as_str(metadata(obj).get("uid"))


class PodSmoothing:
    """Hides pods too young to be worth showing and keeps deleted pods on screen a moment."""

    def __init__(self, config: ChurnConfig | None = None) -> None:
        self._config = config or ChurnConfig()
        # Per namespace, the Pending pods the watcher has seen: name → first sighting. A
        # namespace absent here has not been looked at yet (see the module docstring).
        self._sightings: dict[str, dict[str, _Sighting]] = {}
        self._reveal_at: dict[str, float] = {}  # earliest time a hidden pod becomes visible
        self._ghosts: dict[str, dict[str, _Ghost]] = {}

    def set_config(self, config: ChurnConfig) -> None:
        """Apply new tunables; pods already hidden or lingering are re-timed by them."""
        self._config = config

    @property
    def _grace(self) -> float:
        return self._config.pending_grace_ms / 1000

    @property
    def _linger(self) -> float:
        return self._config.terminating_linger_ms / 1000

    def hidden_pods(self, namespace: str, pods: Mapping[str, Any], now: float) -> frozenset[str]:
        """Names of the namespace's pods to leave out of the tree for now.

        `pods` is every live pod of the namespace by name; call this on each flush, it also
        forgets pods that are gone.
        """
        first_look = namespace not in self._sightings
        known = self._sightings.setdefault(namespace, {})
        for name in [name for name in known if name not in pods]:
            del known[name]
        hidden, reveal = set(), []
        for name, pod in pods.items():
            if _phase(pod) != "Pending":
                if known:
                    known.pop(name, None)  # Pending never comes back once a pod moved on
                continue
            sighting = known.get(name)
            if sighting is None or sighting.uid != _uid(pod):
                sighting = _Sighting(_uid(pod), float("-inf") if first_look else now)
                known[name] = sighting
            if sighting.first_seen + self._grace > now:
                hidden.add(name)
                reveal.append(sighting.first_seen + self._grace)
        if reveal:
            self._reveal_at[namespace] = min(reveal)
        else:
            self._reveal_at.pop(namespace, None)
        return frozenset(hidden)

    def pod_deleted(self, namespace: str, obj: Mapping[str, Any], now: float) -> None:
        """Note a pod's DELETED event (real or synthetic) so it lingers as Terminating.

        A pod deleted while still hidden by the grace was never shown, so it leaves no ghost.
        """
        meta = metadata(obj)
        name = as_str(meta.get("name"))
        if not name:
            return
        sighting = self._sightings.get(namespace, {}).pop(name, None)
        if (
            sighting is not None
            and sighting.uid == _uid(obj)
            and sighting.first_seen + self._grace > now
        ):
            return
        deleted_at = meta.get("deletionTimestamp") or UNKNOWN_DELETION_TIME
        ghost = {**obj, "metadata": {**meta, "deletionTimestamp": deleted_at}}
        self._ghosts.setdefault(namespace, {})[name] = _Ghost(ghost, now)

    def lingering(
        self, namespace: str, now: float, live: Iterable[str] = ()
    ) -> dict[str, dict[str, Any]]:
        """Deleted pods still to show, by name, as objects marked for deletion.

        Names in `live` (the namespace's current pods) drop their ghost: a pod re-created with
        the same name replaces it. Expired ghosts are dropped too. Merge the result under the
        live pods before building the tree.
        """
        ghosts = self._ghosts.get(namespace)
        if not ghosts:
            return {}
        for name in set(live) & ghosts.keys():
            del ghosts[name]
        for name in [n for n, g in ghosts.items() if g.seen + self._linger <= now]:
            del ghosts[name]
        if not ghosts:
            del self._ghosts[namespace]
            return {}
        return {name: ghost.obj for name, ghost in ghosts.items()}

    def next_deadline(self, namespace: str | None = None) -> float | None:
        """When the namespace's (or any namespace's) picture next changes by itself: a hidden
        pod's grace ends or a ghost's linger ends. The pipeline marks the namespace dirty then.

        Ghosts replaced by a live pod are only dropped by `lingering`, so this may name a time
        at which nothing changes; that costs one empty diff.
        """
        names = [namespace] if namespace is not None else self._reveal_at.keys() | self._ghosts
        times = [self._reveal_at[ns] for ns in names if ns in self._reveal_at]
        times += [
            ghost.seen + self._linger for ns in names for ghost in self._ghosts.get(ns, {}).values()
        ]
        return min(times, default=None)

    def forget(self, namespace: str) -> None:
        """Drop all state of a deleted namespace."""
        self._sightings.pop(namespace, None)
        self._reveal_at.pop(namespace, None)
        self._ghosts.pop(namespace, None)


class ChurnMonitor:
    """Pod add/delete rates per namespace and service; collapse decisions and warnings."""

    def __init__(self, config: ChurnConfig | None = None) -> None:
        self._config = config or ChurnConfig()
        self._events: dict[str, deque[float]] = {}
        self._service_events: dict[str, dict[str, deque[float]]] = {}
        self._collapsed: dict[str, frozenset[str]] = {}
        self._warned_at: dict[str, float] = {}

    def set_config(self, config: ChurnConfig) -> None:
        """Apply new tunables; rates, collapse states and cooldowns carry over."""
        self._config = config

    def _rate(self, events: deque[float] | None, now: float) -> float:
        """Events per minute in the window ending at `now`, pruning older ones."""
        if not events:
            return 0.0
        window = self._config.churn_window_s
        while events and events[0] <= now - window:
            events.popleft()
        return len(events) * 60 / window

    def record_pod_event(self, namespace: str, service_ids: Iterable[str], now: float) -> None:
        """Count one pod ADDED or DELETED event against its namespace and its services."""
        self._events.setdefault(namespace, deque()).append(now)
        services = self._service_events.setdefault(namespace, {})
        for service_id in service_ids:
            services.setdefault(service_id, deque()).append(now)

    def rate(self, namespace: str, now: float) -> float:
        """The namespace's pod events per minute over the window."""
        return self._rate(self._events.get(namespace), now)

    def service_rate(self, namespace: str, service_id: str, now: float) -> float:
        """One service's pod events per minute over the window."""
        services = self._service_events.get(namespace, {})
        rate = self._rate(services.get(service_id), now)
        if not rate:
            services.pop(service_id, None)
        return rate

    def collapsed_services(
        self, namespace: str, service_pod_counts: Mapping[str, int], now: float
    ) -> frozenset[str]:
        """Ids of the services to show as a pod summary, given every service's pod count.

        A service collapses when its churn rate is above the threshold or it has more than
        `collapse_pods_over` pods; once collapsed it stays so until its rate is below
        RATE_RELEASE_FRACTION of the threshold and its count at or below SIZE_RELEASE_FRACTION
        of `collapse_pods_over`. Services missing from the counts are forgotten.
        """
        config, before = self._config, self._collapsed.get(namespace, frozenset())
        collapsed = set()
        for service_id, count in service_pod_counts.items():
            rate = self.service_rate(namespace, service_id, now)
            if service_id in before:
                calm = rate < config.churn_threshold_per_min * RATE_RELEASE_FRACTION
                small = count <= config.collapse_pods_over * SIZE_RELEASE_FRACTION
                if not (calm and small):
                    collapsed.add(service_id)
            elif rate > config.churn_threshold_per_min or count > config.collapse_pods_over:
                collapsed.add(service_id)
        self._collapsed[namespace] = frozenset(collapsed)
        return self._collapsed[namespace]

    def warnings(self, namespace: str, now: float) -> list[ChurnWarning]:
        """The HighChurnWarning to send now, if any (a list of at most one).

        One is due while the namespace's rate is above the threshold and none was sent within
        `warning_cooldown_s`.
        """
        config = self._config
        rate = self.rate(namespace, now)
        if rate <= config.churn_threshold_per_min:
            return []
        warned_at = self._warned_at.get(namespace)
        if warned_at is not None and now - warned_at < config.warning_cooldown_s:
            return []
        self._warned_at[namespace] = now
        affected = [
            service_id
            for service_id in sorted(self._service_events.get(namespace, {}))
            if self.service_rate(namespace, service_id, now) > config.churn_threshold_per_min
        ]
        return [ChurnWarning(affected, rate)]

    def forget(self, namespace: str) -> None:
        """Drop all state of a deleted namespace."""
        self._events.pop(namespace, None)
        self._service_events.pop(namespace, None)
        self._collapsed.pop(namespace, None)
        self._warned_at.pop(namespace, None)
