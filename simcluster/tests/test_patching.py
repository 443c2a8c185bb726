import copy
from typing import Any

import pytest

from simcluster.patching import (
    PatchError,
    json_equal,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)

# RFC 7386 appendix A: (target, patch, result).
RFC7386_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC7386_EXAMPLES)
def test_merge_patch_follows_the_rfc_7386_examples(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


def test_merge_patch_leaves_target_and_patch_untouched() -> None:
    target = {"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1}}
    patch = {"metadata": {"labels": {"b": "2", "a": None}}, "spec": {"template": {"x": [1]}}}
    before_target, before_patch = copy.deepcopy(target), copy.deepcopy(patch)
    result = merge_patch(target, patch)
    assert result == {
        "metadata": {"labels": {"b": "2"}},
        "spec": {"replicas": 1, "template": {"x": [1]}},
    }
    assert (target, patch) == (before_target, before_patch)
    result["spec"]["template"]["x"].append(2)
    assert patch == before_patch


# RFC 6902 appendix A: (document, operations, result).
RFC6902_EXAMPLES = [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    (
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    (
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [
            {"op": "test", "path": "/baz", "value": "qux"},
            {"op": "test", "path": "/foo/1", "value": 2},
        ],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    (
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
]


@pytest.mark.parametrize(("document", "operations", "result"), RFC6902_EXAMPLES)
def test_json_patch_follows_the_rfc_6902_examples(
    document: Any, operations: list, result: Any
) -> None:
    assert json_patch(document, operations) == result


def test_json_patch_copies_values_and_unescapes_pointers() -> None:
    document = {"metadata": {"labels": {"app.kubernetes.io/name": "web"}}, "spec": {}}
    result = json_patch(
        document,
        [
            {"op": "copy", "from": "/metadata/labels/app.kubernetes.io~1name", "path": "/spec/app"},
            {"op": "add", "path": "/metadata/annotations", "value": {"a~b": "1"}},
            {"op": "replace", "path": "/metadata/annotations/a~0b", "value": "2"},
        ],
    )
    assert result == {
        "metadata": {"labels": {"app.kubernetes.io/name": "web"}, "annotations": {"a~b": "2"}},
        "spec": {"app": "web"},
    }


def test_json_patch_on_the_root_path_replaces_the_document() -> None:
    assert json_patch({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}]) == {"b": 2}
    assert json_patch({"a": 1}, [{"op": "add", "path": "", "value": [1]}]) == [1]


def test_json_patch_leaves_the_input_untouched_even_when_a_later_operation_fails() -> None:
    document = {"spec": {"replicas": 1, "ports": [80]}}
    before = copy.deepcopy(document)
    with pytest.raises(PatchError):
        json_patch(
            document,
            [
                {"op": "replace", "path": "/spec/replicas", "value": 5},
                {"op": "add", "path": "/spec/ports/-", "value": 443},
                {"op": "test", "path": "/spec/replicas", "value": 1},
            ],
        )
    assert document == before


def test_json_patch_values_are_not_shared_with_the_operations() -> None:
    value = {"k": ["v"]}
    result = json_patch({}, [{"op": "add", "path": "/a", "value": value}])
    result["a"]["k"].append("w")
    assert value == {"k": ["v"]}


@pytest.mark.parametrize(
    ("document", "operation"),
    [
        ({"baz": "qux"}, {"op": "test", "path": "/baz", "value": "bar"}),
        ({"/": 9, "~1": 10}, {"op": "test", "path": "/~01", "value": "10"}),
        ({"flag": True}, {"op": "test", "path": "/flag", "value": 1}),
        ({"foo": "bar"}, {"op": "add", "path": "/baz/bat", "value": "qux"}),
        ({"foo": "bar"}, {"op": "remove", "path": "/missing"}),
        ({"foo": "bar"}, {"op": "replace", "path": "/missing", "value": 1}),
        ({"foo": [1]}, {"op": "add", "path": "/foo/2", "value": 3}),
        ({"foo": [1]}, {"op": "remove", "path": "/foo/01"}),
        ({"foo": [1]}, {"op": "replace", "path": "/foo/-", "value": 2}),
        ({"foo": {"a": 1}}, {"op": "move", "from": "/foo", "path": "/foo/b"}),
        ({"foo": 1}, {"op": "copy", "from": "/nope", "path": "/bar"}),
        ({"foo": 1}, {"op": "add", "path": "foo", "value": 2}),
        ({"foo": 1}, {"op": "remove", "path": ""}),
    ],
)
def test_json_patch_that_cannot_apply_is_unprocessable(document: Any, operation: dict) -> None:
    with pytest.raises(PatchError) as caught:
        json_patch(document, [operation])
    assert caught.value.code == 422


def test_failed_json_patch_test_names_the_path() -> None:
    with pytest.raises(PatchError, match="testing value /spec/replicas failed"):
        json_patch(
            {"spec": {"replicas": 2}}, [{"op": "test", "path": "/spec/replicas", "value": 3}]
        )


@pytest.mark.parametrize(
    "operation",
    [
        "add",
        {"op": "frobnicate", "path": "/a"},
        {"path": "/a", "value": 1},
        {"op": "add", "value": 1},
        {"op": "add", "path": "/a"},
        {"op": "move", "path": "/a"},
        {"op": "copy", "path": "/a", "from": 3},
    ],
)
def test_malformed_json_patch_operations_are_bad_requests(operation: Any) -> None:
    with pytest.raises(PatchError) as caught:
        json_patch({"a": 1}, [operation])
    assert caught.value.code == 400


def test_json_equality_tells_booleans_from_numbers() -> None:
    assert json_equal({"a": [1, "x"]}, {"a": [1.0, "x"]})
    assert not json_equal(True, 1)
    assert not json_equal({"a": 1}, {"a": 1, "b": None})
    assert not json_equal("1", 1)


def deployment(*containers: dict) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "labels": {"app": "web"},
            "finalizers": ["a/keep"],
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": list(containers),
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                },
            },
        },
    }


