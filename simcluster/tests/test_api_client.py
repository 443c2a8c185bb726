"""simcluster through the official `kubernetes` client, over real HTTP."""

from __future__ import annotations

import threading

import orjson
import pytest
import urllib3
from kubernetes import client as k8s
from kubernetes import watch as k8s_watch
from kubernetes.client.rest import ApiException

from simcluster.cluster import SimCluster
from simcluster.testing import FAST_ENGINE, api_client_for, wait_for


def pod(name: str, labels: dict | None = None, **spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec},
    }


def raw(
    sim: SimCluster, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> urllib3.BaseHTTPResponse:
    http = urllib3.PoolManager()
    return http.request(
        method,
        sim.url + path,
        body=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        preload_content=True,
        retries=False,
    )


def test_discovery_lists_core_and_group_resources_with_short_names(core, api):
    resources = {r.name: r for r in core.get_api_resources().resources}
    assert resources["pods"].short_names == ["po"]
    assert resources["pods/status"].verbs == ["get", "patch", "update"]
    groups = {g.name for g in k8s.ApisApi(api).get_api_versions().groups}
    assert {
        "apps",
        "networking.k8s.io",
        "discovery.k8s.io",
        "coordination.k8s.io",
        "gateway.networking.k8s.io",
    } <= groups
    assert k8s.VersionApi(api).get_code().major == "1"


def test_discovery_paths_accept_trailing_slashes(sim):
    for path in ("/version/", "/api/", "/apis/", "/api/v1/", "/apis/apps/v1/", "/apis/apps/"):
        response = raw(sim, "GET", path)
        assert response.status == 200, path
        assert orjson.loads(response.data)


def test_create_sets_server_fields_and_get_returns_the_object(core):
    created = core.create_namespaced_pod("default", pod("web-1"))
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert int(created.metadata.resource_version) > 0
    assert created.status.phase == "Pending"
    fetched = core.read_namespaced_pod("web-1", "default")
    assert fetched.metadata.uid == created.metadata.uid


def test_generate_name_appends_five_characters(core):
    created = core.create_namespaced_pod(
        "default", {**pod(""), "metadata": {"generateName": "job-"}}
    )
    assert created.metadata.name.startswith("job-") and len(created.metadata.name) == 9


def test_create_in_a_missing_namespace_is_404_not_found(core):
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod("nowhere", pod("x"))
    assert caught.value.status == 404
    body = orjson.loads(caught.value.body)
    assert body["kind"] == "Status" and body["reason"] == "NotFound"
    assert body["message"] == 'namespaces "nowhere" not found'


def test_create_twice_is_409_already_exists(core):
    core.create_namespaced_pod("default", pod("dup"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod("default", pod("dup"))
    assert caught.value.status == 409
    assert orjson.loads(caught.value.body)["reason"] == "AlreadyExists"


def test_every_write_bumps_one_global_resource_version(core, sim):
    first = int(core.create_namespace({"metadata": {"name": "a"}}).metadata.resource_version)
    second = int(
        core.create_namespaced_service(
            "a", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
        ).metadata.resource_version
    )
    assert second > first
    assert sim.store.resource_version >= second


def test_update_with_a_stale_resource_version_is_409_conflict(core):
    created = core.create_namespaced_service(
        "default", {"metadata": {"name": "api"}, "spec": {"ports": [{"port": 80}]}}
    )
    created.metadata.labels = {"v": "1"}
    core.replace_namespaced_service("api", "default", created)
    created.metadata.labels = {"v": "2"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_service("api", "default", created)
    assert caught.value.status == 409
    assert orjson.loads(caught.value.body)["reason"] == "Conflict"


def test_strategic_merge_patch_merges_containers_by_name(api):
    apps = k8s.AppsV1Api(api)
    apps.create_namespaced_deployment(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "replicas": 1,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {"name": "a", "image": "nginx:1", "ports": [{"containerPort": 80}]},
                            {"name": "b", "image": "busybox:1"},
                        ]
                    },
                },
            },
        },
    )
    patched = apps.patch_namespaced_deployment(
        "web",
        "default",
        {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "nginx:2"}]}}}},
    )
    containers = patched.spec.template.spec.containers
    assert [(c.name, c.image) for c in containers] == [("a", "nginx:2"), ("b", "busybox:1")]
    assert containers[0].ports[0].container_port == 80
    assert patched.metadata.generation == 2


