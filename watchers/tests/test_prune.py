import orjson
import pytest

from watchers.prune import WireFormat, prune

POD = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {
        "name": "web-1",
        "namespace": "shop",
        "uid": "u1",
        "resourceVersion": "17",
        "labels": {"app": "web"},
        "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{...}",
            "constellation.io/group": "front",
        },
        "managedFields": [{"manager": "kubectl"}],
        "ownerReferences": [
            {
                "kind": "ReplicaSet",
                "name": "web-abc",
                "controller": True,
                "uid": "x",
                "apiVersion": "apps/v1",
            }
        ],
        "creationTimestamp": "2026-11-23T12:00:00Z",
    },
    "spec": {
        "nodeName": "n1",
        "containers": [
            {
                "name": "a",
                "image": "nginx",
                "ports": [{"containerPort": 80}],
                "env": [{"name": "X", "value": "1"}],
            }
        ],
    },
    "status": {
        "phase": "Running",
        "podIP": "10.0.0.1",
        "conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-23T12:00:01Z"}
        ],
        "containerStatuses": [
            {
                "name": "a",
                "ready": True,
                "restartCount": 0,
                "image": "nginx",
                "state": {"running": {"startedAt": "2026-11-23T12:00:01Z"}},
            }
        ],
    },
}


def test_pruned_pod_keeps_what_the_topology_reads_and_drops_the_rest():
    pruned = prune("Pod", POD)
    assert "managedFields" not in pruned["metadata"]
    assert "resourceVersion" not in pruned["metadata"]
    assert pruned["metadata"]["annotations"] == {"constellation.io/group": "front"}
    assert pruned["spec"]["containers"] == [{"name": "a", "ports": [{"containerPort": 80}]}]
    assert pruned["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert pruned["status"]["containerStatuses"][0]["state"] == {}
    assert pruned["metadata"]["ownerReferences"] == [
        {"kind": "ReplicaSet", "name": "web-abc", "controller": True}
    ]


def test_a_timestamp_only_change_prunes_to_an_equal_object():
    touched = {
        **POD,
        "metadata": {**POD["metadata"], "resourceVersion": "18"},
        "status": {
            **POD["status"],
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "later"}],
        },
    }
    assert prune("Pod", touched) == prune("Pod", POD)


def test_ill_typed_parts_are_kept_for_the_tolerant_readers():
    odd = {"metadata": {"name": "x", "labels": None}, "spec": "nonsense", "status": []}
    assert prune("Pod", odd) == {
        "metadata": {"name": "x", "labels": None},
        "spec": "nonsense",
        "status": [],
    }


def test_pruning_never_mutates_its_input():
    before = repr(POD)
    prune("Pod", POD)
    assert repr(POD) == before


def event_line(event_type: str, obj: object) -> bytes:
    return orjson.dumps({"type": event_type, "object": obj})


@pytest.mark.parametrize(
    "obj",
    [
        POD,
        {"metadata": {"name": "x", "labels": None}, "spec": "nonsense", "status": []},
        {"metadata": {"name": "x", "ownerReferences": "not a list"}},
        {"metadata": {"name": "x", "annotations": {"a": 1}}, "status": {"conditions": None}},
    ],
    ids=["pod", "ill-typed", "odd-owner-refs", "odd-values"],
)
def test_parsing_a_watch_line_prunes_like_prune_whatever_the_shape(obj):
    etype, parsed = WireFormat("Pod").event(event_line("MODIFIED", obj))
    expected = prune("Pod", obj)
    if "resourceVersion" in obj["metadata"]:  # kept on the wire for the informer
        expected["metadata"]["resourceVersion"] = obj["metadata"]["resourceVersion"]
    assert (etype, parsed) == ("MODIFIED", expected)


def test_an_error_event_keeps_its_whole_status():
    status = {"kind": "Status", "status": "Failure", "reason": "Expired", "code": 410}
    for kind in ("Pod", "HTTPRoute"):  # HTTPRoute's shape has no status: still the whole Status
        assert WireFormat(kind).event(event_line("ERROR", status)) == ("ERROR", status)


def test_a_list_page_is_parsed_with_pruned_items():
    page = WireFormat("Pod").page(
        orjson.dumps({"metadata": {"resourceVersion": "9"}, "items": [POD, {"metadata": 5}]})
    )
    assert page["metadata"] == {"resourceVersion": "9"}
    assert page["items"][0]["metadata"]["resourceVersion"] == "17"
    assert "managedFields" not in page["items"][0]["metadata"]
    assert page["items"][1] == {"metadata": 5}


@pytest.mark.parametrize("bad", [b"{not json", b"[1, 2]", b'{"type": "ADDED"}'])
def test_malformed_lines_raise_what_reading_orjson_output_would(bad):
    with pytest.raises((ValueError, KeyError, TypeError)):
        WireFormat("Pod").event(bad)
