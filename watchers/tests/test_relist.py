import pytest

from watchers.kube.relist import MalformedList, PagedList, relist_events
from watchers.kube.resources import NAMESPACES, PODS


def pod(name, uid, rv, namespace="shop"):
    return {"metadata": {"name": name, "namespace": namespace, "uid": uid, "resourceVersion": rv}}


CACHED = {("shop", "web-1"): ("u1", "10"), ("shop", "web-2"): ("u2", "11")}


def test_a_first_list_adds_everything_in_list_order():
    relist = relist_events({}, [pod("b", "ub", "5"), pod("a", "ua", "6")], PODS)
    names = [(t, o["metadata"]["name"]) for t, o in relist.events]
    assert names == [("ADDED", "b"), ("ADDED", "a")]
    assert relist.index == {("shop", "b"): ("ub", "5"), ("shop", "a"): ("ua", "6")}


def test_objects_that_vanished_get_a_synthetic_deleted():
    relist = relist_events(CACHED, [pod("web-1", "u1", "10")], PODS)
    assert relist.events == [
        (
            "DELETED",
            {
                "kind": "Pod",
                "apiVersion": "v1",
                "metadata": {
                    "name": "web-2",
                    "namespace": "shop",
                    "uid": "u2",
                    "resourceVersion": "11",
                },
            },
        )
    ]
    assert relist.index == {("shop", "web-1"): ("u1", "10")}


def test_unchanged_survivors_produce_no_events():
    relist = relist_events(CACHED, [pod("web-1", "u1", "10"), pod("web-2", "u2", "11")], PODS)
    assert relist.events == []


def test_survivors_with_a_new_resource_version_are_modified_not_added():
    relist = relist_events(CACHED, [pod("web-1", "u1", "10"), pod("web-2", "u2", "15")], PODS)
    assert [(t, o["metadata"]["name"]) for t, o in relist.events] == [("MODIFIED", "web-2")]


def test_an_object_recreated_under_the_same_name_is_deleted_then_added():
    new = pod("web-2", "u9", "20")
    relist = relist_events(CACHED, [pod("web-1", "u1", "10"), new], PODS)
    assert [(t, o["metadata"]["uid"]) for t, o in relist.events] == [
        ("DELETED", "u2"),
        ("ADDED", "u9"),
    ]
    assert relist.events[1][1] is new
    assert relist.index[("shop", "web-2")] == ("u9", "20")


def test_deletions_come_first_in_key_order():
    cached = {("b", "x"): ("1", "1"), ("a", "x"): ("2", "2"), ("a", "keep"): ("3", "3")}
    relist = relist_events(cached, [pod("new", "n", "9", "a"), pod("keep", "3", "3", "a")], PODS)
    assert [(t, o["metadata"]["namespace"], o["metadata"]["name"]) for t, o in relist.events] == [
        ("DELETED", "a", "x"),
        ("DELETED", "b", "x"),
        ("ADDED", "a", "new"),
    ]


def test_cluster_scoped_tombstones_have_no_namespace():
    relist = relist_events({("", "shop"): ("u", "3")}, [], NAMESPACES)
    assert relist.events == [
        (
            "DELETED",
            {
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {"name": "shop", "uid": "u", "resourceVersion": "3"},
            },
        )
    ]


def test_nameless_items_are_passed_on_for_the_store_to_reject_but_not_cached():
    odd = {"metadata": {"namespace": "shop"}}
    relist = relist_events({}, [odd, {"spec": {}}], PODS)
    assert relist.events == [("ADDED", odd), ("ADDED", {"spec": {}})]
    assert relist.index == {}


def test_a_paged_list_is_complete_only_after_the_page_without_a_token():
    listing = PagedList()
    first = {"metadata": {"resourceVersion": "40", "continue": "t1"}, "items": [pod("a", "1", "3")]}
    assert listing.add(first) == "t1"
    assert not listing.complete
    last = {"metadata": {"resourceVersion": "40"}, "items": [pod("b", "2", "4")]}
    assert listing.add(last) is None
    assert listing.complete
    assert listing.resource_version == "40"
    assert [i["metadata"]["name"] for i in listing.items] == ["a", "b"]
    assert listing.pages == 2


def test_a_list_with_null_items_is_an_empty_list():
    listing = PagedList()
    page = {"kind": "PodList", "metadata": {"resourceVersion": "7"}, "items": None}
    assert listing.add(page) is None
    assert listing.items == []
    assert listing.resource_version == "7"


def test_a_response_that_is_not_a_list_is_rejected():
    with pytest.raises(MalformedList):
        PagedList().add([1, 2])
    with pytest.raises(MalformedList):
        PagedList().add({"items": {"a": 1}})
