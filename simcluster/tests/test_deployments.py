import pytest

from simcluster.deployments import (
    HASH_LABEL,
    REVISION,
    fenceposts,
    pod_template_hash,
    scaled_value,
)
from simcluster.store import WatchEvent
from simcluster.tests.engine_world import World, deployment_body, is_ready, is_terminating
from simcluster.workload import DEPLOYMENTS, PODS, REPLICA_SETS


def rollout_status(world: World, name: str = "web") -> str:
    """What `kubectl rollout status` decides from the Deployment (its status viewer's logic)."""
    deployment = world.store.get(DEPLOYMENTS, "shop", name)
    status = deployment["status"]
    if deployment["metadata"]["generation"] > status.get("observedGeneration", 0):
        return "waiting for spec update"
    progressing = [c for c in status.get("conditions", ()) if c["type"] == "Progressing"]
    if progressing and progressing[0]["reason"] == "ProgressDeadlineExceeded":
        return "exceeded its progress deadline"
    replicas = deployment["spec"]["replicas"]
    updated = status.get("updatedReplicas", 0)
    if updated < replicas:
        return f"{updated} out of {replicas} new replicas have been updated"
    if status.get("replicas", 0) > updated:
        return "old replicas are pending termination"
    if status.get("availableReplicas", 0) < updated:
        return "updated replicas are not all available"
    return "successfully rolled out"


def live_pods(world: World) -> list[dict]:
    return [p for p in world.pods() if not is_terminating(p)]


def update_image(world: World, image: str, name: str = "web") -> None:
    current = world.store.get(DEPLOYMENTS, "shop", name)
    template = current["spec"]["template"]
    containers = [{**template["spec"]["containers"][0], "image": image}]
    spec = {
        **current["spec"],
        "template": {**template, "spec": {**template["spec"], "containers": containers}},
    }
    world.store.update(DEPLOYMENTS, "shop", name, {**current, "spec": spec})


def scale(world: World, replicas: int, name: str = "web") -> None:
    current = world.store.get(DEPLOYMENTS, "shop", name)
    world.store.update(
        DEPLOYMENTS, "shop", name, {**current, "spec": {**current["spec"], "replicas": replicas}}
    )


def test_a_deployment_gets_a_hashed_replica_set_and_ready_pods_owned_by_it():
    world = World()
    world.store.create(DEPLOYMENTS, "shop", deployment_body(replicas=3))
    world.settle()
    deployment = world.store.get(DEPLOYMENTS, "shop", "web")
    [rs] = world.store.list(REPLICA_SETS, "shop")[1]
    template_hash = rs["metadata"]["labels"][HASH_LABEL]
    assert rs["metadata"]["name"] == f"web-{template_hash}"
    assert rs["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": "web",
            "uid": deployment["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert rs["metadata"]["annotations"][REVISION] == "1"
    assert deployment["metadata"]["annotations"][REVISION] == "1"
    pods = world.pods()
    assert len(pods) == 3 and all(is_ready(p) for p in pods)
    for pod in pods:
        assert pod["metadata"]["name"].startswith(f"web-{template_hash}-")
        assert len(pod["metadata"]["name"]) == len(f"web-{template_hash}-") + 5
        assert pod["metadata"]["labels"] == {"app": "web", HASH_LABEL: template_hash}
        assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert rs["status"] == {
        "replicas": 3,
        "fullyLabeledReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "observedGeneration": 1,
    }
    assert rollout_status(world) == "successfully rolled out"


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable"),
    [
        (4, 1, 0),
        (4, 0, 1),
        (10, "25%", "25%"),
        (5, "50%", "20%"),
    ],
)
def test_a_rolling_update_stays_within_surge_and_unavailability_at_every_event(
    replicas, surge, unavailable
):
    world = World()
    strategy = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }
    world.store.create(DEPLOYMENTS, "shop", deployment_body(replicas=replicas, strategy=strategy))
    world.settle()
    max_surge, max_unavailable = fenceposts(world.store.get(DEPLOYMENTS, "shop", "web"))
    worst = {"most_pods": 0, "fewest_ready": replicas}

    def check(event: WatchEvent) -> None:
        if event.rtype != PODS:
            return
        pods = live_pods(world)
        worst["most_pods"] = max(worst["most_pods"], len(pods))
        worst["fewest_ready"] = min(worst["fewest_ready"], sum(map(is_ready, pods)))

    world.store.add_listener(check)
    update_image(world, "nginx:1.26")
    world.run(20, tick=0.05)
    assert worst["most_pods"] <= replicas + max_surge
    assert worst["fewest_ready"] >= replicas - max_unavailable
    pods = world.pods()
    assert len(pods) == replicas
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"nginx:1.26"}
    assert rollout_status(world) == "successfully rolled out"


