"""The topology rules of DESIGN §4, one behaviour per test, on literal Kubernetes objects."""

from __future__ import annotations

import json
import random

import pytest

from watchers.topology import (
    BuildMemo,
    NamespaceObjects,
    ServiceFacts,
    TopologyConfig,
    build_namespace,
    external_backends,
    object_problem,
)

NS = "shop"
CONFIG = TopologyConfig()
READY = [{"type": "Ready", "status": "True"}]
NOT_READY = [{"type": "Ready", "status": "False"}]


def pod(name, labels=None, phase="Running", conditions=READY, **extra):
    obj = {
        "metadata": {"name": name, "namespace": NS, "labels": labels or {}},
        "spec": {"containers": [{"name": "main", "image": "nginx"}]},
        "status": {"phase": phase, "conditions": conditions},
    }
    for key, value in extra.items():
        section, _, field = key.partition("__")
        obj[section][field] = value
    return obj


def service(name, selector=None, **spec):
    body = {"selector": selector} if selector is not None else {}
    return {"metadata": {"name": name, "namespace": NS}, "spec": {**body, **spec}}


def httproute(name, *backends, namespace=NS):
    refs = [{"name": b} if isinstance(b, str) else b for b in backends]
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"hostnames": ["shop.example"], "rules": [{"backendRefs": refs}]},
    }


def ingress(name, *backends):
    paths = [
        {"path": f"/{b}", "backend": {"service": {"name": b, "port": {"number": 80}}}}
        for b in backends
    ]
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {"rules": [{"host": "shop.example", "http": {"paths": paths}}]},
    }


def annotated(obj, **annotations):
    keys = {k.replace("_", "-"): v for k, v in annotations.items()}
    meta = {**obj["metadata"], "annotations": {f"constellation.io/{k}": v for k, v in keys.items()}}
    return {**obj, "metadata": meta}


def build(pods=(), services=(), routes=(), ingresses=(), slices=(), lookup=None, **options):
    objs = NamespaceObjects(
        namespace={"metadata": {"name": NS}, "status": {"phase": "Active"}},
        pods={p["metadata"]["name"]: p for p in pods},
        services={s["metadata"]["name"]: s for s in services},
        endpointslices={s["metadata"]["name"]: s for s in slices},
        ingresses={i["metadata"]["name"]: i for i in ingresses},
        httproutes={r["metadata"]["name"]: r for r in routes},
    )
    return build_namespace(NS, objs, CONFIG, lookup or (lambda ns, name: None), **options)


def ids(node):
    return [child["id"] for child in node["children"]]


def find(tree, node_id):
    """Every occurrence of `node_id` in the tree."""
    found = [tree] if tree["id"] == node_id else []
    for child in tree["children"]:
        found += find(child, node_id)
    return found


def only(tree, node_id):
    (node,) = find(tree, node_id)
    return node


WEB = {"app": "web"}


# --- services and pods -------------------------------------------------------------------


def test_a_service_claims_pods_whose_labels_contain_every_selector_pair():
    tree = build(
        pods=[pod("web-1", {"app": "web", "tier": "fe"}), pod("web-2", {"app": "web"})],
        services=[service("web", {"app": "web", "tier": "fe"})],
    )
    assert ids(only(tree, "Service/shop/web")) == ["Pod/shop/web-1"]
    assert ids(tree) == ["Service/shop/web", "Pod/shop/web-2"]


def test_a_selector_less_service_claims_no_pods():
    tree = build(pods=[pod("web-1", WEB)], services=[service("external")])
    assert only(tree, "Service/shop/external")["children"] == []
    assert only(tree, "Service/shop/external")["health"] == "Unknown"
    assert ids(tree) == ["Service/shop/external", "Pod/shop/web-1"]


@pytest.mark.parametrize("selector", [{}, None, ["app", "web"], {"app": 1}, "app=web"])
def test_an_empty_or_ill_typed_selector_claims_no_pods(selector):
    svc = service("web")
    svc["spec"]["selector"] = selector
    tree = build(pods=[pod("web-1", WEB)], services=[svc])
    assert only(tree, "Service/shop/web")["children"] == []
    assert only(tree, "Service/shop/web")["selector"] == {}


def test_a_selector_less_service_gets_the_pods_its_endpoint_slices_name():
    slices = [
        {
            "metadata": {"name": "db-x1", "labels": {"kubernetes.io/service-name": "db"}},
            "endpoints": [
                {"addresses": ["10.0.0.1"], "targetRef": {"kind": "Pod", "name": "db-0"}},
                {"targetRef": {"kind": "Pod", "name": "db-9", "namespace": "other"}},
                {"targetRef": {"kind": "Pod", "name": "gone"}},
                {"targetRef": {"kind": "Node", "name": "db-1"}},
            ],
        },
        {
            "metadata": {"name": "web-x1", "labels": {"kubernetes.io/service-name": "web"}},
            "endpoints": [{"targetRef": {"kind": "Pod", "name": "db-1"}}],
        },
    ]
    tree = build(pods=[pod("db-0"), pod("db-1")], services=[service("db")], slices=slices)
    assert ids(only(tree, "Service/shop/db")) == ["Pod/shop/db-0"]
    assert only(tree, "Service/shop/db")["health"] == "Healthy"
    assert "Pod/shop/db-1" in ids(tree)


def test_a_selector_less_service_with_address_only_endpoints_takes_their_readiness():
    endpoints = [
        {"addresses": ["1.2.3.4"]},
        {"addresses": ["1.2.3.5"], "conditions": {"ready": False}},
    ]
    slices = [
        {
            "metadata": {"name": "s", "labels": {"kubernetes.io/service-name": "ext"}},
            "endpoints": endpoints,
        }
    ]
    tree = build(services=[service("ext")], slices=slices)
    assert only(tree, "Service/shop/ext")["health"] == "Degraded"


