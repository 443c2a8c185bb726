"""Builds one namespace's tree from its objects, reusing what the memo kept."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watchers import health as h
from watchers.kobjects import (
    as_dict,
    as_list,
    as_str,
    container_ports,
    labels_of,
    service_ports,
    service_selector,
    spec,
    status,
    unique,
)
from watchers.routes import Backend, route_fields
from watchers.topology.model import (
    CELL_FIELDS,
    SERVICE_NAME_LABEL,
    BuildMemo,
    NamespaceObjects,
    Node,
    PodEntry,
    ServiceFacts,
    ServiceLookup,
    TopologyConfig,
    base_node,
    external_pairs,
    is_ignored,
    node_id,
    sorted_children,
    visible_objects,
    visible_routes,
)


class Builder:
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
        self.cells: dict[str, tuple[Node, Node]] = {}
        self.nodes: dict[str, tuple[tuple, Node]] = {}
        self.slices: dict[str, list[dict]] = {}
        for _, endpoint_slice in sorted(objs.endpointslices.items()):
            owner = labels_of(endpoint_slice).get(SERVICE_NAME_LABEL)
            if owner and isinstance(endpoint_slice, dict):
                self.slices.setdefault(owner, []).append(endpoint_slice)
        self.services = dict(visible_objects(objs.services, config))
        self.selectors = {name: self._selector(name, svc) for name, svc in self.services.items()}
        self.claims = {name: self._claimed_pods(name) for name in self.services}
        self.pod_services: dict[str, list[str]] = {}
        for svc_name, pod_names in self.claims.items():
            svc_id = node_id("Service", namespace, svc_name)
            for pod_name in pod_names:
                self.pod_services.setdefault(pod_name, []).append(svc_id)
        routes = visible_routes(namespace, objs, config, memo)
        memo.external = external_pairs(namespace, routes)
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

    def _pod_entry(self, name: str, pod: Any) -> PodEntry:
        if (
            not isinstance(pod, dict)
            or is_ignored(pod, self.config)
            or as_str(status(pod).get("phase")) == "Succeeded"
        ):
            return PodEntry(pod, None, None)
        state = h.pod_state(pod)
        return PodEntry(pod, state, self._pod_template(name, pod, state))

    def _reindex(self, name: str, old: PodEntry | None, new: PodEntry | None) -> None:
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
        node = base_node("Pod", self.ns, name, pod, self.config, dict(state.labels))
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

    def _pod_cell(self, name: str) -> Node:
        """A pod as one cell of its collapsed service's grid: a compact node of its own kind
        (PodCell), so a pod also shown in full under another service keeps one id per shape."""
        pod = self._pod_node(name)
        built = self.cells.get(name)
        if built is not None and built[0] is pod:
            return built[1]
        cached = self.memo.cells.get(name)
        if cached is not None and cached[0] is pod:
            cell = cached[1]
        else:
            cell = {
                "id": node_id("PodCell", self.ns, name),
                "kind": "PodCell",
                "name": name,
                "namespace": self.ns,
                "children": [],
                **{field: pod[field] for field in CELL_FIELDS},
            }
        self.cells[name] = (pod, cell)
        return cell

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
        if is_ignored(target, self.config):
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
        node = base_node("ServiceRef", backend.namespace, backend.name, target, self.config)
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
        node = base_node("Service", self.ns, name, service, self.config)
        collapsed = node["id"] in self.collapsed
        lb_ingress = map(
            as_dict, as_list(as_dict(status(service).get("loadBalancer")).get("ingress"))
        )
        node.update(
            health=self._service_health(name, states),
            children=[self._pod_cell(p["name"]) for p in pods] if collapsed else list(pods),
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
        node = base_node(kind, self.ns, name, route, self.config)
        refs = []
        for backend, state, _ in resolved:
            where = {"host": backend.host, "path": backend.path} if kind == "Ingress" else {}
            refs.append(
                {"kind": "Service", "name": backend.name, "namespace": backend.namespace}
                | {"port": backend.port, **where, "state": state}
            )
        node["children"] = sorted_children(children.values())
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
        node = base_node("Namespace", self.ns, self.ns, namespace, self.config)
        node.update(
            children=sorted_children(children),
            phase=as_str(status(namespace).get("phase")) or None,
            pod_summary=h.pod_summary(self.shown.values()),
        )
        node["health"] = h.worst(map(h.rollup_health, node["children"]), h.HEALTHY)
        return node

    def finish(self) -> None:
        """Keep what this build used in the memo, and only that."""
        memo = self.memo
        memo.pod_nodes, memo.nodes, memo.services = self.pod_nodes, self.nodes, self.facts
        memo.cells = self.cells
        if len(memo.selectors) > len(self.services):
            memo.selectors = {k: v for k, v in memo.selectors.items() if k in self.services}
        if len(memo.backends) > len(self.routes):
            kept = {(kind, name) for kind, name, *_ in self.routes}
            memo.backends = {k: v for k, v in memo.backends.items() if k in kept}
