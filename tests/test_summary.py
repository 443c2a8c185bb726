"""A namespace condensed for the overview, the sidebar and the groups page, from literal trees."""

from __future__ import annotations

from typing import Any

from constellation.summary import MAX_REASONS, namespace_summary, public


def node(kind: str, name: str, **fields: Any) -> dict[str, Any]:
    node_id = f"{kind}/shop/{name}" if kind != "Namespace" else f"Namespace/{name}"
    return {"id": node_id, "kind": kind, "name": name, "namespace": "shop",
            "children": [], **fields}


def pod(name: str, health: str = "ok", **fields: Any) -> dict[str, Any]:
    return node("Pod", name, health=health, labels={"app": "web", "pod": name}, **fields)


def shop(*children: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return node("Namespace", "shop", health="Healthy", children=list(children),
                pod_summary={"total": 0, "ready": 0}, **fields)


def test_counts_count_each_object_once_however_often_it_is_shown() -> None:
    shared = pod("both")
    tree = shop(
        node("HTTPRoute", "front", children=[node("Service", "web", children=[shared])]),
        node("Ingress", "edge", children=[node("Service", "web", children=[shared])]),
        node("Service", "api", collapsed=True,
             children=[{**node("PodCell", "both"), "health": "ok"},
                       {**node("PodCell", "only-cell"), "health": "ok"}]),
        node("ServiceRef", "gone", state="missing", health="Down"),
    )

    counts = namespace_summary(tree)["counts"]

    assert counts == {"HTTPRoute": 1, "Ingress": 1, "Service": 2, "ServiceRef": 1, "Pod": 2}


def test_health_pods_and_the_namespace_fields_come_from_the_tree() -> None:
    tree = shop(display_name="The shop", group="retail")
    tree["pod_summary"] = {"total": 5, "ready": 4, "pending": 1}
    tree["health"] = "Degraded"

    summary = namespace_summary(tree)

    assert (summary["name"], summary["display_name"], summary["group"]) == (
        "shop", "The shop", "retail"
    )
    assert summary["health"] == "Degraded"
    assert summary["pod_summary"] == {"total": 5, "ready": 4, "pending": 1}


def test_collapsed_services_make_the_churn_state_high() -> None:
    calm = namespace_summary(shop(node("Service", "web")))
    high = namespace_summary(shop(node("Service", "web", collapsed=True), node("Service", "api")))

    assert calm["churn"] == {"state": "calm", "services": []}
    assert high["churn"] == {"state": "high", "services": ["web"]}


def test_reasons_say_what_is_wrong_and_stop_at_a_few() -> None:
    tree = shop(
        node("ServiceRef", "gone", state="missing", health="Down"),
        node("Service", "api", health="Degraded", pod_summary={"ready": 1, "total": 3}),
        pod("crash", health="error", reason="CrashLoopBackOff"),
        node("Service", "ok", health="Healthy"),
        *(pod(f"bad-{i}", health="error", phase="Failed") for i in range(8)),
    )

    reasons = namespace_summary(tree)["reasons"]

    assert reasons[:3] == [
        "Service gone is missing (a route points at it)",
        "Service api: 1/3 pods ready",
        "Pod crash: CrashLoopBackOff",
    ]
    assert reasons[3] == "Pod bad-0: Failed"
    assert len(reasons) == MAX_REASONS


def test_grouped_nodes_list_routes_and_services_but_never_pods() -> None:
    tree = shop(
        node("HTTPRoute", "front", group="edge", health="Healthy",
             children=[node("Service", "web", group="edge", health="Healthy",
                            children=[pod("p", group="edge")])]),
        group="retail",
    )

    grouped = namespace_summary(tree)["grouped"]

    assert [(g["kind"], g["name"], g["group"]) for g in grouped] == [
        ("Namespace", "shop", "retail"),
        ("HTTPRoute", "front", "edge"),
        ("Service", "web", "edge"),
    ]


def test_the_label_index_is_kept_on_the_server_and_never_made_public() -> None:
    summary = namespace_summary(shop(pod("a"), pod("b")))

    assert summary["labels"] == ["app=web", "pod=a", "pod=b"]
    assert "labels" not in public(summary)
    assert {k: v for k, v in summary.items() if k != "labels"} == public(summary)
