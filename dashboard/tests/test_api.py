"""The read-only REST API over a snapshot in the in-process store (embedded mode)."""

from __future__ import annotations

import gzip
from collections.abc import Callable

import orjson
import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from rest_framework.authtoken.models import Token

from constellation.protocol import SUMMARY_STREAM
from constellation.snapshot import SnapshotUpdate, snapshot_store
from tests.redis_server import RedisProcess

SHOP = {"id": "Namespace/shop", "kind": "Namespace", "name": "shop", "health": "Healthy"}
BLOG = {"id": "Namespace/blog", "kind": "Namespace", "name": "blog", "health": "Degraded"}
DOCS = {"id": "Namespace/docs", "kind": "Namespace", "name": "docs", "health": "Healthy"}
CLUSTER = {"synced": True, "ready": True, "heartbeat": 1700000000.0}


def publish(trees: dict[str, dict], epoch: str = "e1") -> None:
    """Replace the embedded store's snapshot, as the watcher's first publish does."""
    update = SnapshotUpdate(
        epoch,
        42,
        trees,
        ns_seq={**{ns: i + 3 for i, ns in enumerate(sorted(trees))}, SUMMARY_STREAM: 7},
        cluster=CLUSTER,
        summaries={ns: orjson.dumps(summary_of(tree)) for ns, tree in trees.items()},
    )
    async_to_sync(snapshot_store(None).replace)(update)


def summary_of(tree: dict) -> dict:
    return {"name": tree["name"], "health": tree["health"], "labels": ["app=secret-index"]}


@pytest.fixture(autouse=True)
def embedded(settings) -> None:
    """Every test reads the in-process store, whatever REDIS_URL the environment has."""
    settings.REDIS_URL = None
    publish({"shop": SHOP, "blog": BLOG, "docs": DOCS})


@pytest.fixture
def reader(client: Client, django_user_model) -> Client:
    client.force_login(django_user_model.objects.create_user("ada", password="x"))
    return client


@pytest.fixture
def token(django_user_model) -> str:
    return Token.objects.create(user=django_user_model.objects.create_user("bot")).key


@pytest.fixture
def get(reader: Client) -> Callable:
    return reader.get


def test_anonymous_callers_are_asked_to_authenticate(client: Client) -> None:
    response = client.get("/api/state/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_state_is_every_namespace_as_one_full_state_document(get: Callable) -> None:
    response = get("/api/state/")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "type": "FullState",
        "epoch": "e1",
        "seq": 42,
        "synced": True,
        "updated_at": response.json()["updated_at"],
        "ns_seq": {"blog": 3, "docs": 4, "shop": 5},
        "hierarchy": [BLOG, DOCS, SHOP],
        "cluster": CLUSTER,
    }


def test_a_page_polls_for_its_namespace_and_the_summaries(get: Callable) -> None:
    body = get("/api/state/?namespace=shop&summary=1").json()

    assert [tree["name"] for tree in body["hierarchy"]] == ["shop"]
    assert body["summary"] == {
        "sum_seq": 7,
        "namespaces": [
            {"name": n, "health": h}
            for n, h in [("blog", "Degraded"), ("docs", "Healthy"), ("shop", "Healthy")]
        ],
    }


def test_the_overview_polls_summaries_without_any_tree(get: Callable) -> None:
    summary = get("/api/summary/").json()

    assert summary["hierarchy"] == [] and summary["ns_seq"] == {}
    assert [s["name"] for s in summary["summary"]["namespaces"]] == ["blog", "docs", "shop"]
    assert get("/api/state/?namespace=&summary=1").json() == {
        **summary,
        "updated_at": summary["updated_at"],
    }


def test_the_label_index_of_a_summary_never_leaves_the_server(get: Callable) -> None:
    assert b"secret-index" not in get("/api/summary/").content


