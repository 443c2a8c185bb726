import asyncio

import pytest

from simcluster import objects
from simcluster.engine import EngineConfig, WorkloadEngine
from simcluster.kubelet import is_ready
from simcluster.resources import Registry, type_named
from simcluster.scenarios import SCENARIOS, get_scenario
from simcluster.scenarios.actions import RESTARTED_AT
from simcluster.scenarios.bulk import spread
from simcluster.scenarios.churn import ChurnDriver
from simcluster.scenarios.demo import ROTATION, SCALED
from simcluster.scenarios.manifests import SERVICE_NAME_LABEL
from simcluster.store import Obj, Store
from simcluster.tests.engine_world import FakeClock

NAMESPACES = type_named("namespaces")
PODS = type_named("pods")
SERVICES = type_named("services")
DEPLOYMENTS = type_named("deployments", "apps")
ENDPOINT_SLICES = type_named("endpointslices", "discovery.k8s.io")
INGRESSES = type_named("ingresses", "networking.k8s.io")
HTTP_ROUTES = type_named("httproutes", "gateway.networking.k8s.io")

SMALL = {"namespaces": 3, "services": 7, "pods": 20}


class Cluster:
    """A Store and workload engine on a fake clock, seeded with one scenario."""

    def __init__(self, name: str, gateway_api: bool = True, **params: object) -> None:
        self.clock = FakeClock()
        self.store = Store(Registry(gateway_api=gateway_api), clock=self.clock)
        self.engine = WorkloadEngine(self.store, EngineConfig(seed=7), clock=self.clock)
        self.scenario = get_scenario(name, **params)
        self.scenario.seed(self.store, self.engine)

    def run(self, seconds: float, tick: float = 0.05, driver: object = None) -> None:
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now = round(self.clock.now + tick, 6)
            self.engine.step(self.clock.now)
            if driver is not None:
                driver.tick(self.clock.now)

    def names(self, rtype, namespace: str | None = None) -> list[str]:
        return [obj["metadata"]["name"] for obj in self.store.list(rtype, namespace)[1]]

    def get(self, rtype, namespace: str, name: str) -> Obj:
        return self.store.get(rtype, namespace, name)

    def selected_pods(self, namespace: str, service: str) -> list[Obj]:
        selector = self.get(SERVICES, namespace, service)["spec"]["selector"]
        return [
            pod
            for pod in self.store.list(PODS, namespace)[1]
            if selector.items() <= (pod["metadata"].get("labels") or {}).items()
        ]


@pytest.fixture(scope="module")
def demo() -> Cluster:
    return Cluster("demo")


def service_exists(cluster: Cluster, namespace: str, name: str) -> bool:
    return cluster.store.find(SERVICES, namespace, name) is not None


# -- registry and parameters ------------------------------------------------------------


def test_the_registry_names_every_scenario():
    assert sorted(SCENARIOS) == ["churn", "demo", "empty", "large", "wide-namespace"]
    assert {name: get_scenario(name).name for name in SCENARIOS} == {
        "churn": "churn",
        "demo": "demo",
        "empty": "empty",
        "large": "large",
        "wide-namespace": "wide-namespace",
    }


def test_an_unknown_scenario_is_refused_with_the_known_names():
    with pytest.raises(
        ValueError, match="'huge'; choose one of: churn, demo, empty, large, wide-namespace"
    ):
        get_scenario("huge")


def test_parameters_from_a_command_line_are_converted_to_their_types():
    scenario = get_scenario("churn", namespaces="5", pods="50", rate="12.5", ingress="no")
    assert (scenario.namespaces, scenario.pods, scenario.rate, scenario.ingress) == (
        5,
        50,
        12.5,
        False,
    )
    assert get_scenario("large", ingress="TRUE").ingress is True


def test_an_unknown_parameter_is_refused_with_the_accepted_ones():
    with pytest.raises(
        ValueError,
        match="unknown parameter nodes for scenario 'large' "
        r"\(it accepts: ingress, namespaces, pods, random_seed, rate, scale_share, services\)",
    ):
        get_scenario("large", nodes="3")
    with pytest.raises(ValueError, match="it accepts: no parameters"):
        get_scenario("empty", pods="1")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pods": "many"}, "parameter pods expects an integer, got 'many'"),
        ({"pods": 2.5}, "parameter pods expects an integer, got 2.5"),
        ({"rate": "fast"}, "parameter rate expects a number, got 'fast'"),
        ({"ingress": "maybe"}, "parameter ingress expects true or false, got 'maybe'"),
        ({"namespaces": "0"}, "namespaces must be at least 1"),
        ({"rate": "0"}, "rate must be positive"),
        ({"services": "0", "pods": "5"}, "pods need at least one service"),
    ],
)
def test_malformed_or_out_of_range_parameters_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        get_scenario("churn", **params)


