"""One namespace's raw Kubernetes objects → the JSON-ready tree the dashboard shows (DESIGN §4).

The watcher, the diff, the snapshot and the browser all work on this tree, so it is built in one
pure function of the namespace's objects: testable with literal dicts, and deterministic (the same
objects give an equal tree whatever order they arrived in), so two builds can be compared.

Shape: Namespace → routes (HTTPRoute, Ingress) → Services / ServiceRefs → Pods; services no
visible route points at sit under the namespace, and so do pods no visible service claims. A
service under two routes, or a pod claimed by two services, appears under each parent as the
same node. Nodes are plain dicts, never changed once built: with a `BuildMemo`, consecutive
trees share the nodes of everything that did not change.

Every node:
    id            "Kind/namespace/name" ("Namespace/name" for namespaces)
    kind, name, namespace
    health        pods ok | warn | error; others Healthy | Degraded | Unknown | Down (health.py)
    children      routes (HTTPRoute, then Ingress), Services, ServiceRefs, Pods; each group by name
    relatives     sorted ids of related nodes elsewhere: a pod's services, a service's or
                  ServiceRef's routes
    labels        string labels, sorted by key
    group, display_name   the `<prefix>group` / `<prefix>display-name` annotations, or None
Per kind:
    Namespace   phase (status.phase, None before the object is seen), pod_summary
    HTTPRoute   hostnames, backend_refs [{kind, name, namespace, port, state}]
    Ingress     hostnames, ingress_class, backend_refs [{kind, name, namespace, port, host, path,
                state}] (defaultBackend first, then rules in order)
    Service     service_type, cluster_ip, external_ips, external_name, ports ("80→8080",
                "443→https", "53→53/UDP"), selector, pod_summary, collapsed, rollout
                [{owner, revision, total, ready}] per workload and revision, so a rolling
                update shows old and new side by side
    ServiceRef  state; a route's backend in another namespace (state cross-namespace, health from
                the looked-up object's `health` when it carries one, else Unknown) or one that
                does not exist (state missing, health Down)
    Pod         phase ("Terminating" once deletionTimestamp is set), ready (condition Ready is
                True), restarts, reason (e.g. CrashLoopBackOff), pod_ips, container_ports
                ("http:8080", "53/UDP"), node_name, owner: "Kind/name" of the controller, a
                ReplicaSet `<deployment>-<pod-template-hash>` shown as "Deployment/<deployment>"
pod_summary is {total, ready, pending, terminating, failed} over visible pods, where ready counts
pods that are Ready and not terminating.

Backend ref states: ok, missing, cross-namespace, and ignored (the service exists but carries the
ignore annotation: no child is shown and it does not count towards health).

Rules:
- A service with a non-empty selector claims the namespace's pods whose labels contain every
  pair; one without (or with an ill-typed) selector claims the pods its EndpointSlices (label
  `kubernetes.io/service-name`) name in `endpoints[].targetRef`.
- Service health: Healthy when ≥1 non-terminating pod and all are ready, Degraded when some are,
  Down when none are (or a selector matches nothing); a selector-less service without pods takes
  its health from its endpoints' ready conditions, and is Unknown with no endpoints.
- Routes and the namespace take the worst child (a route with no usable backend is Unknown, an
  empty namespace Healthy); a missing backend is a Down child, so its route is Down.
- Pods in phase Succeeded, pods named in `hidden_pods` and anything annotated `<prefix>ignore:
  "true"` (any case) are left out everywhere; an ignored namespace builds to None. Pods of an
  ignored service are not claimed by it.
- A service in `collapsed_services` keeps its pod_summary and rollout but has no pod children
  (`collapsed: true`); its pods still count as claimed.
- Cross-namespace backends are answered by `service_lookup`; `external_backends` lists them so
  the watcher knows to rebuild this namespace when one of them changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from watchers import health as h
from watchers.kobjects import (
    annotation,
    as_dict,
    as_list,
    as_str,
    container_ports,
    labels_of,
    metadata,
    object_problem,
    service_ports,
    service_selector,
    spec,
    status,
    string_map,
    unique,
)
from watchers.routes import Backend, httproute_backends, ingress_backends, route_fields

__all__ = [
    "BuildMemo",
    "NamespaceObjects",
    "ServiceFacts",
    "ServiceLookup",
    "TopologyConfig",
    "build_namespace",
    "external_backends",
    "node_id",
    "object_problem",
]

Node = dict[str, Any]
ServiceLookup = Callable[[str, str], "dict | None"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
_CHILD_ORDER = {"HTTPRoute": 0, "Ingress": 1, "Service": 2, "ServiceRef": 3, "Pod": 4}
_TEXT_LIMIT = 256  # display-name and group are free text; keep a runaway value off every screen


@dataclass(frozen=True)
class TopologyConfig:
    """Tunables of the picture."""

    annotation_prefix: str = "constellation.io/"
    """Prefix of the group / display-name / ignore annotations; configurable for clusters that
    already use the default for something else."""


@dataclass(frozen=True)
class NamespaceObjects:
    """One namespace's objects as the API returns them, each mapping keyed by object name."""

    namespace: dict | None = None
    pods: Mapping[str, dict] = field(default_factory=dict)
    services: Mapping[str, dict] = field(default_factory=dict)
    endpointslices: Mapping[str, dict] = field(default_factory=dict)
    ingresses: Mapping[str, dict] = field(default_factory=dict)
    httproutes: Mapping[str, dict] = field(default_factory=dict)