def test_the_status_kubectl_reads_is_consistent_after_a_rollout():
    world = World()
    world.store.create(DEPLOYMENTS, "shop", deployment_body(replicas=4))
    world.settle()
    update_image(world, "nginx:1.26")
    world.run(0.1)
    assert rollout_status(world) != "successfully rolled out"
    conditions = {
        c["type"]: c for c in world.store.get(DEPLOYMENTS, "shop", "web")["status"]["conditions"]
    }
    assert conditions["Progressing"]["reason"] == "ReplicaSetUpdated"
    world.run(20)
    deployment = world.store.get(DEPLOYMENTS, "shop", "web")
    status = deployment["status"]
    assert status["observedGeneration"] == deployment["metadata"]["generation"] == 2
    assert (
        status["replicas"],
        status["updatedReplicas"],
        status["readyReplicas"],
        status["availableReplicas"],
    ) == (4, 4, 4, 4)
    assert "unavailableReplicas" not in status
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "NewReplicaSetAvailable"
    new_rs = max(
        world.store.list(REPLICA_SETS, "shop")[1],
        key=lambda rs: int(rs["metadata"]["annotations"][REVISION]),
    )
    assert new_rs["metadata"]["annotations"][REVISION] == "2"
    assert deployment["metadata"]["annotations"][REVISION] == "2"
    assert new_rs["metadata"]["name"] in conditions["Progressing"]["message"]
    old_rs = [rs for rs in world.store.list(REPLICA_SETS, "shop")[1] if rs is not new_rs]
    assert [rs["spec"]["replicas"] for rs in old_rs] == [0]


def test_recreate_removes_every_old_pod_before_starting_new_ones():
    world = World()
    world.store.create(
        DEPLOYMENTS, "shop", deployment_body(replicas=3, strategy={"type": "Recreate"})
    )
    world.settle()
    overlap = []

    def check(event: WatchEvent) -> None:
        images = {p["spec"]["containers"][0]["image"] for p in world.pods()}
        if len(images) > 1:
            overlap.append(images)

    world.store.add_listener(check)
    update_image(world, "nginx:1.26")
    world.run(10)
    assert overlap == []
    assert {p["spec"]["containers"][0]["image"] for p in world.pods()} == {"nginx:1.26"}
    assert len(world.pods()) == 3
    assert rollout_status(world) == "successfully rolled out"


def test_scaling_up_and_down_changes_the_pod_count():
    world = World()
    world.store.create(DEPLOYMENTS, "shop", deployment_body(replicas=2))
    world.settle()
    scale(world, 5)
    world.run(10)
    assert len(world.pods()) == 5 and all(map(is_ready, world.pods()))
    scale(world, 1)
    world.run(0.05)
    assert len(live_pods(world)) == 1
    world.run(10)
    assert len(world.pods()) == 1
    assert rollout_status(world) == "successfully rolled out"
    assert world.store.get(DEPLOYMENTS, "shop", "web")["status"]["replicas"] == 1


def test_old_replica_sets_are_kept_up_to_the_revision_history_limit():
    world = World()
    world.store.create(DEPLOYMENTS, "shop", deployment_body(replicas=1, revisionHistoryLimit=2))
    world.settle()
    for version in range(2, 7):
        update_image(world, f"nginx:1.{version}")
        world.run(10)
    replica_sets = world.store.list(REPLICA_SETS, "shop")[1]
    revisions = sorted(int(rs["metadata"]["annotations"][REVISION]) for rs in replica_sets)
    assert revisions == [4, 5, 6]


def test_rolling_back_to_an_earlier_template_reuses_its_replica_set_with_a_new_revision():
    world = World()
    world.store.create(DEPLOYMENTS, "shop", deployment_body(replicas=2, image="nginx:1"))
    world.settle()
    update_image(world, "nginx:2")
    world.run(10)
    update_image(world, "nginx:1")
    world.run(10)
    replica_sets = world.store.list(REPLICA_SETS, "shop")[1]
    assert len(replica_sets) == 2
    current = next(rs for rs in replica_sets if rs["spec"]["replicas"] == 2)
    assert current["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1"
    assert current["metadata"]["annotations"][REVISION] == "3"


def test_a_rollout_that_never_becomes_ready_exceeds_its_progress_deadline():
    world = World()
    world.store.create(
        DEPLOYMENTS,
        "shop",
        deployment_body(
            replicas=2,
            progressDeadlineSeconds=30,
            annotations={"simcluster.io/never-ready": "true"},
        ),
    )
    world.run(40, tick=0.5)
    assert rollout_status(world) == "exceeded its progress deadline"
    conditions = {
        c["type"]: c for c in world.store.get(DEPLOYMENTS, "shop", "web")["status"]["conditions"]
    }
    assert conditions["Available"]["status"] == "False"
    assert conditions["Progressing"]["status"] == "False"


def test_pod_annotations_in_the_template_reach_every_pod():
    world = World()
    world.store.create(
        DEPLOYMENTS,
        "shop",
        deployment_body(replicas=2, annotations={"simcluster.io/crash-loop": "true"}),
    )
    world.settle()
    world.run(10)
    restarts = [p["status"]["containerStatuses"][0]["restartCount"] for p in world.pods()]
    assert len(restarts) == 2 and min(restarts) >= 2
    assert world.store.get(DEPLOYMENTS, "shop", "web")["status"].get("readyReplicas", 0) == 0


def test_the_template_hash_is_stable_and_changes_with_the_template():
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "a", "image": "nginx:1"}]},
    }
    same = {
        "spec": {"containers": [{"image": "nginx:1", "name": "a"}]},
        "metadata": {"labels": {"app": "web"}},
    }
    assert pod_template_hash(template) == pod_template_hash(same)
    other = {**template, "spec": {"containers": [{"name": "a", "image": "nginx:2"}]}}
    assert pod_template_hash(template) != pod_template_hash(other)
    assert set(pod_template_hash(template)) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_percentages_round_surge_up_and_unavailability_down():
    assert scaled_value("25%", 10, round_up=True) == 3
    assert scaled_value("25%", 10, round_up=False) == 2
    assert scaled_value(2, 10, round_up=True) == 2
    assert fenceposts(
        deployment_body(
            replicas=3,
            strategy={
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"},
            },
        )
    ) == (0, 1)
