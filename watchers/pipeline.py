"""Watch events in, per-namespace protocol messages out: the watcher's pure core, wired.

    events → ClusterState → Debouncer → (PodSmoothing, ChurnMonitor) → topology → diff

No I/O and no clock of its own (`now` is an argument, from one monotonic clock),
so the whole path from a raw event to the messages it causes is tested directly.
Work per event is proportional to its namespace: only dirty namespaces are
rebuilt, and a namespace is rebuilt at most once per debounce period.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import Any

import orjson

from constellation import protocol
from watchers.churn import ChurnConfig, ChurnMonitor, PodSmoothing
from watchers.debounce import Debouncer
from watchers.diff import NamespaceDiffer
from watchers.kobjects import as_dict, metadata, service_selector, status
from watchers.state import ClusterState
from watchers.topology import BuildMemo, NamespaceObjects, TopologyConfig, build_namespace

Tree = dict[str, Any]


@dataclass(frozen=True)
class WatcherConfig:
    """Everything an admin can change while the watcher runs."""

    churn: ChurnConfig = field(default_factory=ChurnConfig)
    topology: TopologyConfig = field(default_factory=TopologyConfig)
    include_namespaces: tuple[str, ...] = ()
    exclude_namespaces: tuple[str, ...] = ()

    def namespace_allowed(self, namespace: str) -> bool:
        if self.include_namespaces and not any(
            fnmatch.fnmatchcase(namespace, p) for p in self.include_namespaces
        ):
            return False
        return not any(fnmatch.fnmatchcase(namespace, p) for p in self.exclude_namespaces)


@dataclass(frozen=True)
class Flush:
    """One namespace's flush: its messages (unstamped) and its new tree (None: gone), with the
    tree's JSON when the pipeline encoded it already."""

    namespace: str
    messages: list[dict[str, Any]]
    tree: Tree | None
    encoded: bytes | None = None