def node_id(kind: str, namespace: str, name: str) -> str:
    """The tree id of an object: "Kind/namespace/name", or "Namespace/name"."""
    return f"Namespace/{name}" if kind == "Namespace" else f"{kind}/{namespace}/{name}"


def _text(value: Any) -> str | None:
    return value[:_TEXT_LIMIT] if isinstance(value, str) else None


def _ignored(obj: dict, config: TopologyConfig) -> bool:
    value = annotation(obj, f"{config.annotation_prefix}ignore") or ""
    return value.strip().lower() == "true"


def _visible(mapping: Mapping[str, Any], config: TopologyConfig) -> list[tuple[str, dict]]:
    """(name, object) pairs that are objects and not ignored, sorted by name."""
    return [
        (name, obj)
        for name, obj in sorted(mapping.items())
        if isinstance(obj, dict) and not _ignored(obj, config)
    ]


def _base(
    kind: str,
    namespace: str,
    name: str,
    obj: dict | None,
    config: TopologyConfig,
    labels: dict[str, str] | None = None,
) -> Node:
    meta = metadata(obj)
    annotations = as_dict(meta.get("annotations"))
    return {
        "id": node_id(kind, namespace, name),
        "kind": kind,
        "name": name,
        "namespace": namespace,
        "health": h.UNKNOWN,
        "children": [],
        "relatives": [],
        "labels": string_map(meta.get("labels")) if labels is None else labels,
        "group": _text(annotations.get(f"{config.annotation_prefix}group")),
        "display_name": _text(annotations.get(f"{config.annotation_prefix}display-name")),
    }


@dataclass(frozen=True, slots=True)
class _PodEntry:
    obj: Any
    state: h.PodState | None  # None: never shown (ignored, Succeeded, not an object)
    template: Node | None  # the pod's node without relatives


@dataclass(frozen=True, slots=True)
class ServiceFacts:
    """What a build decided about one visible service, for callers that act on it (churn
    collapse, routes elsewhere showing its health) without walking the tree."""

    health: str
    pods: int  # pods it claims (pod_summary total)
    collapsed: bool


class BuildMemo:
    """What one namespace's builds derived, reused by the next build while its inputs are the
    very same objects.

    For callers that never change objects in place (the watcher's store replaces an object on
    every change): identity then means "unchanged", so a rebuild of a busy namespace reads only
    the pods that changed and hands back the previous build's node for every part whose inputs
    are the same. Trees therefore share unchanged subtrees, which the diff skips by identity;
    nodes are never changed once built. Entries for objects gone from a build are dropped
    with it. A memo belongs to one namespace and one TopologyConfig.
    """

    def __init__(self) -> None:
        self.pods: dict[str, _PodEntry] = {}
        # (label, value) → names of the pods that may be shown: a selector costs the size of
        # its smallest match set, and only pods that changed touch the index.
        self.label_index: dict[tuple[str, str], set[str]] = {}
        self.pod_nodes: dict[str, tuple[Node, tuple[str, ...], Node]] = {}
        self.nodes: dict[str, tuple[tuple, Node]] = {}  # Service / route / ServiceRef nodes
        self.backends: dict[tuple[str, str], tuple[Any, list[Backend]]] = {}  # per route
        self.selectors: dict[str, tuple[Any, dict[str, str]]] = {}  # per service
        self.services: dict[str, ServiceFacts] = {}  # by Service id, from the last build
        self.external: list[tuple[str, str]] = []  # as `external_backends`, last build