def test_a_pod_with_only_the_rarest_selector_pair_is_not_claimed():
    # The claim starts from the pair fewest pods carry; the other pairs must still be checked.
    tree = build(
        pods=[
            pod("web-1", {"app": "web", "tier": "fe"}),
            pod("web-2", WEB),
            pod("web-3", WEB),
            pod("fe-only", {"tier": "fe"}),
        ],
        services=[service("web", {"app": "web", "tier": "fe"})],
    )
    assert ids(only(tree, "Service/shop/web")) == ["Pod/shop/web-1"]


def test_an_endpoint_naming_a_pod_in_another_namespace_claims_nothing_here():
    slices = [
        {
            "metadata": {"name": "db-x1", "labels": {"kubernetes.io/service-name": "db"}},
            "endpoints": [{"targetRef": {"kind": "Pod", "name": "db-0", "namespace": "other"}}],
        }
    ]
    tree = build(pods=[pod("db-0")], services=[service("db")], slices=slices)
    assert only(tree, "Service/shop/db")["children"] == []
    assert "Pod/shop/db-0" in ids(tree)


@pytest.mark.parametrize(
    ("ready", "expected"),
    [
        ([None, None], "Healthy"),  # no ready condition: the endpoint is ready
        ([True, True], "Healthy"),
        ([True, False], "Degraded"),
        ([False, False], "Down"),
    ],
)
def test_address_only_endpoints_are_ready_unless_their_condition_says_false(ready, expected):
    endpoints = [
        {"addresses": [f"1.2.3.{i}"]} | ({} if r is None else {"conditions": {"ready": r}})
        for i, r in enumerate(ready)
    ]
    slices = [
        {
            "metadata": {"name": "s", "labels": {"kubernetes.io/service-name": "ext"}},
            "endpoints": endpoints,
        }
    ]
    tree = build(services=[service("ext")], slices=slices)
    assert only(tree, "Service/shop/ext")["health"] == expected


def test_a_pod_selected_by_two_services_appears_under_both():
    tree = build(
        pods=[pod("web-1", {"app": "web", "canary": "yes"})],
        services=[service("web", WEB), service("canary", {"canary": "yes"})],
    )
    occurrences = find(tree, "Pod/shop/web-1")
    assert len(occurrences) == 2
    assert occurrences[0] == occurrences[1]
    assert occurrences[0]["relatives"] == ["Service/shop/canary", "Service/shop/web"]
    assert ids(tree) == ["Service/shop/canary", "Service/shop/web"]


def test_a_service_created_after_its_pods_adopts_them():
    pods = [pod("web-1", WEB), pod("web-2", WEB)]
    before = build(pods=pods)
    assert ids(before) == ["Pod/shop/web-1", "Pod/shop/web-2"]
    after = build(pods=pods, services=[service("web", WEB)])
    assert ids(after) == ["Service/shop/web"]
    assert ids(only(after, "Service/shop/web")) == ["Pod/shop/web-1", "Pod/shop/web-2"]


def test_deleting_a_service_re_homes_its_pods_under_the_namespace():
    pods = [pod("web-1", WEB)]
    assert ids(build(pods=pods, services=[service("web", WEB)])) == ["Service/shop/web"]
    assert ids(build(pods=pods)) == ["Pod/shop/web-1"]


# --- routes ------------------------------------------------------------------------------


ROUTE_KINDS = {"HTTPRoute": ("routes", httproute), "Ingress": ("ingresses", ingress)}


@pytest.mark.parametrize("kind", ROUTE_KINDS)
def test_a_route_added_later_moves_its_service_under_it_without_duplicates(kind):
    field, make = ROUTE_KINDS[kind]
    world = {"pods": [pod("web-1", WEB)], "services": [service("web", WEB)]}
    assert ids(build(**world)) == ["Service/shop/web"]
    tree = build(**world, **{field: [make("front", "web")]})
    assert ids(tree) == [f"{kind}/shop/front"]
    assert len(find(tree, "Service/shop/web")) == 1
    assert len(find(tree, "Pod/shop/web-1")) == 1
    assert only(tree, "Service/shop/web")["relatives"] == [f"{kind}/shop/front"]


@pytest.mark.parametrize("kind", ROUTE_KINDS)
def test_deleting_a_route_re_homes_its_service_under_the_namespace(kind):
    field, make = ROUTE_KINDS[kind]
    world = {"pods": [pod("web-1", WEB)], "services": [service("web", WEB)]}
    build(**world, **{field: [make("front", "web")]})
    tree = build(**world)
    assert ids(tree) == ["Service/shop/web"]
    assert only(tree, "Service/shop/web")["relatives"] == []


def test_a_service_behind_two_routes_sits_under_each_route():
    tree = build(
        pods=[pod("web-1", WEB)],
        services=[service("web", WEB)],
        routes=[httproute("a", "web")],
        ingresses=[ingress("b", "web")],
    )
    assert ids(tree) == ["HTTPRoute/shop/a", "Ingress/shop/b"]
    first, second = find(tree, "Service/shop/web")
    assert first == second
    assert first["relatives"] == ["HTTPRoute/shop/a", "Ingress/shop/b"]


def test_a_route_naming_one_service_twice_shows_it_once_and_lists_both_refs():
    route = httproute("front", {"name": "web", "port": 80}, {"name": "web", "port": 81})
    tree = build(services=[service("web", WEB)], routes=[route])
    node = only(tree, "HTTPRoute/shop/front")
    assert ids(node) == ["Service/shop/web"]
    assert [r["port"] for r in node["backend_refs"]] == [80, 81]


