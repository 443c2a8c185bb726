"""Tree diff → protocol messages (DESIGN §6), and the reference reducer that undoes it."""

from __future__ import annotations

import copy

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from constellation import protocol
from watchers.diff import NamespaceDiffer, apply_messages, diff_namespace
from watchers.topology import BuildMemo, NamespaceObjects, TopologyConfig, build_namespace

NS = "shop"
ROOT = "Namespace/shop"
READY = [{"type": "Ready", "status": "True"}]


def pod(name, labels=None, phase="Running", ready=True, **metadata):
    return {
        "metadata": {"name": name, "namespace": NS, "labels": labels or {}, **metadata},
        "spec": {"containers": [{"name": "main", "image": "nginx"}]},
        "status": {"phase": phase, "conditions": READY if ready else []},
    }


def service(name, selector=None):
    return {"metadata": {"name": name, "namespace": NS}, "spec": {"selector": selector}}


def httproute(name, *backends):
    refs = [{"name": b} for b in backends]
    return {
        "metadata": {"name": name, "namespace": NS},
        "spec": {"hostnames": ["shop.example"], "rules": [{"backendRefs": refs}]},
    }


def build(pods=(), services=(), routes=(), **options):
    objs = NamespaceObjects(
        namespace={"metadata": {"name": NS}, "status": {"phase": "Active"}},
        pods={p["metadata"]["name"]: p for p in pods},
        services={s["metadata"]["name"]: s for s in services},
        httproutes={r["metadata"]["name"]: r for r in routes},
    )
    return build_namespace(NS, objs, TopologyConfig(), lambda ns, name: None, **options)


def node(kind, name, *children, **fields):
    node_id = f"Namespace/{name}" if kind == "Namespace" else f"{kind}/{NS}/{name}"
    return {"id": node_id, "kind": kind, "name": name, "children": list(children), **fields}


def types(messages):
    return [m["type"] for m in messages]


def diff(old, new):
    """The diff, checked against the reference reducer."""
    messages = diff_namespace(NS, old, new)
    assert apply_messages(old, messages) == new
    return messages


WEB, API = {"app": "web"}, {"tier": "api"}
BOTH = {"app": "web", "tier": "api"}
SERVICES = [service("web", WEB), service("api", API)]


# --- whole-namespace messages ----------------------------------------------------------------


def test_a_new_namespace_is_sent_whole():
    tree = build([pod("web-1", WEB)], SERVICES)
    assert diff(None, tree) == [protocol.relationship_updated(NS, tree)]


def test_a_deleted_namespace_is_one_message():
    assert diff(build(), None) == [protocol.namespace_deleted(NS)]
    assert diff(None, None) == []


def test_an_event_that_changes_nothing_shown_sends_nothing():
    before = build([pod("web-1", WEB, resourceVersion="1")], SERVICES)
    after = build([pod("web-1", WEB, resourceVersion="2")], SERVICES)
    assert diff(before, after) == []


# --- deltas ------------------------------------------------------------------------------------


def test_a_new_pod_is_added_under_its_parent_with_the_counts_updated():
    before = build([pod("web-1", WEB)], SERVICES)
    after = build([pod("web-1", WEB), pod("web-2", WEB)], SERVICES)
    new_pod = after["children"][1]["children"][1]
    web = {k: v for k, v in after["children"][1].items() if k != "children"}
    assert diff(before, after) == [
        protocol.resource_added(NS, "Service/shop/web", new_pod),
        protocol.resource_updated(NS, web),
        protocol.namespace_summary_update(
            NS, after["pod_summary"], ["Pod/shop/web-1", "Pod/shop/web-2"]
        ),
    ]