def test_counts_are_spread_evenly_with_the_remainder_first():
    assert spread(10, 3) == [4, 3, 3]
    assert spread(2, 4) == [1, 1, 0, 0]
    assert spread(10000, 2000) == [5] * 2000


# -- every scenario ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("empty", {}),
        ("demo", {}),
        ("large", SMALL),
        ("churn", SMALL),
    ],
)
def test_every_scenario_seeds_only_objects_the_api_server_accepts(name, params):
    cluster = Cluster(name, **params)
    stored = [
        (rtype, obj)
        for rtype in cluster.store.registry.types()
        for obj in cluster.store.list(rtype)[1]
    ]
    assert stored
    assert [
        (obj["kind"], obj["metadata"]["name"], objects.causes_for(rtype, obj))
        for rtype, obj in stored
        if objects.causes_for(rtype, obj)
    ] == []


def test_the_empty_scenario_holds_only_the_default_and_kube_system_namespaces():
    cluster = Cluster("empty")
    assert cluster.names(NAMESPACES) == ["default", "kube-system"]
    assert all(
        cluster.store.list(rtype)[1] == []
        for rtype in cluster.store.registry.types()
        if rtype != NAMESPACES
    )


# -- demo -------------------------------------------------------------------------------


def test_the_demo_has_five_shop_namespaces_besides_default_and_kube_system(demo):
    assert demo.names(NAMESPACES) == [
        "batch",
        "default",
        "kube-system",
        "observability",
        "payments",
        "platform",
        "storefront",
    ]


def test_the_demo_storefront_has_an_ingress_and_an_httproute_in_front_of_frontend_and_api(demo):
    ingress = demo.get(INGRESSES, "storefront", "storefront")
    assert [
        (p["path"], p["backend"]["service"]["name"])
        for p in ingress["spec"]["rules"][0]["http"]["paths"]
    ] == [("/", "frontend"), ("/api", "api")]
    assert ingress["status"]["loadBalancer"]["ingress"] == [{"ip": "203.0.113.10"}]
    route = demo.get(HTTP_ROUTES, "storefront", "storefront")
    assert [ref["name"] for rule in route["spec"]["rules"] for ref in rule["backendRefs"]] == [
        "api",
        "frontend",
    ]
    assert all(len(demo.selected_pods("storefront", name)) >= 2 for name in ("frontend", "api"))


def test_the_demo_platform_routes_to_a_service_in_the_storefront_namespace(demo):
    route = demo.get(HTTP_ROUTES, "platform", "partner-api")
    [ref] = route["spec"]["rules"][0]["backendRefs"]
    assert (ref["namespace"], ref["name"]) == ("storefront", "api")
    assert service_exists(demo, "storefront", "api")
    assert not service_exists(demo, "platform", "api")


def test_the_demo_has_an_httproute_and_an_ingress_whose_backends_do_not_exist(demo):
    route = demo.get(HTTP_ROUTES, "platform", "status-page")
    ingress = demo.get(INGRESSES, "platform", "docs")
    route_backend = route["spec"]["rules"][0]["backendRefs"][0]["name"]
    ingress_backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert (route_backend, ingress_backend["name"]) == ("status-page", "docs-site")
    assert not service_exists(demo, "platform", "status-page")
    assert not service_exists(demo, "platform", "docs-site")


def test_the_demo_payments_api_is_degraded_by_a_crash_looping_canary_and_ledger_is_down(demo):
    payments = demo.selected_pods("payments", "payments-api")
    assert sorted(is_ready(p) for p in payments) == [False, True, True]
    [canary] = [p for p in payments if not is_ready(p)]
    assert canary["metadata"]["annotations"]["simcluster.io/crash-loop"] == "true"
    ledger = demo.selected_pods("payments", "ledger")
    assert len(ledger) == 2
    assert not any(is_ready(p) for p in ledger)
    assert {p["status"]["phase"] for p in ledger} == {"Running"}


