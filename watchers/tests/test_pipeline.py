from watchers.churn import ChurnConfig
from watchers.pipeline import Pipeline, WatcherConfig
from watchers.prune import prune
from watchers.tests.world import node_ids
from watchers.topology import TopologyConfig

CALM = ChurnConfig(debounce_ms=500, max_wait_ms=2000, pending_grace_ms=0, terminating_linger_ms=0)


def ns(name: str) -> dict:
    return {"metadata": {"name": name, "uid": name}, "status": {"phase": "Active"}}


def pod(
    name: str,
    namespace: str = "shop",
    labels: dict | None = None,
    ready: bool = True,
    rv: str = "1",
) -> dict:
    """A pod as the informer delivers it: pruned, so its resourceVersion is gone."""
    return prune(
        "Pod",
        {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": f"u-{name}",
                "labels": labels or {"app": "web"},
                "resourceVersion": rv,
            },
            "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
            "status": {
                "phase": "Running",
                "podIP": "10.0.0.1",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            },
        },
    )


def service(name: str, namespace: str = "shop", selector: dict | None = None) -> dict:
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": f"s-{name}"},
        "spec": {"selector": selector or {"app": "web"}, "ports": [{"port": 80}]},
    }


def pipeline(config: WatcherConfig | None = None) -> Pipeline:
    p = Pipeline(config or WatcherConfig(churn=CALM))
    p.ingest("Namespace", "ADDED", ns("shop"), 0.0)
    p.ingest("Service", "ADDED", service("web"), 0.0)
    for i in range(1, 11):
        p.ingest("Pod", "ADDED", pod(f"web-{i}"), 0.0)
    p.full_render(0.0)
    return p


def churny(threshold_per_min: float) -> WatcherConfig:
    """Quick flushes, no smoothing, and churn past `threshold_per_min` pod events."""
    return WatcherConfig(
        churn=ChurnConfig(
            debounce_ms=100,
            max_wait_ms=200,
            pending_grace_ms=0,
            terminating_linger_ms=0,
            churn_threshold_per_min=threshold_per_min,
        )
    )


def types(flushes) -> list[str]:
    return [m["type"] for f in flushes for m in f.messages]


def test_a_change_is_flushed_once_after_the_debounce_period():
    p = pipeline()
    p.ingest("Pod", "MODIFIED", pod("web-1", ready=False, rv="2"), 10.0)
    assert p.flush(10.2) == []
    assert p.next_deadline() == 10.5
    flushes = p.flush(10.5)
    assert [f.namespace for f in flushes] == ["shop"]
    assert "ResourceUpdated" in types(flushes)
    assert p.flush(11.0) == []


def test_an_event_that_changes_nothing_shown_sends_nothing():
    p = pipeline()
    bumped = pod("web-1", rv="99")
    bumped["metadata"]["managedFields"] = [{"manager": "kubelet"}]
    p.ingest("Pod", "MODIFIED", prune("Pod", bumped), 10.0)
    assert p.next_deadline() is None
    assert p.flush(20.0) == []


def test_a_ghost_leaving_is_a_change_at_its_time_and_waits_for_the_debounce_like_one():
    linger = WatcherConfig(churn=ChurnConfig(pending_grace_ms=0, terminating_linger_ms=2000))
    p = pipeline(linger)
    p.ingest("Pod", "DELETED", pod("web-1"), 10.0)
    assert p.next_deadline() == 10.5
    [shown] = p.flush(10.5)
    assert ("ResourceUpdated", "Terminating") in [
        (m["type"], m["resource"].get("phase")) for m in shown.messages if "resource" in m
    ]
    assert p.next_deadline() == 12.5  # the linger ends at 12.0, then the debounce
    p.ingest("Pod", "MODIFIED", pod("web-2", ready=False, rv="2"), 12.2)
    assert p.flush(12.5) == []  # both changes wait for the quiet period after the last
    [both] = p.flush(12.7)
    assert {m["type"] for m in both.messages} >= {"ResourceDeleted", "ResourceUpdated"}


def test_a_new_namespace_is_sent_whole_and_a_deleted_one_as_namespace_deleted():
    p = pipeline()
    p.ingest("Namespace", "ADDED", ns("blog"), 1.0)
    assert types(p.flush(2.0)) == ["RelationshipUpdated"]
    p.ingest("Namespace", "DELETED", ns("blog"), 3.0)
    assert types(p.flush(4.0)) == ["NamespaceDeleted"]
    assert "blog" not in p.trees


