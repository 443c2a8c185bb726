from simcluster.tests.engine_world import (
    World,
    deployment_body,
    is_terminating,
    pod_body,
    service_body,
)
from simcluster.workload import (
    DEPLOYMENTS,
    ENDPOINT_SLICES,
    ENDPOINTS,
    NAMESPACES,
    PODS,
    REPLICA_SETS,
    SERVICES,
)


def test_deleting_a_deployment_garbage_collects_its_replica_sets_and_pods():
    world = World(stop_delay_s=1.0)
    world.store.create(DEPLOYMENTS, "shop", deployment_body(replicas=3))
    world.settle()
    pod_names = {p["metadata"]["name"] for p in world.pods()}
    world.store.delete(DEPLOYMENTS, "shop", "web")
    world.engine.step(world.clock.now)
    assert world.store.list(REPLICA_SETS, "shop")[1] == []
    assert all(is_terminating(p) for p in world.pods())
    world.run(3)
    assert world.pods() == []
    deleted = {
        e.obj["metadata"]["name"] for e in world.events if e.type == "DELETED" and e.rtype == PODS
    }
    assert deleted == pod_names


def test_a_pod_whose_owner_kind_is_not_served_is_left_alone():
    world = World()
    body = pod_body("db-0")
    body["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "name": "db",
            "uid": "not-here",
            "controller": True,
        }
    ]
    world.store.create(PODS, "shop", body)
    world.settle()
    assert not is_terminating(world.pod("db-0"))


def test_a_pod_whose_owner_is_gone_is_deleted_gracefully():
    world = World()
    body = pod_body("orphan")
    body["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": "gone",
            "uid": "not-here",
            "controller": True,
        }
    ]
    body["spec"]["nodeName"] = "sim-node-1"  # an unbound pod would go at once, without grace
    world.store.create(PODS, "shop", body)
    world.engine.step(world.clock.now)
    assert is_terminating(world.pod("orphan"))
    world.run(3)
    assert world.store.find(PODS, "shop", "orphan") is None


def test_deleting_a_namespace_empties_it_then_removes_it():
    world = World(stop_delay_s=1.0)
    world.store.create(DEPLOYMENTS, "shop", deployment_body(replicas=2))
    world.store.create(SERVICES, "shop", service_body(selector={"app": "web"}))
    world.store.create(PODS, "shop", pod_body("loose"))
    world.settle()
    world.store.delete(NAMESPACES, None, "shop")
    world.engine.step(world.clock.now)
    namespace = world.store.get(NAMESPACES, "", "shop")
    assert namespace["status"]["phase"] == "Terminating"
    for rtype in (DEPLOYMENTS, REPLICA_SETS, SERVICES, ENDPOINTS, ENDPOINT_SLICES):
        assert world.store.list(rtype, "shop")[1] == []
    assert len(world.pods()) == 3 and all(map(is_terminating, world.pods()))
    world.run(3)
    assert world.pods() == []
    assert world.store.find(NAMESPACES, "", "shop") is None
    assert [e.type for e in world.events_for("shop", "Namespace")][-1] == "DELETED"
