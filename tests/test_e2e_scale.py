"""A cluster whose state is larger than a WebSocket message may be, end to end (issue 14).

Daphne refuses to send a WebSocket message over 1 MiB and closes the socket (1011), and the
whole state of a few thousand pods is more than that. Here two namespaces of 2,500 pods each
(services of 40 pods, so every pod is a full node) make each namespace's tree alone more than
1 MiB. Through the real stack (simcluster → watch_cluster → Redis → Daphne), each kind of page's
connection must get its first FullState and then a live change:

- the overview's (summaries only): a small FullState, whatever the cluster's size;
- a namespace page's (its namespace only): a FullState over 1 MiB, sent as chunks;
- a script's whole-tree connection: every tree, chunked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import orjson
import pytest

from tests.protocol_client import ProtocolClient
from tests.stack import LiveStack

MIB = 1024 * 1024
SHAPE = {"namespaces": 2, "services": 125, "pods": 5000}
DEADLINE_S = 60.0


@pytest.fixture(scope="module")
def stack() -> Iterator[LiveStack]:
    with LiveStack(scenario="large", scenario_params=SHAPE) as live:
        yield live


@pytest.fixture(scope="module")
def big_namespace(stack: LiveStack) -> str:
    snapshot = stack.snapshot()
    sizes = {name: len(orjson.dumps(tree)) for name, tree in snapshot.trees.items()}
    name = max(sizes, key=sizes.__getitem__)
    assert sizes[name] > MIB, f"the test needs a namespace over 1 MiB: {sizes}"
    return name


def service_of(tree: dict[str, Any]) -> dict[str, Any]:
    """A service of the namespace with a selector, wherever it sits (under a route or not)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if node["kind"] == "Service" and node.get("selector"):
            return node
        stack.extend(node.get("children") or ())
    raise AssertionError(f"no service with a selector in {tree['name']}")


def probe_pod(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "main", "image": "registry.example/probe:1"}]},
    }


async def connect(session: aiohttp.ClientSession, stack: LiveStack, query: str) -> ProtocolClient:
    ws = await session.ws_connect(
        f"{stack.ws_url}?{query}", origin=stack.url, heartbeat=None, max_msg_size=0
    )
    client = ProtocolClient(ws)
    await client.until(lambda c: c.epoch is not None, DEADLINE_S, f"FullState for ?{query}")
    return client


async def test_the_overview_gets_summaries_then_a_live_change_whatever_the_size(
    stack: LiveStack, big_namespace: str
) -> None:
    async with aiohttp.ClientSession() as session:
        client = await connect(session, stack, "namespaces=&summary=1")

        assert client.trees == {}
        assert set(client.summaries) >= set(stack.snapshot().trees)
        total = client.summaries[big_namespace]["pod_summary"]["total"]
        assert total >= 2500
        assert client.largest_frame < 64 * 1024 and client.chunked == 0

        labels = service_of(stack.snapshot().trees[big_namespace])["selector"]
        stack.sim.create("pods", probe_pod("overview-probe", labels), big_namespace)
        await client.until(
            lambda c: c.summaries[big_namespace]["pod_summary"]["total"] == total + 1,
            DEADLINE_S,
            "the new pod in the namespace's summary",
        )
        assert client.gaps == 0 and client.errors == []


async def test_a_namespace_page_gets_its_namespace_in_chunks_then_a_live_change(
    stack: LiveStack, big_namespace: str
) -> None:
    async with aiohttp.ClientSession() as session:
        client = await connect(session, stack, f"namespaces={big_namespace}&summary=1")

        assert set(client.trees) == {big_namespace}
        assert client.trees[big_namespace] == stack.snapshot().trees[big_namespace]
        assert client.chunked == 1 and client.largest_frame < MIB

        labels = service_of(client.trees[big_namespace])["selector"]
        stack.sim.create("pods", probe_pod("page-probe", labels), big_namespace)
        await client.until(
            lambda c: f"Pod/{big_namespace}/page-probe"
            in orjson.dumps(c.trees[big_namespace]).decode(),
            DEADLINE_S,
            "the new pod in the namespace's tree",
        )
        assert client.gaps == 0 and client.errors == []


async def test_a_whole_tree_connection_gets_every_namespace_in_chunks(
    stack: LiveStack, big_namespace: str
) -> None:
    async with aiohttp.ClientSession() as session:
        client = await connect(session, stack, "namespaces=*")

        assert client.trees == stack.snapshot().trees
        assert client.chunked == 1 and client.largest_frame < MIB
        assert client.errors == []