def test_the_demo_canary_keeps_restarting():
    cluster = Cluster("demo")
    cluster.run(12.0, tick=0.5)
    [canary] = [p for p in cluster.selected_pods("payments", "payments-api") if not is_ready(p)]
    status = canary["status"]["containerStatuses"][0]
    assert status["restartCount"] >= 2
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"


def test_the_demo_batch_pods_are_bare_unselected_and_one_failed_one_succeeded(demo):
    pods = {p["metadata"]["name"]: p for p in demo.store.list(PODS, "batch")[1]}
    assert {name: p["status"]["phase"] for name, p in pods.items()} == {
        "invoice-export-28911400-q9z4m": "Failed",
        "nightly-report-28911520-x7k2p": "Succeeded",
        "reindex-catalog": "Running",
    }
    assert not any(p["metadata"].get("ownerReferences") for p in pods.values())
    assert demo.store.list(SERVICES, "batch")[1] == []


def test_the_demo_observability_has_a_headless_and_a_selectorless_service(demo):
    headless = demo.get(SERVICES, "observability", "prometheus")
    assert headless["spec"]["clusterIP"] == "None"
    assert [p["metadata"]["name"] for p in demo.selected_pods("observability", "prometheus")] == [
        "prometheus-0",
        "prometheus-1",
    ]
    selectorless = demo.get(SERVICES, "observability", "legacy-metrics")
    assert "selector" not in selectorless["spec"]
    slices = [
        s
        for s in demo.store.list(ENDPOINT_SLICES, "observability")[1]
        if s["metadata"]["labels"][SERVICE_NAME_LABEL] == "legacy-metrics"
    ]
    assert [[e["addresses"] for e in s["endpoints"]] for s in slices] == [
        [["10.240.0.21"], ["10.240.0.22"]]
    ]


def test_the_demo_healthy_deployments_have_every_pod_running_and_ready(demo):
    healthy = ["coredns", "frontend", "api", "cart", "payments-api", "auth", "grafana"]
    for deployment in demo.store.list(DEPLOYMENTS)[1]:
        name = deployment["metadata"]["name"]
        if name in healthy:
            assert deployment["status"]["readyReplicas"] == deployment["spec"]["replicas"], name


def test_the_demo_annotates_some_objects_with_a_group_and_a_display_name(demo):
    frontend = demo.get(SERVICES, "storefront", "frontend")["metadata"]["annotations"]
    assert frontend == {
        "constellation.io/group": "checkout",
        "constellation.io/display-name": "Web storefront",
    }
    storefront = demo.get(NAMESPACES, "", "storefront")["metadata"]
    assert storefront["annotations"] == {"constellation.io/display-name": "Storefront (prod)"}
    grouped = {
        (s["metadata"]["namespace"], s["metadata"]["name"])
        for s in demo.store.list(SERVICES)[1]
        if "constellation.io/group" in (s["metadata"].get("annotations") or {})
    }
    assert grouped == {
        ("storefront", "frontend"),
        ("storefront", "api"),
        ("payments", "payments-api"),
        ("payments", "ledger"),
        ("platform", "auth"),
    }


def test_the_demo_without_the_gateway_api_seeds_everything_but_the_routes():
    cluster = Cluster("demo", gateway_api=False)
    assert cluster.names(INGRESSES) == ["grafana", "docs", "storefront"]
    assert cluster.names(SERVICES, "storefront") == ["api", "cart", "frontend"]


def test_the_demo_driver_restarts_deployments_in_turn_and_flips_the_storefront_scale():
    cluster = Cluster("demo", rollout_interval="10", scale_interval="25")
    driver = cluster.scenario.driver(cluster.store, cluster.engine)
    cluster.run(35.0, tick=0.5, driver=driver)
    restarted = {
        (d["metadata"]["namespace"], d["metadata"]["name"])
        for d in cluster.store.list(DEPLOYMENTS)[1]
        if RESTARTED_AT in (d["spec"]["template"]["metadata"].get("annotations") or {})
    }
    assert driver.rotation >= 2
    assert restarted == set(ROTATION[: driver.rotation])
    first = cluster.selected_pods(*ROTATION[0])
    assert all(RESTARTED_AT in p["metadata"]["annotations"] and is_ready(p) for p in first)
    assert cluster.get(DEPLOYMENTS, *SCALED)["spec"]["replicas"] == 5
    assert len(cluster.selected_pods(*SCALED)) == 5