def test_one_namespace_change_never_touches_another():
    p = pipeline()
    p.ingest("Namespace", "ADDED", ns("blog"), 0.0)
    p.flush(1.0)
    p.ingest("Pod", "ADDED", pod("b-1", "blog"), 5.0)
    assert [f.namespace for f in p.flush(6.0)] == ["blog"]


def test_a_service_in_another_namespace_re_renders_the_routes_that_point_at_it():
    p = pipeline()
    p.ingest("Namespace", "ADDED", ns("edge"), 0.0)
    p.ingest(
        "HTTPRoute",
        "ADDED",
        {
            "metadata": {"name": "r", "namespace": "edge", "uid": "r"},
            "spec": {
                "rules": [{"backendRefs": [{"name": "web", "namespace": "shop", "port": 80}]}]
            },
        },
        0.0,
    )
    p.full_render(0.0)
    p.ingest("Pod", "MODIFIED", pod("web-1", ready=False, rv="2"), 10.0)
    first = p.flush(11.0)
    assert [f.namespace for f in first] == ["shop"]
    second = p.flush(12.0)
    assert [f.namespace for f in second] == ["edge"]
    ref = second[0].tree["children"][0]["children"][0]
    assert (ref["kind"], ref["health"]) == ("ServiceRef", "Degraded")


def test_excluded_namespaces_are_not_shown_and_config_changes_re_render_everything():
    p = pipeline()
    p.set_config(WatcherConfig(churn=CALM, exclude_namespaces=("sh*",)))
    assert types(p.flush(1.0)) == ["NamespaceDeleted"]
    p.set_config(WatcherConfig(churn=CALM, topology=TopologyConfig("example.com/")))
    assert types(p.flush(2.0))[0] == "RelationshipUpdated"


def test_pod_churn_collapses_the_service_and_warns_once():
    p = pipeline(churny(threshold_per_min=10))
    for i in range(20):
        p.ingest("Pod", "ADDED", pod(f"web-x{i}"), 1.0 + i * 0.01)
    flushes = p.flush(2.0)
    assert types(flushes).count("HighChurnWarning") == 1
    service_node = next(n for n in p.trees["shop"]["children"] if n["kind"] == "Service")
    assert service_node["collapsed"] and not any(
        c["kind"] == "Pod" for c in service_node["children"]
    )
    p.ingest("Pod", "ADDED", pod("web-y"), 3.0)
    assert "HighChurnWarning" not in types(p.flush(4.0))


def test_relisted_pods_already_known_are_not_counted_as_churn():
    p = pipeline(churny(threshold_per_min=1))
    for _ in range(5):
        p.ingest("Pod", "ADDED", pod("web-1"), 1.0)
    assert "HighChurnWarning" not in types(p.flush(2.0))


def test_pod_churn_counts_against_the_services_that_select_the_pods_now():
    p = pipeline(churny(threshold_per_min=15))  # web's 11 pods so far stay below
    p.ingest("Pod", "ADDED", pod("web-0"), 0.5)  # selectors are looked at from here on
    p.ingest("Service", "MODIFIED", service("web", selector={"app": "api"}), 0.6)
    p.ingest("Service", "ADDED", service("api", selector={"app": "web"}), 0.6)
    for i in range(20):
        p.ingest("Pod", "ADDED", pod(f"web-x{i}"), 1.0 + i * 0.01)
    warning = next(m for f in p.flush(2.0) for m in f.messages if m["type"] == "HighChurnWarning")
    assert warning["affected_services"] == ["Service/shop/api"]


def pending(name: str) -> dict:
    starting = pod(name)
    return {**starting, "status": {**starting["status"], "phase": "Pending"}}


def test_a_young_pending_pod_is_hidden_until_it_runs():
    graceful = ChurnConfig(
        debounce_ms=100, max_wait_ms=200, pending_grace_ms=5000, terminating_linger_ms=0
    )
    p = pipeline(WatcherConfig(churn=graceful))
    p.ingest("Pod", "ADDED", pending("web-new"), 10.0)
    p.flush(10.5)
    assert "Pod/shop/web-new" not in node_ids(p.trees["shop"])
    p.ingest("Pod", "MODIFIED", pod("web-new"), 11.0)  # Running well within the grace
    p.flush(11.5)
    assert "Pod/shop/web-new" in node_ids(p.trees["shop"])
    p.ingest("Pod", "ADDED", pending("web-gone"), 12.0)
    p.ingest("Pod", "DELETED", pending("web-gone"), 12.1)
    p.flush(12.5)
    assert "Pod/shop/web-gone" not in node_ids(p.trees["shop"])
    assert p.smoothing.next_deadline("shop") is None  # nothing left to reveal
