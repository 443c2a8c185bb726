"""What an informer does after each failure: a pure table plus client-go's backoff.

The reaction table is K8S_API §6 "Reacting to failures". Keeping it a function of
(failure, attempt) → (action, delay), with the clock and the random source injected, lets every
row and both bounded-loop cases (#9 quiet closes, #10 instant closes) be tested without a server
or a sleep; the informer only classifies what happened and obeys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, NamedTuple, Protocol


class Rng(Protocol):
    """The one method of `random.Random` the watcher uses, so tests can pass fixed values."""

    def random(self) -> float: ...


class Failure(Enum):
    """Why a list or watch stopped, as far as the reaction is concerned."""

    WATCH_ENDED = "watch ended"  # clean EOF, server timeout, idle timeout, reset after progress
    WATCH_CLOSED_FAST = "watch closed in under a second with no events"
    DISCONNECTED = "could not reach the API server"
    THROTTLED = "429 Too Many Requests"
    EXPIRED = "410 Gone: resourceVersion too old for the watch"
    LIST_EXPIRED = "410 Gone: resourceVersion too old for the list"
    CONTINUE_EXPIRED = "410 Gone: continue token expired"
    RV_TOO_LARGE = "504 resourceVersion too large"
    UNAUTHORIZED = "401/403: not allowed to list/watch"
    NOT_FOUND = "404: resource not served"
    MALFORMED = "malformed response"
    SERVER_ERROR = "server error"


class Action(Enum):
    """What to do next. The BACKOFF_* actions and AUTH_FAILED wait `Decision.delay` first."""

    REWATCH = "re-watch from the last resourceVersion"
    RELIST = "relist at the last resourceVersion"
    RELIST_FROM_SCRATCH = "relist from scratch"
    RELIST_UNPAGED = "relist from scratch without paging"
    BACKOFF_REWATCH = "back off, then re-watch"
    BACKOFF_RELIST = "back off, then relist"
    AUTH_FAILED = "back off, then relist with fresh credentials"


class ListMode(Enum):
    """How to LIST: the parameters differ in resourceVersion and paging (driver.list_params)."""

    AT_LAST_RV = "at the last resourceVersion"  # not older than it: cheap, served from cache
    CONSISTENT = "consistent read"  # resourceVersion unset: a quorum read of "now"
    UNPAGED = "consistent read without paging"  # no continue token can expire


class Phase(Enum):
    """Which request a status code answered: the same 410 means different things."""

    LIST = "list"
    CONTINUE = "list continuation"
    WATCH = "watch"


class Decision(NamedTuple):
    action: Action
    delay: float  # seconds to wait before acting


@dataclass(frozen=True, slots=True)
class BackoffConfig:
    """client-go's reflector backoff (K8S_API §6): a retry storm must never reach the server."""

    initial_s: float = 0.8
    """First wait; short enough that a blip heals before anyone notices."""
    factor: float = 2.0
    cap_s: float = 30.0
    """Longest base wait; jitter may add up to `jitter` × this on top, as client-go does."""
    jitter: float = 1.0
    """Random extra of 0–100 % so informers (and replicas) do not retry in lockstep."""
    reset_after_s: float = 120.0
    """Two quiet minutes forget past failures; a one-off error then waits only `initial_s`."""
    fast_close_s: float = 1.0
    """A watch that ends sooner than this with no events is a failure, not a timeout."""


BACKOFF = BackoffConfig()
AUTH_BACKOFF = BackoffConfig(initial_s=1.0, cap_s=5.0, jitter=0.2)
"""Retrying 401/403 on its own, faster schedule (issue 15 E): a refused LIST costs the API
server an authorisation check and nothing more, and the usual climb to 30 s kept a dashboard
stale half a minute after someone fixed the RBAC. Every 5-6 s shows a fix within seconds."""

