"""When a watch was last heard from, and how long a silence is still normal (issue 15 D).

A stalled watch (the connection open, nothing coming) looks exactly like a quiet resource,
and the dashboard would go on showing a picture that has stopped moving. Servers that send
bookmarks (`allowWatchBookmarks`) send them at a steady pace whatever else happens, about a
minute apart on a real API server: once two intervals were seen, a silence longer than
`factor` of the longest recent one is abnormal. Until then (a server without bookmarks, or a
stall right after the start) only `fallback_s` can tell: longer than the informer's idle
timeout plus a re-watch, which a healthy quiet stream never stays silent. Pure: times are
arguments.
"""

from __future__ import annotations

from collections import deque


class Hearing:
    """The pace of one informer's bookmarks and the silence it allows."""

    def __init__(
        self, fallback_s: float, factor: float = 3.0, floor_s: float = 2.0, window: int = 10
    ) -> None:
        self.fallback_s = fallback_s
        self.factor = factor
        self.floor_s = floor_s
        self._gaps: deque[float] = deque(maxlen=window)
        self._last_bookmark: float | None = None

    def heard(self, at: float, bookmarks: int = 0) -> None:
        """Data arrived at `at` (monotonic), `bookmarks` of them bookmarks."""
        if not bookmarks:
            return
        if self._last_bookmark is not None and at > self._last_bookmark:
            self._gaps.append(at - self._last_bookmark)
        self._last_bookmark = at

    def new_stream(self) -> None:
        """A new watch: its first bookmark starts a new interval (the learned pace stays)."""
        self._last_bookmark = None

    def limit(self) -> float:
        """The longest normal silence in seconds."""
        if len(self._gaps) < 2:
            return self.fallback_s
        return max(self.floor_s, self.factor * max(self._gaps))
