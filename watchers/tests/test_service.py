"""The watcher end to end: simcluster → informers → pipeline → Redis snapshot + channel layer."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from kubernetes import client as k8s

from constellation.snapshot import RedisSnapshotStore
from simcluster.cluster import free_port
from watchers.publish import Publisher
from watchers.service import WatcherService
from watchers.tests.world import FAST_OPTIONS, node_ids, watching

POD = {"spec": {"containers": [{"name": "a", "image": "nginx"}]}}


def pod(name: str, labels: dict | None = None) -> dict:
    return {"metadata": {"name": name, "labels": labels or {}}, **POD}


async def test_first_snapshot_holds_every_demo_namespace_with_cluster_status(
    demo_sim, fresh_redis_url
):
    async with watching(demo_sim, fresh_redis_url, []) as world:
        snapshot = await world.snapshot()
        assert {"storefront", "payments", "batch", "platform", "observability"} <= set(
            snapshot.trees
        )
        assert snapshot.synced and snapshot.epoch
        assert snapshot.cluster["resources"]["Pod"]["synced"]
        storefront = snapshot.trees["storefront"]
        assert "Service/storefront/frontend" in node_ids(storefront)


async def test_a_pod_created_in_simcluster_reaches_the_channel_layer_and_snapshot(
    empty_sim, fresh_redis_url
):
    async with watching(empty_sim, fresh_redis_url, ["shop"]) as world:
        empty_sim.create("pods", pod("web-1", {"app": "web"}), "shop")
        message, body = await world.next_message()
        assert body["namespace"] == "shop" and message["ns_seq"] == body["ns_seq"] >= 1
        assert body["seq"] == message["seq"] and body["epoch"] == world.service.publisher.epoch
        snapshot = await world.until(
            lambda s: "Pod/shop/web-1" in node_ids(s.trees.get("shop", {"id": ""})), "pod"
        )
        assert snapshot.seq >= body["seq"]


async def test_messages_number_each_namespace_without_gaps(empty_sim, fresh_redis_url):
    async with watching(empty_sim, fresh_redis_url, ["shop"]) as world:
        for i in range(3):
            empty_sim.create("pods", pod(f"p{i}"), "shop")
            await world.until(
                lambda s, i=i: f"Pod/shop/p{i}" in node_ids(s.trees["shop"]), f"pod p{i}"
            )
        seen = []
        while len(seen) < 3:
            message, _ = await world.next_message()
            seen.append(message["ns_seq"])
        assert seen == list(range(seen[0], seen[0] + 3))


async def test_a_deleted_namespace_sends_namespace_deleted_and_leaves_the_snapshot(
    empty_sim, fresh_redis_url
):
    empty_sim.create("namespaces", {"metadata": {"name": "gone"}})
    async with watching(empty_sim, fresh_redis_url, ["gone"]) as world:
        assert "gone" in (await world.snapshot()).trees
        empty_sim.delete("namespaces", None, "gone")
        await world.until(lambda s: "gone" not in s.trees, "namespace removed")
        types = []
        while "NamespaceDeleted" not in types:
            _, body = await world.next_message()
            types.append(body["type"])


async def test_malformed_objects_are_skipped_with_a_warning_and_the_watcher_goes_on(
    empty_sim, fresh_redis_url, caplog
):
    caplog.set_level(logging.WARNING, logger="constellation.watcher.state")
    async with watching(empty_sim, fresh_redis_url, ["shop"]) as world:
        bad = [
            ("pods", {"metadata": {"name": "no-spec", "labels": None}}),
            ("pods", {"metadata": {"name": "huge-label", "labels": {"k": "v" * 5000}}, **POD}),
            ("pods", {"metadata": {"name": "number-labels", "labels": {"k": 7}}, **POD}),
            ("services", {"metadata": {"name": "odd-selector"}, "spec": {"selector": ["a"]}}),
            ("services", {"metadata": {"name": "no-spec"}}),
        ]
        for plural, obj in bad:
            empty_sim.create(plural, obj, "shop", validate=False)
        empty_sim.create("pods", pod("fine"), "shop")
        snapshot = await world.until(
            lambda s: "Pod/shop/fine" in node_ids(s.trees["shop"]), "the valid pod"
        )
        assert world.task is not None and not world.task.done()
        assert "Pod/shop/huge-label" not in node_ids(snapshot.trees["shop"])
        assert any("skipping malformed object" in r.getMessage() for r in caplog.records)


async def test_routes_appear_when_the_gateway_api_is_installed_and_go_when_removed(
    empty_sim, fresh_redis_url
):
    empty_sim.remove_gateway_api()
    async with watching(empty_sim, fresh_redis_url, ["shop"]) as world:
        empty_sim.install_gateway_api()
        empty_sim.create(
            "httproutes",
            {
                "metadata": {"name": "r"},
                "spec": {"rules": [{"backendRefs": [{"name": "missing", "port": 80}]}]},
            },
            "shop",
            group="gateway.networking.k8s.io",
        )
        await world.until(lambda s: "HTTPRoute/shop/r" in node_ids(s.trees["shop"]), "route")
        empty_sim.remove_gateway_api()
        await world.until(
            lambda s: "HTTPRoute/shop/r" not in node_ids(s.trees["shop"]), "route gone"
        )


async def test_redis_down_for_ten_seconds_then_a_full_republish_under_a_new_epoch(
    empty_sim, redis_process
):
    async with watching(empty_sim, redis_process.url, ["shop"]) as world:
        first_epoch = (await world.snapshot()).epoch
        redis_process.stop()
        empty_sim.create("pods", pod("during-outage"), "shop")
        await asyncio.sleep(10)  # the outage the issue asks the watcher to survive
        assert world.task is not None and not world.task.done()
        redis_process.start()
        await world.until(
            lambda s: (
                s.epoch
                and s.epoch != first_epoch
                and "Pod/shop/during-outage" in node_ids(s.trees.get("shop", {"id": ""}))
            ),
            "republish under a new epoch",
            timeout=30,
        )
        empty_sim.create("pods", pod("after"), "shop")
        # A read during a second republish (the first may race Redis' restart) finds no tree.
        await world.until(
            lambda s: "Pod/shop/after" in node_ids(s.trees.get("shop", {"id": ""})),
            "publishing resumed",
        )


async def test_once_redis_answers_again_the_watcher_republishes_before_its_backoff_ends(
    empty_sim, redis_process
):
    """A long outage grows the backoff; the cheap probe must cut it short (issue 15 B)."""
    slow_retries = dataclasses.replace(
        FAST_OPTIONS, retry_initial_s=4.0, retry_max_s=30.0, probe_s=0.2
    )
    async with watching(empty_sim, redis_process.url, ["shop"], options=slow_retries) as world:
        first_epoch = (await world.snapshot()).epoch
        redis_process.stop()
        empty_sim.create("pods", pod("during-outage"), "shop")
        service = world.service
        while service._failures < 2:  # the second failure waits 8-12 s before retrying
            await asyncio.sleep(0.05)
        redis_process.start()
        scheduled_retry = service._retry_at
        await world.until(
            lambda s: s.epoch not in ("", first_epoch)
            and "Pod/shop/during-outage" in node_ids(s.trees.get("shop", {"id": ""})),
            "republish under a new epoch",
            timeout=30,
        )
        assert asyncio.get_running_loop().time() < scheduled_retry


async def test_redis_restarted_between_publishes_still_ends_in_a_new_epoch(
    empty_sim, redis_process
):
    async with watching(empty_sim, redis_process.url, ["shop"]) as world:
        first_epoch = (await world.snapshot()).epoch
        redis_process.stop()
        redis_process.start()  # back before the watcher noticed: an empty Redis
        empty_sim.create("pods", pod("after-restart"), "shop")
        await world.until(
            lambda s: (
                s.epoch not in ("", first_epoch)
                and "Pod/shop/after-restart" in node_ids(s.trees.get("shop", {"id": ""}))
            ),
            "a full republish under a new epoch",
            timeout=20,
        )


async def test_a_new_namespace_is_announced_on_the_cluster_group(empty_sim, fresh_redis_url):
    async with watching(empty_sim, fresh_redis_url, []) as world:
        empty_sim.create("namespaces", {"metadata": {"name": "fresh"}})
        message, body = await world.next_message()
        while message["namespace"] != "fresh":
            message, body = await world.next_message()
        assert body["type"] == "RelationshipUpdated"


def count_wakeups(service) -> list[int]:
    """Count the main loop's turns: each ends in one `_sleep`."""
    turns = [0]
    sleep = service._sleep

    async def counting(*args):
        turns[0] += 1
        await sleep(*args)

    service._sleep = counting
    return turns


