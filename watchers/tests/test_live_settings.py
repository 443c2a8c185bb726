"""Every admin setting reaches a running watcher and does what it says, and only that.

Each test saves the WatcherSettings row the admin edits, waits until the running watcher has
loaded it (its pipeline's config equals the row's: the event, not a sleep), and then makes a
positive observation (the setting took effect where it should) and a negative one (it did not
act where it should not: a filter that hid every namespace, or a collapse of every service,
would fail). "Not shown" is only asserted after something created later *is* shown, so a
watcher that is merely slow cannot pass for one that hides.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from simcluster.cluster import SimCluster
from simcluster.kubelet import START_DELAY_MS
from watchers.config import load_watcher_config, watcher_config
from watchers.kube.informer import InformerConfig
from watchers.models import WatcherSettings
from watchers.tests.world import WatcherWorld, node_ids, watching

pytestmark = pytest.mark.django_db(transaction=True)

# Like world.EXACT: what the watcher shows is the cluster as it is, until a test changes one.
BASELINE = {
    "debounce_ms": 50,
    "max_wait_ms": 200,
    "pending_grace_ms": 0,
    "terminating_linger_ms": 0,
    "churn_window_s": 60,
    "churn_threshold_per_min": 100_000,
    "collapse_pods_over": 100_000,
    "include_namespaces": "",
    "exclude_namespaces": "",
    "annotation_prefix": "constellation.io/",
}
CONTAINERS = {"containers": [{"name": "app", "image": "nginx"}]}


def service(name: str, app: str | None = None, annotations: dict | None = None) -> dict:
    return {
        "metadata": {"name": name, "annotations": annotations or {}},
        "spec": {"selector": {"app": app or name}, "ports": [{"port": 80}]},
    }


def pod(name: str, app: str, annotations: dict | None = None) -> dict:
    return {
        "metadata": {"name": name, "labels": {"app": app}, "annotations": annotations or {}},
        "spec": CONTAINERS,
    }


def nodes(snapshot: Any, namespace: str) -> dict[str, dict]:
    """Every node of a namespace's published tree by id (empty when it is not published)."""
    found: dict[str, dict] = {}
    stack = [snapshot.trees.get(namespace) or {}]
    while stack:
        node = stack.pop()
        if "id" in node:
            found.setdefault(node["id"], node)
        stack.extend(node.get("children") or ())
    return found


@pytest.fixture
async def live(empty_sim: SimCluster, fresh_redis_url: str) -> AsyncIterator[WatcherWorld]:
    """A watcher reading its settings from the database, started from BASELINE."""
    await save_settings()
    empty_sim.create("namespaces", {"metadata": {"name": "blog"}})
    async with watching(empty_sim, fresh_redis_url, ["shop", "blog"]) as world:
        world.service.config_source = load_watcher_config
        await applied(world)
        yield world


async def save_settings(**changes: Any) -> WatcherSettings:
    def save() -> WatcherSettings:
        row = WatcherSettings.load()
        for field, value in {**BASELINE, **changes}.items():
            setattr(row, field, value)
        row.full_clean()
        row.save()
        return row

    return await sync_to_async(save)()


async def applied(world: WatcherWorld, **changes: Any) -> None:
    """Save BASELINE with `changes`; wait until the running watcher has loaded them and
    published the re-render they cause (a change arriving before that would ride along)."""
    wanted = watcher_config(await save_settings(**changes))
    pipeline = world.service.pipeline
    deadline = time.monotonic() + 15
    while pipeline.config != wanted or pipeline.next_deadline() is not None:
        assert time.monotonic() < deadline, f"the watcher never applied {changes}"
        await asyncio.sleep(0.05)


async def shown(world: WatcherWorld, namespace: str, node_id: str) -> dict:
    """Wait for `node_id` in the namespace's published tree; return its node."""
    snapshot = await world.until(
        lambda s: node_id in nodes(s, namespace), f"{node_id} in the snapshot"
    )
    return nodes(snapshot, namespace)[node_id]


async def test_excluded_namespaces_leave_the_picture_and_the_others_stay(
    live: WatcherWorld,
) -> None:
    await shown(live, "blog", "Namespace/blog")

    await applied(live, exclude_namespaces="bl*")

    snapshot = await live.until(lambda s: "blog" not in s.trees, "blog excluded")
    assert "shop" in snapshot.trees
    await applied(live)
    await shown(live, "blog", "Namespace/blog")


