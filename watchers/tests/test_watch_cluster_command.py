"""`manage.py watch_cluster` as an operator runs it: a process, a kubeconfig, Redis, signals."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from constellation.snapshot import RedisSnapshotStore
from simcluster.testing import wait_for
from watchers.tests.world import node_ids

ROOT = Path(__file__).resolve().parents[2]


def read_snapshot(url: str):
    async def read():
        store = RedisSnapshotStore(url)
        try:
            return await store.read()
        finally:
            await store.close()

    return asyncio.run(read())


def test_watch_cluster_publishes_to_redis_and_stops_cleanly_on_sigterm(
    demo_sim, redis_process, tmp_path
):
    kubeconfig = demo_sim.write_kubeconfig(tmp_path / "kubeconfig")
    env = {
        **os.environ,
        "REDIS_URL": redis_process.url,
        "DJANGO_SETTINGS_MODULE": "constellation.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "watch_cluster", "--kubeconfig", str(kubeconfig)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        snapshot = wait_for(
            lambda: (s := read_snapshot(redis_process.url)).present and s,
            timeout=30,
            message="the watcher's first snapshot",
        )
        assert "Service/storefront/frontend" in node_ids(snapshot.trees["storefront"])
        demo_sim.create(
            "pods",
            {
                "metadata": {"name": "probe"},
                "spec": {"containers": [{"name": "a", "image": "nginx"}]},
            },
            "batch",
        )
        wait_for(
            lambda: "Pod/batch/probe" in node_ids(read_snapshot(redis_process.url).trees["batch"]),
            timeout=10,
            message="new pod",
        )
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "watching resource=pods" in output
    assert "watcher stopped" in output


def test_watch_cluster_without_credentials_fails_fast_with_a_hint(tmp_path):
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "missing"), "HOME": str(tmp_path)}
    env.pop("KUBERNETES_SERVICE_HOST", None)
    done = subprocess.run(
        [sys.executable, "manage.py", "watch_cluster"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "simulate_cluster" in done.stderr
