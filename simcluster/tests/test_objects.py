import ipaddress

import pytest

from simcluster import errors, objects
from simcluster.resources import ResourceType, type_named
from simcluster.store import Store

NS = type_named("namespaces")
PODS = type_named("pods")
SERVICES = type_named("services")
ENDPOINTS = type_named("endpoints")
EVENTS = type_named("events")
DEPLOYMENTS = type_named("deployments", "apps")
REPLICASETS = type_named("replicasets", "apps")
SLICES = type_named("endpointslices", "discovery.k8s.io")
INGRESSES = type_named("ingresses", "networking.k8s.io")
LEASES = type_named("leases", "coordination.k8s.io")
HTTPROUTES = type_named("httproutes", "gateway.networking.k8s.io")


def pod(name: str = "web", **spec: object) -> dict:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec},
    }


def deployment(**spec: object) -> dict:
    return {
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            },
            **spec,
        },
    }


def service(name: str = "web", **spec: object) -> dict:
    return {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec},
    }


def causes(rtype: ResourceType, obj: dict) -> list[dict]:
    with pytest.raises(errors.ApiError) as caught:
        objects.validate_create(rtype, obj)
    assert caught.value.code == 422
    assert caught.value.reason == "Invalid"
    return caught.value.details["causes"]


def fields(rtype: ResourceType, obj: dict) -> list[str]:
    return [c["field"] for c in causes(rtype, obj)]


def store_with_default_namespace() -> Store:
    store = Store()
    store.create(NS, None, {"metadata": {"name": "default"}})
    return store


# -- validation ---------------------------------------------------------------------


def test_a_valid_pod_passes_validation():
    objects.validate_create(PODS, pod())


def test_a_pod_without_containers_is_invalid_with_the_apiservers_message():
    with pytest.raises(errors.ApiError) as caught:
        objects.validate_create(PODS, {"metadata": {"name": "web"}, "spec": {}})
    assert caught.value.message == 'Pod "web" is invalid: spec.containers: Required value'
    assert caught.value.details == {
        "name": "web",
        "kind": "Pod",
        "causes": [
            {
                "reason": "FieldValueRequired",
                "message": "Required value",
                "field": "spec.containers",
            }
        ],
    }


def test_every_problem_is_reported_at_once():
    body = {
        "metadata": {"name": "web", "labels": {"app": "bad value"}},
        "spec": {"containers": [{}, {"name": "sidecar"}]},
    }
    assert fields(PODS, body) == [
        "metadata.labels",
        "spec.containers[0].name",
        "spec.containers[0].image",
        "spec.containers[1].image",
    ]


def test_duplicate_container_names_are_refused():
    body = pod(containers=[{"name": "app", "image": "a"}, {"name": "app", "image": "b"}])
    assert causes(PODS, body) == [
        {
            "reason": "FieldValueDuplicate",
            "message": 'Duplicate value: "app"',
            "field": "spec.containers[1].name",
        }
    ]


def test_a_missing_name_asks_for_name_or_generate_name():
    assert causes(LEASES, {"metadata": {}}) == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: name or generateName is required",
            "field": "metadata.name",
        }
    ]


@pytest.mark.parametrize("name", ["Web", "web_1", "-web", "web.", "a" * 254])
def test_object_names_must_be_dns_subdomains(name):
    assert "metadata.name" in fields(PODS, pod(name))


def test_a_bad_name_is_explained_in_apimachinery_words():
    [cause] = causes(PODS, pod("Web"))
    assert cause["message"] == (
        'Invalid value: "Web": a lowercase RFC 1123 subdomain must consist of lower case '
        "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
        "character (e.g. 'example.com', regex used for validation is "
        r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    )


def test_dotted_names_suit_pods_but_not_namespaces():
    objects.validate_create(PODS, pod("web.v2"))
    assert fields(NS, {"metadata": {"name": "team.a"}}) == ["metadata.name"]


def test_namespace_names_are_limited_to_63_characters():
    objects.validate_create(NS, {"metadata": {"name": "a" * 63}})
    assert fields(NS, {"metadata": {"name": "a" * 64}}) == ["metadata.name"]


def test_service_names_must_start_with_a_letter():
    objects.validate_create(SERVICES, service("web-1"))
    assert fields(SERVICES, service("1-web")) == ["metadata.name"]


def test_a_body_of_another_kind_is_refused_with_a_kind_cause():
    body = {"kind": "Service", "apiVersion": "v1", **pod()}
    assert causes(PODS, body) == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "Service": must be Pod',
            "field": "kind",
        }
    ]


def test_a_body_with_another_api_version_is_refused():
    body = {"kind": "Deployment", "apiVersion": "extensions/v1beta1", **deployment()}
    assert fields(DEPLOYMENTS, body) == ["apiVersion"]