def test_an_httproute_lists_hostnames_and_backend_refs_with_their_state():
    route = httproute("front", {"name": "web", "port": 8080}, {"name": "gone"})
    node = only(build(services=[service("web", WEB)], routes=[route]), "HTTPRoute/shop/front")
    assert node["hostnames"] == ["shop.example"]
    assert node["backend_refs"] == [
        {"kind": "Service", "name": "web", "namespace": "shop", "port": 8080, "state": "ok"},
        {"kind": "Service", "name": "gone", "namespace": "shop", "port": None, "state": "missing"},
    ]


def test_an_httproute_counts_only_core_service_backend_refs():
    route = httproute(
        "front",
        {"name": "web", "group": "", "kind": "Service"},
        {"name": "imp", "group": "multicluster.x-k8s.io", "kind": "ServiceImport"},
        {"name": "odd", "group": "example.com", "kind": "Service"},
    )
    node = only(build(services=[service("web", WEB)], routes=[route]), "HTTPRoute/shop/front")
    assert [r["name"] for r in node["backend_refs"]] == ["web"]
    assert ids(node) == ["Service/shop/web"]


def test_an_ingress_lists_default_backend_and_every_rule_path_with_host():
    obj = {
        "metadata": {"name": "front", "namespace": NS},
        "spec": {
            "ingressClassName": "nginx",
            "defaultBackend": {"service": {"name": "fallback", "port": {"name": "http"}}},
            "rules": [
                {
                    "host": "b.example",
                    "http": {
                        "paths": [
                            {
                                "path": "/api",
                                "backend": {"service": {"name": "api", "port": {"number": 8080}}},
                            },
                            {
                                "path": "/s3",
                                "backend": {"resource": {"kind": "StorageBucket", "name": "x"}},
                            },
                        ]
                    },
                },
                {"host": "a.example"},
            ],
        },
    }
    node = only(
        build(services=[service("api", WEB), service("fallback", WEB)], ingresses=[obj]),
        "Ingress/shop/front",
    )
    assert node["ingress_class"] == "nginx"
    assert node["hostnames"] == ["a.example", "b.example"]
    assert [(r["name"], r["port"], r["host"], r["path"]) for r in node["backend_refs"]] == [
        ("fallback", "http", None, None),
        ("api", 8080, "b.example", "/api"),
    ]
    assert ids(node) == ["Service/shop/api", "Service/shop/fallback"]