NGINX = {
    "name": "a",
    "image": "nginx:1",
    "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}],
    "env": [{"name": "MODE", "value": "prod"}, {"name": "DEBUG", "value": "0"}],
}
SIDECAR = {"name": "b", "image": "busybox", "args": ["sleep", "infinity"]}


def containers_of(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def template_patch(**pod_spec: Any) -> dict:
    return {"spec": {"template": {"spec": pod_spec}}}


def test_kubectl_apply_patch_merges_containers_by_name_and_keeps_their_other_fields() -> None:
    patch = template_patch(
        **{
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [
                {"name": "a", "image": "nginx:2"},
                {"name": "b", "env": [{"name": "X", "value": "1"}]},
            ],
        }
    )
    result = strategic_merge_patch(deployment(NGINX, SIDECAR), patch, "Deployment")
    assert containers_of(result) == [
        {**NGINX, "image": "nginx:2"},
        {**SIDECAR, "env": [{"name": "X", "value": "1"}]},
    ]
    assert "$setElementOrder/containers" not in result["spec"]["template"]["spec"]


def test_strategic_merge_leaves_target_and_patch_untouched() -> None:
    target = deployment(NGINX, SIDECAR)
    patch = template_patch(
        containers=[{"name": "a", "env": [{"name": "MODE", "$patch": "delete"}], "image": None}]
    )
    before_target, before_patch = copy.deepcopy(target), copy.deepcopy(patch)
    result = strategic_merge_patch(target, patch, "Deployment")
    assert (target, patch) == (before_target, before_patch)
    containers_of(result)[1]["args"].append("x")
    assert target == before_target


def test_env_merges_by_name() -> None:
    patch = template_patch(containers=[{"name": "a", "env": [{"name": "DEBUG", "value": "1"}]}])
    result = strategic_merge_patch(deployment(NGINX), patch, "Deployment")
    assert containers_of(result)[0]["env"] == [
        {"name": "MODE", "value": "prod"},
        {"name": "DEBUG", "value": "1"},
    ]


def test_container_ports_merge_by_container_port() -> None:
    patch = template_patch(
        containers=[{"name": "a", "ports": [{"containerPort": 443, "protocol": "TCP"}]}]
    )
    result = strategic_merge_patch(deployment(NGINX), patch, "Deployment")
    assert containers_of(result)[0]["ports"] == [
        {"containerPort": 80, "name": "http"},
        {"containerPort": 443, "name": "https", "protocol": "TCP"},
    ]


def test_pod_spec_lists_merge_at_the_pod_root_too() -> None:
    pod = {
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [dict(NGINX), dict(SIDECAR)],
            "volumes": [{"name": "data", "emptyDir": {}}],
        },
    }
    patch = {
        "spec": {
            "containers": [{"name": "b", "image": "busybox:2"}],
            "volumes": [{"name": "cfg", "configMap": {"name": "c"}}],
        }
    }
    result = strategic_merge_patch(pod, patch, "Pod")
    assert result["spec"]["containers"] == [NGINX, {**SIDECAR, "image": "busybox:2"}]
    assert [v["name"] for v in result["spec"]["volumes"]] == ["cfg", "data"]


