"""The namespace list down the side of every page, bounded whatever the cluster's size.

At 1,000 namespaces a full list is 1,000 rows in every page and in every live update, and
nobody scrolls it. The sidebar shows at most SIDEBAR_ROWS: the namespace being looked at, then
the unhealthy ones (Down, then Degraded), then the rest by name, and says how many it left
out; its filter box searches all of them (in the browser, over the in-memory summaries; without
script it submits to the overview's name filter). `static/dashboard/js/sidebar.js` orders the
same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboard.presenters import Summary, sidebar_row

SIDEBAR_ROWS = 50
_ATTENTION = {"Down": 0, "Degraded": 1}


def sidebar_order(summary: Summary, current: str | None) -> tuple[int, int, str]:
    """Sort key: the current namespace, the unhealthy ones (worst first), then by name."""
    name = summary["name"]
    if name == current:
        return (0, 0, name)
    attention = _ATTENTION.get(summary.get("health") or "")
    return (1, attention, name) if attention is not None else (2, 0, name)


def sidebar(
    summaries: Mapping[str, Summary], current: str | None, limit: int = SIDEBAR_ROWS
) -> dict[str, Any]:
    """The rows shown (at most `limit`), how many namespaces there are and how many are left
    out. `summaries` must already be only what the reader may see."""
    ordered = sorted(summaries.values(), key=lambda s: sidebar_order(s, current))
    rows = [sidebar_row(summary) for summary in ordered[:limit]]
    return {"rows": rows, "total": len(summaries), "rest": max(0, len(summaries) - limit)}
