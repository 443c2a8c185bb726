import pytest

from simcluster import errors
from simcluster.resources import type_named
from simcluster.store import Store

NS = type_named("namespaces")
PODS = type_named("pods")
LEASES = type_named("leases", "coordination.k8s.io")


def make_store(**kwargs) -> Store:
    store = Store(**kwargs)
    store.create(NS, None, {"metadata": {"name": "default"}})
    return store


def pod(name: str) -> dict:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "a", "image": "b"}]}}


def test_listeners_see_events_in_resource_version_order():
    store = make_store()
    seen = []
    store.add_listener(lambda event: seen.append((event.rv, event.type)))
    store.create(PODS, "default", pod("a"))
    store.delete(PODS, "default", "a")
    assert [t for _, t in seen] == ["ADDED", "DELETED"]
    assert seen[0][0] < seen[1][0]


def test_subscribe_returns_the_backlog_after_a_version():
    store = make_store()
    rv = store.resource_version
    store.create(PODS, "default", pod("a"))
    store.create(PODS, "default", pod("b"))
    backlog = store.subscribe(rv, lambda event: None)
    assert [e.obj["metadata"]["name"] for e in backlog] == ["a", "b"]


def test_history_bound_and_compaction_expire_old_versions():
    store = make_store(history_size=2)
    rv = store.resource_version
    for name in "abc":
        store.create(PODS, "default", pod(name))
    with pytest.raises(errors.ApiError) as caught:
        store.subscribe(rv, lambda event: None)
    assert caught.value.code == 410
    store.compact()
    assert store.subscribe(store.resource_version, lambda event: None) == []


def test_stored_objects_are_never_mutated_by_later_writes():
    store = make_store()
    first = store.create(PODS, "default", pod("a"))
    snapshot = dict(first["metadata"])
    store.update(
        PODS, "default", "a", {**first, "metadata": {**first["metadata"], "labels": {"x": "1"}}}
    )
    assert first["metadata"] == snapshot


def test_finalizers_hold_deletion_until_cleared():
    store = make_store()
    store.create(LEASES, "default", {"metadata": {"name": "l", "finalizers": ["x/y"]}})
    held = store.delete(LEASES, "default", "l")
    assert held["metadata"]["deletionTimestamp"]
    assert store.find(LEASES, "default", "l") is not None
    cleared = {**held, "metadata": {**held["metadata"], "finalizers": []}}
    store.update(LEASES, "default", "l", cleared)
    assert store.find(LEASES, "default", "l") is None


def test_a_repeat_delete_may_only_shorten_the_grace_period():
    store = make_store()
    created = store.create(PODS, "default", pod("p"))
    scheduled = {**created, "spec": {**created["spec"], "nodeName": "n1"}}
    store.update(PODS, "default", "p", scheduled)
    first = store.delete(PODS, "default", "p", grace_period=30)
    again = store.delete(PODS, "default", "p", grace_period=60)
    assert again["metadata"]["deletionTimestamp"] == first["metadata"]["deletionTimestamp"]
    store.delete(PODS, "default", "p", grace_period=0)
    assert store.find(PODS, "default", "p") is None


def test_dry_run_persists_nothing():
    store = make_store()
    rv = store.resource_version
    store.create(PODS, "default", pod("p"), dry_run=True)
    assert store.find(PODS, "default", "p") is None
    assert store.resource_version == rv


def test_unvalidated_creates_keep_malformed_bodies_for_watcher_tests():
    store = make_store()
    stored = store.create(
        PODS, "default", {"metadata": {"name": "odd", "labels": None}}, validate=False
    )
    assert "spec" not in stored and stored["metadata"]["labels"] is None