def test_service_ports_merge_by_port() -> None:
    service = {
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [
                {"port": 80, "targetPort": 8080, "name": "http"},
                {"port": 443, "targetPort": 8443, "name": "https"},
            ],
        },
    }
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}
    result = strategic_merge_patch(service, patch, "Service")
    assert result["spec"]["ports"] == [
        {"port": 80, "targetPort": 9090, "name": "http"},
        {"port": 443, "targetPort": 8443, "name": "https"},
    ]


def test_status_conditions_merge_by_type() -> None:
    pod = {
        "metadata": {"name": "p"},
        "status": {
            "conditions": [
                {"type": "Ready", "status": "False"},
                {"type": "PodScheduled", "status": "True"},
            ],
            "containerStatuses": [{"name": "a", "ready": False, "restartCount": 2}],
        },
    }
    patch = {
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [{"name": "a", "ready": True}],
        }
    }
    result = strategic_merge_patch(pod, patch, "Pod")
    assert result["status"] == {
        "conditions": [
            {"type": "Ready", "status": "True"},
            {"type": "PodScheduled", "status": "True"},
        ],
        "containerStatuses": [{"name": "a", "ready": True, "restartCount": 2}],
    }


def test_owner_references_merge_by_uid() -> None:
    rs = {"metadata": {"name": "rs", "ownerReferences": [{"uid": "1", "kind": "Deployment"}]}}
    patch = {"metadata": {"ownerReferences": [{"uid": "1", "controller": True}]}}
    result = strategic_merge_patch(rs, patch, "ReplicaSet")
    assert result["metadata"]["ownerReferences"] == [
        {"uid": "1", "kind": "Deployment", "controller": True}
    ]


def test_new_list_elements_go_first_without_set_element_order() -> None:
    patch = template_patch(containers=[{"name": "c", "image": "redis"}])
    result = strategic_merge_patch(deployment(NGINX, SIDECAR), patch, "Deployment")
    assert [c["name"] for c in containers_of(result)] == ["c", "a", "b"]


def test_set_element_order_orders_the_merged_list() -> None:
    patch = template_patch(
        **{
            "$setElementOrder/containers": [{"name": "b"}, {"name": "c"}, {"name": "a"}],
            "containers": [{"name": "c", "image": "redis"}],
        }
    )
    result = strategic_merge_patch(deployment(NGINX, SIDECAR), patch, "Deployment")
    assert [c["name"] for c in containers_of(result)] == ["b", "c", "a"]


def test_set_element_order_alone_reorders_without_changing_elements() -> None:
    patch = template_patch(**{"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]})
    result = strategic_merge_patch(deployment(NGINX, SIDECAR), patch, "Deployment")
    assert containers_of(result) == [SIDECAR, NGINX]


def test_set_element_order_that_contradicts_the_patch_list_is_a_bad_request() -> None:
    patch = template_patch(
        **{
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "x"}, {"name": "a", "image": "y"}],
        }
    )
    with pytest.raises(PatchError) as caught:
        strategic_merge_patch(deployment(NGINX, SIDECAR), patch, "Deployment")
    assert caught.value.code == 400


def test_patch_delete_in_a_list_element_removes_that_element() -> None:
    patch = template_patch(containers=[{"name": "a", "$patch": "delete"}])
    result = strategic_merge_patch(deployment(NGINX, SIDECAR), patch, "Deployment")
    assert containers_of(result) == [SIDECAR]


