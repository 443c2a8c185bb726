import orjson
import pytest

from watchers.kube.driver import WatchDriver, parse_status, status_error
from watchers.kube.policy import Failure, ListMode, Phase
from watchers.kube.relist import PagedList
from watchers.kube.resources import ENDPOINTSLICES, PODS


class Fixed:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def pod(name, rv, uid=None, **meta):
    metadata = {"name": name, "namespace": "shop", "uid": uid or f"uid-{name}"}
    metadata.update(resourceVersion=rv, **meta)
    return {"kind": "Pod", "apiVersion": "v1", "metadata": metadata}


def line(event_type, obj):
    return orjson.dumps({"type": event_type, "object": obj}) + b"\n"


def bookmark(rv):
    return line("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": rv}})


EXPIRED = line(
    "ERROR",
    {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "too old resource version: 103 (200)",
        "reason": "Expired",
        "code": 410,
    },
)


def listed(*items, rv="100", rng=0.0):
    driver = WatchDriver(PODS, Fixed(rng))
    listing = PagedList()
    listing.add(
        driver.parse_page(orjson.dumps({"metadata": {"resourceVersion": rv}, "items": items}))
    )
    events = driver.apply_list(listing)
    return driver, events


def test_the_first_list_is_a_paged_consistent_read():
    driver = WatchDriver(PODS, Fixed(0.0), page_size=250)
    assert driver.list_params(ListMode.CONSISTENT) == [("limit", "250")]


def test_a_relist_reads_not_older_than_the_last_version():
    driver, _ = listed(rv="100")
    assert driver.list_params(ListMode.AT_LAST_RV) == [
        ("limit", "500"),
        ("resourceVersion", "100"),
        ("resourceVersionMatch", "NotOlderThan"),
    ]


def test_later_pages_send_only_the_continue_token():
    driver, _ = listed(rv="100")
    assert driver.list_params(ListMode.AT_LAST_RV, "tok") == [("limit", "500"), ("continue", "tok")]


def test_an_unpaged_relist_sends_nothing():
    driver, _ = listed(rv="100")
    assert driver.list_params(ListMode.UNPAGED) == []


def test_a_resource_with_a_label_selector_sends_it_on_every_list_page_and_watch():
    driver = WatchDriver(ENDPOINTSLICES, Fixed(0.0))
    selector = ("labelSelector", ENDPOINTSLICES.label_selector)
    assert selector in driver.list_params(ListMode.CONSISTENT)
    assert selector in driver.list_params(ListMode.AT_LAST_RV, "tok")
    assert selector in driver.watch_params()
    assert "endpointslice-controller.k8s.io" in ENDPOINTSLICES.label_selector


def test_the_watch_starts_at_the_list_version_even_when_it_is_above_every_item():
    # Case #14.
    driver, events = listed(pod("a", "5"), pod("b", "7"), rv="90")
    assert [t for t, _ in events] == ["ADDED", "ADDED"]
    assert driver.watch_params() == [
        ("watch", "true"),
        ("resourceVersion", "90"),
        ("allowWatchBookmarks", "true"),
        ("timeoutSeconds", "300"),
    ]


def test_the_watch_timeout_is_random_between_five_and_ten_minutes():
    assert dict(listed(rng=0.99999)[0].watch_params())["timeoutSeconds"] == "600"
    assert dict(listed(rng=0.5)[0].watch_params())["timeoutSeconds"] == "450"


def test_only_a_complete_list_replaces_the_cache():
    driver = WatchDriver(PODS, Fixed(0.0))
    partial = PagedList()
    partial.add({"metadata": {"resourceVersion": "9", "continue": "t"}, "items": [pod("a", "5")]})
    with pytest.raises(ValueError):
        driver.apply_list(partial)
    assert driver.index == {}
    assert driver.last_rv is None


def test_listed_objects_lose_managed_fields():
    _, events = listed(pod("a", "5", managedFields=[{"manager": "kubectl"}]))
    assert "managedFields" not in events[0][1]["metadata"]


def test_watch_events_are_parsed_and_tracked():
    driver, _ = listed(pod("a", "5"))
    driver.watch_params()
    chunk = line("MODIFIED", pod("a", "101")) + line("ADDED", pod("b", "102"))
    events, error = driver.feed(chunk + line("DELETED", pod("a", "103")))
    assert error is None
    assert [(t, o["metadata"]["name"]) for t, o in events] == [
        ("MODIFIED", "a"),
        ("ADDED", "b"),
        ("DELETED", "a"),
    ]
    assert driver.last_rv == "103"
    assert driver.index == {("shop", "b"): ("uid-b", "102")}
    assert driver.watch_events == 3


def test_watch_events_lose_managed_fields():
    driver, _ = listed()
    driver.watch_params()
    events, _ = driver.feed(line("ADDED", pod("a", "101", managedFields=[{"manager": "x"}])))
    assert "managedFields" not in events[0][1]["metadata"]


def test_bookmarks_advance_the_version_without_producing_events():
    # Case #11.
    driver, _ = listed()
    driver.watch_params()
    events, error = driver.feed(bookmark("150") + bookmark("160"))
    assert (events, error) == ([], None)
    assert driver.last_rv == "160"
    assert driver.watch_events == 2


def test_an_event_split_across_chunks_is_assembled():
    # Case #12.
    driver, _ = listed()
    driver.watch_params()
    data = line("ADDED", pod("a", "101")) + line("ADDED", pod("b", "102"))
    cut = len(data) - 30
    first, _ = driver.feed(data[:cut])
    second, _ = driver.feed(data[cut:])
    assert [o["metadata"]["name"] for _, o in first + second] == ["a", "b"]
    assert driver.last_rv == "102"


