"""`manage.py serve --simulate demo`: the README's first command, as a user runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import orjson
import pytest
import urllib3
import yaml

from simcluster.cluster import free_port
from simcluster.testing import wait_for

ROOT = Path(__file__).resolve().parents[2]
# SIGTERM to exit with three clients took 0.32-0.39 s, and 0.89-1.96 s with two busy loops
# on both cores (6 runs); 10 s leaves five times the worst of those.
STOP_BOUND_S = 10.0


def get(url: str) -> urllib3.BaseHTTPResponse | None:
    try:
        return urllib3.PoolManager().request("GET", url, retries=False, timeout=5)
    except urllib3.exceptions.HTTPError:
        return None


def restore_ctrl_c() -> None:
    """In the child, before exec: SIGINT's default action. A shell running `make test &`
    starts everything with SIGINT ignored, which a child inherits and Python then keeps; the
    Ctrl-C test must not depend on how the suite was launched."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Served:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/state/"

    def exited(self) -> str:
        """Its output, once it exited (within STOP_BOUND_S) with status 0."""
        self.process.wait(timeout=STOP_BOUND_S)
        output = self.log.read_text()
        assert self.process.returncode == 0, output
        return output


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`manage.py serve --simulate demo` in embedded mode, answering /readyz."""
    env = {
        **os.environ,
        "CONSTELLATION_ALLOW_ANONYMOUS": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    env.pop("REDIS_URL", None)  # embedded mode: in-memory channel layer and snapshot
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as sink:  # a file, not a pipe: nobody must drain it for serve to run
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--simulate", "demo", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=restore_ctrl_c,
        )
    served = Served(process, port, log)
    try:
        wait_for(
            lambda: (r := get(f"{served.base}/readyz")) is not None and r.status == 200,
            timeout=60,
            message="/readyz answers 200",
        )
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def first_ws_message(url: str) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url, headers={"Origin": url.replace("ws://", "http://").split("/ws/")[0]}
        ) as ws,
    ):
        return orjson.loads((await ws.receive(timeout=10)).data)


def test_serve_runs_web_watcher_and_simcluster_in_one_process_and_stops_on_ctrl_c(
    served: Served,
):
    ready = get(f"{served.base}/readyz")
    assert ready is not None and orjson.loads(ready.data)["synced"] is True
    state = orjson.loads(get(f"{served.base}/api/state/").data)
    assert "storefront" in {tree["name"] for tree in state["hierarchy"]}
    message = asyncio.run(first_ws_message(served.ws_url))
    assert message["type"] == "FullState"
    assert "payments" in {tree["name"] for tree in message["hierarchy"]}

    served.process.send_signal(signal.SIGINT)
    output = served.exited()

    assert f"Constellation is running at {served.base}/" in output
    assert output.rstrip().endswith("stopped")


async def close_codes_after(url: str, clients: int, stop: Callable[[], object]) -> list[int]:
    """Connect `clients` WebSockets holding their FullState, call `stop`, and return the close
    code each one was sent (1006, aiohttp's "no close frame", if the connection just dropped)."""
    origin = url.replace("ws://", "http://").split("/ws/")[0]
    async with aiohttp.ClientSession() as session:
        sockets = [
            await session.ws_connect(url, origin=origin, heartbeat=None) for _ in range(clients)
        ]
        for ws in sockets:
            assert orjson.loads((await ws.receive(timeout=10)).data)["type"] == "FullState"
        stop()
        for ws in sockets:
            # Frames already on the way may come first; then the close, or the end of the line.
            while (await ws.receive(timeout=STOP_BOUND_S)).type == aiohttp.WSMsgType.TEXT:
                pass
        return [ws.close_code for ws in sockets]


def test_sigterm_with_clients_connected_closes_them_and_stops_every_part_in_seconds(
    served: Served,
):
    codes = asyncio.run(
        close_codes_after(served.ws_url, 3, lambda: served.process.send_signal(signal.SIGTERM))
    )
    output = served.exited()

    assert codes == [1001, 1001, 1001]  # going away: browsers reconnect at once
    lines = [
        "stopping part=web websockets=3 close_code=1001",
        "stopped part=watcher",
        "stopped part=web",
        "stopped part=simcluster",
    ]
    positions = [output.find(line) for line in lines]
    assert -1 not in positions and positions == sorted(positions), output


def serve_with(kubeconfig: Path) -> subprocess.CompletedProcess:
    """`manage.py serve --kubeconfig …` run to completion (it is expected to refuse)."""
    return subprocess.run(
        [sys.executable, "manage.py", "serve", "--kubeconfig", str(kubeconfig)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_without_a_reachable_cluster_fails_fast_with_a_hint(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "x",
                "clusters": [
                    {"name": "c", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}}
                ],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            }
        )
    )
    done = serve_with(kubeconfig)
    assert done.returncode != 0
    assert "cannot reach the Kubernetes API" in done.stderr
    assert "--simulate demo" in done.stderr


def test_serve_with_a_broken_kubeconfig_says_so(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters: [unclosed")
    done = serve_with(kubeconfig)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "no Kubernetes credentials" in done.stderr
