from simcluster.endpoints import MANAGED_BY, resolve_ports
from simcluster.tests.engine_world import World, pod_body, service_body
from simcluster.workload import ENDPOINT_SLICES, ENDPOINTS, PODS, SERVICES

SLOW_READY = {"simcluster.io/start-delay-ms": "100", "simcluster.io/ready-delay-ms": "5000"}


def endpoints(world: World, name: str = "web") -> dict | None:
    return world.store.find(ENDPOINTS, "shop", name)


def the_slice(world: World) -> dict:
    [endpoint_slice] = world.store.list(ENDPOINT_SLICES, "shop")[1]
    return endpoint_slice


def test_endpoints_and_the_slice_follow_pod_readiness():
    world = World()
    service = world.store.create(SERVICES, "shop", service_body(selector={"app": "web"}))
    world.store.create(PODS, "shop", pod_body("a", annotations=SLOW_READY))
    world.run(1)
    pod = world.pod("a")
    [subset] = endpoints(world)["subsets"]
    assert "addresses" not in subset
    assert subset["notReadyAddresses"] == [
        {
            "ip": pod["status"]["podIP"],
            "nodeName": pod["spec"]["nodeName"],
            "targetRef": {
                "kind": "Pod",
                "namespace": "shop",
                "name": "a",
                "uid": pod["metadata"]["uid"],
            },
        }
    ]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    endpoint_slice = the_slice(world)
    assert endpoint_slice["endpoints"][0]["conditions"] == {
        "ready": False,
        "serving": False,
        "terminating": False,
    }
    world.run(5)
    [subset] = endpoints(world)["subsets"]
    assert [a["ip"] for a in subset["addresses"]] == [pod["status"]["podIP"]]
    assert "notReadyAddresses" not in subset
    endpoint_slice = the_slice(world)
    meta = endpoint_slice["metadata"]
    assert meta["name"].startswith("web-") and len(meta["name"]) == len("web-") + 5
    assert meta["labels"]["kubernetes.io/service-name"] == "web"
    assert meta["labels"]["endpointslice.kubernetes.io/managed-by"] == MANAGED_BY
    assert meta["ownerReferences"][0]["uid"] == service["metadata"]["uid"]
    assert endpoint_slice["addressType"] == "IPv4"
    assert endpoint_slice["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert endpoint_slice["endpoints"] == [
        {
            "addresses": [pod["status"]["podIP"]],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "targetRef": {
                "kind": "Pod",
                "namespace": "shop",
                "name": "a",
                "uid": pod["metadata"]["uid"],
            },
            "nodeName": pod["spec"]["nodeName"],
        }
    ]


def test_a_terminating_pod_leaves_the_endpoints_and_is_marked_terminating_in_the_slice():
    world = World(stop_delay_s=2.0)
    world.store.create(SERVICES, "shop", service_body(selector={"app": "web"}))
    world.store.create(PODS, "shop", pod_body("a"))
    world.store.create(PODS, "shop", pod_body("b"))
    world.settle()
    world.store.delete(PODS, "shop", "a")
    world.engine.step(world.clock.now)
    [subset] = endpoints(world)["subsets"]
    assert [a["targetRef"]["name"] for a in subset["addresses"]] == ["b"]
    conditions = {e["targetRef"]["name"]: e["conditions"] for e in the_slice(world)["endpoints"]}
    assert conditions["a"] == {"ready": False, "serving": False, "terminating": True}
    world.run(5)
    assert [e["targetRef"]["name"] for e in the_slice(world)["endpoints"]] == ["b"]


def test_pods_without_an_ip_or_outside_the_selector_are_left_out():
    world = World()
    world.store.create(SERVICES, "shop", service_body(selector={"app": "web"}))
    world.store.create(PODS, "shop", pod_body("other", labels={"app": "db"}))
    world.store.create(
        PODS, "shop", pod_body("late", annotations={"simcluster.io/start-delay-ms": "60000"})
    )
    world.run(2)
    assert "subsets" not in endpoints(world)
    assert the_slice(world)["endpoints"] == []


