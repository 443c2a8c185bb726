"""Old tree → new tree of one flushed namespace → the smallest correct message set (DESIGN §6).

A pod event must cost the browser a few hundred bytes, not the namespace, and a client must
never drift from the cluster. `diff_namespace` picks per flush:

- nothing when the trees are equal (an event that changed nothing shown sends nothing);
- `RelationshipUpdated` (the whole new tree) when the namespace appeared, when the structure
  changed (an id that stays in the tree got a different set of parents: a pod moved between
  services, a service moved under a route), or when the deltas would encode larger than it;
- `NamespaceDeleted` when the namespace went away;
- otherwise deltas: `ResourceDeleted` for each id that left the tree (topmost only: its
  descendants go with it), `ResourceAdded` for each new id under each parent that was already
  there (topmost only: the message carries the whole new subtree), `ResourceUpdated` (the node
  without `children`) for each remaining id whose own fields changed.

`NamespaceSummaryUpdate` follows whenever the namespace's pod_summary changed, whichever of the
above was chosen, so a view that only shows counts (the overview) need not process trees. Its
`individual_pods` is the sorted list of pod ids in the tree, or None when any service is
collapsed: then the tree does not list every pod, and a partial list would mislead.

The diff relies on the topology's promise that every occurrence of an id is an equal node
(a pod under two services, a service under two routes); a tree that breaks it is sent whole.

Message order, which `apply_messages` (the reference for the browser's reducer) assumes:
deletes, adds, updates, each sorted by id (adds by id, then parent id), then the summary. Each
message holds on its own at any point of that order, so a client applies them one by one:
- ResourceDeleted removes every occurrence of the id;
- ResourceAdded inserts a copy of the subtree under every occurrence of parent_id, keeping
  children sorted by `child_sort_key` (kind rank, then name, then id — the topology's order);
- ResourceUpdated replaces the fields of every occurrence of the id, keeping its children;
- NamespaceSummaryUpdate sets the root's pod_summary; RelationshipUpdated replaces the tree;
  NamespaceDeleted drops it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import orjson

from constellation import protocol
from watchers.topology.model import CHILD_KIND_ORDER

__all__ = [
    "CHILD_KIND_ORDER",
    "NamespaceDiffer",
    "apply_messages",
    "child_sort_key",
    "diff_namespace",
]

Node = dict[str, Any]

# The topology's order of siblings by kind; children are sorted by (rank, name, id).
_RANK = {kind: rank for rank, kind in enumerate(CHILD_KIND_ORDER)}


def child_sort_key(node: Node) -> tuple[int, str, str]:
    """Where a node goes among its siblings."""
    return _RANK.get(node["kind"], len(_RANK)), node["name"], node["id"]


def _resource(node: Node) -> Node:
    return {key: value for key, value in node.items() if key != "children"}


def _same_fields(a: Node, b: Node) -> bool:
    # Shallow copies compared in C beat a Python loop over the keys ~10x on pod nodes.
    return {**a, "children": None} == {**b, "children": None}


class _Index:
    """Every distinct node of a tree by id, with the ids of its parents."""

    def __init__(self, tree: Node) -> None:
        self.tree = tree
        root_id = tree["id"]
        nodes: dict[str, Node] = {root_id: tree}
        parents: dict[str, set[str]] = {root_id: set()}
        consistent = True  # every occurrence of an id is an equal node
        # Each distinct node is walked once; leaves (most of a tree: pods) never go on the stack.
        stack = [tree]
        while stack:
            node = stack.pop()
            node_id = node["id"]
            for child in node["children"]:
                child_id = child["id"]
                above = parents.get(child_id)
                if above is None:
                    parents[child_id] = {node_id}
                else:
                    above.add(node_id)
                seen = nodes.get(child_id)
                if seen is None:
                    nodes[child_id] = child
                    if child["children"]:
                        stack.append(child)
                elif seen is not child and consistent:
                    # An equal node has equal children, already walked.
                    consistent = seen == child
        self.nodes, self.parents, self.consistent = nodes, parents, consistent


def _summary_update(namespace: str, old: Node, new: Node, index: _Index) -> list[dict]:
    if old.get("pod_summary") == new.get("pod_summary"):
        return []
    nodes = index.nodes.values()
    collapsed = any(n["kind"] == "Service" and n.get("collapsed") for n in nodes)
    pods = None if collapsed else sorted(n["id"] for n in nodes if n["kind"] == "Pod")
    return [protocol.namespace_summary_update(namespace, new.get("pod_summary"), pods)]


def _deltas(namespace: str, before: _Index, after: _Index, root_id: str) -> list[dict] | None:
    """Deleted / Added / Updated messages, or None when the change is structural."""
    kept = before.nodes.keys() & after.nodes.keys()
    if any(before.parents[i] != after.parents[i] for i in kept):
        return None
    removed = before.nodes.keys() - kept
    added = after.nodes.keys() - kept
    messages = [
        protocol.resource_deleted(
            namespace, node_id, before.nodes[node_id]["kind"], before.nodes[node_id]["name"]
        )
        for node_id in sorted(removed)
        if not before.parents[node_id] <= removed
    ]
    messages += [
        protocol.resource_added(namespace, parent, after.nodes[node_id])
        for node_id in sorted(added)
        for parent in sorted(after.parents[node_id] - added)
    ]
    changed = [i for i in kept if before.nodes[i] is not after.nodes[i]]  # builds reuse nodes
    for node_id in sorted(changed):
        old, new = before.nodes[node_id], after.nodes[node_id]
        if _same_fields(old, new):
            continue
        if node_id == root_id and _same_fields(
            {**old, "pod_summary": None}, {**new, "pod_summary": None}
        ):
            continue  # only the summary changed: NamespaceSummaryUpdate carries it
        messages.append(protocol.resource_updated(namespace, _resource(new)))
    return messages


def _size(messages: list[dict]) -> int:
    return sum(len(orjson.dumps(message)) for message in messages)


class NamespaceDiffer:
    """`diff_namespace` for one namespace's successive trees.

    It keeps the index of the last tree it diffed to, so the next diff indexes only the new
    tree; `tree_size` (the new tree's encoded length, which the caller has for the snapshot
    anyway) spares encoding it again to weigh deltas against the whole tree.
    """

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self._last: _Index | None = None

    def diff(self, old: Node | None, new: Node | None, tree_size: int | None = None) -> list[dict]:
        """Unstamped messages taking a client from `old` to `new` (None: namespace absent)."""
        namespace = self.namespace
        last, self._last = self._last, None
        if new is None:
            return [] if old is None else [protocol.namespace_deleted(namespace)]
        whole = [protocol.relationship_updated(namespace, new)]
        if old is None:
            return whole
        if old == new:
            return []
        before = last if last is not None and last.tree is old else _Index(old)
        after = self._last = _Index(new)
        deltas = None
        if before.consistent and after.consistent and old["id"] == new["id"]:
            deltas = _deltas(namespace, before, after, new["id"])
        if deltas and _size(deltas) > self._whole_size(whole, tree_size):
            deltas = None
        if deltas is None:
            deltas = whole
        return deltas + _summary_update(namespace, old, new, after)

    def _whole_size(self, whole: list[dict], tree_size: int | None) -> int:
        if tree_size is None:
            return _size(whole)
        return tree_size + len(orjson.dumps(protocol.relationship_updated(self.namespace, 0))) - 1


def diff_namespace(namespace: str, old: Node | None, new: Node | None) -> list[dict]:
    """Unstamped messages taking a client from `old` to `new` (None: namespace absent)."""
    return NamespaceDiffer(namespace).diff(old, new)


def _nodes(tree: Node) -> Iterator[Node]:
    """Every node occurrence, parents before their children."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node["children"])


