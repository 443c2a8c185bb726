from datetime import UTC, datetime

import pytest

from simcluster import tables
from simcluster.resources import BUILTIN_TYPES, GATEWAY_TYPES, ResourceType, type_named

PODS = type_named("pods")
SERVICES = type_named("services")
NAMESPACES = type_named("namespaces")
ENDPOINTS = type_named("endpoints")
EVENTS = type_named("events")
DEPLOYMENTS = type_named("deployments", "apps")
REPLICASETS = type_named("replicasets", "apps")
SLICES = type_named("endpointslices", "discovery.k8s.io")
INGRESSES = type_named("ingresses", "networking.k8s.io")
LEASES = type_named("leases", "coordination.k8s.io")
HTTPROUTES = type_named("httproutes", "gateway.networking.k8s.io")
GATEWAYS = type_named("gateways", "gateway.networking.k8s.io")

KUBECTL_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,"
    "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp()
FIVE_MINUTES_AGO = "2024-05-01T11:55:00Z"
META = {
    "name": "web-1",
    "namespace": "default",
    "uid": "u-1",
    "resourceVersion": "42",
    "creationTimestamp": FIVE_MINUTES_AGO,
    "labels": {"app": "web"},
}

RUNNING_POD = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": META,
    "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "nginx"}]},
    "status": {
        "phase": "Running",
        "podIP": "10.244.1.7",
        "podIPs": [{"ip": "10.244.1.7"}],
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [
            {
                "name": "app",
                "ready": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": FIVE_MINUTES_AGO}},
            }
        ],
    },
}


def cells(rtype: ResourceType, obj: dict) -> list:
    return tables.table_row(rtype, obj, NOW)["cells"]


def column_names(rtype: ResourceType) -> list[str]:
    return [c["name"] for c in tables.table(rtype, [], "1", NOW)["columnDefinitions"]]


def pod_with(status: dict, **metadata: object) -> dict:
    return {
        "metadata": {**META, **metadata},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        "status": status,
    }


# -- content negotiation ------------------------------------------------------------


def test_kubectls_accept_header_asks_for_a_table():
    assert tables.wants_table(KUBECTL_ACCEPT)


@pytest.mark.parametrize(
    "accept",
    [
        "",
        "application/json",
        "*/*",
        "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
        "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
    ],
)
def test_other_accept_headers_get_plain_json(accept):
    assert not tables.wants_table(accept)


def test_spaces_around_media_type_parameters_are_ignored():
    assert tables.wants_table("application/json; as=Table; v=v1; g=meta.k8s.io")


# -- ages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 300, "3h5m"),
        (10 * 3600 + 59, "10h"),
        (51 * 3600, "2d3h"),
        (7 * 86400, "7d"),
        (10 * 86400, "10d"),
        (800 * 86400, "2y70d"),
        (3 * 365 * 86400, "3y"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_durations_read_like_kubectl_ages(seconds, text):
    assert tables.human_duration(seconds) == text


def test_an_object_without_a_creation_time_has_an_unknown_age():
    assert cells(LEASES, {"metadata": {"name": "x"}}) == ["x", "", "<unknown>"]


# -- the Table ------------------------------------------------------------------------


def test_a_table_carries_columns_rows_and_list_metadata():
    body = tables.table(
        NAMESPACES, [{"metadata": META, "status": {"phase": "Active"}}], "42", NOW, "token-1"
    )
    assert body == {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": "42", "continue": "token-1"},
        "columnDefinitions": [
            {
                "name": "Name",
                "type": "string",
                "format": "name",
                "description": tables.NAME_DOC,
                "priority": 0,
            },
            {
                "name": "Status",
                "type": "string",
                "format": "",
                "description": "The status of the namespace",
                "priority": 0,
            },
            {
                "name": "Age",
                "type": "string",
                "format": "",
                "description": tables.AGE_DOC,
                "priority": 0,
            },
        ],
        "rows": [
            {
                "cells": ["web-1", "Active", "5m"],
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": META,
                },
            }
        ],
    }


def test_a_last_page_has_no_continue_token():
    assert tables.table(PODS, [], "7", NOW)["metadata"] == {"resourceVersion": "7"}


def test_include_object_chooses_what_each_row_carries():
    assert tables.table_row(PODS, RUNNING_POD, NOW, "Object")["object"] is RUNNING_POD
    assert "object" not in tables.table_row(PODS, RUNNING_POD, NOW, "None")
    assert tables.table_row(PODS, RUNNING_POD, NOW)["object"]["kind"] == "PartialObjectMetadata"