def test_matching_kind_and_api_version_are_accepted():
    objects.validate_create(
        DEPLOYMENTS, {"kind": "Deployment", "apiVersion": "apps/v1", **deployment()}
    )


def test_prefixed_label_keys_and_empty_values_are_valid():
    body = pod()
    body["metadata"]["labels"] = {"app.kubernetes.io/name": "web", "tier": "", "v": "1.2_b-c"}
    objects.validate_create(PODS, body)


@pytest.mark.parametrize(
    "labels",
    [
        {"app": "x" * 64},
        {"app": "-web"},
        {"a/b/c": "web"},
        {"/app": "web"},
        {"Example.com/app": "web"},
        {"app": 1},
        ["app=web"],
    ],
)
def test_bad_labels_are_refused(labels):
    body = pod()
    body["metadata"]["labels"] = labels
    assert all(f.startswith("metadata.labels") for f in fields(PODS, body))


def test_a_too_long_label_value_says_so():
    body = pod()
    body["metadata"]["labels"] = {"app": "x" * 64}
    [cause] = causes(PODS, body)
    assert cause["message"].endswith("must be no more than 63 characters")


def test_a_valid_deployment_passes_validation():
    objects.validate_create(DEPLOYMENTS, deployment())


def test_a_deployment_needs_a_selector():
    body = deployment()
    del body["spec"]["selector"]
    assert fields(DEPLOYMENTS, body) == ["spec.selector"]


def test_an_empty_selector_is_invalid():
    assert fields(DEPLOYMENTS, deployment(selector={})) == ["spec.selector"]


def test_template_labels_must_match_the_selector():
    [cause] = causes(DEPLOYMENTS, deployment(selector={"matchLabels": {"app": "api"}}))
    assert cause == {
        "reason": "FieldValueInvalid",
        "message": 'Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`",
        "field": "spec.template.metadata.labels",
    }


def test_match_expressions_are_honoured_when_matching_the_template():
    objects.validate_create(
        REPLICASETS,
        deployment(
            selector={
                "matchExpressions": [
                    {"key": "app", "operator": "In", "values": ["web", "api"]},
                    {"key": "canary", "operator": "DoesNotExist"},
                ]
            }
        ),
    )
    assert fields(
        REPLICASETS,
        deployment(
            selector={
                "matchExpressions": [
                    {"key": "app", "operator": "NotIn", "values": ["web"]},
                ]
            }
        ),
    ) == ["spec.template.metadata.labels"]


def test_a_selector_with_an_unknown_operator_is_invalid():
    body = deployment(selector={"matchExpressions": [{"key": "app", "operator": "Like"}]})
    assert fields(DEPLOYMENTS, body) == ["spec.selector"]


def test_template_containers_are_required():
    body = deployment()
    body["spec"]["template"]["spec"] = {}
    assert fields(DEPLOYMENTS, body) == ["spec.template.spec.containers"]


def test_negative_replicas_are_invalid():
    [cause] = causes(REPLICASETS, deployment(replicas=-1))
    assert cause["message"] == "Invalid value: -1: must be greater than or equal to 0"
    objects.validate_create(REPLICASETS, deployment(replicas=0))


@pytest.mark.parametrize(
    ("port", "reason", "message"),
    [
        ({}, "FieldValueRequired", "Required value"),
        ({"port": 0}, "FieldValueRequired", "Required value"),
        (
            {"port": 65536},
            "FieldValueInvalid",
            "Invalid value: 65536: must be between 1 and 65535, inclusive",
        ),
        (
            {"port": "80"},
            "FieldValueInvalid",
            'Invalid value: "80": must be between 1 and 65535, inclusive',
        ),
    ],
)
def test_service_ports_need_a_port_number_in_range(port, reason, message):
    assert causes(SERVICES, service(ports=[port])) == [
        {"reason": reason, "message": message, "field": "spec.ports[0].port"}
    ]


def test_several_service_ports_must_be_named():
    assert fields(SERVICES, service(ports=[{"port": 80, "name": "http"}, {"port": 443}])) == [
        "spec.ports[1].name"
    ]


def test_service_type_must_be_one_the_server_supports():
    assert causes(SERVICES, service(type="Internal")) == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "Internal": supported values: "ClusterIP", '
            '"ExternalName", "LoadBalancer", "NodePort"',
            "field": "spec.type",
        }
    ]


def test_external_name_services_need_an_external_name():
    assert fields(SERVICES, service(type="ExternalName")) == ["spec.externalName"]


def test_a_malformed_cluster_ip_is_refused():
    assert fields(SERVICES, service(clusterIP="10.96.0.300")) == ["spec.clusterIP"]
    objects.validate_create(SERVICES, service(clusterIP="None"))