def test_merge_and_json_patch_content_types(sim, core):
    core.create_namespaced_pod("default", pod("p", {"a": "1"}))
    merged = raw(
        sim,
        "PATCH",
        "/api/v1/namespaces/default/pods/p",
        orjson.dumps({"metadata": {"labels": {"a": None, "b": "2"}}}),
        {"Content-Type": "application/merge-patch+json"},
    )
    assert orjson.loads(merged.data)["metadata"]["labels"] == {"b": "2"}
    patched = raw(
        sim,
        "PATCH",
        "/api/v1/namespaces/default/pods/p",
        orjson.dumps([{"op": "add", "path": "/metadata/labels/c", "value": "3"}]),
        {"Content-Type": "application/json-patch+json"},
    )
    assert orjson.loads(patched.data)["metadata"]["labels"] == {"b": "2", "c": "3"}
    failed = raw(
        sim,
        "PATCH",
        "/api/v1/namespaces/default/pods/p",
        orjson.dumps([{"op": "test", "path": "/metadata/labels/c", "value": "x"}]),
        {"Content-Type": "application/json-patch+json"},
    )
    assert failed.status == 422


def test_strategic_merge_on_a_custom_resource_is_415(sim):
    sim.create(
        "httproutes",
        {"metadata": {"name": "r"}, "spec": {}},
        "default",
        group="gateway.networking.k8s.io",
    )
    response = raw(
        sim,
        "PATCH",
        "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes/r",
        b'{"spec":{"hostnames":["x"]}}',
        {"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert response.status == 415


def test_status_subresource_writes_only_status(core):
    core.create_namespaced_pod("default", pod("s"))
    core.patch_namespaced_pod_status(
        "s", "default", {"metadata": {"labels": {"ignored": "yes"}}, "status": {"phase": "Running"}}
    )
    current = core.read_namespaced_pod("s", "default")
    assert current.status.phase == "Running"
    assert "ignored" not in (current.metadata.labels or {})
    core.patch_namespaced_pod("s", "default", {"status": {"phase": "Failed"}})
    assert core.read_namespaced_pod("s", "default").status.phase == "Running"


def test_delete_returns_the_object_and_unscheduled_pods_go_at_once(core):
    core.create_namespaced_pod("default", pod("gone"))
    deleted = core.delete_namespaced_pod("gone", "default")
    assert deleted.metadata.name == "gone"
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod("gone", "default")
    assert caught.value.status == 404


def test_graceful_pod_deletion_shows_terminating_then_disappears(core, sim):
    core.create_namespaced_pod("default", pod("g"))
    wait_for(
        lambda: core.read_namespaced_pod("g", "default").status.phase == "Running",
        message="pod running",
    )
    pending = core.delete_namespaced_pod("g", "default", grace_period_seconds=30)
    assert pending.metadata.deletion_timestamp is not None
    assert pending.metadata.deletion_grace_period_seconds == 30
    assert core.read_namespaced_pod("g", "default").metadata.deletion_timestamp
    names = lambda: {p.metadata.name for p in core.list_namespaced_pod("default").items}  # noqa: E731
    wait_for(lambda: "g" not in names(), message="kubelet removes the pod")


def test_grace_period_zero_removes_a_running_pod_at_once(core):
    core.create_namespaced_pod("default", pod("z"))
    wait_for(lambda: core.read_namespaced_pod("z", "default").spec.node_name, message="scheduled")
    core.delete_namespaced_pod("z", "default", grace_period_seconds=0)
    assert not core.list_namespaced_pod("default").items


def test_namespace_deletion_cascades(core):
    core.create_namespace({"metadata": {"name": "doomed"}})
    held = pod("held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    core.create_namespaced_pod("doomed", held)
    core.create_namespaced_service(
        "doomed", {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}
    )
    core.delete_namespace("doomed")
    assert core.read_namespace("doomed").status.phase == "Terminating"
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod("doomed", pod("late"))
    assert caught.value.status == 403
    wait_for(lambda: not core.list_namespaced_service("doomed").items, message="services gone")
    core.patch_namespaced_pod("held", "doomed", {"metadata": {"finalizers": None}})
    wait_for(
        lambda: "doomed" not in {n.metadata.name for n in core.list_namespace().items},
        message="namespace removed",
    )
    assert not core.list_namespaced_pod("doomed").items


def test_label_selectors_equality_and_set_based(core):
    for name, labels in [
        ("a", {"app": "web", "tier": "fe"}),
        ("b", {"app": "api"}),
        ("c", {"app": "db", "tier": "be"}),
    ]:
        core.create_namespaced_pod("default", pod(name, labels))

    def names(selector: str) -> list[str]:
        return [
            p.metadata.name
            for p in core.list_namespaced_pod("default", label_selector=selector).items
        ]

    assert names("app=web") == ["a"]
    assert names("app!=web") == ["b", "c"]
    assert names("app in (web, db)") == ["a", "c"]
    assert names("app notin (web)") == ["b", "c"]
    assert names("tier") == ["a", "c"]
    assert names("!tier") == ["b"]
    assert names("app=db,tier=be") == ["c"]


def test_field_selectors_by_name_namespace_and_phase(core, sim):
    core.create_namespace({"metadata": {"name": "other"}})
    core.create_namespaced_pod("default", pod("x"))
    core.create_namespaced_pod("other", pod("y"))
    by_name = core.list_pod_for_all_namespaces(field_selector="metadata.name=y").items
    assert [p.metadata.namespace for p in by_name] == ["other"]
    not_default = core.list_pod_for_all_namespaces(field_selector="metadata.namespace!=default")
    assert [p.metadata.name for p in not_default.items] == ["y"]
    pending = core.list_pod_for_all_namespaces(field_selector="status.phase=Pending").items
    assert {p.metadata.name for p in pending} <= {"x", "y"}
    response = raw(sim, "GET", "/api/v1/pods?fieldSelector=spec.bogus%3D1")
    assert response.status == 400


def test_paged_list_keeps_one_resource_version_and_counts_the_rest(core):
    for i in range(7):
        core.create_namespaced_pod("default", pod(f"p{i}"))
    first = core.list_namespaced_pod("default", limit=3)
    assert len(first.items) == 3 and first.metadata.remaining_item_count == 4
    core.create_namespaced_pod("default", pod("p9-late"))
    names = [p.metadata.name for p in first.items]
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_pod("default", limit=3, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        names += [p.metadata.name for p in page.items]
        token = page.metadata._continue
    assert names == [f"p{i}" for i in range(7)]


def test_an_expired_continue_token_is_410(core, sim):
    for i in range(3):
        core.create_namespaced_pod("default", pod(f"p{i}"))
    first = core.list_namespaced_pod("default", limit=1)
    core.create_namespaced_pod("default", pod("later"))
    sim.compact()
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod("default", limit=1, _continue=first.metadata._continue)
    assert caught.value.status == 410
    assert "continue parameter is too old" in orjson.loads(caught.value.body)["message"]


def test_list_at_a_future_resource_version_is_504_too_large(sim):
    response = raw(sim, "GET", "/api/v1/pods?resourceVersion=999999")
    assert response.status == 504
    body = orjson.loads(response.data)
    assert body["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


def test_watch_streams_added_modified_deleted_from_a_resource_version(core):
    rv = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod("w"))
    core.patch_namespaced_pod("w", "default", {"metadata": {"labels": {"x": "1"}}})
    core.delete_namespaced_pod("w", "default", grace_period_seconds=0)
    stream = k8s_watch.Watch().stream(
        core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=2
    )
    events = [(e["type"], e["object"].metadata.name) for e in stream]
    assert events[0] == ("ADDED", "w")
    assert events[-1] == ("DELETED", "w")
    assert {t for t, _ in events} == {"ADDED", "MODIFIED", "DELETED"}


def test_watch_without_resource_version_starts_with_synthetic_added(core, sim):
    core.create_namespaced_pod("default", pod("existing"))
    lines = raw_watch(sim, "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1")
    assert (lines[0]["type"], lines[0]["object"]["metadata"]["name"]) == ("ADDED", "existing")
    assert [e["type"] for e in lines[1:]] == ["MODIFIED"] * (len(lines) - 1)  # the kubelet
    assert all(e["object"]["kind"] == "Pod" and e["object"]["apiVersion"] == "v1" for e in lines)


def raw_watch(sim: SimCluster, path: str) -> list[dict]:
    response = raw(sim, "GET", path)
    assert response.status == 200
    body = response.data
    assert body == b"" or body.endswith(b"\n")
    return [orjson.loads(line) for line in body.splitlines() if line]


def test_watch_resumes_after_a_resource_version_without_replaying_older_events(core, sim):
    core.create_namespaced_pod("default", pod("old"))
    rv = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod("new"))
    events = raw_watch(
        sim, f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}&timeoutSeconds=1"
    )
    added = [e["object"]["metadata"]["name"] for e in events if e["type"] == "ADDED"]
    assert added == ["new"]
    assert events[0]["type"] == "ADDED"


def test_watch_sends_bookmarks_when_allowed(core, sim):
    rv = core.list_namespaced_pod("default").metadata.resource_version
    events = raw_watch(
        sim,
        f"/api/v1/pods?watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=1",
    )
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks and bookmarks[0]["object"]["kind"] == "Pod"
    assert int(bookmarks[-1]["object"]["metadata"]["resourceVersion"]) >= int(rv)
    plain = raw_watch(sim, f"/api/v1/pods?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    assert not [e for e in plain if e["type"] == "BOOKMARK"]


def test_watch_from_a_compacted_resource_version_gets_an_error_410_event(core, sim):
    rv = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod("after"))
    sim.compact()
    events = raw_watch(sim, f"/api/v1/pods?watch=true&resourceVersion={rv}")
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")


def test_official_client_raises_410_after_compaction(core, sim):
    rv = core.list_namespaced_pod("default").metadata.resource_version
    core.create_namespaced_pod("default", pod("after"))
    sim.compact()
    with pytest.raises(ApiException) as caught:
        list(
            k8s_watch.Watch().stream(
                core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=2
            )
        )
    assert caught.value.status == 410


def test_label_selector_watch_sees_objects_move_out_and_in(core, sim):
    core.create_namespaced_pod("default", pod("m", {"app": "web"}))
    rv = core.list_namespaced_pod("default").metadata.resource_version
    core.patch_namespaced_pod("m", "default", {"metadata": {"labels": {"app": "other"}}})
    core.patch_namespaced_pod("m", "default", {"metadata": {"labels": {"app": "web"}}})
    events = raw_watch(
        sim,
        f"/api/v1/namespaces/default/pods?watch=true&labelSelector=app%3Dweb"
        f"&resourceVersion={rv}&timeoutSeconds=1",
    )
    assert [e["type"] for e in events if e["object"]["metadata"]["name"] == "m"][:2] == [
        "DELETED",
        "ADDED",
    ]


def test_send_initial_events_ends_with_the_initial_events_end_bookmark(core, sim):
    core.create_namespaced_pod("default", pod("i"))
    events = raw_watch(
        sim,
        "/api/v1/pods?watch=true&sendInitialEvents=true&allowWatchBookmarks="
        "true&resourceVersionMatch=NotOlderThan&resourceVersion=&timeoutSeconds=1",
    )
    assert events[0]["type"] == "ADDED"
    end = [e for e in events if e["type"] == "BOOKMARK"][0]
    assert end["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    refused = raw(sim, "GET", "/api/v1/pods?watch=true&sendInitialEvents=true")
    assert refused.status == 422


def test_close_watches_ends_open_streams_cleanly(core, sim):
    rv = core.list_namespaced_pod("default").metadata.resource_version
    response = urllib3.PoolManager().request(
        "GET",
        f"{sim.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}",
        preload_content=False,
        retries=False,
    )
    wait_for(lambda: sim.server.watches, message="watch registered")
    sim.faults.close_watches()
    assert response.read() == b""
    wait_for(lambda: not sim.server.watches, message="watch unregistered")


def test_stalled_watches_hold_events_until_resumed(core, sim):
    rv = core.list_namespaced_pod("default").metadata.resource_version
    response = urllib3.PoolManager().request(
        "GET",
        f"{sim.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}",
        preload_content=False,
        retries=False,
    )
    wait_for(lambda: sim.server.watches, message="watch registered")
    sim.faults.stall_watches()
    core.create_namespaced_pod("default", pod("held"))
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(response.readline()), daemon=True)
    reader.start()
    reader.join(0.3)
    assert not received, "a stalled stream must not deliver"
    sim.faults.resume_watches()
    reader.join(5)
    assert orjson.loads(received[0])["object"]["metadata"]["name"] == "held"
    response.release_conn()


def test_injected_failures_answer_500_then_recover(core, sim):
    sim.faults.fail_next(2, code=500)
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            core.list_namespaced_pod("default")
        assert caught.value.status == 500
    assert core.list_namespaced_pod("default").items == []


def test_injected_429_carries_retry_after(sim):
    sim.faults.fail_next(1, code=429)
    response = raw(sim, "GET", "/api/v1/pods")
    assert response.status == 429 and response.headers["Retry-After"] == "1"


def test_denied_resource_is_403_and_others_still_work(core, sim):
    sim.faults.deny("pods")
    with pytest.raises(ApiException) as caught:
        core.list_pod_for_all_namespaces()
    assert caught.value.status == 403
    assert orjson.loads(caught.value.body)["reason"] == "Forbidden"
    assert core.list_service_for_all_namespaces().items == []
    sim.faults.allow("pods")
    assert core.list_pod_for_all_namespaces().items == []


def test_bearer_token_is_required_when_configured():
    with SimCluster("empty", token="s3cret", engine_config=FAST_ENGINE) as sim:
        assert raw(sim, "GET", "/api/v1/pods").status == 401
        with api_client_for(sim) as api:
            assert k8s.CoreV1Api(api).list_pod_for_all_namespaces().items == []


@pytest.mark.parametrize(
    "path, body, status, reason",
    [
        ("/api/v1/namespaces/default/pods", b"{not json", 400, "BadRequest"),
        ("/api/v1/namespaces/default/widgets", b"{}", 404, "NotFound"),
        ("/apis/nope.example.com/v1/things", b"{}", 404, "NotFound"),
        (
            "/api/v1/namespaces/default/pods",
            b'{"metadata":{}, "spec":{"containers":[]}}',
            422,
            "Invalid",
        ),
        (
            "/api/v1/namespaces/default/pods",
            b'{"kind":"Service","apiVersion":"v1","metadata":{"name":"x"},'
            b'"spec":{"containers":[{"name":"a","image":"b"}]}}',
            422,
            "Invalid",
        ),
        (
            "/api/v1/namespaces/default/pods",
            b'{"metadata":{"name":"x","namespace":"other"},"spec":{"containers":[{"name":"a",'
            b'"image":"b"}]}}',
            400,
            "BadRequest",
        ),
    ],
)
def test_bad_input_gets_a_status_and_changes_nothing(sim, path, body, status, reason):
    before = sim.store.resource_version
    response = raw(sim, "POST", path, body)
    assert response.status == status
    answer = orjson.loads(response.data)
    assert (answer["kind"], answer["status"], answer["reason"]) == ("Status", "Failure", reason)
    assert sim.store.resource_version == before


def test_invalid_pod_names_every_problem(sim):
    response = raw(
        sim,
        "POST",
        "/api/v1/namespaces/default/pods",
        b'{"metadata":{"name":"x"},"spec":{"containers":[]}}',
    )
    answer = orjson.loads(response.data)
    assert answer["code"] == 422
    assert "spec.containers" in answer["message"]
    assert answer["details"]["causes"][0]["field"].startswith("spec.containers")


def test_table_responses_have_real_pod_columns(core, sim):
    core.create_namespaced_pod("default", pod("t"))
    accept = (
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"
        "g=meta.k8s.io,application/json"
    )
    response = raw(sim, "GET", "/api/v1/namespaces/default/pods", headers={"Accept": accept})
    table = orjson.loads(response.data)
    assert table["kind"] == "Table"
    columns = [c["name"] for c in table["columnDefinitions"]]
    assert columns[:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert table["rows"][0]["cells"][0] == "t"


def test_deployments_roll_out_through_the_engine(api):
    apps = k8s.AppsV1Api(api)
    apps.create_namespaced_deployment(
        "default",
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "a", "image": "nginx:1"}]},
                },
            },
        },
    )

    def rolled_out() -> bool:
        status = apps.read_namespaced_deployment_status("web", "default").status
        return status.ready_replicas == 3 and status.updated_replicas == 3

    wait_for(rolled_out, message="deployment ready")
    pods = k8s.CoreV1Api(api).list_namespaced_pod("default", label_selector="app=web").items
    assert len(pods) == 3
    assert all(p.metadata.owner_references[0].kind == "ReplicaSet" for p in pods)
    slices = k8s.DiscoveryV1Api(api).list_namespaced_endpoint_slice("default").items
    assert slices == []  # no service, no slices


