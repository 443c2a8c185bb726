"""Keeping CPython's cyclic garbage collector from walking a long-lived picture again and again.

Two processes hold a big picture of a cluster in JSON-shaped dicts and lists: the watcher
(pruned objects, tree nodes, the build memo: about twenty GC-tracked containers per pod, 2.5
million at 100,000 pods) and simcluster (the store and its watch history). A full collection
walks every tracked object (1.3 s on our machines, while the loop stands still) and runs each
time the objects that survived into the oldest generation grew by a quarter: listing and
building the watcher's first picture of 100,000 pods set off several (60% of that phase's
CPU), and in simcluster, churn at 2,000 pod events/s set one off every few seconds, each
stalling its API for up to 0.9 s. The walks find nothing: the pictures are replaced rather
than changed, with no reference cycles.

So while a picture is first built (the watcher's first lists, simcluster's seeding) the
collector is off (`hold`), and once it is built (`settle`) everything alive is frozen
(`gc.freeze`: moved where collections never look) and the collector is back on. After that,
whenever a full collection finishes, what survived it (all of it proven reachable that
moment) is frozen too, so each full collection walks only what arrived since the last one.
Frozen objects are still freed by reference counting when dropped; only a reference cycle
that was alive at a freeze and is dropped later waits until the last guard in the process
closes (`close` unfreezes everything).

Churn alone seldom sets off a collection: CPython counts allocations minus deallocations,
and a pod event allocates about what it frees (the pod's new version, its old one). The
survivors still pile up unfrozen, and the collection that finally comes walks all of them
(0.2 s of CPU after 15,000 pod events at 100,000 pods). So `tick` runs a full collection
every PERIOD_S: each walks only the last period's survivors (~50,000 objects, a few ms, at
2,000 pod events/s).

Process-wide state, shared by every guard in the process (tests run several watchers and
simulated clusters; leader election runs one watcher per term): the collector stays off while
any of them is building its first picture, and freezing stops when the last one closes.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

PERIOD_S = 1.0

_lock = threading.Lock()
_holding = 0  # guards building their first picture
_open = 0  # guards not closed yet
_enabled_before: bool | None = None  # the collector's state before the first guard


def _freeze_after_full_collection(phase: str, info: dict[str, Any]) -> None:
    # At the end of a full collection every tracked object is in the oldest generation
    # and reachable: freezing now freezes nothing that was garbage.
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


class HeapGuard:
    """One picture's part in the process's collector policy: hold, settle, tick, close."""

    def __init__(self) -> None:
        self._state = "new"  # new → holding → settled → closed
        self._collected_at = 0.0

    @property
    def holding(self) -> bool:
        return self._state == "holding"

    def hold(self) -> None:
        """The collector stays off until `settle` (the first picture is being built)."""
        global _holding, _open, _enabled_before
        if self._state != "new":
            return
        with _lock:
            if _open == 0:
                _enabled_before = gc.isenabled()
            _open += 1
            _holding += 1
            gc.disable()
        self._state = "holding"

    def settle(self) -> None:
        """The first picture is built: freeze it, and freeze after every full collection."""
        global _holding
        if self._state != "holding":
            return
        with _lock:
            _holding -= 1
            if _holding == 0:
                gc.freeze()
                # A full collection now walks nothing, and restarts the count that spaces full
                # collections from what is left unfrozen (none) instead of from the picture:
                # else the first one after the freeze waits for a quarter of the picture's
                # size of new objects and walks them all at once (160 ms at 100,000 pods).
                gc.collect()
                if _freeze_after_full_collection not in gc.callbacks:
                    gc.callbacks.append(_freeze_after_full_collection)
                if _enabled_before:
                    gc.enable()
        self._state = "settled"

    def tick(self, now: float) -> None:
        """Collect (and so freeze) what the last PERIOD_S left; `now` from a monotonic clock."""
        if self._state == "settled" and now - self._collected_at >= PERIOD_S and gc.isenabled():
            self._collected_at = now
            gc.collect()

    def close(self) -> None:
        """This picture's owner stopped; the last one out unfreezes, so pictures can be freed."""
        global _open
        if self._state in ("new", "closed"):
            self._state = "closed"
            return
        self.settle()
        with _lock:
            _open -= 1
            if _open == 0:
                if _freeze_after_full_collection in gc.callbacks:
                    gc.callbacks.remove(_freeze_after_full_collection)
                gc.unfreeze()
        self._state = "closed"
