"""`manage.py serve --simulate demo`: the README's first command, as a user runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import orjson
import urllib3
import yaml

from simcluster.cluster import free_port
from simcluster.testing import wait_for

ROOT = Path(__file__).resolve().parents[2]


def get(url: str) -> urllib3.BaseHTTPResponse | None:
    try:
        return urllib3.PoolManager().request("GET", url, retries=False, timeout=5)
    except urllib3.exceptions.HTTPError:
        return None


async def first_ws_message(url: str) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            url, headers={"Origin": url.replace("ws://", "http://").split("/ws/")[0]}
        ) as ws,
    ):
        return orjson.loads((await ws.receive(timeout=10)).data)


def test_serve_runs_web_watcher_and_simcluster_in_one_process(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "CONSTELLATION_ALLOW_ANONYMOUS": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    env.pop("REDIS_URL", None)  # embedded mode: in-memory channel layer and snapshot
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--simulate", "demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        ready = wait_for(
            lambda: (r := get(f"{base}/readyz")) is not None and r.status == 200 and r,
            timeout=60,
            message="/readyz answers 200",
        )
        assert orjson.loads(ready.data)["synced"] is True
        state = orjson.loads(get(f"{base}/api/state/").data)
        assert "storefront" in {tree["name"] for tree in state["hierarchy"]}
        message = asyncio.run(first_ws_message(f"ws://127.0.0.1:{port}/ws/state/"))
        assert message["type"] == "FullState"
        assert "payments" in {tree["name"] for tree in message["hierarchy"]}
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert f"Constellation is running at {base}/" in output


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
