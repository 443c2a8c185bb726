"""The overview's list of namespaces: filter, order and pages, like the admin's ChangeList.

At 1,000 namespaces the overview must not put 1,000 tiles through the template or the DOM, so
`Overview` owns the whole list (every visible namespace's summary), answers the filter over the
summaries, orders the matches and pages them with Django's `Paginator`; the page renders one
page of tiles. The filter, the order and the page live in the URL, so a view can be shared.
The browser answers the same filter over its in-memory summaries (`static/dashboard/js`),
except the label filter: labels stay on the server, so the browser asks `label_matches`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator

from dashboard.presenters import FILTER_KINDS, NAMESPACE_HEALTH, SEVERITY, Summary, tile

PAGE_SIZE = 60
"""Tiles per page: a few screens on a wall display, divisible by 2, 3, 4, 5 and 6 columns."""
ORDERS = {"name": "Name", "health": "Worst health first"}
DEFAULT_ORDER = "name"


@dataclass(frozen=True)
class OverviewFilter:
    """The overview's filter, kept in the URL query so a filtered view can be shared.

    name: substring of the namespace's name or display name; label: `key` or `key=value` on any
    node of the namespace; kind: the namespace holds a node of that kind; health: the
    namespace's own health. Empty fields match everything.
    """

    name: str = ""
    label: str = ""
    kind: str = ""
    health: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> OverviewFilter:
        """Read `?name=&label=&kind=&health=`, ignoring values no namespace could match."""
        kind = query.get("kind", "").strip()
        health = query.get("health", "").strip()
        return cls(
            name=query.get("name", "").strip()[:253],
            label=query.get("label", "").strip()[:317],
            kind=kind if kind in FILTER_KINDS else "",
            health=health if health in NAMESPACE_HEALTH else "",
        )

    @property
    def active(self) -> bool:
        return any(asdict(self).values())

    def label_matches(self, summary: Summary) -> bool:
        """Whether any node of the namespace carries the label (the summary's label index)."""
        if not self.label:
            return True
        key, has_value, value = self.label.partition("=")
        labels = summary.get("labels") or ()
        if has_value:
            return f"{key.strip()}={value.strip()}" in labels
        prefix = f"{key.strip()}="
        return any(label.startswith(prefix) for label in labels)

    def matches(self, summary: Summary) -> bool:
        """Whether the namespace passes every active field."""
        needle = self.name.lower()
        names = (summary["name"], summary.get("display_name"))
        if needle and not any(needle in (text or "").lower() for text in names):
            return False
        if self.health and summary.get("health") != self.health:
            return False
        if self.kind and not (summary.get("counts") or {}).get(self.kind):
            return False
        return self.label_matches(summary)


def order_key(order: str) -> Callable[[Summary], tuple[Any, ...]]:
    """How matches are sorted: by name, or worst health first and then by name."""
    if order == "health":
        return lambda s: (SEVERITY.get(s.get("health") or "", len(SEVERITY)), s["name"])
    return lambda s: (s["name"],)


class Overview:
    """One page of the overview: the visible namespaces' summaries filtered, ordered, paged.

    `summaries` must already be only what the reader may see (`permissions.NamespaceAccess`):
    the totals and the match counts are computed from them.
    """

    def __init__(
        self,
        summaries: Mapping[str, Summary],
        query: Mapping[str, str],
        namespace_url: Callable[[str], str],
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.summaries = summaries
        self.filter = OverviewFilter.from_query(query)
        order = query.get("order", "")
        self.order = order if order in ORDERS else DEFAULT_ORDER
        matched = sorted(
            (s for s in summaries.values() if self.filter.matches(s)), key=order_key(self.order)
        )
        self.paginator = Paginator(matched, page_size)
        self.page: Page = self.paginator.get_page(query.get("page"))
        self.tiles = [{**tile(s), "url": namespace_url(s["name"])} for s in self.page]

    @property
    def namespace_count(self) -> int:
        return len(self.summaries)

    @property
    def match_count(self) -> int:
        return self.paginator.count

    def result_text(self) -> str:
        """How many namespaces match and which of them this page shows (the JS says the same)."""
        total, count = self.namespace_count, self.match_count
        if self.filter.active:
            text = f"{count} of {total} namespaces match"
        else:
            text = f"{total} namespace{'' if total == 1 else 's'}"
        if self.paginator.num_pages > 1:
            text += f" · {self.page.start_index()}–{self.page.end_index()} shown"
        return text

    def totals(self) -> dict[str, Any]:
        """The header's figures over every visible namespace (not only the matches)."""
        by_health = dict.fromkeys(NAMESPACE_HEALTH, 0)
        ready = total = 0
        for summary in self.summaries.values():
            if summary.get("health") in by_health:
                by_health[summary["health"]] += 1
            pods = summary.get("pod_summary") or {}
            ready += int(pods.get("ready") or 0)
            total += int(pods.get("total") or 0)
        return {"by_health": by_health, "pods_ready": ready, "pods_total": total}

    def query(self, page: int | None = None) -> str:
        """The URL query of this view, on `page` (the filter and the order kept)."""
        params = {key: value for key, value in asdict(self.filter).items() if value}
        if self.order != DEFAULT_ORDER:
            params["order"] = self.order
        if page is not None and page > 1:
            params["page"] = str(page)
        return f"?{urlencode(params)}" if params else "?"

    def page_links(self) -> list[dict[str, Any]]:
        """The pager: page numbers with gaps (Django's elided range), each with its URL."""
        if self.paginator.num_pages <= 1:
            return []
        links = []
        for number in self.paginator.get_elided_page_range(self.page.number):
            if number == Paginator.ELLIPSIS:
                links.append({"gap": True})
            else:
                links.append(
                    {
                        "number": number,
                        "url": self.query(int(number)),
                        "current": number == self.page.number,
                    }
                )
        return links

    def neighbour_urls(self) -> dict[str, str | None]:
        """Previous and next page URLs, None at the ends."""
        page = self.page
        return {
            "previous": self.query(page.previous_page_number()) if page.has_previous() else None,
            "next": self.query(page.next_page_number()) if page.has_next() else None,
        }


def label_matches(summaries: Mapping[str, Summary], label: str) -> list[str]:
    """The namespaces (of those given) with a node carrying `label`, by name."""
    wanted = OverviewFilter(label=label.strip()[:317])
    return sorted(name for name, summary in summaries.items() if wanted.label_matches(summary))
