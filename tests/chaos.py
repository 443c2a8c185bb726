"""Faults, clients and the truth for the chaos test (tests/test_chaos.py) and the soak (bench/).

`Fleet` keeps protocol clients connected to a LiveStack, each with its own view (whole tree,
one namespace's page, the overview's summaries), reconnecting when the server closes them as a
browser would. `FAULTS` are what operators and networks do to the processes and the API server.
`truth` is what the simulated API holds; a client, the snapshot and `/api/state/` have
converged when they show exactly that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from constellation.summary import public
from simcluster.cluster import SimCluster
from tests.protocol_client import ProtocolClient
from tests.stack import LiveStack

RECONNECT_S = 0.5
# Paths watched for server errors during faults. 503 is an answer (Redis down, not ready);
# any other 5xx is a failure.
HTTP_PATHS = ("/healthz", "/readyz", "/api/summary/", "/api/state/?namespace=storefront",
              "/", "/namespaces/storefront/", "/groups/")


def shown_pods(trees: dict[str, dict]) -> set[str]:
    """Pods a picture shows as live: Pod and PodCell nodes not lingering as Terminating."""
    found: set[str] = set()
    stack = list(trees.values())
    while stack:
        node = stack.pop()
        if node["kind"] in ("Pod", "PodCell") and node.get("phase") != "Terminating":
            found.add(f"{node['namespace']}/{node['name']}")
        stack.extend(node.get("children") or ())
    return found


def truth(sim: SimCluster) -> tuple[set[str], set[str]]:
    """(namespaces, live pods "ns/name") the simulated API holds now."""
    namespaces = {
        ns["metadata"]["name"]
        for ns in sim.list("namespaces")
        if not ns["metadata"].get("deletionTimestamp")
    }
    pods = {
        f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
        for pod in sim.list("pods")
        if not pod["metadata"].get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase") not in ("Succeeded",)
        and pod["metadata"]["namespace"] in namespaces
    }
    return namespaces, pods


@dataclass
class Member:
    """One client of the fleet: its view, its current connection and what it holds."""

    query: str
    namespaces: tuple[str, ...] | None  # None: every namespace
    summary: bool
    client: ProtocolClient | None = None
    connects: int = 0
    task: asyncio.Task | None = None


@dataclass
class Fleet:
    """Protocol clients kept connected to the stack's web process."""

    stack: LiveStack
    members: list[Member] = field(default_factory=list)

    @classmethod
    def of(cls, stack: LiveStack, namespaces: Iterable[str], size: int) -> Fleet:
        """`size` clients: half whole-tree, a quarter namespace pages, a quarter overviews."""
        names = sorted(namespaces)
        fleet = cls(stack)
        for i in range(size):
            if i % 4 in (0, 1):
                fleet.members.append(Member("namespaces=*", None, False))
            elif i % 4 == 2:
                ns = names[i % len(names)]
                fleet.members.append(Member(f"namespaces={ns}&summary=1", (ns,), True))
            else:
                fleet.members.append(Member("namespaces=&summary=1", (), True))
        return fleet

    async def start(self, session: aiohttp.ClientSession) -> None:
        limit = session.connector.limit if session.connector is not None else 0
        if limit and limit < len(self.members):
            raise ValueError(
                f"the session holds {limit} connections for {len(self.members)} clients: the "
                "rest would never connect (aiohttp.TCPConnector(limit=0))"
            )
        for member in self.members:
            member.task = asyncio.create_task(self._keep(session, member))

    async def stop(self) -> None:
        for member in self.members:
            if member.task is not None:
                member.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await member.task

    async def _keep(self, session: aiohttp.ClientSession, member: Member) -> None:
        """Connect, read until the connection ends, reconnect; as the browser's client does."""
        while True:
            try:
                ws = await session.ws_connect(
                    f"{self.stack.ws_url}?{member.query}",
                    origin=self.stack.url,
                    heartbeat=None,
                    max_msg_size=0,
                )
            except (aiohttp.ClientError, OSError):
                await asyncio.sleep(RECONNECT_S)
                continue
            member.client = ProtocolClient(ws)
            member.connects += 1
            try:
                while await member.client.read_or_end():
                    pass
            except (aiohttp.ClientError, OSError, AssertionError):
                pass
            member.client = None
            await asyncio.sleep(RECONNECT_S)

    def laggards(self, snapshot: Any) -> list[str]:
        """Members whose picture differs from the snapshot (empty: all converged)."""
        behind = []
        for i, member in enumerate(self.members):
            client = member.client
            if client is None or client.epoch != snapshot.epoch:
                behind.append(f"#{i} {member.query}: not connected or another epoch")
                continue
            names = set(snapshot.trees) if member.namespaces is None else set(member.namespaces)
            wanted = {ns: tree for ns, tree in snapshot.trees.items() if ns in names}
            if client.trees != wanted:
                behind.append(f"#{i} {member.query}: trees differ")
            if member.summary:
                summaries = {ns: public(s) for ns, s in snapshot.summaries.items()}
                if client.summaries != summaries:
                    behind.append(f"#{i} {member.query}: summaries differ")
        return behind

    @property
    def gaps(self) -> int:
        return sum(m.client.gaps for m in self.members if m.client is not None)


