"""The overview's view-model over namespace summaries: filter, order, pages (no snapshot, no
templates: `Overview` is a function of the summaries and the query)."""

from __future__ import annotations

import pytest

from dashboard.overview import Overview, OverviewFilter, label_matches


def summary(name: str, health: str = "Healthy", labels: tuple[str, ...] = (), **counts: int):
    return {"name": name, "health": health, "labels": list(labels), "counts": counts}


@pytest.mark.parametrize(
    ("label", "matches"),
    [
        ("app", True),
        ("app=web", True),
        ("app=we", False),  # a value matches whole, not as a prefix
        ("ap", False),  # a key matches whole
        ("url=a=b", True),  # the first "=" splits key from value
        (" app = web ", True),
        ("", True),
    ],
)
def test_a_label_filter_is_a_key_or_a_key_and_value(label: str, matches: bool) -> None:
    found = summary("shop", labels=("app=web", "url=a=b"))
    assert OverviewFilter(label=label).label_matches(found) is matches


def test_the_filter_reads_the_query_and_ignores_what_nothing_could_match() -> None:
    read = OverviewFilter.from_query({"name": " pay ", "kind": "Deployment", "health": "Down"})
    assert read == OverviewFilter(name="pay", kind="", health="Down")
    assert read.active and not OverviewFilter().active


def test_pages_are_counted_after_filtering_and_links_keep_the_view() -> None:
    summaries = {f"ns-{i:03d}": summary(f"ns-{i:03d}", Service=i % 2) for i in range(300)}
    view = Overview(summaries, {"kind": "Service", "order": "health", "page": "2"}, str)
    assert view.match_count == 150 and view.paginator.num_pages == 3
    assert [t["name"] for t in view.tiles][:2] == ["ns-121", "ns-123"]
    assert view.result_text() == "150 of 300 namespaces match · 61–120 shown"
    assert view.neighbour_urls() == {
        "previous": "?kind=Service&order=health",
        "next": "?kind=Service&order=health&page=3",
    }
    assert [link.get("number") for link in view.page_links()] == [1, 2, 3]


def test_worst_health_comes_first_then_names() -> None:
    summaries = {
        name: summary(name, health)
        for name, health in [("a", "Healthy"), ("b", "Unknown"), ("c", "Down"), ("d", "Degraded")]
    }
    tiles = Overview(summaries, {"order": "health"}, str).tiles
    assert [t["name"] for t in tiles] == ["c", "d", "b", "a"]


def test_label_matches_names_the_namespaces_carrying_a_label() -> None:
    summaries = {"a": summary("a", labels=("tier=gold",)), "b": summary("b")}
    assert label_matches(summaries, "tier") == ["a"]
    assert label_matches(summaries, "tier=silver") == []