def test_gateway_api_can_be_removed_and_installed_at_run_time(sim, api):
    custom = k8s.CustomObjectsApi(api)
    group = "gateway.networking.k8s.io"
    custom.create_namespaced_custom_object(
        group,
        "v1",
        "default",
        "httproutes",
        {"apiVersion": f"{group}/v1", "kind": "HTTPRoute", "metadata": {"name": "r"}, "spec": {}},
    )
    sim.remove_gateway_api()
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object(group, "v1", "default", "httproutes")
    assert caught.value.status == 404
    assert group not in {g.name for g in k8s.ApisApi(api).get_api_versions().groups}
    sim.install_gateway_api()
    assert custom.list_namespaced_custom_object(group, "v1", "default", "httproutes")["items"] == []


def test_control_endpoint_injects_faults_over_http(sim):
    assert (
        raw(sim, "POST", "/_simcluster/faults/fail_next", b'{"count": 1, "code": 503}').status
        == 200
    )
    assert raw(sim, "GET", "/api/v1/pods").status == 503
    assert raw(sim, "GET", "/api/v1/pods").status == 200
    assert raw(sim, "POST", "/_simcluster/faults/deny", b'{"resource": "services"}').status == 200
    assert raw(sim, "GET", "/api/v1/services").status == 403
    state = orjson.loads(raw(sim, "GET", "/_simcluster/state").data)
    assert state["faults"]["denied"] == ["services"]
    assert raw(sim, "POST", "/_simcluster/faults/unknown").status == 404