def test_a_pod_in_two_services_is_added_under_both_and_deleted_once():
    alone = build([pod("web-1", WEB)], SERVICES)
    shared = build([pod("web-1", WEB), pod("both", BOTH)], SERVICES)
    added = diff(alone, shared)
    assert [
        (m["parent_id"], m["resource"]["id"]) for m in added if m["type"] == "ResourceAdded"
    ] == [
        ("Service/shop/api", "Pod/shop/both"),
        ("Service/shop/web", "Pod/shop/both"),
    ]
    deleted = diff(shared, alone)
    assert [m for m in deleted if m["type"] == "ResourceDeleted"] == [
        protocol.resource_deleted(NS, "Pod/shop/both", "Pod", "both")
    ]


def test_a_changed_pod_in_two_services_is_updated_once():
    before = build([pod("both", BOTH)], SERVICES)
    after = build([pod("both", BOTH, ready=False)], SERVICES)
    messages = diff(before, after)
    updated = [m["resource"]["id"] for m in messages if m["type"] == "ResourceUpdated"]
    assert updated == [ROOT, "Pod/shop/both", "Service/shop/api", "Service/shop/web"]
    assert all("children" not in m["resource"] for m in messages if "resource" in m)
    assert types(messages)[-1] == "NamespaceSummaryUpdate"


def test_changes_beside_a_pod_shown_twice_are_all_sent():
    services, routes = [*SERVICES, service("db", {"app": "db"})], [httproute("front", "db")]
    before = build([pod("both", BOTH), pod("db-1", {"app": "db"})], services, routes)
    after = build([pod("both", BOTH), pod("db-1", {"app": "db"}, ready=False)], services, routes)
    messages = diff(before, after)
    updated = [m["resource"]["id"] for m in messages if m["type"] == "ResourceUpdated"]
    assert "Pod/shop/db-1" in updated


def test_a_removed_service_goes_with_its_pods_in_one_message():
    before = build([pod("web-1", WEB), pod("web-2", WEB)], SERVICES)
    after = build([], [service("api", API)])
    messages = diff(before, after)
    assert [m for m in messages if m["type"] == "ResourceDeleted"] == [
        protocol.resource_deleted(NS, "Service/shop/web", "Service", "web")
    ]


def test_messages_come_as_deletes_then_adds_then_updates_then_the_summary():
    before = build([pod("api-1", API), pod("web-1", WEB)], SERVICES)
    after = build([pod("api-2", API), pod("web-1", WEB, ready=False)], SERVICES)
    messages = diff(before, after)
    assert types(messages) == [
        "ResourceDeleted",
        "ResourceAdded",
        "ResourceUpdated",
        "ResourceUpdated",
        "ResourceUpdated",
        "NamespaceSummaryUpdate",
    ]
    updated = [m["resource"]["id"] for m in messages if m["type"] == "ResourceUpdated"]
    assert updated == sorted(updated)


def test_a_summary_only_change_of_the_namespace_sends_no_namespace_update():
    before = node("Namespace", NS, pod_summary={"total": 1}, health="Healthy")
    after = node("Namespace", NS, pod_summary={"total": 2}, health="Healthy")
    assert diff(before, after) == [protocol.namespace_summary_update(NS, {"total": 2}, [])]


def test_individual_pods_are_not_listed_while_a_service_is_collapsed():
    pods = [pod(f"web-{i}", WEB) for i in range(3)]
    before = build(pods[:2], SERVICES, collapsed_services=frozenset({"Service/shop/web"}))
    after = build(pods, SERVICES, collapsed_services=frozenset({"Service/shop/web"}))
    summary = diff(before, after)[-1]
    assert summary["type"] == "NamespaceSummaryUpdate"
    assert summary["pod_summary"]["total"] == 3
    assert summary["individual_pods"] is None