def test_endpoint_slices_need_an_address_type():
    assert fields(SLICES, {"metadata": {"name": "web-abc"}, "endpoints": []}) == ["addressType"]
    objects.validate_create(SLICES, {"metadata": {"name": "web-abc"}, "addressType": "IPv4"})


def test_ingress_backends_name_a_service_port_or_a_resource():
    path = {"path": "/", "pathType": "Prefix"}
    body = {
        "metadata": {"name": "web"},
        "spec": {
            "defaultBackend": {
                "resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "static"}
            },
            "rules": [
                {
                    "http": {
                        "paths": [
                            {
                                **path,
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            },
                            {**path, "backend": {"service": {"name": "web"}}},
                            {**path, "backend": {}},
                            {**path, "backend": {"service": {"port": {"name": "http"}}}},
                        ]
                    }
                }
            ],
        },
    }
    assert fields(INGRESSES, body) == [
        "spec.rules[0].http.paths[1].backend.service.port",
        "spec.rules[0].http.paths[2].backend",
        "spec.rules[0].http.paths[3].backend.service.name",
    ]


@pytest.mark.parametrize("rtype", [HTTPROUTES, LEASES, EVENTS, ENDPOINTS, NS])
def test_minimal_kinds_need_only_a_name(rtype):
    objects.validate_create(rtype, {"metadata": {"name": "thing"}})


def test_updates_are_checked_by_the_same_rules():
    with pytest.raises(errors.ApiError) as caught:
        objects.validate_update(DEPLOYMENTS, deployment(replicas=-3))
    assert caught.value.details["group"] == "apps"
    assert caught.value.message.startswith('Deployment "web" is invalid: spec.replicas:')


# -- defaulting ---------------------------------------------------------------------


def test_pods_get_the_apiservers_spec_defaults():
    body = pod(containers=[{"name": "app", "image": "nginx", "ports": [{"containerPort": 80}]}])
    objects.apply_defaults(PODS, body, Store())
    assert body["spec"] == {
        "containers": [
            {
                "name": "app",
                "image": "nginx",
                "ports": [{"containerPort": 80, "protocol": "TCP"}],
                "imagePullPolicy": "Always",
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "resources": {},
            }
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "schedulerName": "default-scheduler",
        "securityContext": {},
        "enableServiceLinks": True,
    }


def test_explicit_pod_settings_are_kept():
    body = pod(restartPolicy="Never", terminationGracePeriodSeconds=0)
    body["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    objects.apply_defaults(PODS, body, Store())
    assert body["spec"]["restartPolicy"] == "Never"
    assert body["spec"]["terminationGracePeriodSeconds"] == 0
    assert body["spec"]["containers"][0]["imagePullPolicy"] == "Never"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("localhost:5000/team/nginx", "Always"),
        ("localhost:5000/team/nginx:1.0", "IfNotPresent"),
        ("nginx@sha256:0123abcd", "IfNotPresent"),
    ],
)
def test_image_pull_policy_follows_the_tag(image, policy):
    assert objects.image_pull_policy(image) == policy