@pytest.mark.parametrize("path", ["/api/state/", "/api/summary/"])
def test_state_is_compressed_for_clients_that_accept_gzip(get: Callable, path: str) -> None:
    plain = get(path)
    packed = get(path, HTTP_ACCEPT_ENCODING="gzip, br")

    assert "Content-Encoding" not in plain
    assert packed["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.content) == plain.content


@pytest.mark.parametrize("path", ["/api/state/", "/api/summary/", "/api/namespaces/shop/"])
def test_while_redis_is_down_the_api_answers_503_with_the_reason(
    get: Callable, settings, redis_process: RedisProcess, path: str
) -> None:
    settings.REDIS_URL = redis_process.url
    redis_process.stop()

    response = get(path)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "Redis" in response.json()["detail"] and "unreachable" in response.json()["detail"]


def test_state_is_never_cached_on_the_way(get: Callable) -> None:
    assert get("/api/state/")["Cache-Control"] == "no-store"


def test_a_token_reads_the_state_without_a_session(client: Client, token: str) -> None:
    response = client.get("/api/state/", HTTP_AUTHORIZATION=f"Token {token}")

    assert response.status_code == 200
    assert response.json()["seq"] == 42


def test_a_wrong_token_is_refused(client: Client, token: str) -> None:
    assert client.get("/api/state/", HTTP_AUTHORIZATION="Token nope").status_code == 401


def test_anonymous_read_access_when_switched_on(client: Client, settings) -> None:
    settings.ALLOW_ANONYMOUS = True

    assert client.get("/api/state/").status_code == 200


def test_the_namespace_filter_may_be_repeated(get: Callable) -> None:
    body = get("/api/state/?namespace=shop&namespace=docs").json()

    assert [tree["name"] for tree in body["hierarchy"]] == ["docs", "shop"]
    assert body["ns_seq"] == {"docs": 4, "shop": 5}


def test_the_namespace_filter_may_be_comma_separated(get: Callable) -> None:
    body = get("/api/state/?namespace=shop,%20blog,").json()

    assert [tree["name"] for tree in body["hierarchy"]] == ["blog", "shop"]


def test_filtering_on_an_unknown_namespace_gives_an_empty_hierarchy(get: Callable) -> None:
    body = get("/api/state/?namespace=nowhere").json()

    assert body["hierarchy"] == []
    assert body["seq"] == 42


def test_the_original_state_path_serves_the_same_body(get: Callable) -> None:
    assert get("/state").content == get("/api/state/").content


def test_a_namespace_is_served_with_its_position_in_the_stream(get: Callable) -> None:
    body = get("/api/namespaces/shop/").json()

    assert body == {
        "namespace": "shop",
        "epoch": "e1",
        "seq": 42,
        "ns_seq": 5,
        "updated_at": body["updated_at"],
        "tree": SHOP,
    }


def test_an_unknown_namespace_is_not_found(get: Callable) -> None:
    response = get("/api/namespaces/nowhere/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No namespace 'nowhere' in the snapshot."}


def test_before_the_first_snapshot_the_api_is_unavailable(get: Callable) -> None:
    publish({}, epoch="")

    for path in ("/api/state/", "/api/namespaces/shop/"):
        response = get(path)
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert "watcher has not published" in response.json()["detail"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_refuses_writes(reader: Client, method: str) -> None:
    response = getattr(reader, method)("/api/state/", data={}, content_type="application/json")

    assert response.status_code == 403


def test_the_api_answers_head_and_options(get: Callable, reader: Client) -> None:
    assert reader.head("/api/state/").status_code == 200
    assert reader.options("/api/state/").status_code == 200


def test_the_schema_describes_both_endpoints_and_not_the_legacy_path(get: Callable) -> None:
    schema = get("/api/schema/").json()

    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {"/api/state/", "/api/summary/", "/api/namespaces/{name}/"}
    state = schema["paths"]["/api/state/"]["get"]
    assert state["operationId"] == "getState"
    assert state["parameters"][0]["name"] == "namespace"
    assert set(state["responses"]) == {"200", "401", "503"}
    namespace = schema["paths"]["/api/namespaces/{name}/"]["get"]
    assert namespace["parameters"][0] == {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "",
        "schema": {"type": "string"},
    }
    assert "404" in namespace["responses"]


def test_the_schema_needs_a_login_like_the_api(client: Client) -> None:
    assert client.get("/api/schema/").status_code == 401


def test_the_api_shows_only_the_namespaces_the_reader_may_see(
    get: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Who sees what (DESIGN §7): every API path filters through visible_namespaces."""
    import dashboard.api
    from dashboard.permissions import NamespaceAccess

    monkeypatch.setattr(
        dashboard.api, "visible_namespaces", lambda user: NamespaceAccess(names=frozenset({"shop"}))
    )

    state = get("/api/state/?summary=1").json()
    assert [tree["name"] for tree in state["hierarchy"]] == ["shop"]
    assert state["ns_seq"] == {"shop": 5}
    assert [s["name"] for s in state["summary"]["namespaces"]] == ["shop"]
    assert [s["name"] for s in get("/api/summary/").json()["summary"]["namespaces"]] == ["shop"]
    assert get("/api/state/?namespace=blog,shop").json()["ns_seq"] == {"shop": 5}
    assert get("/api/namespaces/blog/").status_code == 404
    assert get("/api/namespaces/shop/").status_code == 200