def test_an_ingress_class_falls_back_to_the_legacy_annotation():
    obj = ingress("front", "web")
    obj["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "traefik"}
    assert only(build(ingresses=[obj]), "Ingress/shop/front")["ingress_class"] == "traefik"


def test_a_missing_same_namespace_backend_is_a_down_reference_node_and_its_route_is_down():
    tree = build(
        services=[service("web", WEB)],
        pods=[pod("w", WEB)],
        routes=[httproute("front", "web", "gone")],
    )
    ref = only(tree, "ServiceRef/shop/gone")
    assert (ref["state"], ref["health"], ref["relatives"]) == (
        "missing",
        "Down",
        ["HTTPRoute/shop/front"],
    )
    assert only(tree, "Service/shop/web")["health"] == "Healthy"
    assert only(tree, "HTTPRoute/shop/front")["health"] == "Down"
    assert tree["health"] == "Down"


def test_a_cross_namespace_backend_is_a_reference_node_with_state():
    other = {"metadata": {"name": "auth", "namespace": "iam", "labels": {"team": "id"}}}
    lookup = {("iam", "auth"): other}.get
    route = httproute(
        "front", {"name": "auth", "namespace": "iam"}, {"name": "x", "namespace": "iam"}
    )
    tree = build(routes=[route], lookup=lambda ns, name: lookup((ns, name)))
    found, missing = only(tree, "ServiceRef/iam/auth"), only(tree, "ServiceRef/iam/x")
    assert (found["state"], found["health"], found["namespace"]) == (
        "cross-namespace",
        "Unknown",
        "iam",
    )
    assert found["labels"] == {"team": "id"}
    assert (missing["state"], missing["health"]) == ("missing", "Down")
    refs = only(tree, "HTTPRoute/shop/front")["backend_refs"]
    assert [r["state"] for r in refs] == ["cross-namespace", "missing"]


def test_a_cross_namespace_reference_shows_the_health_the_lookup_reports():
    route = httproute("front", {"name": "auth", "namespace": "iam"})

    def lookup(namespace, name):
        return {"metadata": {"name": name, "namespace": namespace}, "health": "Degraded"}

    tree = build(routes=[route], lookup=lookup)
    assert only(tree, "ServiceRef/iam/auth")["health"] == "Degraded"
    assert only(tree, "HTTPRoute/shop/front")["health"] == "Degraded"


def test_external_backends_names_the_other_namespaces_services_routes_point_at():
    objs = NamespaceObjects(
        httproutes={"r": httproute("r", "web", {"name": "a", "namespace": "iam"})}
    )
    assert external_backends(NS, objs, CONFIG) == [("iam", "a")]


def test_a_route_with_no_usable_backend_is_unknown():
    assert only(build(routes=[httproute("front")]), "HTTPRoute/shop/front")["health"] == "Unknown"


# --- pods --------------------------------------------------------------------------------


def test_ready_means_the_ready_condition_not_the_running_phase():
    tree = build(pods=[pod("web-1", WEB, conditions=NOT_READY)], services=[service("web", WEB)])
    node = only(tree, "Pod/shop/web-1")
    assert (node["phase"], node["ready"], node["health"]) == ("Running", False, "warn")
    assert only(tree, "Service/shop/web")["health"] == "Down"


def test_a_pod_without_conditions_is_not_ready():
    assert only(build(pods=[pod("p", conditions=None)]), "Pod/shop/p")["ready"] is False


def test_succeeded_pods_are_hidden_and_failed_pods_shown_as_errors():
    tree = build(
        pods=[pod("job-ok", phase="Succeeded"), pod("job-bad", phase="Failed", conditions=[])]
    )
    assert ids(tree) == ["Pod/shop/job-bad"]
    assert only(tree, "Pod/shop/job-bad")["health"] == "error"
    assert tree["pod_summary"]["failed"] == 1
    assert tree["health"] == "Down"


def test_a_terminating_pod_is_shown_as_terminating_and_warns():
    tree = build(pods=[pod("web-1", metadata__deletionTimestamp="2024-01-01T00:00:00Z")])
    node = only(tree, "Pod/shop/web-1")
    assert (node["phase"], node["ready"], node["health"]) == ("Terminating", True, "warn")
    assert tree["pod_summary"] == {
        "total": 1,
        "ready": 0,
        "pending": 0,
        "terminating": 1,
        "failed": 0,
    }


@pytest.mark.parametrize("reason", ["CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull"])
def test_a_pod_with_a_stuck_container_is_an_error_with_its_reason(reason):
    statuses = [{"name": "main", "restartCount": 4, "state": {"waiting": {"reason": reason}}}]
    node = only(
        build(pods=[pod("p", conditions=NOT_READY, status__containerStatuses=statuses)]),
        "Pod/shop/p",
    )
    assert (node["health"], node["reason"], node["restarts"]) == ("error", reason, 4)


def test_a_ready_pod_that_restarted_is_ok_and_shows_its_restarts():
    statuses = [{"name": "a", "restartCount": 2}, {"name": "b", "restartCount": 1}]
    node = only(build(pods=[pod("p", status__containerStatuses=statuses)]), "Pod/shop/p")
    assert (node["health"], node["restarts"]) == ("ok", 3)


def test_a_pending_pod_warns_and_counts_as_pending():
    tree = build(pods=[pod("p", phase="Pending", conditions=[])])
    assert only(tree, "Pod/shop/p")["health"] == "warn"
    assert tree["pod_summary"]["pending"] == 1
    assert tree["health"] == "Degraded"


def test_a_pod_node_carries_ips_ports_node_and_owner():
    obj = pod(
        "web-5d8f7-abcde",
        {"app": "web", "pod-template-hash": "5d8f7"},
        spec__nodeName="node-1",
        spec__containers=[
            {
                "name": "main",
                "ports": [
                    {"containerPort": 8080, "name": "http"},
                    {"containerPort": 53, "protocol": "UDP"},
                ],
            }
        ],
        status__podIPs=[{"ip": "10.0.0.5"}, {"ip": "fd00::5"}],
        metadata__ownerReferences=[{"kind": "ReplicaSet", "name": "web-5d8f7", "controller": True}],
    )
    node = only(build(pods=[obj]), "Pod/shop/web-5d8f7-abcde")
    assert node["pod_ips"] == ["10.0.0.5", "fd00::5"]
    assert node["container_ports"] == ["http:8080", "53/UDP"]
    assert node["node_name"] == "node-1"
    assert node["owner"] == "Deployment/web"


def test_a_pod_falls_back_to_pod_ip_and_keeps_owners_that_are_not_deployment_replica_sets():
    obj = pod(
        "db-0",
        status__podIP="10.0.0.9",
        metadata__ownerReferences=[
            {"kind": "Node", "name": "n"},
            {"kind": "StatefulSet", "name": "db", "controller": True},
        ],
    )
    rs = pod(
        "x",
        {"pod-template-hash": "abc"},
        metadata__ownerReferences=[
            {"kind": "ReplicaSet", "name": "standalone", "controller": True}
        ],
    )
    tree = build(pods=[obj, rs])
    assert only(tree, "Pod/shop/db-0")["pod_ips"] == ["10.0.0.9"]
    assert only(tree, "Pod/shop/db-0")["owner"] == "StatefulSet/db"
    assert only(tree, "Pod/shop/x")["owner"] == "ReplicaSet/standalone"


# --- services ----------------------------------------------------------------------------


def test_a_service_node_shows_type_ips_and_port_mappings():
    svc = service(
        "web",
        WEB,
        type="LoadBalancer",
        clusterIP="10.96.0.10",
        externalIPs=["1.1.1.1"],
        ports=[
            {"port": 80, "targetPort": 8080},
            {"port": 443, "targetPort": "https"},
            {"port": 53, "protocol": "UDP"},
            {"name": "broken"},
        ],
    )
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "2.2.2.2"}, {"hostname": "lb.example"}]}}
    node = only(build(services=[svc]), "Service/shop/web")
    assert node["service_type"] == "LoadBalancer"
    assert node["cluster_ip"] == "10.96.0.10"
    assert node["external_ips"] == ["1.1.1.1", "2.2.2.2", "lb.example"]
    assert node["ports"] == ["80→8080", "443→https", "53→53/UDP"]
    assert node["selector"] == WEB
    assert node["external_name"] is None