def test_collapsing_a_service_replaces_its_pods_with_cells():
    pods = [pod(f"web-{i}", WEB) for i in range(3)]
    before = build(pods, SERVICES)
    after = build(pods, SERVICES, collapsed_services=frozenset({"Service/shop/web"}))
    messages = diff(before, after)
    assert types(messages) == ["ResourceDeleted"] * 3 + ["ResourceAdded"] * 3 + ["ResourceUpdated"]
    assert [m["resource"]["id"] for m in messages if m["type"] == "ResourceAdded"] == [
        f"PodCell/shop/web-{i}" for i in range(3)
    ]


# --- structure and size ------------------------------------------------------------------------


def test_a_pod_moving_between_services_sends_the_namespace_whole():
    before = build([pod("p", WEB)], SERVICES)
    after = build([pod("p", API)], SERVICES)
    assert diff(before, after) == [protocol.relationship_updated(NS, after)]


def test_a_pod_gaining_a_second_service_is_structural():
    before = build([pod("p", WEB)], SERVICES)
    after = build([pod("p", BOTH)], SERVICES)
    assert types(diff(before, after)) == ["RelationshipUpdated"]


def test_a_route_taking_over_a_service_sends_the_namespace_whole():
    before = build([pod("web-1", WEB)], SERVICES)
    after = build([pod("web-1", WEB)], SERVICES, [httproute("front", "web")])
    assert types(diff(before, after)) == ["RelationshipUpdated"]


def test_a_new_route_over_a_new_service_is_one_added_subtree():
    before = build([pod("web-1", WEB)], [service("web", WEB)])
    after = build([pod("web-1", WEB), pod("api-1", API)], SERVICES, [httproute("front", "api")])
    messages = diff(before, after)
    added = [m for m in messages if m["type"] == "ResourceAdded"]
    assert [(m["parent_id"], m["resource"]["id"]) for m in added] == [
        (ROOT, "HTTPRoute/shop/front")
    ]
    assert added[0]["resource"]["children"][0]["children"][0]["id"] == "Pod/shop/api-1"


def test_deltas_larger_than_the_tree_are_replaced_by_the_tree():
    before = node("Namespace", NS, node("Pod", "a", v=1), node("Pod", "b", v=1), v=1)
    after = node("Namespace", NS, node("Pod", "a", v=2), node("Pod", "b", v=2), v=2)
    assert diff(before, after) == [protocol.relationship_updated(NS, after)]


@pytest.mark.parametrize("tree_size_given", [False, True])
def test_deltas_are_kept_up_to_exactly_the_size_of_the_whole_tree(tree_size_given):
    # Ten changed pods cost more as updates than inside the tree; an unchanged pod's padding
    # grows only the tree, so it moves the tie one byte at a time.
    def diffed(padding):
        quiet = node("Pod", "quiet", pad="x" * padding)
        before = node("Namespace", NS, *(node("Pod", f"p{i}", v=1) for i in range(10)), quiet)
        after = node("Namespace", NS, *(node("Pod", f"p{i}", v=2) for i in range(10)), quiet)
        size = len(orjson.dumps(after)) if tree_size_given else None
        return NamespaceDiffer(NS).diff(before, after, size), after

    _, after = diffed(0)
    deltas = [protocol.resource_updated(NS, node("Pod", f"p{i}", v=2)) for i in range(10)]
    for delta in deltas:
        del delta["resource"]["children"]
    whole = len(orjson.dumps(protocol.relationship_updated(NS, after)))
    tie = sum(len(orjson.dumps(delta)) for delta in deltas) - whole
    assert tie > 0
    assert diffed(tie)[0] == deltas
    assert types(diffed(tie - 1)[0]) == ["RelationshipUpdated"]


def test_a_tree_whose_repeated_ids_disagree_is_sent_whole():
    before = node("Namespace", NS, node("Service", "a"), node("Service", "b"))
    after = node(
        "Namespace",
        NS,
        node("Service", "a", node("Pod", "p", v=1)),
        node("Service", "b", node("Pod", "p", v=2)),
    )
    assert types(diff_namespace(NS, before, after)) == ["RelationshipUpdated"]


