from watchers.prune import prune

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