def test_a_service_without_a_type_is_cluster_ip_and_an_external_name_shows_its_target():
    tree = build(
        services=[
            service("web", WEB),
            service("db", type="ExternalName", externalName="db.example.com"),
        ]
    )
    assert only(tree, "Service/shop/web")["service_type"] == "ClusterIP"
    db = only(tree, "Service/shop/db")
    assert (db["service_type"], db["external_name"]) == ("ExternalName", "db.example.com")


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ([READY, READY], "Healthy"),
        ([READY, NOT_READY], "Degraded"),
        ([NOT_READY], "Down"),
        ([], "Down"),
    ],
)
def test_service_health_follows_how_many_selected_pods_are_ready(conditions, expected):
    pods = [pod(f"web-{i}", WEB, conditions=c) for i, c in enumerate(conditions)]
    assert (
        only(build(pods=pods, services=[service("web", WEB)]), "Service/shop/web")["health"]
        == expected
    )


def test_a_terminating_pod_does_not_degrade_its_service_during_a_rollout():
    pods = [pod("new", WEB), pod("old", WEB, metadata__deletionTimestamp="2024-01-01T00:00:00Z")]
    node = only(build(pods=pods, services=[service("web", WEB)]), "Service/shop/web")
    assert node["health"] == "Healthy"
    assert node["pod_summary"] == {
        "total": 2,
        "ready": 1,
        "pending": 0,
        "terminating": 1,
        "failed": 0,
    }


def test_a_service_splits_its_pods_by_workload_and_revision():
    def rs_pod(name, rs_hash, conditions):
        return pod(
            name,
            {"app": "web", "pod-template-hash": rs_hash},
            conditions=conditions,
            metadata__ownerReferences=[
                {"kind": "ReplicaSet", "name": f"web-{rs_hash}", "controller": True}
            ],
        )

    pods = [
        rs_pod("a", "old1", READY),
        rs_pod("b", "old1", READY),
        rs_pod("c", "new2", NOT_READY),
        pod("stray", WEB),
    ]
    node = only(build(pods=pods, services=[service("web", WEB)]), "Service/shop/web")
    assert node["rollout"] == [
        {"owner": None, "revision": None, "total": 1, "ready": 1},
        {"owner": "Deployment/web", "revision": "new2", "total": 1, "ready": 0},
        {"owner": "Deployment/web", "revision": "old1", "total": 2, "ready": 2},
    ]


def test_a_collapsed_service_shows_a_summary_and_its_pods_as_grid_cells():
    pods = [pod("web-1", WEB), pod("web-2", WEB, phase="Pending", conditions=[])]
    tree = build(
        pods=pods,
        services=[service("web", WEB)],
        collapsed_services=frozenset({"Service/shop/web"}),
    )
    node = only(tree, "Service/shop/web")
    assert node["collapsed"] is True
    assert node["children"] == [
        {
            "id": f"PodCell/shop/{name}",
            "kind": "PodCell",
            "name": name,
            "namespace": "shop",
            "children": [],
            "health": health,
            "phase": phase,
            "ready": ready,
            "restarts": 0,
            "reason": None,
            "node_name": None,
            "owner": None,
        }
        for name, health, phase, ready in [
            ("web-1", "ok", "Running", True),
            ("web-2", "warn", "Pending", False),
        ]
    ]
    assert node["pod_summary"] == {
        "total": 2,
        "ready": 1,
        "pending": 1,
        "terminating": 0,
        "failed": 0,
    }
    assert ids(tree) == ["Service/shop/web"]
    assert (
        only(build(pods=pods, services=[service("web", WEB)]), "Service/shop/web")["collapsed"]
        is False
    )


def test_hidden_pods_are_left_out_of_the_tree_and_the_summaries():
    pods = [pod("web-1", WEB), pod("web-2", WEB, phase="Pending", conditions=[])]
    tree = build(pods=pods, services=[service("web", WEB)], hidden_pods=frozenset({"web-2"}))
    assert find(tree, "Pod/shop/web-2") == []
    assert only(tree, "Service/shop/web")["pod_summary"]["total"] == 1
    assert tree["pod_summary"]["total"] == 1


# --- namespace and roll-up ---------------------------------------------------------------


def test_the_namespace_counts_each_visible_pod_once():
    tree = build(
        pods=[pod("a", {"x": "1", "y": "1"}), pod("b", phase="Pending", conditions=[])],
        services=[service("x", {"x": "1"}), service("y", {"y": "1"})],
    )
    assert tree["pod_summary"] == {
        "total": 2,
        "ready": 1,
        "pending": 1,
        "terminating": 0,
        "failed": 0,
    }
    assert tree["phase"] == "Active"


def test_the_namespace_takes_the_worst_health_of_its_children():
    healthy = build(pods=[pod("w", WEB)], services=[service("web", WEB)])
    unknown = build(pods=[pod("w", WEB)], services=[service("web", WEB), service("ext")])
    degraded = build(
        pods=[pod("w", WEB), pod("p", phase="Pending", conditions=[])],
        services=[service("web", WEB), service("ext")],
    )
    down = build(services=[service("web", WEB), service("ext")], pods=[pod("p", phase="Pending")])
    assert [t["health"] for t in (healthy, unknown, degraded, down)] == [
        "Healthy",
        "Unknown",
        "Degraded",
        "Down",
    ]


def test_an_empty_namespace_is_healthy_and_one_not_yet_seen_has_no_phase():
    tree = build_namespace("new", NamespaceObjects(), CONFIG, lambda ns, name: None)
    assert (tree["id"], tree["health"], tree["phase"], tree["children"]) == (
        "Namespace/new",
        "Healthy",
        None,
        [],
    )