# -- large and churn ----------------------------------------------------------------------


def test_large_with_small_counts_settles_with_every_pod_ready():
    cluster = Cluster("large", **SMALL)
    assert cluster.names(NAMESPACES) == ["default", "kube-system", "team-01", "team-02", "team-03"]
    per_namespace = [len(cluster.names(SERVICES, ns)) for ns in ("team-01", "team-02", "team-03")]
    assert per_namespace == [3, 2, 2]
    assert sorted(d["spec"]["replicas"] for d in cluster.store.list(DEPLOYMENTS)[1]) == [
        2,
        3,
        3,
        3,
        3,
        3,
        3,
    ]
    pods = cluster.store.list(PODS)[1]
    assert len(pods) == 20
    assert all(p["status"]["phase"] == "Running" and is_ready(p) for p in pods)
    assert cluster.names(INGRESSES) == ["team-01", "team-02", "team-03"]
    assert [
        p["path"]
        for p in cluster.get(INGRESSES, "team-02", "team-02")["spec"]["rules"][0]["http"]["paths"]
    ] == ["/app-01", "/app-02"]


def test_large_without_ingress_has_services_only():
    cluster = Cluster("large", namespaces="2", services="2", pods="2", ingress="false")
    assert cluster.names(INGRESSES) == []
    assert cluster.names(SERVICES) == ["app-01", "app-01"]


def test_the_churn_driver_holds_the_target_rate_of_pod_events():
    cluster = Cluster("churn", namespaces="2", services="8", pods="40", rate="120")
    driver = cluster.scenario.driver(cluster.store, cluster.engine)
    stamps: list[float] = []
    cluster.store.add_listener(
        lambda e: stamps.append(cluster.clock.now) if e.rtype == PODS else None
    )
    start = cluster.clock.now
    cluster.run(8.0, driver=driver)
    measured = [s for s in stamps if s > start + 3.0]
    assert 0.8 * 120 <= len(measured) / 5.0 <= 1.2 * 120
    assert 0.5 <= driver.gain <= 2.0
    driver.close()


def test_the_churn_driver_does_what_it_can_in_a_cluster_too_small_for_the_rate():
    cluster = Cluster("churn", namespaces="1", services="1", pods="2", rate="1000")
    driver = cluster.scenario.driver(cluster.store, cluster.engine)
    cluster.run(8.0, driver=driver)
    assert driver.gain == 4.0
    assert driver.credit <= 1000
    assert len(cluster.store.list(PODS)[1]) >= 2
    driver.close()


def test_a_closed_churn_driver_stops_counting_pod_events():
    cluster = Cluster("churn", **SMALL)
    driver = cluster.scenario.driver(cluster.store, cluster.engine)
    assert isinstance(driver, ChurnDriver)
    driver.close()
    cluster.store.create(
        PODS,
        "team-01",
        {
            "metadata": {"name": "extra"},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
        },
    )
    assert driver.observed_rate(cluster.clock.now) == 0.0


def test_the_empty_scenario_has_no_driver():
    cluster = Cluster("empty")
    assert cluster.scenario.driver(cluster.store, cluster.engine) is None


@pytest.mark.parametrize("name", ["demo", "churn", "large"])
async def test_drive_returns_once_stop_is_set(name):
    cluster = Cluster(name, **(SMALL if name != "demo" else {}))
    stop = asyncio.Event()
    driver = cluster.scenario.driver(cluster.store, cluster.engine)
    task = asyncio.create_task(cluster.scenario.drive(driver, cluster.clock, stop))
    await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(task, 1.0)
    assert task.done() and task.exception() is None


# -- wide-namespace ------------------------------------------------------------------------

HTTP_GATEWAYS = type_named("gateways", "gateway.networking.k8s.io")
WIDE = {"pods": "30", "services": "5"}