def test_a_resumed_watch_replays_only_its_own_type_and_namespace(core, sim):
    core.create_namespace({"metadata": {"name": "other"}})
    rv = core.list_namespaced_service("default").metadata.resource_version
    core.create_namespaced_pod("default", pod("not-a-service"))
    core.create_namespaced_service(
        "other", {"metadata": {"name": "elsewhere"}, "spec": {"ports": [{"port": 80}]}}
    )
    core.create_namespaced_service(
        "default", {"metadata": {"name": "mine"}, "spec": {"ports": [{"port": 80}]}}
    )
    events = raw_watch(
        sim, f"/api/v1/namespaces/default/services?watch=true&resourceVersion={rv}&timeoutSeconds=1"
    )
    assert {(e["object"]["kind"], e["object"]["metadata"]["name"]) for e in events} == {
        ("Service", "mine")
    }


def test_the_churn_rate_of_a_generated_scenario_is_steered_over_http():
    params = {"namespaces": 2, "services": 6, "pods": 24}
    with SimCluster("large", params, engine_config=FAST_ENGINE) as sim:
        state = orjson.loads(raw(sim, "GET", "/_simcluster/state").data)
        assert state["churn"]["rate"] == 0.0
        steered = raw(sim, "POST", "/_simcluster/churn", b'{"rate": 40}')
        assert steered.status == 200
        assert orjson.loads(steered.data)["churn"]["rate"] == 40.0
        wait_for(
            lambda: (
                orjson.loads(raw(sim, "GET", "/_simcluster/state").data)["churn"]["observedRate"]
                > 0
            ),
            timeout=30,
            message="pod events from the churn",
        )
        assert raw(sim, "POST", "/_simcluster/churn", b'{"rate": -1}').status == 400
        assert raw(sim, "POST", "/_simcluster/churn", b"{}").status == 400


def test_a_scenario_without_churn_refuses_a_rate(sim):
    assert orjson.loads(raw(sim, "GET", "/_simcluster/state").data)["churn"] is None
    refused = raw(sim, "POST", "/_simcluster/churn", b'{"rate": 10}')
    assert refused.status == 400
    assert "no churn rate to steer" in orjson.loads(refused.data)["message"]