_TREE_DELTAS = frozenset(
    {
        protocol.RESOURCE_ADDED,
        protocol.RESOURCE_UPDATED,
        protocol.RESOURCE_DELETED,
        protocol.NAMESPACE_SUMMARY_UPDATE,
    }
)


def apply_messages(tree: Node | None, messages: list[dict]) -> Node | None:
    """The reference reducer: `tree` (unchanged) with the messages applied, in order.

    Messages without tree state (HighChurnWarning, Ping, ...) are skipped. A delta for a
    namespace the client has no tree for is a ValueError: the client must resync.
    """
    # What a client holds is decoded JSON: nodes the watcher shares between two places
    # (a service under two routes) are two separate copies there.
    tree = None if tree is None else orjson.loads(orjson.dumps(tree))
    for message in messages:
        kind = message["type"]
        if kind == protocol.RELATIONSHIP_UPDATED:
            tree = copy.deepcopy(message["hierarchy"][0])
        elif kind == protocol.NAMESPACE_DELETED:
            tree = None
        elif kind not in _TREE_DELTAS:
            continue
        elif tree is None:
            raise ValueError(f"{kind} for namespace {message['namespace']!r} without a tree")
        elif kind == protocol.NAMESPACE_SUMMARY_UPDATE:
            tree["pod_summary"] = copy.deepcopy(message["pod_summary"])
        elif kind == protocol.RESOURCE_DELETED:
            gone = message["resource_id"]
            for node in _nodes(tree):
                node["children"] = [child for child in node["children"] if child["id"] != gone]
        elif kind == protocol.RESOURCE_ADDED:
            for node in _nodes(tree):
                if node["id"] == message["parent_id"]:
                    node["children"] = sorted(
                        [*node["children"], copy.deepcopy(message["resource"])],
                        key=child_sort_key,
                    )
        elif kind == protocol.RESOURCE_UPDATED:
            for node in _nodes(tree):
                if node["id"] == message["resource"]["id"]:
                    children = node["children"]
                    node.clear()
                    node.update(copy.deepcopy(message["resource"]), children=children)
    return tree