def test_a_tree_decoded_from_json_diffs_like_the_tree_itself():
    # Decoding turns a node shown in two places into two equal copies; it is still one node.
    before = build([pod("both", BOTH)], SERVICES)
    after = build([pod("both", BOTH, ready=False)], SERVICES)
    messages = diff_namespace(NS, before, after)
    assert "RelationshipUpdated" not in types(messages)
    assert diff_namespace(NS, orjson.loads(orjson.dumps(before)), after) == messages


def test_a_differ_given_an_old_tree_other_than_its_last_diffs_from_the_tree_given():
    differ = NamespaceDiffer(NS)
    one = build([pod("web-1", WEB)], SERVICES)
    two = build([pod("web-1", WEB), pod("web-2", WEB)], SERVICES)
    three = build([pod("web-1", WEB), pod("web-3", WEB)], SERVICES)
    differ.diff(one, two)
    assert apply_messages(three, differ.diff(three, one)) == one


# --- the reducer -------------------------------------------------------------------------------


def test_the_reducer_leaves_its_input_alone_and_skips_warnings():
    tree = build([pod("web-1", WEB)], SERVICES)
    kept = copy.deepcopy(tree)
    messages = [
        protocol.high_churn_warning(NS, [], 80.0),
        protocol.resource_deleted(NS, "Pod/shop/web-1", "Pod", "web-1"),
    ]
    assert apply_messages(tree, messages) != tree
    assert tree == kept


def test_the_reducer_refuses_deltas_for_a_namespace_it_has_no_tree_for():
    with pytest.raises(ValueError, match="without a tree"):
        apply_messages(None, [protocol.resource_deleted(NS, "Pod/shop/p", "Pod", "p")])


def scribble(value):
    """Change every dict and list inside `value` in place."""
    if isinstance(value, dict):
        for item in value.values():
            scribble(item)
        value["scribbled"] = True
    elif isinstance(value, list):
        for item in value:
            scribble(item)
        value.append("scribbled")


def test_the_reducer_shares_nothing_with_the_messages_it_applies():
    # One message list goes to every client; what one client does to its tree stays there.
    steady = [pod(f"web-{i}", WEB) for i in range(2, 6)]
    before = build([pod("web-1", WEB), *steady], [service("web", WEB)])
    after = build(
        [pod("web-1", WEB, ready=False), *steady, pod("api-1", API)],
        SERVICES,
        [httproute("front", "api")],
    )
    messages = [protocol.relationship_updated(NS, before), *diff(before, after)]
    assert {"ResourceAdded", "ResourceUpdated"} <= set(types(messages))
    kept = copy.deepcopy(messages)
    result = apply_messages(None, messages)
    assert messages == kept
    scribble(result)
    assert messages == kept


def test_the_reducer_puts_a_child_of_a_kind_it_does_not_know_after_the_known_ones():
    # A newer watcher may send a kind this reducer predates: it must place it, not fail.
    tree = node("Namespace", NS, node("Pod", "a"))
    messages = [
        protocol.resource_added(NS, ROOT, node("Gateway", "a")),
        protocol.resource_added(NS, ROOT, node("Service", "z")),
    ]
    kinds = [child["kind"] for child in apply_messages(tree, messages)["children"]]
    assert kinds == ["Service", "Pod", "Gateway"]


# --- property: the reducer applied to the diff gives the new tree -----------------------------

