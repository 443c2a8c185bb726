"""Turning a complete LIST into the events that bring a consumer's store up to date.

After a disconnect the watcher cannot know what it missed, so it relists and compares the new
list with what it had (client-go's DeltaFIFO `Replace`, K8S_API §6–§7): vanished objects get a
synthetic DELETED (case #1), an object recreated under the same name gets DELETED then ADDED
(case #2), survivors whose resourceVersion changed become MODIFIED and unchanged ones produce
nothing (case #3). Paged lists are assembled here and only ever swapped in whole (case #8).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from watchers.kube.resources import Resource

Key = tuple[str, str]  # (namespace, name); namespace "" for cluster-scoped objects
Entry = tuple[str, str]  # (uid, resourceVersion)
Event = tuple[str, dict]  # (event type, object)


class Relist(NamedTuple):
    events: list[Event]
    index: dict[Key, Entry]  # the new cached state, to replace the old one whole


class MalformedList(ValueError):
    """A LIST response that is not a list: the server or something in between is broken."""


class PagedList:
    """The pages of one LIST; `complete` only once the page without a continue token arrived."""

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.resource_version = ""
        self.complete = False
        self.pages = 0

    def add(self, page: Any) -> str | None:
        """Take one page; its continue token, or None when the list is complete."""
        if not isinstance(page, dict) or not isinstance(page.get("items") or [], list):
            raise MalformedList(f"expected a List object, got {type(page).__name__}")
        meta = page.get("metadata") if isinstance(page.get("metadata"), dict) else {}
        self.items.extend(item for item in page.get("items") or [] if isinstance(item, dict))
        self.pages += 1
        # Every page carries the snapshot's RV; the first one is as good as any.
        if not self.resource_version:
            self.resource_version = str(meta.get("resourceVersion") or "")
        token = meta.get("continue")
        if isinstance(token, str) and token:
            return token
        self.complete = True
        return None


def entry_of(obj: dict) -> tuple[Key, Entry] | None:
    """The index key and entry of an object, or None when it has no usable name."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return None
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        return None
    key = (meta.get("namespace") or "", name)
    return key, (meta.get("uid") or "", meta.get("resourceVersion") or "")


def tombstone(resource: Resource, key: Key, entry: Entry) -> dict:
    """A stand-in for an object deleted while nobody watched: its identity, not its last state."""
    namespace, name = key
    meta = {"name": name, "uid": entry[0], "resourceVersion": entry[1]}
    if namespace:
        meta["namespace"] = namespace
    return {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": meta}


def relist_events(cached: Mapping[Key, Entry], items: Iterable[dict], resource: Resource) -> Relist:
    """The events that turn `cached` into `items`, deletions first, then in list order.

    Items without a name cannot be keyed; they are passed on as ADDED so the store can reject
    them with a warning, and are not cached.
    """
    events: list[Event] = []
    index: dict[Key, Entry] = {}
    changes: list[Event] = []
    for obj in items:
        keyed = entry_of(obj)
        if keyed is None:
            changes.append(("ADDED", obj))
            continue
        key, entry = keyed
        index[key] = entry
        old = cached.get(key)
        if old is None:
            changes.append(("ADDED", obj))
        elif old[0] != entry[0]:
            changes.append(("DELETED", tombstone(resource, key, old)))
            changes.append(("ADDED", obj))
        elif old[1] != entry[1]:
            changes.append(("MODIFIED", obj))
    for key in sorted(cached.keys() - index.keys()):
        events.append(("DELETED", tombstone(resource, key, cached[key])))
    events.extend(changes)
    return Relist(events, index)