class Pipeline:
    """The cluster picture, kept current one event at a time."""

    def __init__(self, config: WatcherConfig | None = None) -> None:
        self.config = config or WatcherConfig()
        self.state = ClusterState()
        self.debouncer = Debouncer(self.config.churn)
        self.smoothing = PodSmoothing(self.config.churn)
        self.churn = ChurnMonitor(self.config.churn)
        self.trees: dict[str, Tree] = {}
        # Times at which a namespace's picture changes with time alone (a pending pod's grace
        # ends, a ghost's linger ends). Each counts as a change at that time and goes through
        # the debouncer like an event: during a rollout such moments come every few hundred
        # ms, and flushing each at once would defeat the debounce (measured: 13 of every 14
        # flushes under steady churn were timer flushes of one or two pods).
        self._timers: dict[str, float] = {}
        # namespace → namespaces whose routes point at its services (rebuilt with it).
        self._dependents: dict[str, set[str]] = {}
        self._service_health: dict[str, str] = {}
        # Stored objects are replaced, never changed in place, so builds can be memoised.
        self._memos: dict[str, BuildMemo] = {}
        self._differs: dict[str, NamespaceDiffer] = {}
        # namespace → (id, selector pairs) of its services with a selector, which a pod's
        # ADDED or DELETED counts against; parsing every selector on every pod event was most
        # of the cost of ingesting a list. Dropped when a Service there changes.
        self._selectors: dict[str, list[tuple[str, tuple[tuple[str, str], ...]]]] = {}
        # namespace → its Pending pods by name, kept as pods are stored: the pending grace only
        # looks at those, and finding them on every flush walked every pod of the namespace.
        self._pending: dict[str, dict[str, dict[str, Any]]] = {}

    # -- input -------------------------------------------------------------------

    def set_config(self, config: WatcherConfig) -> None:
        """Apply new tunables; every namespace is re-rendered under them."""
        self.config = config
        for part in (self.debouncer, self.smoothing, self.churn):
            part.set_config(config.churn)
        self._memos.clear()  # pod nodes carry annotation-derived fields
        self.mark_all(now=None)

    def mark_all(self, now: float | None) -> None:
        """Re-render every namespace at the next flush (config change, API came back)."""
        for namespace in self.state.namespaces() | set(self.trees):
            self._timers[namespace] = float("-inf") if now is None else now

    def ingest(self, kind: str, event_type: str, obj: dict[str, Any], now: float) -> None:
        """Apply one watch event (ADDED / MODIFIED / DELETED) at time `now`."""
        meta = metadata(obj)
        if kind == "Pod" and event_type in ("ADDED", "DELETED"):
            self._pod_lifecycle(event_type, obj, meta, now)
        namespace = self.state.apply(kind, event_type, obj)
        if namespace is None:
            return
        self.debouncer.mark(namespace, now)
        if kind == "Pod":
            self._track_pending(namespace, meta.get("name"))
        elif kind == "Service":
            self._selectors.pop(namespace, None)
            for dependent in self._dependents.get(namespace, ()):
                self.debouncer.mark(dependent, now)

    def _track_pending(self, namespace: str, name: Any) -> None:
        pod = self.state.get("Pod", namespace, name) if isinstance(name, str) else None
        pending = self._pending.get(namespace)
        if pod is not None and status(pod).get("phase") == "Pending":
            if pending is None:
                pending = self._pending[namespace] = {}
            pending[name] = pod
        elif pending is not None and pending.pop(name, None) is not None and not pending:
            del self._pending[namespace]

    def _pod_lifecycle(self, event_type: str, obj: dict, meta: dict, now: float) -> None:
        namespace, name = meta.get("namespace"), meta.get("name")
        if not isinstance(namespace, str) or not isinstance(name, str):
            return
        known = self.state.get("Pod", namespace, name)
        if event_type == "ADDED" and known is not None:
            return  # a relist's upsert of a pod we had: not churn
        if event_type == "DELETED":
            if known is None:
                return
            self.smoothing.pod_deleted(namespace, known, now)
        self.churn.record_pod_event(namespace, self._selecting_services(namespace, obj), now)

    def _selecting_services(self, namespace: str, pod: dict) -> list[str]:
        selectors = self._selectors.get(namespace)
        if selectors is None:
            services = self.state.namespace_objects(namespace).services
            selectors = self._selectors[namespace] = [
                (f"Service/{namespace}/{name}", tuple(selector.items()))
                for name, service in services.items()
                if (selector := service_selector(service))
            ]
        # Selector values are strings, so ill-typed labels never match, as with labels_of.
        labels = as_dict(metadata(pod).get("labels"))
        return [
            service_id
            for service_id, pairs in selectors
            if all(labels.get(k) == v for k, v in pairs)
        ]

    def forget_kind(self, kind: str, now: float) -> None:
        """A resource's API went away (CRD removed): its objects leave the picture."""
        if kind == "Service":
            self._selectors.clear()
        elif kind == "Pod":
            self._pending.clear()
        for namespace in self.state.clear_kind(kind):
            self.debouncer.mark(namespace, now)

    # -- output ------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When `flush` next has work; None when nothing is pending.

        A timer is a change at its time, so it counts by the flush it will cause, not by when
        it fires: the loop need not wake just to hand it to the debouncer.
        """
        debounce = self.debouncer
        times = [debounce.deadline_if_marked(ns, when) for ns, when in self._timers.items()]
        pending = debounce.next_deadline()
        if pending is not None:
            times.append(pending)
        return min(times, default=None)

    def flush(self, now: float) -> list[Flush]:
        """Rebuild every namespace that is due and diff it against what was published."""
        for namespace, when in list(self._timers.items()):
            if when <= now:
                self.debouncer.mark(namespace, when)
                del self._timers[namespace]
        flushes = [self._flush_namespace(namespace, now) for namespace in self.debouncer.due(now)]
        return [f for f in flushes if f.messages]

    def _flush_namespace(self, namespace: str, now: float) -> Flush:
        old = self.trees.get(namespace)
        new = self.render(namespace, now)
        encoded = None if new is None else orjson.dumps(new)
        differ = self._differs.setdefault(namespace, NamespaceDiffer(namespace))
        messages = differ.diff(old, new, None if encoded is None else len(encoded))
        if new is None:
            self.trees.pop(namespace, None)
            self._forget(namespace)
        else:
            self.trees[namespace] = new
            messages += [
                protocol.high_churn_warning(namespace, warning.affected_services, warning.rate)
                for warning in self.churn.warnings(namespace, now)
            ]
        return Flush(namespace, messages, new, encoded)

    def _forget(self, namespace: str) -> None:
        self.smoothing.forget(namespace)
        self.churn.forget(namespace)
        self._timers.pop(namespace, None)
        self._memos.pop(namespace, None)
        self._differs.pop(namespace, None)
        for dependents in self._dependents.values():
            dependents.discard(namespace)

    def render(self, namespace: str, now: float) -> Tree | None:
        """The namespace's tree as it should be shown at `now`; None when it is not shown."""
        if not self.state.exists(namespace) or not self.config.namespace_allowed(namespace):
            return None
        objs = self.state.namespace_objects(namespace)
        ghosts = self.smoothing.lingering(namespace, now, live=objs.pods.keys())
        pods = {**ghosts, **objs.pods} if ghosts else objs.pods
        # Pods not Pending only ever leave the smoothing's sightings: passing the Pending ones
        # alone hides the same pods.
        hidden = self.smoothing.hidden_pods(namespace, self._pending.get(namespace, {}), now)
        objs = NamespaceObjects(
            objs.namespace,
            pods,
            objs.services,
            objs.endpointslices,
            objs.ingresses,
            objs.httproutes,
        )
        memo = self._memos.setdefault(namespace, BuildMemo())
        collapsed_before = frozenset(i for i, facts in memo.services.items() if facts.collapsed)
        tree = self._build(namespace, objs, hidden, collapsed_before, memo)
        if tree is not None:
            counts = {service_id: facts.pods for service_id, facts in memo.services.items()}
            collapsed = self.churn.collapsed_services(namespace, counts, now)
            if collapsed != collapsed_before:
                tree = self._build(namespace, objs, hidden, collapsed, memo)
        self._after_build(namespace, memo, tree, now)
        return tree

    def _build(
        self,
        namespace: str,
        objs: NamespaceObjects,
        hidden: frozenset[str],
        collapsed: frozenset[str],
        memo: BuildMemo,
    ) -> Tree | None:
        return build_namespace(
            namespace,
            objs,
            self.config.topology,
            self._lookup_service,
            collapsed_services=collapsed,
            hidden_pods=hidden,
            memo=memo,
        )

    def _after_build(self, namespace: str, memo: BuildMemo, tree: Tree | None, now: float) -> None:
        deadline = self.smoothing.next_deadline(namespace)
        if deadline is not None:
            self._timers[namespace] = min(deadline, self._timers.get(namespace, deadline))
        if tree is None:
            return
        for target_namespace, _ in memo.external:
            self._dependents.setdefault(target_namespace, set()).add(namespace)
        for service_id, facts in memo.services.items():
            if self._service_health.get(service_id) != facts.health:
                self._service_health[service_id] = facts.health
                # Routes elsewhere show this service's health on their reference node.
                for dependent in self._dependents.get(namespace, ()):
                    if dependent != namespace:
                        self.debouncer.mark(dependent, now)

    def _lookup_service(self, namespace: str, name: str) -> dict | None:
        service = self.state.get("Service", namespace, name)
        if service is None or not self.config.namespace_allowed(namespace):
            return None
        health = self._service_health.get(f"Service/{namespace}/{name}")
        return {**service, "health": health} if health else service

    def full_render(self, now: float) -> dict[str, Tree]:
        """Every namespace rebuilt now (a new epoch's snapshot); pending flushes are absorbed."""
        self.trees = {}
        namespaces = sorted(self.state.namespaces())
        for namespace in namespaces:
            self.render_into_trees(namespace, now)
        # Second pass: reference nodes now see the health of services built after them.
        referring = {ns for dependents in self._dependents.values() for ns in dependents}
        for namespace in sorted(referring & set(namespaces)):
            self.render_into_trees(namespace, now)
        for namespace in namespaces:
            self.debouncer.forget(namespace)
        return dict(self.trees)

    def render_into_trees(self, namespace: str, now: float) -> None:
        tree = self.render(namespace, now)
        if tree is None:
            self.trees.pop(namespace, None)
        else:
            self.trees[namespace] = tree