@dataclass
class HttpWatch:
    """Polls the web's pages and APIs during faults and keeps every unexpected 5xx."""

    stack: LiveStack
    failures: list[str] = field(default_factory=list)
    answers: int = 0

    def poll(self) -> None:
        for path in HTTP_PATHS:
            status, body = http_get(self.stack.url + path)
            self.answers += 1
            if status >= 500 and status != 503:
                self.failures.append(f"{path}: {status} {body[:200]!r}")


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """(status, body); 0 when nothing answers (a web process restarting)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def readyz(stack: LiveStack) -> tuple[int, dict[str, Any]]:
    status, body = http_get(stack.url + "/readyz")
    try:
        return status, json.loads(body or b"{}")
    except ValueError:
        return status, {}


@dataclass(frozen=True)
class Fault:
    """One fault: `begin` breaks something, `end` mends it (or nothing: a one-shot fault);
    `readyz` is what /readyz must say while it lasts (a substring of the reason), if known."""

    name: str
    begin: Callable[[LiveStack], None]
    end: Callable[[LiveStack], None] | None = None
    hold_s: float = 3.0
    readyz: str | None = None


def _restart_redis_keeping_data(stack: LiveStack) -> None:
    assert stack.redis is not None
    stack.redis.stop(keep_data=True)


FAULTS = [
    Fault("redis killed, back empty", lambda s: s.redis.kill(), lambda s: s.redis.start(),
          readyz="Redis"),
    Fault("redis restarted with its data", _restart_redis_keeping_data,
          lambda s: s.redis.start(), readyz="Redis"),
    Fault("redis frozen", lambda s: s.redis.pause(), lambda s: s.redis.resume()),
    Fault("watcher killed", lambda s: s.watcher.kill(), lambda s: s.watcher.start()),
    Fault("watcher stopped", lambda s: s.watcher.pause(), lambda s: s.watcher.resume()),
    Fault("web restarted", lambda s: s.stop_web(), lambda s: s.start_web(), hold_s=1.0),
    Fault("watches closed", lambda s: s.sim.faults.close_watches(), hold_s=0.5),
    Fault("history compacted", lambda s: (s.sim.faults.close_watches(), s.sim.compact()),
          hold_s=0.5),
    Fault("error burst", lambda s: s.sim.faults.fail_next(6, 500), hold_s=2.0),
    Fault("watches stalled", lambda s: s.sim.faults.stall_watches(),
          lambda s: s.sim.faults.resume_watches(), hold_s=8.0, readyz="stale"),
    Fault("pods forbidden", lambda s: s.sim.faults.deny("pods"),
          lambda s: s.sim.faults.allow("pods"), hold_s=6.0, readyz="Pod refused"),
]


async def until(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float, what: str,
    interval: float = 0.2,
) -> float:
    """Seconds until `condition` held; AssertionError with `what` at the deadline."""
    started = time.monotonic()
    while True:
        held = condition()
        if asyncio.iscoroutine(held):
            held = await held
        if held:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)
