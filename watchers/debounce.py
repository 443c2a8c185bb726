"""Per-namespace debounce: when to rebuild and diff a namespace that changed (DESIGN §5).

A rollout step is a burst of events (pod ADDED, several MODIFIED, EndpointSlice updates) that
each change the picture a little. Rebuilding after each would flood browsers with intermediate
states, so changes are coalesced per namespace: a namespace is flushed once it has been quiet for
`debounce_ms`, or `max_wait_ms` after its first unflushed change if it never goes quiet. Each
namespace has its own timer, so a busy namespace never delays an unrelated one.

`now` is a time in seconds from one monotonic clock (`loop.time()`), passed by the caller.
"""

from __future__ import annotations

from watchers.churn import ChurnConfig

__all__ = ["Debouncer"]


class Debouncer:
    """Dirty namespaces and the time each is due to be flushed."""

    def __init__(self, config: ChurnConfig | None = None) -> None:
        self._config = config or ChurnConfig()
        self._pending: dict[str, tuple[float, float]] = {}  # namespace → (first, last) change

    def set_config(self, config: ChurnConfig) -> None:
        """Apply new tunables; namespaces already waiting are re-timed by them."""
        self._config = config

    def _deadline(self, first: float, last: float) -> float:
        quiet = last + self._config.debounce_ms / 1000
        return min(quiet, first + self._config.max_wait_ms / 1000)

    def mark(self, namespace: str, now: float) -> None:
        """Note a change to the namespace at `now` (which may be earlier than a previous mark:
        events are stamped when read, and handed over in batches)."""
        first, last = self._pending.get(namespace, (now, now))
        self._pending[namespace] = (min(first, now), max(last, now))

    def deadline_if_marked(self, namespace: str, at: float) -> float:
        """When the namespace would be due if it were marked at `at` (a change already known
        to come, like a ghost's linger ending), without marking it."""
        first, last = self._pending.get(namespace, (at, at))
        return self._deadline(min(first, at), max(last, at))

    def due(self, now: float) -> list[str]:
        """The namespaces to flush now, sorted; they count as clean until marked again."""
        ready = sorted(ns for ns, times in self._pending.items() if self._deadline(*times) <= now)
        for namespace in ready:
            del self._pending[namespace]
        return ready

    def next_deadline(self) -> float | None:
        """When `due` next returns something (None: nothing is pending), to sleep until then."""
        return min((self._deadline(*times) for times in self._pending.values()), default=None)

    def forget(self, namespace: str) -> None:
        """Drop a pending flush (the namespace was deleted, or flushed by other means)."""
        self._pending.pop(namespace, None)