def test_patch_delete_in_a_nested_list_removes_only_that_entry() -> None:
    patch = template_patch(
        containers=[{"name": "a", "env": [{"name": "MODE", "$patch": "delete"}]}]
    )
    result = strategic_merge_patch(deployment(NGINX), patch, "Deployment")
    assert containers_of(result)[0]["env"] == [{"name": "DEBUG", "value": "0"}]


def test_patch_replace_in_a_list_replaces_the_whole_list() -> None:
    patch = template_patch(containers=[{"$patch": "replace"}, {"name": "c", "image": "redis"}])
    result = strategic_merge_patch(deployment(NGINX, SIDECAR), patch, "Deployment")
    assert containers_of(result) == [{"name": "c", "image": "redis"}]


def test_patch_replace_in_a_map_replaces_the_map() -> None:
    patch = {"metadata": {"labels": {"$patch": "replace", "tier": "front"}}}
    result = strategic_merge_patch(deployment(NGINX), patch, "Deployment")
    assert result["metadata"]["labels"] == {"tier": "front"}


def test_patch_delete_in_a_map_empties_it_as_the_apiserver_does() -> None:
    patch = {"spec": {"selector": {"$patch": "delete"}}}
    result = strategic_merge_patch(deployment(NGINX), patch, "Deployment")
    assert result["spec"]["selector"] == {}


def test_null_deletes_a_key() -> None:
    patch = {
        "metadata": {"labels": {"app": None}},
        "spec": {"template": {"spec": {"containers": [{"name": "a", "env": None}]}}},
    }
    result = strategic_merge_patch(deployment(NGINX), patch, "Deployment")
    assert result["metadata"]["labels"] == {}
    assert "env" not in containers_of(result)[0]


def test_lists_without_a_merge_key_are_replaced() -> None:
    patch = template_patch(
        tolerations=[{"key": "b", "operator": "Exists"}],
        containers=[{"name": "b", "args": ["true"]}],
    )
    result = strategic_merge_patch(deployment(NGINX, SIDECAR), patch, "Deployment")
    assert result["spec"]["template"]["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    assert containers_of(result)[1]["args"] == ["true"]


def test_finalizers_merge_as_a_set_of_strings() -> None:
    patch = {"metadata": {"finalizers": ["a/keep", "b/new"]}}
    result = strategic_merge_patch(deployment(NGINX), patch, "Deployment")
    assert result["metadata"]["finalizers"] == ["a/keep", "b/new"]


def test_delete_from_primitive_list_removes_those_values() -> None:
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a/keep"]}}
    result = strategic_merge_patch(deployment(NGINX), patch, "Deployment")
    assert result["metadata"]["finalizers"] == []
    assert "$deleteFromPrimitiveList/finalizers" not in result["metadata"]


def test_retain_keys_clears_the_fields_not_listed() -> None:
    target = deployment(NGINX)
    target["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    result = strategic_merge_patch(target, patch, "Deployment")
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_retain_keys_must_list_every_patched_field() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}}
    with pytest.raises(PatchError) as caught:
        strategic_merge_patch(deployment(NGINX), patch, "Deployment")
    assert caught.value.code == 400


def test_directives_in_new_fields_are_never_stored() -> None:
    patch = template_patch(
        **{
            "$setElementOrder/initContainers": [{"name": "init"}],
            "initContainers": [
                {
                    "name": "init",
                    "image": "x",
                    "command": None,
                    "env": [{"name": "GONE", "$patch": "delete"}],
                }
            ],
        }
    )
    result = strategic_merge_patch(deployment(NGINX), patch, "Deployment")
    assert result["spec"]["template"]["spec"]["initContainers"] == [
        {"name": "init", "image": "x", "env": []}
    ]


def test_element_without_its_merge_key_is_a_bad_request() -> None:
    patch = template_patch(containers=[{"image": "nginx:3"}])
    with pytest.raises(PatchError, match="does not contain declared merge key: name") as caught:
        strategic_merge_patch(deployment(NGINX), patch, "Deployment")
    assert caught.value.code == 400


def test_unknown_patch_directive_is_a_bad_request() -> None:
    with pytest.raises(PatchError) as caught:
        strategic_merge_patch(deployment(NGINX), {"spec": {"$patch": "merge"}}, "Deployment")
    assert caught.value.code == 400