def test_deployments_get_strategy_and_template_defaults():
    body = deployment()
    objects.apply_defaults(DEPLOYMENTS, body, Store())
    spec = body["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    assert spec["template"]["spec"]["restartPolicy"] == "Always"
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_a_recreate_strategy_gets_no_rolling_update_settings():
    body = deployment(replicas=3, strategy={"type": "Recreate"})
    objects.apply_defaults(DEPLOYMENTS, body, Store())
    assert body["spec"]["strategy"] == {"type": "Recreate"}
    assert body["spec"]["replicas"] == 3


def test_replica_sets_default_to_one_replica():
    body = deployment()
    objects.apply_defaults(REPLICASETS, body, Store())
    assert body["spec"]["replicas"] == 1
    assert body["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"


def test_namespaces_get_the_kubernetes_finalizer_and_name_label():
    body = {"metadata": {"name": "team-a", "labels": {"owner": "ops"}}}
    objects.apply_defaults(NS, body, Store())
    assert body["spec"] == {"finalizers": ["kubernetes"]}
    assert body["metadata"]["labels"] == {"owner": "ops", "kubernetes.io/metadata.name": "team-a"}


def test_services_get_a_cluster_ip_and_port_defaults():
    body = service(ports=[{"port": 80}, {"port": 53, "protocol": "UDP", "targetPort": "dns"}])
    objects.apply_defaults(SERVICES, body, Store())
    spec = body["spec"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("10.96.0.0/12")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ports"] == [
        {"port": 80, "protocol": "TCP", "targetPort": 80},
        {"port": 53, "protocol": "UDP", "targetPort": "dns"},
    ]
    assert (spec["type"], spec["sessionAffinity"], spec["ipFamilies"]) == (
        "ClusterIP",
        "None",
        ["IPv4"],
    )


def test_cluster_ips_are_unique_within_a_store():
    store = store_with_default_namespace()
    ips = {
        store.create(SERVICES, "default", service(f"svc-{i}"))["spec"]["clusterIP"]
        for i in range(300)
    }
    assert len(ips) == 300


def test_allocation_skips_addresses_taken_by_hand():
    store = Store()
    first = service("first")
    objects.apply_defaults(SERVICES, first, store)
    taken = str(ipaddress.ip_address(first["spec"]["clusterIP"]) + 1)
    objects.apply_defaults(SERVICES, service("pinned", clusterIP=taken), store)
    third = service("third")
    objects.apply_defaults(SERVICES, third, store)
    assert third["spec"]["clusterIP"] not in (first["spec"]["clusterIP"], taken)


def test_each_store_allocates_independently():
    one, two = service(), service()
    objects.apply_defaults(SERVICES, one, Store())
    objects.apply_defaults(SERVICES, two, Store())
    assert one["spec"]["clusterIP"] == two["spec"]["clusterIP"]


def test_headless_services_stay_headless():
    body = service(clusterIP="None")
    objects.apply_defaults(SERVICES, body, Store())
    assert body["spec"]["clusterIP"] == "None"
    assert body["spec"]["clusterIPs"] == ["None"]


def test_external_name_services_get_no_cluster_ip():
    body = service(type="ExternalName", externalName="db.example.com")
    objects.apply_defaults(SERVICES, body, Store())
    assert "clusterIP" not in body["spec"]
    assert "ipFamilies" not in body["spec"]


def test_node_port_services_get_distinct_node_ports():
    body = service(
        type="NodePort",
        ports=[{"name": "a", "port": 80}, {"name": "b", "port": 81, "nodePort": 30000}],
    )
    objects.apply_defaults(SERVICES, body, Store())
    ports = [p["nodePort"] for p in body["spec"]["ports"]]
    assert ports[1] == 30000
    assert 30000 < ports[0] <= 32767
    assert body["spec"]["externalTrafficPolicy"] == "Cluster"


def test_an_update_without_the_cluster_ip_keeps_the_allocated_one():
    store = store_with_default_namespace()
    created = store.create(SERVICES, "default", service(type="NodePort"))
    updated = store.update(SERVICES, "default", "web", service(type="NodePort"))
    assert updated["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    assert updated["spec"]["ports"][0]["nodePort"] == created["spec"]["ports"][0]["nodePort"]


def test_defaulting_twice_changes_nothing():
    store = Store()
    for rtype, body in ((PODS, pod()), (DEPLOYMENTS, deployment()), (SERVICES, service())):
        objects.apply_defaults(rtype, body, store)
        once = repr(body)
        objects.apply_defaults(rtype, body, store)
        assert repr(body) == once


def test_store_create_returns_the_defaulted_object():
    store = store_with_default_namespace()
    created = store.create(PODS, "default", pod())
    assert created["spec"]["schedulerName"] == "default-scheduler"
    with pytest.raises(errors.ApiError) as caught:
        store.create(PODS, "default", {"metadata": {"name": "empty"}})
    assert caught.value.code == 422


# -- status on create ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rtype", "status"),
    [
        (PODS, {"phase": "Pending", "qosClass": "BestEffort"}),
        (DEPLOYMENTS, {}),
        (REPLICASETS, {}),
        (SERVICES, {"loadBalancer": {}}),
        (INGRESSES, {"loadBalancer": {}}),
        (NS, {"phase": "Active"}),
    ],
)
def test_a_new_objects_status_is_the_servers_own(rtype, status):
    body = {**pod(), "status": {"phase": "Running", "replicas": 3}}
    objects.reset_status_on_create(rtype, body)
    assert body["status"] == status


def test_custom_resources_lose_their_status_on_create():
    body = {"metadata": {"name": "route"}, "status": {"parents": []}}
    objects.reset_status_on_create(HTTPROUTES, body)
    assert "status" not in body


def test_types_without_a_status_subresource_keep_what_they_were_given():
    body = {"metadata": {"name": "x"}, "status": {"anything": True}}
    objects.reset_status_on_create(LEASES, body)
    assert body["status"] == {"anything": True}


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        ({}, "BestEffort"),
        ({"requests": {"cpu": "100m"}}, "Burstable"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
        ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable"),
    ],
)
def test_pod_qos_class_follows_requests_and_limits(resources, qos):
    assert (
        objects.qos_class({"containers": [{"name": "a", "image": "b", "resources": resources}]})
        == qos
    )