def test_a_watch_event_table_has_one_row_at_the_objects_version():
    body = tables.watch_table(PODS, RUNNING_POD, NOW, "PartialObjectMetadata")
    assert body["metadata"] == {"resourceVersion": "42"}
    assert [row["cells"][0] for row in body["rows"]] == ["web-1"]
    assert column_names(PODS)[:5] == [c["name"] for c in body["columnDefinitions"]][:5]


@pytest.mark.parametrize("rtype", BUILTIN_TYPES + GATEWAY_TYPES, ids=lambda t: t.kind)
def test_every_row_has_one_cell_per_column_even_for_sparse_objects(rtype):
    body = tables.table(rtype, [{"metadata": {"name": "x"}}, RUNNING_POD], "1", NOW)
    for row in body["rows"]:
        assert len(row["cells"]) == len(body["columnDefinitions"])
    for column in body["columnDefinitions"]:
        assert set(column) == {"name", "type", "format", "description", "priority"}


def test_unknown_kinds_show_name_and_age():
    widgets = ResourceType("example.com", "v1", "widgets", "Widget", True)
    assert column_names(widgets) == ["Name", "Age"]
    assert cells(widgets, {"metadata": META}) == ["web-1", "5m"]


# -- pods -----------------------------------------------------------------------------


def test_pod_columns_match_kubectl_with_wide_ones_at_priority_one():
    columns = tables.table(PODS, [], "1", NOW)["columnDefinitions"]
    assert [(c["name"], c["priority"]) for c in columns] == [
        ("Name", 0),
        ("Ready", 0),
        ("Status", 0),
        ("Restarts", 0),
        ("Age", 0),
        ("IP", 1),
        ("Node", 1),
        ("Nominated Node", 1),
        ("Readiness Gates", 1),
    ]


def test_a_running_pod_row():
    assert cells(PODS, RUNNING_POD) == [
        "web-1",
        "1/1",
        "Running",
        "0",
        "5m",
        "10.244.1.7",
        "node-1",
        "<none>",
        "<none>",
    ]


def test_a_new_pod_is_pending_with_nothing_ready():
    assert cells(PODS, pod_with({"phase": "Pending"}))[:6] == [
        "web-1",
        "0/1",
        "Pending",
        "0",
        "5m",
        "<none>",
    ]


def test_a_crash_looping_pod_shows_the_waiting_reason_and_last_restart():
    status = {
        "phase": "Running",
        "containerStatuses": [
            {
                "name": "app",
                "ready": False,
                "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:58:00Z"}},
            }
        ],
    }
    assert cells(PODS, pod_with(status))[1:4] == ["0/1", "CrashLoopBackOff", "5 (2m ago)"]


def test_a_deleted_pod_is_terminating_until_it_finishes():
    deleted = {**RUNNING_POD, "metadata": {**META, "deletionTimestamp": "2024-05-01T12:00:30Z"}}
    assert cells(PODS, deleted)[2] == "Terminating"
    finished = {**deleted, "status": {"phase": "Succeeded"}}
    assert cells(PODS, finished)[2] == "Succeeded"


def test_a_pod_on_a_lost_node_is_unknown_once_deleted():
    lost = pod_with(
        {"phase": "Running", "reason": "NodeLost"}, deletionTimestamp="2024-05-01T12:00:30Z"
    )
    assert cells(PODS, lost)[2] == "Unknown"


def test_a_terminated_container_shows_its_reason_or_exit_code():
    def terminated(state: dict) -> dict:
        return {
            "phase": "Failed",
            "containerStatuses": [
                {"name": "app", "ready": False, "restartCount": 0, "state": {"terminated": state}}
            ],
        }

    assert cells(PODS, pod_with(terminated({"exitCode": 0, "reason": "Completed"})))[2] == (
        "Completed"
    )
    assert cells(PODS, pod_with(terminated({"exitCode": 137})))[2] == "ExitCode:137"
    assert cells(PODS, pod_with(terminated({"exitCode": 0, "signal": 9})))[2] == "Signal:9"


def test_init_containers_show_progress_then_failures():
    def with_init(state: dict) -> dict:
        obj = pod_with(
            {
                "phase": "Pending",
                "initContainerStatuses": [
                    {"name": "migrate", "ready": False, "restartCount": 2, "state": state}
                ],
            }
        )
        obj["spec"]["initContainers"] = [{"name": "migrate", "image": "tool"}]
        return obj

    assert cells(PODS, with_init({"running": {}}))[2:4] == ["Init:0/1", "2"]
    assert cells(PODS, with_init({"terminated": {"exitCode": 1, "reason": "Error"}}))[2] == (
        "Init:Error"
    )
    assert cells(PODS, with_init({"waiting": {"reason": "ImagePullBackOff"}}))[2] == (
        "Init:ImagePullBackOff"
    )


