"""Fault injection: the failures a watcher must survive, switched on from tests or HTTP.

The server consults one `Faults` object on every request and every watch stream;
tests reach it through `SimCluster.faults`, other processes through the
`/_simcluster/faults/<action>` control endpoint.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Faults:
    """Current fault settings; every method is safe to call from any thread."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    fail_remaining: int = 0
    fail_code: int = 500
    denied: set[tuple[str, str]] = field(default_factory=set)  # (group, plural)
    watch_delay_s: float = 0.0
    stalled: bool = False
    # Incremented by close_watches; a stream ends when it sees a newer generation.
    close_generation: int = 0
    # Called after each change so waiting streams re-check (set by the server).
    on_change: Callable[[], None] | None = field(default=None, repr=False)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def fail_next(self, count: int, code: int = 500) -> None:
        """Answer the next `count` API requests with `code` (500, 429, 503...)."""
        with self._lock:
            self.fail_remaining = int(count)
            self.fail_code = int(code)

    def take_failure(self) -> int | None:
        """The status code to fail this request with, if a failure is pending."""
        with self._lock:
            if self.fail_remaining <= 0:
                return None
            self.fail_remaining -= 1
            return self.fail_code

    def deny(self, plural: str, group: str = "") -> None:
        """Answer every request for this resource with 403 Forbidden."""
        with self._lock:
            self.denied.add((group, plural))
        self.close_watches()

    def allow(self, plural: str, group: str = "") -> None:
        with self._lock:
            self.denied.discard((group, plural))

    def is_denied(self, group: str, plural: str) -> bool:
        return (group, plural) in self.denied

    def close_watches(self) -> None:
        """End every open watch stream now, cleanly, as an apiserver restart would."""
        with self._lock:
            self.close_generation += 1
        self._changed()

    def slow_watches(self, delay_s: float) -> None:
        """Delay every watch event by `delay_s` seconds (0 turns it off)."""
        with self._lock:
            self.watch_delay_s = max(0.0, float(delay_s))
        self._changed()

    def stall_watches(self) -> None:
        """Open streams stop sending (the connection stays up) until resume_watches."""
        with self._lock:
            self.stalled = True
        self._changed()

    def resume_watches(self) -> None:
        with self._lock:
            self.stalled = False
        self._changed()

    def reset(self) -> None:
        with self._lock:
            self.fail_remaining = 0
            self.denied.clear()
            self.watch_delay_s = 0.0
            self.stalled = False
        self._changed()

    def describe(self) -> dict:
        with self._lock:
            return {
                "fail_remaining": self.fail_remaining,
                "fail_code": self.fail_code,
                "denied": sorted(f"{p}.{g}" if g else p for g, p in self.denied),
                "watch_delay_s": self.watch_delay_s,
                "stalled": self.stalled,
            }