# Each part of a world is one draw from a small list, which keeps generation cheap.
LABEL_SETS = [{}, WEB, API, BOTH, {"app": "db"}]
POD_SPECS = st.sampled_from(
    [
        None,
        *(
            {"labels": labels, "phase": phase, "ready": ready, "terminating": terminating}
            for labels in LABEL_SETS
            for phase in ("Running", "Pending", "Failed", "Succeeded")
            for ready in (True, False)
            for terminating in (False, True)
        ),
    ]
)
PARTS = {
    "pods": (["p0", "p1", "p2", "p3", "p4"], POD_SPECS),
    "services": (
        ["web", "api", "db", "bare"],
        st.sampled_from([None, None, WEB, API, {"app": "db"}, BOTH]),
    ),
    "routes": (
        ["front", "back"],
        st.sampled_from([None, None, [], ["web"], ["api", "missing"], ["web", "api"], ["bare"]]),
    ),
    "collapsed": (["services"], st.sampled_from([(), ("web",), ("api",)])),
    "hidden": (["pods"], st.sampled_from([(), ("p0",), ("p1",)])),
}


def worlds():
    return st.fixed_dictionaries(
        {
            section: st.fixed_dictionaries({name: values for name in names})
            for section, (names, values) in PARTS.items()
        }
    )


@st.composite
def changed(draw, world):
    """`world` with one or two of its parts redrawn: the usual shape of one flush."""
    new = copy.deepcopy(world)
    parts = [(section, name) for section, (names, _) in PARTS.items() for name in names]
    for section, name in draw(st.lists(st.sampled_from(parts), min_size=1, max_size=2)):
        new[section][name] = draw(PARTS[section][1])
    return new


def build_world(world, memo=None, objects=None):
    """The world's tree; with `objects`, an unchanged part is the very same object as in the
    worlds built before (as the watcher's store keeps them), so `memo` can reuse it."""

    def make(factory, *args, **kwargs):
        if objects is None:
            return factory(*args, **kwargs)
        key = (factory.__name__, repr(args), repr(kwargs))
        return objects.setdefault(key, factory(*args, **kwargs))

    pods = []
    for name, spec in world["pods"].items():
        if spec is not None:
            extra = {"deletionTimestamp": "2026-11-23T12:00:00Z"} if spec["terminating"] else {}
            pods.append(make(pod, name, spec["labels"], spec["phase"], spec["ready"], **extra))
    return build(
        pods,
        [make(service, n, sel) for n, sel in world["services"].items() if sel is not None],
        [make(httproute, n, *refs) for n, refs in world["routes"].items() if refs is not None],
        collapsed_services=frozenset(f"Service/{NS}/{n}" for n in world["collapsed"]["services"]),
        hidden_pods=frozenset(world["hidden"]["pods"]),
        memo=memo,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_applying_the_diff_to_the_old_tree_gives_the_new_one(data):
    old_world = data.draw(worlds())
    new_world = data.draw(st.one_of(changed(old_world), changed(old_world), worlds()))
    old, new = build_world(old_world), build_world(new_world)
    messages = diff_namespace(NS, old, new)
    assert apply_messages(old, messages) == new
    assert apply_messages(new, diff_namespace(NS, new, old)) == old
    if old == new:
        assert messages == []


@settings(max_examples=100, deadline=None)
@given(worlds(), worlds())
def test_deltas_are_never_larger_than_the_tree(old_world, new_world):
    old, new = build_world(old_world), build_world(new_world)
    messages = [m for m in diff_namespace(NS, old, new) if m["type"] != "NamespaceSummaryUpdate"]
    whole = len(orjson.dumps(protocol.relationship_updated(NS, new)))
    assert sum(len(orjson.dumps(m)) for m in messages) <= whole


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_trees_sharing_unchanged_nodes_build_and_diff_like_fresh_ones(data):
    memo, objects, differ = BuildMemo(), {}, NamespaceDiffer(NS)
    world = data.draw(worlds())
    previous = None
    for _ in range(4):
        tree = build_world(world, memo, objects)
        assert tree == build_world(world)
        # The differ keeps the last tree's index and takes the new tree's size as given.
        messages = differ.diff(previous, tree, len(orjson.dumps(tree)))
        assert messages == diff_namespace(NS, previous, tree)
        if previous is not None:
            assert apply_messages(previous, messages) == tree
        previous = tree
        world = data.draw(changed(world))