_REACTIONS = {
    Failure.WATCH_ENDED: Action.REWATCH,
    Failure.WATCH_CLOSED_FAST: Action.BACKOFF_RELIST,
    Failure.DISCONNECTED: Action.BACKOFF_REWATCH,
    Failure.THROTTLED: Action.BACKOFF_REWATCH,
    Failure.EXPIRED: Action.RELIST,
    Failure.LIST_EXPIRED: Action.RELIST_FROM_SCRATCH,
    Failure.CONTINUE_EXPIRED: Action.RELIST_UNPAGED,
    Failure.RV_TOO_LARGE: Action.RELIST_FROM_SCRATCH,
    Failure.UNAUTHORIZED: Action.AUTH_FAILED,
    Failure.NOT_FOUND: Action.BACKOFF_RELIST,
    Failure.MALFORMED: Action.BACKOFF_RELIST,
    Failure.SERVER_ERROR: Action.BACKOFF_RELIST,
}
_WAITING = frozenset({Action.BACKOFF_REWATCH, Action.BACKOFF_RELIST, Action.AUTH_FAILED})
_LIST_MODES = {
    Action.RELIST: ListMode.AT_LAST_RV,
    Action.RELIST_FROM_SCRATCH: ListMode.CONSISTENT,
    Action.RELIST_UNPAGED: ListMode.UNPAGED,
    Action.BACKOFF_RELIST: ListMode.AT_LAST_RV,
    Action.AUTH_FAILED: ListMode.AT_LAST_RV,
}


def backoff_delay(attempt: int, rng: Rng, config: BackoffConfig = BACKOFF) -> float:
    """The wait before retry number `attempt` (0-based): capped doubling plus jitter."""
    base = min(config.initial_s * config.factor ** min(attempt, 64), config.cap_s)
    return base * (1.0 + config.jitter * rng.random())


def decide(
    failure: Failure,
    attempt: int,
    rng: Rng,
    config: BackoffConfig = BACKOFF,
    auth: BackoffConfig = AUTH_BACKOFF,
) -> Decision:
    """The reaction to `failure`, the `attempt`-th failure that waited since the last reset;
    refusals (401/403) wait on `auth`'s schedule, everything else on `config`'s."""
    action = _REACTIONS[failure]
    if action not in _WAITING:
        return Decision(action, 0.0)
    return Decision(
        action, backoff_delay(attempt, rng, auth if action is Action.AUTH_FAILED else config)
    )


def next_list_mode(action: Action, pending: ListMode | None, resumable: bool) -> ListMode | None:
    """The LIST to run before the next watch, or None to watch straight away.

    `pending` is a list that failed and still has to happen; `resumable` says whether there is a
    resourceVersion worth resuming from (a watch from "" or "0" would replay everything as ADDED
    and miss what was deleted meanwhile, so without one a re-watch becomes a list).
    """
    mode = _LIST_MODES.get(action)
    if mode is None:
        mode = pending
        if mode is None and not resumable:
            mode = ListMode.CONSISTENT
    if mode is ListMode.AT_LAST_RV and not resumable:
        return ListMode.CONSISTENT
    return mode


def classify_end(duration_s: float, events: int, config: BackoffConfig = BACKOFF) -> Failure:
    """A watch stream that ended without an error: a normal timeout, or an instant close."""
    if events == 0 and duration_s < config.fast_close_s:
        return Failure.WATCH_CLOSED_FAST
    return Failure.WATCH_ENDED


def classify_status(code: int, status: Mapping[str, Any], phase: Phase) -> Failure:
    """The failure an HTTP status (or an ERROR event's Status) means for this `phase`."""
    if code == 410:
        return {
            Phase.WATCH: Failure.EXPIRED,
            Phase.CONTINUE: Failure.CONTINUE_EXPIRED,
            Phase.LIST: Failure.LIST_EXPIRED,
        }[phase]
    if code in (401, 403):
        return Failure.UNAUTHORIZED
    if code == 404:
        return Failure.NOT_FOUND
    if code == 429:
        return Failure.THROTTLED
    if code == 504 and _too_large(status):
        return Failure.RV_TOO_LARGE
    return Failure.SERVER_ERROR


def _too_large(status: Mapping[str, Any]) -> bool:
    details = status.get("details")
    causes = details.get("causes") if isinstance(details, dict) else None
    causes = causes if isinstance(causes, list) else []
    reasons = [cause.get("reason") for cause in causes if isinstance(cause, dict)]
    message = status.get("message")
    return "ResourceVersionTooLarge" in reasons or (
        isinstance(message, str) and "Too large resource version" in message
    )


class FailureCounter:
    """Failures that waited, forgotten after `reset_after_s` without one (client-go's manager)."""

    def __init__(self, clock: Callable[[], float], config: BackoffConfig = BACKOFF) -> None:
        self._clock = clock
        self._config = config
        self._count = 0
        self._last: float | None = None

    def current(self) -> int:
        """The attempt number (0-based) the next waiting failure gets."""
        if self._last is not None and self._clock() - self._last >= self._config.reset_after_s:
            self._count = 0
            self._last = None
        return self._count

    def record(self) -> None:
        """Count a failure that waited."""
        self.current()
        self._count += 1
        self._last = self._clock()