def test_children_are_routes_then_services_then_pods_each_by_name():
    tree = build(
        pods=[pod("b-pod"), pod("a-pod"), pod("z", WEB)],
        services=[service("z-svc"), service("a-svc"), service("web", WEB)],
        routes=[httproute("y-route", "web", "nope")],
        ingresses=[ingress("a-ing", "web")],
    )
    assert ids(tree) == [
        "HTTPRoute/shop/y-route",
        "Ingress/shop/a-ing",
        "Service/shop/a-svc",
        "Service/shop/z-svc",
        "Pod/shop/a-pod",
        "Pod/shop/b-pod",
    ]
    assert ids(only(tree, "HTTPRoute/shop/y-route")) == ["Service/shop/web", "ServiceRef/shop/nope"]


# --- annotations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "node_id"),
    [
        (lambda: {"pods": [annotated(pod("w", WEB), ignore="true")]}, "Pod/shop/w"),
        (lambda: {"services": [annotated(service("web", WEB), ignore="true")]}, "Service/shop/web"),
        (
            lambda: {"routes": [annotated(httproute("r", "web"), ignore=" True ")]},
            "HTTPRoute/shop/r",
        ),
        (lambda: {"ingresses": [annotated(ingress("i", "web"), ignore="true")]}, "Ingress/shop/i"),
    ],
)
def test_ignore_set_later_hides_the_object_and_unset_shows_it_again(make, node_id):
    world = {
        "pods": [pod("w", WEB)],
        "services": [service("web", WEB)],
        "routes": [httproute("r", "web")],
        "ingresses": [ingress("i", "web")],
    }
    assert find(build(**world), node_id)
    assert find(build(**{**world, **make()}), node_id) == []
    assert find(build(**world), node_id)


def test_ignore_other_than_true_does_not_hide():
    assert find(build(pods=[annotated(pod("w"), ignore="false")]), "Pod/shop/w")


def test_an_ignored_route_gives_its_service_back_to_the_namespace():
    tree = build(
        services=[service("web", WEB)], routes=[annotated(httproute("r", "web"), ignore="true")]
    )
    assert ids(tree) == ["Service/shop/web"]


def test_an_ignored_service_lets_go_of_its_pods_and_its_route_ref_is_marked_ignored():
    tree = build(
        pods=[pod("w", WEB)],
        services=[annotated(service("web", WEB), ignore="true")],
        routes=[httproute("r", "web")],
    )
    assert ids(tree) == ["HTTPRoute/shop/r", "Pod/shop/w"]
    route = only(tree, "HTTPRoute/shop/r")
    assert (route["children"], route["backend_refs"][0]["state"]) == ([], "ignored")


def test_an_ignored_namespace_builds_to_none():
    objs = NamespaceObjects(
        namespace=annotated({"metadata": {"name": NS}}, ignore="true"), pods={"w": pod("w")}
    )
    assert build_namespace(NS, objs, CONFIG, lambda ns, name: None) is None


def test_display_name_and_group_come_from_annotations_and_are_kept_short():
    svc = annotated(service("web", WEB), display_name="Web shop", group="storefront")
    pod_obj = annotated(pod("w"), display_name="x" * 10_000)
    tree = build(services=[svc], pods=[pod_obj])
    node = only(tree, "Service/shop/web")
    assert (node["display_name"], node["group"]) == ("Web shop", "storefront")
    assert len(only(tree, "Pod/shop/w")["display_name"]) == 256
    assert (tree["display_name"], tree["group"]) == (None, None)


def test_routes_and_the_namespace_show_their_own_labels_and_annotations():
    labelled = {"labels": {"team": "shop"}, "annotations": {"constellation.io/group": "edge"}}
    route, ing = httproute("front", "web"), ingress("legacy", "web")
    objs = NamespaceObjects(
        namespace={"metadata": {"name": NS, **labelled}},
        httproutes={"front": {**route, "metadata": {**route["metadata"], **labelled}}},
        ingresses={"legacy": {**ing, "metadata": {**ing["metadata"], **labelled}}},
    )
    tree = build_namespace(NS, objs, CONFIG, lambda ns, name: None)
    for node in (tree, only(tree, "HTTPRoute/shop/front"), only(tree, "Ingress/shop/legacy")):
        assert (node["labels"], node["group"]) == ({"team": "shop"}, "edge")


def test_the_annotation_prefix_is_configurable():
    svc = service("web", WEB)
    svc["metadata"]["annotations"] = {"acme.io/ignore": "true", "constellation.io/group": "g"}
    objs = NamespaceObjects(services={"web": svc})
    acme = build_namespace(
        NS, objs, TopologyConfig(annotation_prefix="acme.io/"), lambda n, s: None
    )
    assert acme["children"] == []
    assert only(build(services=[svc]), "Service/shop/web")["group"] == "g"


# --- the fields of a node ----------------------------------------------------------------

# The node contract of the module docstring: what the browser, the diff and the snapshot read.
# A field added to the tree is added here too, so no stray or renamed key ships unnoticed.
EVERY_NODE = {"id", "kind", "name", "namespace", "health", "children", "relatives", "labels"}
EVERY_NODE |= {"group", "display_name"}
NODE_FIELDS = {
    "Namespace": {"phase", "pod_summary"},
    "HTTPRoute": {"hostnames", "backend_refs"},
    "Ingress": {"hostnames", "ingress_class", "backend_refs"},
    "Service": {"service_type", "cluster_ip", "external_ips", "external_name", "ports"}
    | {"selector", "pod_summary", "collapsed", "rollout"},
    "ServiceRef": {"state"},
    "Pod": {"phase", "ready", "restarts", "reason", "pod_ips", "container_ports"}
    | {"node_name", "owner"},
}


