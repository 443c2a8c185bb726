"""`/readyz` (is the snapshot present, synced, fresh?) and `/metrics` (Prometheus text)."""

from __future__ import annotations

import socket
import time

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

# Registers the watcher's metrics in this process, as embedded mode does.
import watchers.metrics  # noqa: F401
from constellation.snapshot import Snapshot, SnapshotUpdate, snapshot_store
from dashboard import snapshots
from dashboard.ops import readiness

NOW = 1_700_000_100.0
POD_OK = {"kind": "Pod", "synced": True, "connected": True, "auth_failed": False}
SERVICE_OK = {"kind": "Service", "synced": True, "connected": True, "auth_failed": False}


def snapshot(**cluster) -> Snapshot:
    base = {
        "synced": True,
        "heartbeat": NOW - 4,
        "resources": {"Pod": POD_OK, "Service": SERVICE_OK},
    }
    return Snapshot("e1", 7, True, NOW - 4, {}, {"shop": 2}, {**base, **cluster})


def reason(snap: Snapshot) -> str:
    ready, body = readiness(snap, NOW, 30)
    assert not ready
    assert body["status"] == "unavailable"
    return body["reason"]


def test_a_fresh_synced_snapshot_is_ready() -> None:
    ready, body = readiness(snapshot(), NOW, 30)

    assert ready
    assert body == {
        "status": "ready",
        "epoch": "e1",
        "seq": 7,
        "synced": True,
        "heartbeat_age_s": 4.0,
        "namespaces": 1,
        "resources": {
            "Pod": {
                "synced": True,
                "connected": True,
                "auth_failed": False,
                "last_error": None,
                "last_event_at": None,
                "last_heard_at": None,
                "silence_limit_s": None,
            },
            "Service": {
                "synced": True,
                "connected": True,
                "auth_failed": False,
                "last_error": None,
                "last_event_at": None,
                "last_heard_at": None,
                "silence_limit_s": None,
            },
        },
    }


def test_no_snapshot_asks_whether_the_watcher_runs() -> None:
    assert reason(Snapshot()) == "no snapshot yet: is the watcher running?"


def test_an_unsynced_watcher_names_the_resources_it_waits_for() -> None:
    pods = {**POD_OK, "synced": False}

    assert reason(snapshot(synced=False, resources={"Pod": pods, "Service": SERVICE_OK})) == (
        "watcher not synced: waiting for Pod"
    )


def test_a_refused_informer_points_at_rbac() -> None:
    pods = {**POD_OK, "synced": False, "auth_failed": True, "last_error": "403 Forbidden"}

    text = reason(snapshot(synced=False, resources={"Pod": pods, "Service": SERVICE_OK}))

    assert text.startswith("watcher not synced: waiting for Pod (RBAC:")
    assert "list/watch on Pod" in text


def test_a_silent_watcher_says_for_how_long() -> None:
    assert reason(snapshot(heartbeat=NOW - 95.25)) == "watcher silent for 95.2 s"


def test_without_a_heartbeat_the_snapshot_write_time_counts() -> None:
    stale = Snapshot("e1", 7, True, NOW - 31, {}, {}, {"synced": True})

    assert reason(stale) == "watcher silent for 31.0 s"


def test_the_freshness_limit_is_a_parameter() -> None:
    assert readiness(snapshot(heartbeat=NOW - 50), NOW, 60)[0]


def test_a_resource_the_api_server_refuses_makes_the_picture_untrue() -> None:
    pods = {**POD_OK, "auth_failed": True, "last_error": "unauthorized: 403"}

    text = reason(snapshot(resources={"Pod": pods, "Service": SERVICE_OK}))

    assert text == "Pod refused (401/403: check the watcher's RBAC)"


def test_a_watch_silent_past_its_bookmarks_pace_is_stale() -> None:
    pods = {**POD_OK, "last_heard_at": NOW - 20, "silence_limit_s": 15.0}

    text = reason(snapshot(resources={"Pod": pods, "Service": SERVICE_OK}))

    assert text == "Pod watch silent for 20 s (bookmarks came every 5 s): the picture is stale"


def test_a_silence_within_the_pace_or_of_unknown_pace_is_fine() -> None:
    within = {**POD_OK, "last_heard_at": NOW - 10, "silence_limit_s": 15.0}
    unknown = {**POD_OK, "last_heard_at": NOW - 500, "silence_limit_s": None}

    assert readiness(snapshot(resources={"Pod": within, "Service": unknown}), NOW, 30)[0]


@pytest.fixture
def embedded(settings) -> None:
    settings.REDIS_URL = None


def publish(cluster: dict, epoch: str = "e1") -> None:
    update = SnapshotUpdate(epoch, 3, {}, cluster=cluster)
    async_to_sync(snapshot_store(None).replace)(update)


def test_readyz_is_ready_without_a_login(client: Client, embedded) -> None:
    publish({"synced": True, "heartbeat": time.time(), "resources": {"Pod": POD_OK}})

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["status"] == "ready"
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_503_with_the_reason(client: Client, embedded) -> None:
    publish({}, epoch="")

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["reason"] == "no snapshot yet: is the watcher running?"


def test_readyz_reports_an_unreachable_redis(
    client: Client, settings, monkeypatch, django_user_model
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    # A store made for this URL must not outlive the test (stores are cached per event loop).
    monkeypatch.setattr(snapshots, "_stores", {})

    anonymous = client.get("/readyz")
    client.force_login(django_user_model.objects.create_user("ops", password="x"))
    logged_in = client.get("/readyz")

    assert anonymous.status_code == logged_in.status_code == 503
    assert anonymous.json() == {"status": "unavailable", "reason": "Redis unreachable"}
    assert logged_in.json()["reason"].startswith("Redis unreachable: ")
    assert str(port) in logged_in.json()["reason"]


def test_readyz_shows_details_only_to_users_who_may_read(
    client: Client, embedded, django_user_model
) -> None:
    pods = {**POD_OK, "auth_failed": True, "last_error": "unauthorized: 403 pods is forbidden"}
    publish({"synced": True, "heartbeat": time.time(), "resources": {"Pod": pods}})

    anonymous = client.get("/readyz").json()
    client.force_login(django_user_model.objects.create_user("ops", password="x"))
    logged_in = client.get("/readyz").json()

    assert anonymous == {"status": "unavailable", "reason": logged_in["reason"]}
    assert "forbidden" not in str(anonymous)
    assert logged_in["resources"]["Pod"]["last_error"] == "unauthorized: 403 pods is forbidden"


def test_readyz_refuses_writes(client: Client) -> None:
    assert client.post("/readyz").status_code == 405


def test_metrics_are_prometheus_text_without_a_login(client: Client) -> None:
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE python_info gauge" in response.content


def test_metrics_include_the_watcher_metrics_of_this_process(client: Client) -> None:
    assert b"constellation_watcher_epochs_total" in client.get("/metrics").content


def test_metrics_list_the_web_counters_before_any_client_connects(client: Client) -> None:
    assert b"constellation_web_ws_clients" in client.get("/metrics").content