def test_a_scheduling_gated_pod_says_so():
    gated = pod_with(
        {
            "phase": "Pending",
            "conditions": [
                {"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}
            ],
        }
    )
    assert cells(PODS, gated)[2] == "SchedulingGated"


def test_readiness_gates_count_true_conditions():
    obj = pod_with(
        {
            "phase": "Running",
            "conditions": [
                {"type": "example.com/lb", "status": "True"},
                {"type": "example.com/dns", "status": "False"},
            ],
        }
    )
    obj["spec"]["readinessGates"] = [
        {"conditionType": "example.com/lb"},
        {"conditionType": "example.com/dns"},
    ]
    assert cells(PODS, obj)[8] == "1/2"


# -- workloads ------------------------------------------------------------------------


def test_a_deployment_row():
    obj = {
        "metadata": META,
        "spec": {
            "replicas": 3,
            "selector": {
                "matchLabels": {"app": "web"},
                "matchExpressions": [
                    {"key": "tier", "operator": "In", "values": ["front", "edge"]}
                ],
            },
            "template": {
                "spec": {
                    "containers": [
                        {"name": "app", "image": "nginx:1.27"},
                        {"name": "proxy", "image": "envoy"},
                    ]
                }
            },
        },
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert column_names(DEPLOYMENTS) == [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    assert cells(DEPLOYMENTS, obj) == [
        "web-1",
        "2/3",
        3,
        2,
        "5m",
        "app,proxy",
        "nginx:1.27,envoy",
        "app=web,tier in (edge,front)",
    ]


def test_a_replica_set_row():
    obj = {
        "metadata": META,
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
        "status": {"replicas": 2, "readyReplicas": 1},
    }
    assert column_names(REPLICASETS)[:5] == ["Name", "Desired", "Current", "Ready", "Age"]
    assert cells(REPLICASETS, obj)[:5] == ["web-1", 2, 2, 1, "5m"]


# -- networking -----------------------------------------------------------------------


def service(**spec: object) -> dict:
    return {
        "metadata": META,
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.1.5",
            "clusterIPs": ["10.96.1.5"],
            "selector": {"app": "web"},
            "ports": [{"port": 80, "protocol": "TCP"}],
            **spec,
        },
        "status": {"loadBalancer": {}},
    }


def test_a_cluster_ip_service_row():
    assert column_names(SERVICES) == [
        "Name",
        "Type",
        "Cluster-IP",
        "External-IP",
        "Port(s)",
        "Age",
        "Selector",
    ]
    assert cells(SERVICES, service()) == [
        "web-1",
        "ClusterIP",
        "10.96.1.5",
        "<none>",
        "80/TCP",
        "5m",
        "app=web",
    ]


def test_a_node_port_service_shows_its_node_ports():
    ports = [
        {"port": 80, "nodePort": 30080, "protocol": "TCP"},
        {"port": 53, "nodePort": 30053, "protocol": "UDP"},
    ]
    assert cells(SERVICES, service(type="NodePort", ports=ports))[4] == (
        "80:30080/TCP,53:30053/UDP"
    )


def test_a_load_balancer_is_pending_until_it_has_an_address():
    pending = service(type="LoadBalancer")
    assert cells(SERVICES, pending)[3] == "<pending>"
    ready = {
        **pending,
        "status": {
            "loadBalancer": {"ingress": [{"ip": "203.0.113.9"}, {"hostname": "lb.example"}]}
        },
    }
    assert cells(SERVICES, ready)[3] == "203.0.113.9,lb.example"


def test_external_name_and_headless_services():
    external = service(type="ExternalName", externalName="db.example.com", ports=[], selector={})
    del external["spec"]["clusterIP"], external["spec"]["clusterIPs"]
    assert cells(SERVICES, external)[2:5] == ["<none>", "db.example.com", "<none>"]
    assert cells(SERVICES, external)[6] == "<none>"
    assert cells(SERVICES, service(clusterIP="None", clusterIPs=["None"]))[2] == "None"


def test_endpoints_list_three_addresses_then_a_count():
    obj = {
        "metadata": META,
        "subsets": [
            {
                "addresses": [{"ip": f"10.244.0.{i}"} for i in range(1, 6)],
                "ports": [{"port": 8080, "protocol": "TCP"}],
            }
        ],
    }
    assert cells(ENDPOINTS, obj) == [
        "web-1",
        "10.244.0.1:8080,10.244.0.2:8080,10.244.0.3:8080 + 2 more...",
        "5m",
    ]
    assert cells(ENDPOINTS, {"metadata": META})[1] == "<none>"


def test_an_endpoint_slice_row():
    obj = {
        "metadata": META,
        "addressType": "IPv4",
        "ports": [{"port": 8080}, {"name": "metrics"}],
        "endpoints": [{"addresses": ["10.244.0.1"]}, {"addresses": ["10.244.0.2"]}],
    }
    assert column_names(SLICES) == ["Name", "AddressType", "Ports", "Endpoints", "Age"]
    assert cells(SLICES, obj) == ["web-1", "IPv4", "8080,metrics", "10.244.0.1,10.244.0.2", "5m"]
    assert cells(SLICES, {"metadata": META, "addressType": "IPv4"})[2:4] == ["<unset>", "<unset>"]


def test_an_ingress_row():
    obj = {
        "metadata": META,
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": ["a.example"]}],
            "rules": [{"host": "a.example"}, {"host": "b.example"}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.9"}]}},
    }
    assert column_names(INGRESSES) == ["Name", "Class", "Hosts", "Address", "Ports", "Age"]
    assert cells(INGRESSES, obj) == [
        "web-1",
        "nginx",
        "a.example,b.example",
        "203.0.113.9",
        "80, 443",
        "5m",
    ]


def test_an_ingress_without_hosts_or_class_matches_everything():
    assert cells(INGRESSES, {"metadata": META, "spec": {"rules": [{}]}})[1:5] == [
        "<none>",
        "*",
        "",
        "80",
    ]


def test_many_ingress_hosts_are_shortened():
    rules = [{"host": f"{c}.example"} for c in "abcde"]
    assert cells(INGRESSES, {"metadata": META, "spec": {"rules": rules}})[2] == (
        "a.example,b.example,c.example + 2 more..."
    )


def test_http_routes_show_hostnames_as_json_like_crd_columns():
    obj = {"metadata": META, "spec": {"hostnames": ["a.example", "b.example"]}}
    assert column_names(HTTPROUTES) == ["Name", "Hostnames", "Age"]
    assert cells(HTTPROUTES, obj) == ["web-1", '["a.example","b.example"]', "5m"]
    assert cells(HTTPROUTES, {"metadata": META}) == ["web-1", None, "5m"]


def test_a_gateway_row():
    obj = {
        "metadata": META,
        "spec": {"gatewayClassName": "envoy"},
        "status": {
            "addresses": [{"value": "203.0.113.9"}],
            "conditions": [{"type": "Programmed", "status": "True"}],
        },
    }
    assert cells(GATEWAYS, obj) == ["web-1", "envoy", "203.0.113.9", "True", "5m"]


# -- cluster bookkeeping --------------------------------------------------------------


def test_namespace_and_lease_rows():
    assert cells(NAMESPACES, {"metadata": META, "status": {"phase": "Terminating"}}) == [
        "web-1",
        "Terminating",
        "5m",
    ]
    assert cells(LEASES, {"metadata": META, "spec": {"holderIdentity": "node-1"}}) == [
        "web-1",
        "node-1",
        "5m",
    ]


def test_an_event_row_reads_like_kubectl_get_events():
    obj = {
        "metadata": {**META, "name": "web-1.17c"},
        "type": "Warning",
        "reason": "BackOff",
        "message": "Back-off restarting failed container\n",
        "count": 4,
        "firstTimestamp": "2024-05-01T11:00:00Z",
        "lastTimestamp": "2024-05-01T11:59:30Z",
        "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
        "source": {"component": "kubelet", "host": "node-1"},
    }
    assert column_names(EVENTS)[:4] == ["Last Seen", "Type", "Reason", "Object"]
    assert cells(EVENTS, obj) == [
        "30s",
        "Warning",
        "BackOff",
        "pod/web-1",
        "spec.containers{app}",
        "kubelet, node-1",
        "Back-off restarting failed container",
        "60m",
        4,
        "web-1.17c",
    ]


def test_a_new_style_event_uses_event_time_and_reporting_controller():
    obj = {
        "metadata": META,
        "type": "Normal",
        "reason": "Scheduled",
        "message": "ok",
        "eventTime": "2024-05-01T11:59:55.123456Z",
        "reportingController": "scheduler",
        "involvedObject": {"kind": "Pod", "name": "web-1"},
    }
    assert cells(EVENTS, obj)[0] == "4s"
    assert cells(EVENTS, obj)[5] == "scheduler"
    assert cells(EVENTS, obj)[8] == 1