def test_wide_namespace_settles_its_pods_in_one_namespace_behind_an_ingress_and_a_route():
    cluster = Cluster("wide-namespace", **WIDE)
    assert cluster.names(NAMESPACES) == ["default", "kube-system", "wide"]
    services = [f"app-0{i}" for i in range(1, 6)]
    assert cluster.names(SERVICES, "wide") == services
    pods = cluster.store.list(PODS)[1]
    assert len(pods) == 30
    assert all(p["metadata"]["namespace"] == "wide" for p in pods)
    assert all(p["status"]["phase"] == "Running" and is_ready(p) for p in pods)
    for name in services:
        assert len(cluster.selected_pods("wide", name)) == 6
        (slice_,) = [
            s
            for s in cluster.store.list(ENDPOINT_SLICES, "wide")[1]
            if s["metadata"]["labels"][SERVICE_NAME_LABEL] == name
        ]
        assert sum(e["conditions"]["ready"] for e in slice_["endpoints"]) == 6
    ingress = cluster.get(INGRESSES, "wide", "wide-web")
    paths = ingress["spec"]["rules"][0]["http"]["paths"]
    assert [p["backend"]["service"]["name"] for p in paths] == services[:3]
    route = cluster.get(HTTP_ROUTES, "wide", "wide-api")
    assert route["spec"]["parentRefs"] == [{"name": "wide", "namespace": "wide"}]
    assert [r["backendRefs"][0]["name"] for r in route["spec"]["rules"]] == services[3:]
    assert cluster.names(HTTP_GATEWAYS, "wide") == ["wide"]


def test_wide_namespace_with_one_service_routes_it_both_ways_or_by_ingress_alone():
    cluster = Cluster("wide-namespace", pods="2", services="1")
    route = cluster.get(HTTP_ROUTES, "wide", "wide-api")
    assert [r["backendRefs"][0]["name"] for r in route["spec"]["rules"]] == ["app-01"]
    without = Cluster("wide-namespace", gateway_api=False, pods="2", services="1")
    assert without.names(INGRESSES) == ["wide-web"]
    assert len(without.store.list(PODS)[1]) == 2


def test_wide_namespace_is_one_namespace_with_routes_whatever_the_parameters():
    for fixed in ("namespaces", "ingress"):
        with pytest.raises(ValueError, match=f"unknown parameter {fixed}"):
            get_scenario("wide-namespace", **{fixed: "2" if fixed == "namespaces" else "no"})


# -- steering the churn ----------------------------------------------------------------------


def pod_event_counter(cluster: Cluster) -> list[float]:
    stamps: list[float] = []
    cluster.store.add_listener(
        lambda e: stamps.append(cluster.clock.now) if e.rtype == PODS else None
    )
    return stamps


def test_large_holds_still_until_a_churn_rate_is_set_and_again_after_zero():
    cluster = Cluster("large", namespaces="2", services="8", pods="40")
    driver = cluster.scenario.driver(cluster.store, cluster.engine)
    stamps = pod_event_counter(cluster)
    cluster.run(3.0, driver=driver)
    assert stamps == []
    driver.set_rate(120)
    start = cluster.clock.now
    cluster.run(8.0, driver=driver)
    measured = [s for s in stamps if s > start + 3.0]
    assert 0.8 * 120 <= len(measured) / 5.0 <= 1.2 * 120
    driver.set_rate(0)
    cluster.run(5.0, driver=driver)  # rollouts under way finish
    quiet = cluster.clock.now
    cluster.run(3.0, driver=driver)
    assert [s for s in stamps if s > quiet] == []
    driver.close()


def test_a_scale_share_of_zero_churns_by_rolling_updates_only():
    cluster = Cluster("wide-namespace", pods="40", services="4", rate="100", scale_share="0")
    driver = cluster.scenario.driver(cluster.store, cluster.engine)
    cluster.run(8.0, driver=driver)
    deployments = cluster.store.list(DEPLOYMENTS, "wide")[1]
    assert [d["spec"]["replicas"] for d in deployments] == [10, 10, 10, 10]
    assert any(
        RESTARTED_AT in d["spec"]["template"]["metadata"]["annotations"] for d in deployments
    )
    driver.close()


def test_the_churn_driver_keeps_one_window_of_stamps_while_nobody_asks_the_rate():
    cluster = Cluster("large", **SMALL)
    driver = cluster.scenario.driver(cluster.store, cluster.engine)
    for i in range(50):
        cluster.clock.now += 0.5
        cluster.store.create(
            PODS,
            "team-01",
            {
                "metadata": {"name": f"extra-{i}"},
                "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
            },
        )
    assert len(driver.events) <= 2
    driver.close()


def test_a_negative_churn_rate_is_refused():
    cluster = Cluster("large", **SMALL)
    driver = cluster.scenario.driver(cluster.store, cluster.engine)
    with pytest.raises(ValueError, match="rate must not be negative"):
        driver.set_rate(-1)
    driver.close()