def test_a_service_without_a_selector_gets_no_endpoints_and_keeps_its_own():
    world = World()
    world.store.create(SERVICES, "shop", service_body(name="external"))
    manual = {
        "metadata": {"name": "external"},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 80}]}],
    }
    world.store.create(ENDPOINTS, "shop", manual)
    world.store.create(PODS, "shop", pod_body("a"))
    world.settle()
    assert endpoints(world, "external")["subsets"] == manual["subsets"]
    assert world.store.list(ENDPOINT_SLICES, "shop")[1] == []


def test_deleting_the_service_or_its_selector_removes_endpoints_and_slice():
    world = World()
    world.store.create(SERVICES, "shop", service_body(selector={"app": "web"}))
    world.store.create(SERVICES, "shop", service_body(name="api", selector={"app": "web"}))
    world.store.create(PODS, "shop", pod_body("a"))
    world.settle()
    assert len(world.store.list(ENDPOINT_SLICES, "shop")[1]) == 2
    world.store.delete(SERVICES, "shop", "web")
    api = world.store.get(SERVICES, "shop", "api")
    world.store.update(
        SERVICES,
        "shop",
        "api",
        {**api, "spec": {k: v for k, v in api["spec"].items() if k != "selector"}},
    )
    world.settle()
    assert world.store.list(ENDPOINTS, "shop")[1] == []
    assert world.store.list(ENDPOINT_SLICES, "shop")[1] == []


def test_nothing_is_written_when_nothing_changed():
    world = World()
    world.store.create(SERVICES, "shop", service_body(selector={"app": "web"}))
    world.store.create(PODS, "shop", pod_body("a"))
    world.settle()
    before = world.store.resource_version
    world.engine.endpoints.reconcile(("shop", "web"), world.clock.now)
    world.run(5)
    assert world.store.resource_version == before


def test_named_target_ports_resolve_per_pod_and_numbers_pass_through():
    service = service_body(selector={"app": "web"})
    service["spec"]["ports"].append(
        {"name": "metrics", "port": 9090, "targetPort": 9100, "protocol": "TCP"}
    )
    service["spec"]["ports"][0]["protocol"] = "TCP"
    assert resolve_ports(service, pod_body("a")) == (
        ("http", 8080, "TCP"),
        ("metrics", 9100, "TCP"),
    )
    bare = {"spec": {"containers": [{"name": "a", "image": "b"}]}}
    assert resolve_ports(service, bare) == (("metrics", 9100, "TCP"),)


def test_a_slice_deleted_by_someone_else_is_made_again():
    world = World()
    world.store.create(SERVICES, "shop", service_body(selector={"app": "web"}))
    world.store.create(PODS, "shop", pod_body("a"))
    world.settle()
    first = the_slice(world)
    world.store.delete(ENDPOINT_SLICES, "shop", first["metadata"]["name"])
    world.engine.step(world.clock.now)
    again = the_slice(world)
    assert again["metadata"]["name"] != first["metadata"]["name"]
    assert again["endpoints"] == first["endpoints"]


def test_a_relabelled_pod_leaves_and_rejoins_a_service_selecting_on_two_labels():
    world = World()
    world.store.create(SERVICES, "shop", service_body(selector={"app": "web", "tier": "front"}))
    for name, tier in (("a", "front"), ("b", "front"), ("c", "back")):
        world.store.create(PODS, "shop", pod_body(name, labels={"app": "web", "tier": tier}))
    world.settle()

    def selected() -> list[str]:
        return [e["targetRef"]["name"] for e in the_slice(world)["endpoints"]]

    assert selected() == ["a", "b"]
    for tier, expected in (("back", ["b"]), ("front", ["a", "b"])):
        pod = world.pod("a")
        world.store.update(
            PODS,
            "shop",
            "a",
            {**pod, "metadata": {**pod["metadata"], "labels": {"app": "web", "tier": tier}}},
        )
        world.engine.step(world.clock.now)
        assert selected() == expected
    world.store.delete(PODS, "shop", "b", grace_period=0)
    world.engine.step(world.clock.now)
    assert selected() == ["a"]