def test_every_node_carries_exactly_the_fields_of_its_kind():
    tree = build(
        pods=[pod("web-1", WEB), pod("stray")],
        services=[service("web", WEB)],
        routes=[httproute("front", "web", "gone", {"name": "auth", "namespace": "iam"})],
        ingresses=[ingress("legacy", "web")],
        lookup=lambda ns, name: {"metadata": {"name": name, "namespace": ns}},
    )
    nodes, kinds = [tree], set()
    while nodes:
        node = nodes.pop()
        kinds.add(node["kind"])
        assert set(node) == EVERY_NODE | NODE_FIELDS[node["kind"]], node["id"]
        nodes += node["children"]
    assert kinds == set(NODE_FIELDS)
    assert (tree["id"], tree["kind"], tree["name"], tree["namespace"]) == (
        "Namespace/shop",
        "Namespace",
        "shop",
        "shop",
    )


# --- determinism, robustness, speed ------------------------------------------------------


def _big_world(pods=500, services=50):
    return {
        "pods": [
            pod(
                f"p{i}",
                {"app": f"a{i % services}", "tier": "t", "i": str(i)},
                conditions=READY if i % 7 else NOT_READY,
            )
            for i in range(pods)
        ],
        "services": [service(f"s{i}", {"app": f"a{i}", "tier": "t"}) for i in range(services)]
        + [service("all", {"tier": "t"})],
        "routes": [
            httproute(f"r{i}", f"s{i}", f"s{i + 1}", "missing") for i in range(0, services, 5)
        ],
    }


def test_the_same_objects_in_any_order_give_an_equal_tree():
    world = _big_world(60, 6)
    expected = json.dumps(build(**world), ensure_ascii=False)
    rng = random.Random(7)
    for _ in range(5):
        shuffled = {k: rng.sample(v, len(v)) for k, v in world.items()}
        assert json.dumps(build(**shuffled), ensure_ascii=False) == expected


def test_a_namespace_of_500_pods_and_50_services_builds_every_pod_under_its_service():
    tree = build(**_big_world())
    assert len(only(tree, "Service/shop/all")["children"]) == 500


def test_a_memo_reuses_unchanged_pods_and_sees_replaced_ones():
    world = _big_world()
    memo = BuildMemo()
    first = build(**world, memo=memo)
    assert build(**world, memo=memo) == first == build(**world)
    pods = list(world["pods"])
    pods[0] = {**pods[0], "metadata": {**pods[0]["metadata"], "labels": {"x": "y"}}}
    changed = build(**{**world, "pods": pods}, memo=memo)
    assert changed == build(**{**world, "pods": pods})
    assert changed != first
    # What p0 left is rebuilt; what never held it is the very same node as before.
    assert only(changed, "Service/shop/s0") is not only(first, "Service/shop/s0")
    assert only(changed, "Service/shop/s1") is only(first, "Service/shop/s1")
    assert find(changed, "Pod/shop/p1")[0] is find(first, "Pod/shop/p1")[0]
    assert memo.services["Service/shop/s0"] == ServiceFacts("Degraded", 9, False)


def test_with_a_memo_pods_services_and_routes_deleted_between_builds_leave_the_tree():
    web, api, front = service("web", WEB), service("api", {"app": "api"}), httproute("front", "web")
    kept = {"pods": [pod("web-1", WEB)], "services": [web], "routes": [front]}
    memo = BuildMemo()
    build(
        pods=[*kept["pods"], pod("web-2", WEB)],
        services=[web, api],
        routes=[front, httproute("back", "api")],
        memo=memo,
    )
    for _ in range(2):  # the second build reads what the first left in the memo
        assert build(**kept, memo=memo) == build(**kept)


def test_a_memo_before_its_first_build_reports_no_services_and_no_external_backends():
    # The watcher reads both before it builds a namespace for the first time.
    memo = BuildMemo()
    assert (memo.services, memo.external) == ({}, [])


def test_a_build_with_a_memo_records_the_other_namespaces_services_it_points_at():
    route = httproute("front", "web", {"name": "auth", "namespace": "iam"})
    memo = BuildMemo()
    build(services=[service("web", WEB)], routes=[route], memo=memo)
    assert memo.external == [("iam", "auth")]


def test_with_a_memo_a_reference_follows_the_health_its_target_reports():
    route = httproute("front", {"name": "auth", "namespace": "iam"})
    memo = BuildMemo()

    def reporting(health):
        return lambda ns, name: {"metadata": {"name": name, "namespace": ns}, "health": health}

    build(routes=[route], lookup=reporting("Healthy"), memo=memo)
    tree = build(routes=[route], lookup=reporting("Down"), memo=memo)
    assert only(tree, "ServiceRef/iam/auth")["health"] == "Down"
    assert only(tree, "HTTPRoute/shop/front")["health"] == "Down"


def test_with_a_memo_a_selector_less_service_follows_its_endpoint_slices():
    def endpoints(ready):
        return {
            "metadata": {"name": "s", "labels": {"kubernetes.io/service-name": "ext"}},
            "endpoints": [{"addresses": ["1.2.3.4"], "conditions": {"ready": ready}}],
        }

    ext, memo = service("ext"), BuildMemo()
    healths = [
        only(build(services=[ext], slices=[endpoints(ready)], memo=memo), "Service/shop/ext")
        for ready in (True, False)
    ]
    assert [node["health"] for node in healths] == ["Healthy", "Down"]