def _sorted_children(children: Iterable[Node]) -> list[Node]:
    by_id = {child["id"]: child for child in children}
    return sorted(by_id.values(), key=lambda n: (_CHILD_ORDER[n["kind"]], n["name"], n["id"]))


def _routes(
    namespace: str, objs: NamespaceObjects, config: TopologyConfig, memo: BuildMemo | None = None
) -> list[tuple]:
    """(kind, name, object, backends) of every visible route, HTTPRoutes first."""
    found = []
    for kind, mapping, parse in (
        ("HTTPRoute", objs.httproutes, httproute_backends),
        ("Ingress", objs.ingresses, ingress_backends),
    ):
        for name, obj in _visible(mapping, config):
            cached = memo.backends.get((kind, name)) if memo is not None else None
            if cached is not None and cached[0] is obj:
                backends = cached[1]
            else:
                backends = parse(namespace, obj)
                if memo is not None:
                    memo.backends[(kind, name)] = (obj, backends)
            found.append((kind, name, obj, backends))
    return found


def external_backends(
    namespace: str, objs: NamespaceObjects, config: TopologyConfig
) -> list[tuple[str, str]]:
    """(namespace, name) of services in other namespaces this namespace's routes point at.

    The tree shows their state, so the watcher rebuilds this namespace when one of them changes.
    """
    return _external(namespace, _routes(namespace, objs, config))


def _external(namespace: str, routes: list[tuple]) -> list[tuple[str, str]]:
    pairs = {(b.namespace, b.name) for *_, found in routes for b in found}
    return sorted(pair for pair in pairs if pair[0] != namespace)


