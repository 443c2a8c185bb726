import asyncio

from simcluster.engine import EngineConfig, WorkloadEngine
from simcluster.store import WatchEvent
from simcluster.tests.engine_world import World, deployment_body, is_ready, pod_body, service_body
from simcluster.workload import DEPLOYMENTS, PODS, SERVICES

INSTANT = {"simcluster.io/start-delay-ms": "0", "simcluster.io/ready-delay-ms": "0"}


def test_a_step_reports_whether_it_wrote_anything():
    world = World()
    world.store.create(PODS, "shop", pod_body("p"))
    assert world.engine.step(world.clock.now) is True
    world.settle()
    assert world.engine.step(world.clock.now + 100) is False


def test_settle_brings_a_deployment_and_its_service_to_a_steady_state():
    world = World()
    world.store.create(DEPLOYMENTS, "shop", deployment_body(replicas=4))
    world.store.create(SERVICES, "shop", service_body(selector={"app": "web"}))
    world.settle()
    assert not world.engine.busy
    assert len(world.pods()) == 4 and all(map(is_ready, world.pods()))
    before = world.store.resource_version
    world.run(30, tick=1.0)
    assert world.store.resource_version == before


def test_the_same_seed_gives_the_same_names_and_addresses():
    def names_and_ips() -> list[tuple[str, str, str]]:
        world = World(seed=3)
        world.store.create(DEPLOYMENTS, "shop", deployment_body(replicas=3))
        world.settle()
        return [
            (p["metadata"]["name"], p["status"]["podIP"], p["spec"]["nodeName"])
            for p in world.pods()
        ]

    assert names_and_ips() == names_and_ips()


def test_an_engine_started_after_objects_exist_catches_up():
    world = World()
    world.engine.close()
    world.store.create(PODS, "shop", pod_body("early"))
    world.store.create(DEPLOYMENTS, "shop", deployment_body(replicas=2))
    late = WorkloadEngine(world.store, EngineConfig(seed=1), clock=world.clock)
    late.settle()
    assert is_ready(world.pod("early"))
    assert len(world.pods()) == 3


def test_a_closed_engine_leaves_new_objects_alone():
    world = World()
    world.engine.close()
    world.store.create(PODS, "shop", pod_body("p"))
    assert world.engine.step(world.clock.now) is False
    assert "nodeName" not in world.pod("p")["spec"]


def test_malformed_objects_never_break_the_store_writes_that_announce_them():
    world = World()
    world.store.create(SERVICES, "shop", service_body(selector={"app": "web"}))
    bad = {"metadata": {"name": "bad", "labels": "not-a-map"}, "spec": {}}
    created = world.store.create(PODS, "shop", bad, validate=False)
    assert created["metadata"]["name"] == "bad"


async def test_run_keeps_stepping_after_a_failing_step_until_stopped():
    world = World(tick_s=0.001)
    # Annotations that are not a map make the kubelet raise on this pod's key.
    poison = {
        "metadata": {"name": "a-poison", "annotations": "oops"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    world.store.create(PODS, "shop", poison, validate=False)
    world.store.create(PODS, "shop", pod_body("b-good", annotations=INSTANT))
    stop = asyncio.Event()

    def stop_when_ready(event: WatchEvent) -> None:
        if event.obj["metadata"]["name"] == "b-good" and is_ready(event.obj):
            stop.set()

    world.store.add_listener(stop_when_ready)
    await asyncio.wait_for(world.engine.run(stop), timeout=10)
    assert is_ready(world.pod("b-good"))


def test_an_idle_step_over_a_large_cluster_does_no_work():
    world = World()
    for i in range(40):
        world.store.create(DEPLOYMENTS, "shop", deployment_body(name=f"d{i}", replicas=25))
    world.settle()
    assert len(world.pods()) == 1000
    assert not world.engine.busy
    assert world.engine.step(world.clock.now + 1000) is False
    victim = world.pods()[0]["metadata"]["name"]
    before = world.store.resource_version
    world.store.delete(PODS, "shop", victim)
    world.engine.settle()
    # Only the victim, its replacement, and their owners' statuses were written.
    assert world.store.resource_version - before < 20