async def test_the_loop_sleeps_while_the_informers_have_not_listed(fresh_redis_url):
    """A flush or heartbeat that falls due before every informer has listed must not wake the
    loop again and again: it spun through the whole initial list of a large cluster, taking
    the GIL from the informer threads parsing it."""
    configuration = k8s.Configuration()
    configuration.host = f"http://127.0.0.1:{free_port()}"  # nothing answers: never synced
    snapshots = RedisSnapshotStore(fresh_redis_url, prefix="test:unsynced")
    service = WatcherService(
        k8s.ApiClient(configuration), Publisher(snapshots, None), options=FAST_OPTIONS
    )
    turns = count_wakeups(service)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.sleep(0.2)
    service.pipeline.ingest("Namespace", "ADDED", {"metadata": {"name": "early"}}, 0.0)
    before = turns[0]
    await asyncio.sleep(2.0)
    stop.set()
    await asyncio.wait_for(task, 20)
    await snapshots.close()
    assert not service.ready
    assert turns[0] - before <= 10  # a turn a second at most; spinning made thousands


async def test_the_loop_sleeps_between_retries_while_redis_is_down(empty_sim, redis_process):
    async with watching(empty_sim, redis_process.url, ["shop"]) as world:
        redis_process.stop()
        empty_sim.create("pods", pod("during-outage"), "shop")
        turns = count_wakeups(world.service)
        await asyncio.sleep(3.0)
        # Retries back off to 0.5 s (FAST_OPTIONS) and batches wake it a few times more.
        assert turns[0] <= 40
        redis_process.start()
        await world.until(
            lambda s: "Pod/shop/during-outage" in node_ids(s.trees.get("shop", {"id": ""})),
            "the republish once Redis is back",
            timeout=30,
        )
