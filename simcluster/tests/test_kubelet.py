import json

from kubernetes import client as k8s

from simcluster.kubelet import NODES, image_id
from simcluster.tests.engine_world import World, is_ready, is_terminating, pod_body
from simcluster.workload import PODS

EXACT = {"simcluster.io/start-delay-ms": "1000", "simcluster.io/ready-delay-ms": "2000"}


def test_a_pod_created_directly_is_bound_then_pending_running_and_ready_on_its_delays():
    world = World()
    world.store.create(PODS, "shop", pod_body("p", annotations=EXACT))
    world.engine.step(world.clock.now)
    pod = world.pod("p")
    assert pod["spec"]["nodeName"] in NODES
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["hostIP"] == NODES[pod["spec"]["nodeName"]]
    assert pod["status"]["containerStatuses"][0]["state"] == {
        "waiting": {"reason": "ContainerCreating"}
    }
    world.run(0.9)
    assert world.pod("p")["status"]["phase"] == "Pending"
    world.run(0.2)
    pod = world.pod("p")
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["podIP"].startswith("10.244.")
    assert not is_ready(pod)
    world.run(2.0)
    assert is_ready(world.pod("p"))


def test_ready_pods_carry_every_field_the_official_client_requires():
    world = World()
    world.store.create(PODS, "shop", pod_body("p"))
    world.settle()
    pod = world.pod("p")
    status = pod["status"]["containerStatuses"][0]
    assert set(status) >= {"name", "image", "imageID", "ready", "restartCount", "started", "state"}
    assert status["ready"] is True and status["started"] is True
    assert [c["type"] for c in pod["status"]["conditions"]] == [
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ]
    typed = k8s.ApiClient().deserialize(json.dumps(pod), "V1Pod", "application/json")
    assert typed.status.container_statuses[0].state.running.started_at is not None


def test_every_running_pod_gets_its_own_ip():
    world = World()
    for i in range(20):
        world.store.create(PODS, "shop", pod_body(f"p{i}"))
    world.settle()
    ips = [pod["status"]["podIP"] for pod in world.pods()]
    assert len(set(ips)) == 20


def test_a_crash_looping_pod_counts_restarts_and_is_never_ready():
    world = World(crash_interval_s=3.0)
    world.store.create(
        PODS, "shop", pod_body("p", annotations={**EXACT, "simcluster.io/crash-loop": "true"})
    )
    world.run(1.5)
    assert world.pod("p")["status"]["containerStatuses"][0]["restartCount"] == 0
    world.run(9.5)
    pod = world.pod("p")
    status = pod["status"]["containerStatuses"][0]
    assert status["restartCount"] == 3
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert pod["status"]["phase"] == "Running"
    assert not is_ready(pod)


def test_settle_does_not_chase_a_crash_loop_forever():
    world = World()
    world.store.create(
        PODS, "shop", pod_body("p", annotations={"simcluster.io/crash-loop": "true"})
    )
    world.settle()
    assert world.pod("p")["status"]["phase"] == "Running"


def test_a_failing_pod_ends_failed_and_stays():
    world = World()
    world.store.create(PODS, "shop", pod_body("p", annotations={"simcluster.io/fail": "true"}))
    world.settle()
    world.run(30)
    pod = world.pod("p")
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error"


def test_a_never_ready_pod_runs_without_becoming_ready():
    world = World()
    world.store.create(
        PODS, "shop", pod_body("p", annotations={"simcluster.io/never-ready": "true"})
    )
    world.settle()
    world.run(10)
    pod = world.pod("p")
    assert pod["status"]["phase"] == "Running"
    assert not is_ready(pod)


def test_graceful_delete_goes_unready_at_once_then_the_pod_is_deleted():
    world = World(stop_delay_s=1.0)
    world.store.create(PODS, "shop", pod_body("p"))
    world.settle()
    world.store.delete(PODS, "shop", "p")
    world.engine.step(world.clock.now)
    pod = world.pod("p")
    assert is_terminating(pod) and not is_ready(pod)
    world.run(2.0)
    assert world.store.find(PODS, "shop", "p") is None
    types = [e.type for e in world.events_for("p")]
    assert types[-3:] == ["MODIFIED", "MODIFIED", "DELETED"]


def test_a_short_grace_period_caps_the_stop_delay():
    world = World(stop_delay_s=20.0)
    world.store.create(PODS, "shop", pod_body("p"))
    world.settle()
    world.store.delete(PODS, "shop", "p", grace_period=1)
    world.run(1.1)
    assert world.store.find(PODS, "shop", "p") is None


def test_image_ids_name_a_registry_repository_and_digest():
    assert image_id("nginx:1.25").startswith("docker.io/library/nginx@sha256:")
    assert image_id("ghcr.io/acme/api:2").startswith("ghcr.io/acme/api@sha256:")
    assert image_id("localhost:5000/app").startswith("localhost:5000/app@sha256:")
