from simcluster.replicasets import FAILED_PODS_KEPT
from simcluster.tests.engine_world import World, container, is_ready, is_terminating
from simcluster.workload import PODS, REPLICA_SETS


def replica_set_body(replicas: int, annotations: dict[str, str] | None = None) -> dict:
    template_meta: dict = {"labels": {"app": "web"}}
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": template_meta, "spec": {"containers": [container()]}},
        },
    }


def scale(world: World, replicas: int) -> None:
    current = world.store.get(REPLICA_SETS, "shop", "web")
    world.store.update(
        REPLICA_SETS, "shop", "web", {**current, "spec": {**current["spec"], "replicas": replicas}}
    )


def test_a_replica_set_creates_its_pods_with_template_labels_and_an_owner_reference():
    world = World()
    rs = world.store.create(REPLICA_SETS, "shop", replica_set_body(2))
    world.settle()
    pods = world.pods()
    assert len(pods) == 2
    for pod in pods:
        assert pod["metadata"]["generateName"] == "web-"
        assert pod["metadata"]["labels"] == {"app": "web"}
        [owner] = pod["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
            "ReplicaSet",
            "web",
            rs["metadata"]["uid"],
            True,
        )
    status = world.store.get(REPLICA_SETS, "shop", "web")["status"]
    assert status == {
        "replicas": 2,
        "fullyLabeledReplicas": 2,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "observedGeneration": 1,
    }


def test_scaling_down_deletes_not_ready_pods_first():
    world = World()
    world.store.create(REPLICA_SETS, "shop", replica_set_body(2))
    world.settle()
    world.store.create(
        PODS,
        "shop",
        {
            "metadata": {
                "name": "slow",
                "labels": {"app": "web"},
                "annotations": {"simcluster.io/never-ready": "true"},
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": "web",
                        "uid": world.store.get(REPLICA_SETS, "shop", "web")["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {"containers": [container()]},
        },
    )
    world.run(2)
    assert len([p for p in world.pods() if not is_terminating(p)]) == 2
    assert world.store.find(PODS, "shop", "slow") is None or is_terminating(world.pod("slow"))


def test_scaling_down_deletes_the_newest_of_equally_ready_pods():
    world = World()
    world.store.create(REPLICA_SETS, "shop", replica_set_body(1))
    world.settle()
    [first] = world.pods()
    world.clock.now += 60
    scale(world, 2)
    world.run(5)
    assert all(map(is_ready, world.pods()))
    scale(world, 1)
    world.run(5)
    assert [p["metadata"]["name"] for p in world.pods()] == [first["metadata"]["name"]]


def test_failed_pods_are_replaced_after_a_back_off_and_only_a_few_are_kept():
    world = World(crash_interval_s=2.0)
    world.store.create(
        REPLICA_SETS, "shop", replica_set_body(1, annotations={"simcluster.io/fail": "true"})
    )
    world.run(3)
    phases = sorted(p["status"]["phase"] for p in world.pods())
    assert phases.count("Failed") in (1, 2)
    world.run(60)
    failed = [p for p in world.pods() if p["status"]["phase"] == "Failed"]
    assert len(failed) == FAILED_PODS_KEPT
    assert len(world.pods()) <= FAILED_PODS_KEPT + 1


def test_settle_returns_while_failed_pods_keep_being_replaced(caplog):
    world = World()
    world.store.create(
        REPLICA_SETS, "shop", replica_set_body(2, annotations={"simcluster.io/fail": "true"})
    )
    world.engine.settle(max_steps=200)
    assert "did not settle" not in caplog.text
    assert len(world.pods()) == 2
    assert {p["status"]["phase"] for p in world.pods()} == {"Failed"}


def test_a_replica_set_status_counts_only_live_pods():
    world = World()
    world.store.create(REPLICA_SETS, "shop", replica_set_body(3))
    world.settle()
    scale(world, 1)
    world.run(0.05)
    status = world.store.get(REPLICA_SETS, "shop", "web")["status"]
    assert (status["replicas"], status["readyReplicas"]) == (1, 1)
    assert len(world.pods()) == 3
