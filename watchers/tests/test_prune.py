import orjson
import pytest

from watchers import prune as prune_module
from watchers.prune import Sharing, WireFormat, prune

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
    assert pruned["spec"]["containers"] == [{"ports": [{"containerPort": 80}]}]
    assert pruned["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert pruned["status"]["containerStatuses"] == [{"restartCount": 0, "state": {}}]
    assert "creationTimestamp" not in pruned["metadata"]
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


def twin(name: str, **status: object) -> dict:
    """POD under another name and uid (and IP), as the next pod of its ReplicaSet."""
    return {
        **POD,
        "metadata": {**POD["metadata"], "name": name, "uid": f"uid-{name}"},
        "status": {**POD["status"], "podIP": f"10.0.0.{len(name)}", **status},
    }


def test_equal_parts_of_different_pods_become_one_object():
    wire = WireFormat("Pod")
    _, a = wire.event(event_line("ADDED", twin("web-1")))
    _, b = wire.event(event_line("ADDED", twin("web-22")))
    page = wire.page(orjson.dumps({"metadata": {}, "items": [twin("web-333")]}))
    c = page["items"][0]
    for x, y in ((a, b), (a, c)):
        assert x["metadata"]["labels"] is y["metadata"]["labels"]
        assert x["metadata"]["ownerReferences"] is y["metadata"]["ownerReferences"]
        assert x["spec"] is y["spec"]
        assert x["status"]["conditions"] is y["status"]["conditions"]
        assert x["status"]["containerStatuses"] is y["status"]["containerStatuses"]
        assert x["metadata"] is not y["metadata"] and x["status"] is not y["status"]
    assert b == prune("Pod", twin("web-22")) | {"metadata": b["metadata"]}


def test_parts_that_differ_stay_apart():
    wire = WireFormat("Pod")
    _, a = wire.event(event_line("ADDED", twin("web-1")))
    unready = [{"type": "Ready", "status": "False"}]
    _, b = wire.event(event_line("ADDED", twin("web-2", conditions=unready)))
    assert a["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert b["status"]["conditions"] == unready


def test_a_part_orjson_cannot_write_is_kept_as_it_is():
    # msgspec reads integers past 64 bits; orjson cannot write them back.
    line = (
        b'{"type":"ADDED","object":{"metadata":{"name":"x"},'
        b'"spec":{"containers":[{"ports":[{"containerPort":%d}]}]}}}'
    )
    _, pod = WireFormat("Pod").event(line % 2**70)
    assert pod["spec"] == {"containers": [{"ports": [{"containerPort": 2**70}]}]}


def test_sharing_remembers_a_bounded_number_of_parts(monkeypatch):
    monkeypatch.setattr(prune_module, "SHARED_LIMIT", 2)
    sharing = Sharing({"": ("labels",)})
    for i in range(5):
        sharing.share({"labels": {"n": str(i)}})
        assert len(sharing._known) <= 2


def test_sharing_forgets_parts_no_object_holds_and_keeps_shared_ones(monkeypatch):
    # Under churn every replaced pod leaves parts (conditions with their timestamps) nothing
    # will match again; the table must not keep them until it is full.
    monkeypatch.setattr(prune_module, "SWEEP_FLOOR", 8)
    sharing = Sharing({"": ("labels",)})
    kept = [sharing.share({"labels": {"app": f"kept-{i}"}}) for i in range(4)]
    for i in range(200):
        sharing.share({"labels": {"pod": f"gone-{i}"}})
        assert len(sharing._known) <= 16
    twin = sharing.share({"labels": {"app": "kept-3"}})
    assert twin["labels"] is kept[3]["labels"]