async def test_an_include_list_keeps_only_matching_namespaces(
    live: WatcherWorld, empty_sim: SimCluster
) -> None:
    await applied(live, include_namespaces="shop")

    snapshot = await live.until(lambda s: "blog" not in s.trees, "blog left out")
    assert set(snapshot.trees) == {"shop"}
    empty_sim.create("services", service("cart"), "shop")
    await shown(live, "shop", "Service/shop/cart")


async def test_the_annotation_prefix_decides_which_annotations_count(
    live: WatcherWorld, empty_sim: SimCluster
) -> None:
    empty_sim.create(
        "services", service("named", annotations={"example.com/display-name": "Storefront"}), "shop"
    )
    empty_sim.create(
        "services", service("hidden", annotations={"constellation.io/ignore": "true"}), "shop"
    )
    assert (await shown(live, "shop", "Service/shop/named")).get("display_name") is None
    assert "Service/shop/hidden" not in nodes(await live.snapshot(), "shop")

    await applied(live, annotation_prefix="example.com/")

    snapshot = await live.until(
        lambda s: nodes(s, "shop").get("Service/shop/named", {}).get("display_name")
        == "Storefront",
        "the display name under the new prefix",
    )
    assert "Service/shop/hidden" in nodes(snapshot, "shop")


async def test_services_over_collapse_pods_over_show_a_summary_and_smaller_ones_their_pods(
    live: WatcherWorld, empty_sim: SimCluster
) -> None:
    for name in ("big", "small"):
        empty_sim.create("services", service(name), "shop")
    for i in range(3):
        empty_sim.create("pods", pod(f"big-{i}", "big"), "shop")
    empty_sim.create("pods", pod("small-0", "small"), "shop")
    await shown(live, "shop", "Pod/shop/big-2")
    await shown(live, "shop", "Pod/shop/small-0")

    await applied(live, collapse_pods_over=2)

    snapshot = await live.until(
        lambda s: nodes(s, "shop")["Service/shop/big"].get("collapsed"), "big collapsed"
    )
    shop = nodes(snapshot, "shop")
    assert shop["Service/shop/big"]["pod_summary"]["total"] == 3
    assert not {f"Pod/shop/big-{i}" for i in range(3)} & set(shop)
    assert not shop["Service/shop/small"].get("collapsed")
    assert "Pod/shop/small-0" in shop


@pytest.mark.parametrize(
    ("threshold", "window_s", "collapses"),
    [
        pytest.param(1, 60, True, id="threshold-1-per-min"),
        pytest.param(100_000, 60, False, id="threshold-100000-per-min"),
        pytest.param(30, 10, True, id="window-10s"),
        pytest.param(30, 3600, False, id="window-1h"),
    ],
)
async def test_churn_threshold_and_window_decide_which_service_collapses(
    live: WatcherWorld, empty_sim: SimCluster, threshold: int, window_s: int, collapses: bool
) -> None:
    # Six pod ADDED events: 36 /min over 10 s, 6 /min over 60 s, 0.1 /min over an hour.
    for name in ("busy", "quiet"):
        empty_sim.create("services", service(name), "shop")
    empty_sim.create("pods", pod("quiet-0", "quiet"), "shop")
    await shown(live, "shop", "Pod/shop/quiet-0")
    await applied(live, churn_threshold_per_min=threshold, churn_window_s=window_s)

    for i in range(6):
        empty_sim.create("pods", pod(f"busy-{i}", "busy"), "shop")
    empty_sim.create("services", service("marker"), "shop")

    snapshot = await live.until(
        lambda s: "Service/shop/marker" in nodes(s, "shop")
        and (
            nodes(s, "shop")["Service/shop/busy"].get("collapsed")
            or "Pod/shop/busy-5" in nodes(s, "shop")
        ),
        "the busy service's pods or its summary",
    )
    shop = nodes(snapshot, "shop")
    assert bool(shop["Service/shop/busy"].get("collapsed")) is collapses
    assert not shop["Service/shop/quiet"].get("collapsed")
    assert "Pod/shop/quiet-0" in shop