def test_with_a_memo_a_pod_replaced_with_a_new_state_shows_that_state():
    web, memo = service("web", WEB), BuildMemo()
    build(pods=[pod("w", WEB), pod("stray")], services=[web], memo=memo)
    pods = [pod("w", WEB, conditions=NOT_READY), pod("stray", phase="Failed")]
    tree = build(pods=pods, services=[web], memo=memo)
    assert tree == build(pods=pods, services=[web])
    assert (only(tree, "Pod/shop/w")["ready"], only(tree, "Pod/shop/stray")["phase"]) == (
        False,
        "Failed",
    )


def test_a_rebuild_with_a_memo_shares_every_node_the_change_did_not_touch():
    # The promise the diff's speed rests on: unchanged parts are the very same objects, so it
    # skips them by identity. Within one tree, a node shown in two places is one object too.
    both = {"app": "web", "canary": "yes"}
    world = {
        "pods": [pod("web-1", both), pod("stray")],
        "services": [service("web", WEB), service("canary", {"canary": "yes"})],
        "routes": [
            httproute("front", "web", "gone", {"name": "auth", "namespace": "iam"}),
            httproute("back", "gone"),
        ],
        "ingresses": [ingress("front", "web")],  # an HTTPRoute's namesake, mid-migration
        "lookup": lambda ns, name: {"metadata": {"name": name, "namespace": ns}},
    }
    memo = BuildMemo()
    first = build(**world, memo=memo)
    again = build(**world, memo=memo)
    assert again == first
    assert all(a is b for a, b in zip(first["children"], again["children"], strict=True))
    for node_id in ("Pod/shop/web-1", "Service/shop/web", "ServiceRef/shop/gone"):
        occurrences = find(first, node_id)
        assert len(occurrences) > 1
        assert all(node is occurrences[0] for node in occurrences)

    not_ready = pod("web-1", both, conditions=NOT_READY)
    changed = build(**{**world, "pods": [not_ready, world["pods"][1]]}, memo=memo)
    assert only(changed, "HTTPRoute/shop/front") is not only(first, "HTTPRoute/shop/front")
    for node_id in ("ServiceRef/shop/gone", "ServiceRef/iam/auth", "Pod/shop/stray"):
        assert find(changed, node_id)[0] is find(first, node_id)[0]


MALFORMED = [
    {},
    {"metadata": None},
    {"metadata": {"name": "x", "labels": None, "annotations": None}, "spec": None, "status": None},
    {"metadata": {"name": "x", "labels": ["a"], "annotations": "s", "ownerReferences": {"a": 1}}},
    {
        "metadata": {"name": "x", "labels": {"app": 5, "big": "v" * 100_000}},
        "spec": [],
        "status": "up",
    },
    {
        "metadata": {"name": "x", "deletionTimestamp": "t"},
        "spec": {
            "selector": "app=web",
            "ports": [None, {"port": True}],
            "containers": "c",
            "rules": [None, {"backendRefs": [None, {"name": 3}], "http": []}],
            "hostnames": [1],
            "defaultBackend": {"service": {"name": "s", "port": None}},
            "externalIPs": [None],
        },
        "status": {
            "conditions": [None, "Ready"],
            "containerStatuses": [{"restartCount": "3"}, None],
            "podIPs": "x",
            "loadBalancer": {"ingress": [None]},
            "phase": 7,
        },
    },
    {
        "metadata": {"name": "x", "labels": {"kubernetes.io/service-name": "x"}},
        "endpoints": [None, {"targetRef": "pod"}, {"conditions": None}],
    },
]


@pytest.mark.parametrize("obj", MALFORMED)
def test_malformed_objects_of_any_kind_never_raise(obj):
    objs = NamespaceObjects(
        namespace=obj,
        pods={"x": obj, "y": None},
        services={"x": obj, "y": "svc"},
        endpointslices={"x": obj, "y": []},
        ingresses={"x": obj, "y": 1},
        httproutes={"x": obj},
    )
    tree = build_namespace(NS, objs, CONFIG, lambda ns, name: obj, frozenset({"Service/shop/x"}))
    json.dumps(tree)


@pytest.mark.parametrize(
    ("kind", "obj", "problem"),
    [
        ("Pod", "pod", "not a JSON object"),
        ("Pod", {"spec": {}}, "no metadata"),
        ("Pod", {"metadata": {"namespace": NS}}, "no metadata.name"),
        ("Pod", {"metadata": {"name": "x"}}, "no metadata.namespace"),
        (
            "Pod",
            {"metadata": {"name": "x", "namespace": NS, "labels": ["a"]}},
            "labels is not a map",
        ),
        ("Pod", {"metadata": {"name": "x", "namespace": NS, "labels": {"a": 1}}}, "non-string"),
        ("Pod", {"metadata": {"name": "x", "namespace": NS, "labels": {"a": "v" * 64}}}, "longer"),
        (
            "Pod",
            {"metadata": {"name": "x", "namespace": NS, "annotations": {"a": None}}},
            "non-string",
        ),
        ("Pod", {"metadata": {"name": "x", "namespace": NS}, "spec": []}, "spec is not an object"),
        (
            "Pod",
            {"metadata": {"name": "x", "namespace": NS, "ownerReferences": {}}},
            "ownerReferences",
        ),
        (
            "Service",
            {"metadata": {"name": "x", "namespace": NS}, "spec": {"selector": "a=b"}},
            "selector",
        ),
    ],
)
def test_object_problem_names_what_makes_an_object_unusable(kind, obj, problem):
    assert problem in object_problem(kind, obj)


def test_object_problem_accepts_ordinary_objects():
    assert object_problem("Namespace", {"metadata": {"name": NS, "labels": None}}) is None
    assert object_problem("Pod", pod("w", WEB)) is None
    assert object_problem("Service", service("web", WEB)) is None
    assert object_problem("HTTPRoute", httproute("r", "web")) is None
