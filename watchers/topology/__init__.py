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
    PodCell     a pod in a collapsed service's grid: the Pod fields listed in CELL_FIELDS
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
- A service in `collapsed_services` keeps its pod_summary and rollout and shows its pods as a
  grid (`collapsed: true`): its children are PodCell nodes, id "PodCell/namespace/name", with
  only health, phase, ready, restarts, reason, node_name and owner of the pod (a 5,000-pod
  service is then ~1 MB, not 3), never full Pod nodes; its pods still count as claimed.
- Cross-namespace backends are answered by `service_lookup`; `external_backends` lists them so
  the watcher knows to rebuild this namespace when one of them changes.
"""

from __future__ import annotations

from watchers.kobjects import object_problem
from watchers.topology.builder import Builder
from watchers.topology.model import (
    BuildMemo,
    NamespaceObjects,
    Node,
    ServiceFacts,
    ServiceLookup,
    TopologyConfig,
    external_pairs,
    is_ignored,
    node_id,
    visible_routes,
)

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


def external_backends(
    namespace: str, objs: NamespaceObjects, config: TopologyConfig
) -> list[tuple[str, str]]:
    """(namespace, name) of services in other namespaces this namespace's routes point at.

    The tree shows their state, so the watcher rebuilds this namespace when one of them changes.
    """
    return external_pairs(namespace, visible_routes(namespace, objs, config))


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
    if isinstance(objs.namespace, dict) and is_ignored(objs.namespace, config):
        return None
    builder = Builder(
        name, objs, config, service_lookup, collapsed_services, hidden_pods, memo or BuildMemo()
    )
    tree = builder.build()
    builder.finish()
    return tree