async def test_a_churning_namespace_sends_a_high_churn_warning_above_the_threshold(
    live: WatcherWorld, empty_sim: SimCluster
) -> None:
    empty_sim.create("services", service("busy"), "shop")
    await shown(live, "shop", "Service/shop/busy")
    await applied(live, churn_threshold_per_min=1)

    for i in range(3):
        empty_sim.create("pods", pod(f"busy-{i}", "busy"), "shop")

    while True:
        _, body = await live.next_message()
        if body["type"] == "HighChurnWarning":
            break
    assert body["namespace"] == "shop"
    assert body["affected_services"] == ["Service/shop/busy"]


async def test_debounce_holds_a_change_back_then_sends_it(
    live: WatcherWorld, empty_sim: SimCluster
) -> None:
    await applied(live, debounce_ms=4000, max_wait_ms=60_000)

    created = time.monotonic()
    empty_sim.create("services", service("late"), "shop")
    await shown(live, "shop", "Service/shop/late")

    # A lower bound only (load can delay a flush, never bring it forward). The debounce counts
    # from the earliest time an event can have arrived: the informer's previous block read.
    early = (live.service.options.informer or InformerConfig()).read_interval_s
    assert time.monotonic() - created >= 4.0 - early


async def test_max_wait_flushes_a_namespace_that_never_goes_quiet(
    live: WatcherWorld, empty_sim: SimCluster
) -> None:
    await applied(live, debounce_ms=3000, max_wait_ms=3000)
    empty_sim.create("services", service("first"), "shop")

    # A change every 0.3 s: the debounce alone would never fire while this goes on.
    for i in range(100):
        if "Service/shop/first" in nodes(await live.snapshot(), "shop"):
            break
        empty_sim.create("services", service(f"churn-{i}"), "shop")
        await asyncio.sleep(0.3)
    else:
        raise AssertionError("the first change was not sent while changes kept coming")


async def test_without_max_wait_a_namespace_that_never_goes_quiet_waits(
    live: WatcherWorld, empty_sim: SimCluster
) -> None:
    await applied(live, debounce_ms=3000, max_wait_ms=120_000)
    empty_sim.create("services", service("first"), "shop")

    for i in range(20):
        assert "Service/shop/first" not in nodes(await live.snapshot(), "shop")
        empty_sim.create("services", service(f"churn-{i}"), "shop")
        await asyncio.sleep(0.3)
    await shown(live, "shop", "Service/shop/first")


async def test_pending_grace_hides_young_pending_pods_but_not_running_ones(
    live: WatcherWorld, empty_sim: SimCluster
) -> None:
    empty_sim.create("services", service("web"), "shop")
    await applied(live, pending_grace_ms=60_000)

    empty_sim.create("pods", pod("starting", "web", {START_DELAY_MS: "600000"}), "shop")
    empty_sim.create("pods", pod("running", "web"), "shop")
    snapshot = await live.until(
        lambda s: nodes(s, "shop").get("Pod/shop/running", {}).get("phase") == "Running",
        "the running pod",
    )
    assert "Pod/shop/starting" not in nodes(snapshot, "shop")

    await applied(live, pending_grace_ms=0)
    assert (await shown(live, "shop", "Pod/shop/starting"))["phase"] == "Pending"


async def test_terminating_linger_keeps_a_deleted_pod_in_view_until_it_is_lowered(
    live: WatcherWorld, empty_sim: SimCluster
) -> None:
    empty_sim.create("services", service("web"), "shop")
    empty_sim.create("pods", pod("leaving", "web"), "shop")
    await shown(live, "shop", "Pod/shop/leaving")
    await applied(live, terminating_linger_ms=60_000)

    empty_sim.delete("pods", "shop", "leaving")
    await live.until(lambda _: not empty_sim.list("pods", "shop"), "the pod gone from the API")
    empty_sim.create("services", service("marker"), "shop")
    await shown(live, "shop", "Service/shop/marker")
    ghost = nodes(await live.snapshot(), "shop").get("Pod/shop/leaving")
    assert ghost is not None and ghost["phase"] == "Terminating"

    await applied(live, terminating_linger_ms=0)
    await live.until(lambda s: "Pod/shop/leaving" not in nodes(s, "shop"), "the ghost gone")
    assert "Service/shop/marker" in node_ids((await live.snapshot()).trees["shop"])