class _Builder:
    """Indexes one namespace's objects once (with the memo's help), then emits its tree."""

    def __init__(
        self,
        namespace: str,
        objs: NamespaceObjects,
        config: TopologyConfig,
        service_lookup: ServiceLookup,
        collapsed_services: frozenset[str],
        hidden_pods: frozenset[str],
        memo: BuildMemo,
    ) -> None:
        self.ns, self.objs, self.config, self.memo = namespace, objs, config, memo
        self.lookup, self.collapsed, self.hidden = service_lookup, collapsed_services, hidden_pods
        self._sync_pods(objs.pods)
        self.shown = {
            name: entry.state
            for name, entry in memo.pods.items()
            if entry.state is not None and name not in hidden_pods
        }
        # What this build uses; swapped into the memo by `finish`, so the rest is dropped.
        self.pod_nodes: dict[str, tuple[Node, tuple[str, ...], Node]] = {}
        self.nodes: dict[str, tuple[tuple, Node]] = {}
        self.slices: dict[str, list[dict]] = {}
        for _, endpoint_slice in sorted(objs.endpointslices.items()):
            owner = labels_of(endpoint_slice).get(SERVICE_NAME_LABEL)
            if owner and isinstance(endpoint_slice, dict):
                self.slices.setdefault(owner, []).append(endpoint_slice)
        self.services = dict(_visible(objs.services, config))
        self.selectors = {name: self._selector(name, svc) for name, svc in self.services.items()}
        self.claims = {name: self._claimed_pods(name) for name in self.services}
        self.pod_services: dict[str, list[str]] = {}
        for svc_name, pod_names in self.claims.items():
            svc_id = node_id("Service", namespace, svc_name)
            for pod_name in pod_names:
                self.pod_services.setdefault(pod_name, []).append(svc_id)
        routes = _routes(namespace, objs, config, memo)
        memo.external = _external(namespace, routes)
        self.routes = [
            (kind, name, route, [(b, *self._resolve(b)) for b in backends])
            for kind, name, route, backends in routes
        ]
        self.route_ids: dict[str, list[str]] = {}  # Service / ServiceRef id → ids of its routes
        for kind, name, _, resolved in self.routes:
            for backend, state, _ in resolved:
                child_id = self._child_id(backend, state)
                if child_id:
                    self.route_ids.setdefault(child_id, []).append(node_id(kind, namespace, name))
        self.facts: dict[str, ServiceFacts] = {}

    # -- pods -------------------------------------------------------------------------------

    def _sync_pods(self, pods: Mapping[str, Any]) -> None:
        """Bring the memo's pod entries and label index up to date with `pods`."""
        entries = self.memo.pods
        for name, obj in pods.items():
            entry = entries.get(name)
            if entry is not None and entry.obj is obj:
                continue
            fresh = self._pod_entry(name, obj)
            self._reindex(name, entry, fresh)
            entries[name] = fresh
        if len(entries) > len(pods):
            for name in [n for n in entries if n not in pods]:
                self._reindex(name, entries.pop(name), None)

    def _pod_entry(self, name: str, pod: Any) -> _PodEntry:
        if (
            not isinstance(pod, dict)
            or _ignored(pod, self.config)
            or as_str(status(pod).get("phase")) == "Succeeded"
        ):
            return _PodEntry(pod, None, None)
        state = h.pod_state(pod)
        return _PodEntry(pod, state, self._pod_template(name, pod, state))

    def _reindex(self, name: str, old: _PodEntry | None, new: _PodEntry | None) -> None:
        before = old.state.labels if old is not None and old.state is not None else {}
        after = new.state.labels if new is not None and new.state is not None else {}
        if before == after:
            return
        index = self.memo.label_index
        for pair in before.items():
            names = index[pair]
            names.discard(name)
            if not names:
                del index[pair]
        for pair in after.items():
            index.setdefault(pair, set()).add(name)

    def _pod_template(self, name: str, pod: dict, state: h.PodState) -> Node:
        """A pod's node without its relatives: a function of the pod object alone."""
        pod_status = status(pod)
        ips = [as_str(as_dict(ip).get("ip")) for ip in as_list(pod_status.get("podIPs"))]
        node = _base("Pod", self.ns, name, pod, self.config, dict(state.labels))
        node.update(
            health=state.health,
            relatives=[],
            phase=state.shown_phase,
            ready=state.ready,
            restarts=state.restarts,
            reason=state.reason,
            pod_ips=unique(ips) or unique([as_str(pod_status.get("podIP"))]),
            container_ports=container_ports(pod),
            owner=state.owner,
            node_name=as_str(spec(pod).get("nodeName")) or None,
        )
        return node

    def _pod_node(self, name: str) -> Node:
        built = self.pod_nodes.get(name)
        if built is not None:
            return built[2]  # a pod under two services is one node in both places
        template = self.memo.pods[name].template
        assert template is not None
        relatives = tuple(sorted(self.pod_services.get(name, ())))
        cached = self.memo.pod_nodes.get(name)
        if cached is not None and cached[0] is template and cached[1] == relatives:
            node = cached[2]
        else:
            node = {**template, "relatives": list(relatives)}
        self.pod_nodes[name] = (template, relatives, node)
        return node

    # -- services ---------------------------------------------------------------------------

    def _selector(self, name: str, service: dict) -> dict[str, str]:
        cached = self.memo.selectors.get(name)
        if cached is not None and cached[0] is service:
            return cached[1]
        selector = service_selector(service)
        self.memo.selectors[name] = (service, selector)
        return selector

    def _endpoints(self, service_name: str) -> list[dict]:
        return [
            as_dict(endpoint)
            for endpoint_slice in self.slices.get(service_name, [])
            for endpoint in as_list(endpoint_slice.get("endpoints"))
        ]

    def _claimed_pods(self, name: str) -> list[str]:
        selector = self.selectors[name]
        if selector:
            index = self.memo.label_index
            matches = [index.get(pair) for pair in selector.items()]
            if not all(matches):
                return []
            matches.sort(key=len)
            found = matches[0].intersection(*matches[1:])
            if self.hidden:
                found -= self.hidden
            return sorted(found)
        targets = (as_dict(endpoint.get("targetRef")) for endpoint in self._endpoints(name))
        return sorted(
            {
                as_str(t.get("name"))
                for t in targets
                if t.get("kind") == "Pod"
                and as_str(t.get("namespace"), self.ns) == self.ns
                and as_str(t.get("name")) in self.shown
            }
        )

    def _resolve(self, backend: Backend) -> tuple[str, dict | None]:
        """A backend's state and the Service object behind it."""
        same = backend.namespace == self.ns
        target = (
            self.objs.services.get(backend.name)
            if same
            else self.lookup(backend.namespace, backend.name)
        )
        if not isinstance(target, dict):
            return "missing", None
        if _ignored(target, self.config):
            return "ignored", target
        return ("ok" if same else "cross-namespace"), target

    def _child_id(self, backend: Backend, state: str) -> str | None:
        """The id of the node standing for a backend under its route (None: not shown)."""
        if state == "ignored":
            return None
        kind = "Service" if state == "ok" else "ServiceRef"
        return node_id(kind, backend.namespace, backend.name)

    def _reuse(self, key_id: str, key: tuple) -> Node | None:
        """The node built for `key_id` from equal inputs, by this build or the last; None if
        it must be built. Tuples compare their items by identity first: cheap when reused."""
        built = self.nodes.get(key_id) or self.memo.nodes.get(key_id)
        if built is not None and built[0] == key:
            self.nodes[key_id] = built
            return built[1]
        return None

    def _keep(self, key_id: str, key: tuple, node: Node) -> Node:
        self.nodes[key_id] = (key, node)
        return node

    def _ref_node(self, backend: Backend, state: str, target: dict | None) -> Node:
        ref_id = node_id("ServiceRef", backend.namespace, backend.name)
        relatives = tuple(sorted(self.route_ids[ref_id]))
        key = ("ServiceRef", state, target, relatives)
        node = self._reuse(ref_id, key)
        if node is not None:
            return node
        node = _base("ServiceRef", backend.namespace, backend.name, target, self.config)
        node.update(
            health=h.DOWN if target is None else h.known(target.get("health")),
            relatives=list(relatives),
            state=state,
        )
        return self._keep(ref_id, key, node)

    def _service_health(self, name: str, states: list[h.PodState]) -> str:
        if states:
            candidates = [s for s in states if not s.terminating]
            return h.ready_health(sum(s.serving for s in candidates), len(candidates))
        if self.selectors[name]:
            return h.DOWN
        # Endpoints without pods (external addresses): a nil ready condition means ready.
        ready = [
            as_dict(e.get("conditions")).get("ready") is not False for e in self._endpoints(name)
        ]
        return h.ready_health(sum(ready), len(ready)) if ready else h.UNKNOWN

    def _service_node(self, name: str) -> Node:
        service, pod_names = self.services[name], self.claims[name]
        svc_id = node_id("Service", self.ns, name)
        collapsed = svc_id in self.collapsed
        # Pod nodes stand for their pods' states too, so they are part of the inputs even
        # when collapsed hides them.
        pods = tuple(self._pod_node(p) for p in pod_names)
        relatives = tuple(sorted(self.route_ids.get(svc_id, ())))
        slices = () if self.selectors[name] else tuple(self.slices.get(name, ()))
        key = (service, collapsed, relatives, pods, slices)
        node = self._reuse(svc_id, key)
        if node is None:
            node = self._keep(svc_id, key, self._new_service_node(name, pods, relatives))
        summary = node["pod_summary"]
        self.facts[svc_id] = ServiceFacts(node["health"], summary["total"], collapsed)
        return node

    def _new_service_node(
        self, name: str, pods: tuple[Node, ...], relatives: tuple[str, ...]
    ) -> Node:
        service = self.services[name]
        svc_spec = spec(service)
        states = [self.shown[p] for p in self.claims[name]]
        node = _base("Service", self.ns, name, service, self.config)
        collapsed = node["id"] in self.collapsed
        lb_ingress = map(
            as_dict, as_list(as_dict(status(service).get("loadBalancer")).get("ingress"))
        )
        node.update(
            health=self._service_health(name, states),
            children=[] if collapsed else list(pods),
            relatives=list(relatives),
            service_type=as_str(svc_spec.get("type")) or "ClusterIP",
            cluster_ip=as_str(svc_spec.get("clusterIP")) or None,
            external_ips=unique(
                [as_str(ip) for ip in as_list(svc_spec.get("externalIPs"))]
                + [as_str(i.get("ip")) or as_str(i.get("hostname")) for i in lb_ingress]
            ),
            external_name=as_str(svc_spec.get("externalName")) or None,
            ports=service_ports(service),
            selector=self.selectors[name],
            pod_summary=h.pod_summary(states),
            rollout=h.rollout(states),
            collapsed=collapsed,
        )
        return node

    # -- routes and the namespace -----------------------------------------------------------

    def _route_node(self, kind: str, name: str, route: dict, resolved: list[tuple]) -> Node:
        children: dict[str, Node] = {}
        for backend, state, target in resolved:
            child_id = self._child_id(backend, state)
            if child_id and child_id not in children:
                children[child_id] = (
                    self._service_node(backend.name)
                    if state == "ok"
                    else self._ref_node(backend, state, target)
                )
        route_id = node_id(kind, self.ns, name)
        key = (route, tuple(state for _, state, _ in resolved), tuple(children.values()))
        node = self._reuse(route_id, key)
        if node is not None:
            return node
        node = _base(kind, self.ns, name, route, self.config)
        refs = []
        for backend, state, _ in resolved:
            where = {"host": backend.host, "path": backend.path} if kind == "Ingress" else {}
            refs.append(
                {"kind": "Service", "name": backend.name, "namespace": backend.namespace}
                | {"port": backend.port, **where, "state": state}
            )
        node["children"] = _sorted_children(children.values())
        node["health"] = h.worst(map(h.rollup_health, node["children"]), h.UNKNOWN)
        node["backend_refs"] = refs
        node.update(route_fields(kind, route))
        return self._keep(route_id, key, node)

    def build(self) -> Node:
        children = [self._route_node(*route) for route in self.routes]
        children += [
            self._service_node(name)
            for name in self.services
            if node_id("Service", self.ns, name) not in self.route_ids
        ]
        children += [self._pod_node(name) for name in self.shown if name not in self.pod_services]
        namespace = self.objs.namespace
        node = _base("Namespace", self.ns, self.ns, namespace, self.config)
        node.update(
            children=_sorted_children(children),
            phase=as_str(status(namespace).get("phase")) or None,
            pod_summary=h.pod_summary(self.shown.values()),
        )
        node["health"] = h.worst(map(h.rollup_health, node["children"]), h.HEALTHY)
        return node

    def finish(self) -> None:
        """Keep what this build used in the memo, and only that."""
        memo = self.memo
        memo.pod_nodes, memo.nodes, memo.services = self.pod_nodes, self.nodes, self.facts
        if len(memo.selectors) > len(self.services):
            memo.selectors = {k: v for k, v in memo.selectors.items() if k in self.services}
        if len(memo.backends) > len(self.routes):
            kept = {(kind, name) for kind, name, *_ in self.routes}
            memo.backends = {k: v for k, v in memo.backends.items() if k in kept}


def build_namespace(
    name: str,
    objs: NamespaceObjects,
    config: TopologyConfig,
    service_lookup: ServiceLookup,
    collapsed_services: frozenset[str] = frozenset(),
    hidden_pods: frozenset[str] = frozenset(),
    memo: BuildMemo | None = None,
) -> Node | None:
    """The namespace's tree, or None when the namespace itself is ignored.

    `service_lookup(namespace, name)` answers for backends in other namespaces (None: missing);
    `collapsed_services` holds Service ids shown as a summary; `hidden_pods` holds pod names the
    churn smoothing keeps out of sight for now; `memo` (objects never changed in place) lets a
    rebuild reuse what the last one derived; its `services` and `external` then describe this
    build.
    """
    if isinstance(objs.namespace, dict) and _ignored(objs.namespace, config):
        return None
    builder = _Builder(
        name, objs, config, service_lookup, collapsed_services, hidden_pods, memo or BuildMemo()
    )
    tree = builder.build()
    builder.finish()
    return tree
