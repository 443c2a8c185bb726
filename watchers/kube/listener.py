"""How informers hand events to the rest of the watcher, and the adapter onto one asyncio loop.

Contract of `InformerListener`; every call comes from the informer's thread, in order:
- `on_events(kind, events)`: a batch of ("ADDED" | "MODIFIED" | "DELETED", object) in stream order;
  one batch per chunk read, or the whole diff of a (re)list. Objects are raw dicts without
  `metadata.managedFields`; a DELETED from a relist may be a tombstone carrying only kind,
  apiVersion, name, namespace, uid and resourceVersion. ADDED for a known key is an upsert and
  DELETED for an unknown key must be ignored (K8S_API §6, idempotence).
- `on_synced(kind)`: after every complete list's events, the first one meaning "initially synced".
The listener must not block: the thread is not reading its socket meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from watchers.kube.relist import Event


class InformerListener(Protocol):
    """Receives an informer's events; see the module docstring for the contract."""

    def on_events(self, kind: str, events: list[Event]) -> None:
        """A batch of events, in order."""

    def on_synced(self, kind: str) -> None:
        """A complete list has been delivered."""


class LoopListener:
    """Hands informer callbacks to `target` on one asyncio loop: one wake-up per batch, in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, target: InformerListener) -> None:
        self._loop = loop
        self._target = target

    def on_events(self, kind: str, events: list[Event]) -> None:
        """Schedule `target.on_events` on the loop."""
        self._call(self._target.on_events, kind, events)

    def on_synced(self, kind: str) -> None:
        """Schedule `target.on_synced` on the loop."""
        self._call(self._target.on_synced, kind)

    def _call(self, method: Callable[..., None], *args: object) -> None:
        # A closed loop means the watcher is shutting down; nobody is left to tell.
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(method, *args)