def test_a_final_line_without_newline_is_discarded_and_the_watch_resumes_before_it():
    # Case #12: a reset mid-event.
    driver, _ = listed()
    driver.watch_params()
    events, _ = driver.feed(line("ADDED", pod("a", "101")) + line("ADDED", pod("b", "102"))[:-1])
    assert [o["metadata"]["name"] for _, o in events] == ["a"]
    assert driver.end_watch() > 0
    assert driver.last_rv == "101"
    assert dict(driver.watch_params())["resourceVersion"] == "101"


def test_an_error_410_event_ends_the_batch_after_the_events_before_it():
    # Case #6.
    driver, _ = listed()
    driver.watch_params()
    events, error = driver.feed(line("ADDED", pod("a", "101")) + EXPIRED + bookmark("999"))
    assert [o["metadata"]["name"] for _, o in events] == ["a"]
    assert error.failure is Failure.EXPIRED
    assert error.message == "410 Expired: too old resource version: 103 (200)"
    assert driver.last_rv == "101"


def test_an_error_event_without_a_code_is_a_server_error():
    driver, _ = listed()
    driver.watch_params()
    _, error = driver.feed(line("ERROR", {"kind": "Status", "message": "etcd is sad"}))
    assert error.failure is Failure.SERVER_ERROR


@pytest.mark.parametrize(
    "bad",
    [
        b"{not json\n",
        b'{"type": "ADDED"}\n',
        b'{"type": "ADDED", "object": {"metadata": "x"}}\n',
        b'{"type": "MODIFIED", "object": {"metadata": {"namespace": "shop"}}}\n',
        b"[1, 2]\n",
    ],
)
def test_a_malformed_line_ends_the_batch_so_the_informer_relists(bad):
    driver, _ = listed()
    driver.watch_params()
    events, error = driver.feed(line("ADDED", pod("a", "101")) + bad + line("ADDED", pod("b", "9")))
    assert [o["metadata"]["name"] for _, o in events] == ["a"]
    assert error.failure is Failure.MALFORMED
    assert driver.last_rv == "101"


def test_blank_lines_are_ignored():
    driver, _ = listed()
    driver.watch_params()
    events, error = driver.feed(b"\n\n" + line("ADDED", pod("a", "101")) + b"\n")
    assert len(events) == 1
    assert error is None


def test_a_duplicate_added_is_an_upsert_and_a_deleted_for_an_unknown_key_changes_nothing():
    # Case #5: both are passed on; the store upserts and ignores, the cache stays right.
    driver, _ = listed(pod("a", "5"))
    driver.watch_params()
    events, _ = driver.feed(line("ADDED", pod("a", "101")) + line("DELETED", pod("ghost", "102")))
    assert [t for t, _ in events] == ["ADDED", "DELETED"]
    assert driver.index == {("shop", "a"): ("uid-a", "101")}


def test_a_watch_from_scratch_ignores_versions_of_the_unordered_added_burst():
    # Case #4: the synthetic ADDEDs carry each object's own RV, in any order.
    driver = WatchDriver(PODS, Fixed(0.0))
    listing = PagedList()
    listing.add({"metadata": {"resourceVersion": ""}, "items": []})
    driver.apply_list(listing)
    assert not driver.resumable
    assert dict(driver.watch_params())["resourceVersion"] == ""
    driver.feed(line("ADDED", pod("a", "8467")) + line("ADDED", pod("b", "5726")))
    assert not driver.resumable
    driver.feed(line("MODIFIED", pod("b", "8470")) + line("ADDED", pod("c", "8471")))
    assert driver.last_rv == "8471"
    assert driver.resumable


def test_a_bookmark_also_ends_the_added_burst():
    driver = WatchDriver(PODS, Fixed(0.0))
    driver.watch_params()
    driver.feed(line("ADDED", pod("a", "8467")) + bookmark("9000"))
    assert driver.last_rv == "9000"


def test_opaque_versions_work_on_equality_alone():
    # Case #18.
    driver, _ = listed(pod("a", "abc-5"), rv="abc-7")
    driver.watch_params()
    driver.feed(line("MODIFIED", pod("a", "abc-8")))
    assert dict(driver.watch_params())["resourceVersion"] == "abc-8"
    listing = PagedList()
    listing.add({"metadata": {"resourceVersion": "abc-9"}, "items": [pod("a", "abc-8")]})
    assert driver.apply_list(listing) == []


def test_forgetting_deletes_everything_cached():
    driver, _ = listed(pod("b", "5"), pod("a", "6"))
    events = driver.forget()
    assert [(t, o["metadata"]["name"]) for t, o in events] == [("DELETED", "a"), ("DELETED", "b")]
    assert driver.index == {}
    assert not driver.resumable


def test_error_bodies_parse_to_a_status_or_nothing():
    body = b'{"kind":"Status","code":403,"reason":"Forbidden","message":"pods is forbidden"}'
    status = parse_status(body)
    assert status_error(403, status, Phase.LIST) == (
        Failure.UNAUTHORIZED,
        "403 Forbidden: pods is forbidden",
    )
    assert parse_status(b"<html>bad gateway</html>") == {}
    assert parse_status(b"[1]") == {}
    assert status_error(502, {}, Phase.WATCH) == (Failure.SERVER_ERROR, "502")
