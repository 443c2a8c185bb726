"""The whole product on real ports, for end-to-end and browser tests.

`LiveStack` runs what a deployment runs, each as its own process where production has one:
simcluster (in this process, so tests can change the cluster), Redis (`RedisProcess`, which
tests may stop and start), `manage.py watch_cluster` and Daphne serving
`constellation.asgi:application` (subprocesses, started with the environment an operator
would set). Every part can be stopped and restarted on the same port, which is how tests
check that clients converge after an outage.

    with LiveStack(scenario="demo") as stack:
        stack.url, stack.ws_url, stack.sim
        stack.restart_web(); stack.restart_watcher(); stack.stop_redis(); stack.start_redis()

Readiness is polled with deadlines (`/healthz` for the web, the snapshot for the watcher).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from redis.exceptions import RedisError

from constellation.snapshot import RedisSnapshotStore, Snapshot
from simcluster.cluster import SimCluster
from simcluster.engine import EngineConfig
from simcluster.testing import FAST_ENGINE, wait_for
from tests.redis_server import RedisProcess, flush_db, free_port

PROJECT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


def read_snapshot(redis_url: str) -> Snapshot:
    """The snapshot in Redis now, summaries included; raises when Redis cannot be read (never
    an empty stand-in)."""

    async def read() -> Snapshot:
        store = RedisSnapshotStore(redis_url)
        try:
            return await store.read(summaries=True)
        finally:
            await store.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(read())
    # Called from an async test: asyncio.run needs a thread without a loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result()


def scrape(url: str, name: str) -> float:
    """One metric from a Prometheus endpoint, summed over labels (0 if absent); raises when
    the endpoint does not answer, so a dead process never reads as "nothing counted"."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((name + " ", name + "{"))
    )


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class Service:
    """One subprocess with its log file; `start()` and `stop()` may alternate."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=PROJECT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM (what Kubernetes sends), then SIGKILL after `timeout`."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """SIGKILL: a crash, the OOM killer; nothing runs on the way out."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def pause(self) -> None:
        """SIGSTOP: a process frozen (a stalled node, a debugger); its sockets stay open."""
        assert self.process is not None, f"{self.name} is not running"
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None, f"{self.name} is not running"
        self.process.send_signal(signal.SIGCONT)

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(
                f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class LiveStack:
    """simcluster + Redis + watch_cluster + Daphne on free localhost ports."""

    def __init__(
        self,
        scenario: str = "demo",
        *,
        redis: RedisProcess | str | None = None,
        scenario_params: dict[str, Any] | None = None,
        engine_config: EngineConfig = FAST_ENGINE,
        drive: bool = False,
        env: dict[str, str] | None = None,
        bookmark_interval_s: float = 5.0,
    ) -> None:
        """`redis`: a RedisProcess or URL to use (flushed first); by default the stack owns one.
        `drive`: let the scenario keep changing the cluster (off: it changes only when told).
        `env`: extra environment for the watcher and web processes.
        `bookmark_interval_s`: simcluster's bookmark pace (a stall shows after 3 of them)."""
        self.sim = SimCluster(
            scenario,
            scenario_params,
            engine_config=engine_config,
            drive=drive,
            bookmark_interval_s=bookmark_interval_s,
        )
        self._redis_given = redis
        self.redis: RedisProcess | None = redis if isinstance(redis, RedisProcess) else None
        self._owns_redis = redis is None
        self.port = free_port()
        self.watcher_metrics_port = free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="constellation-stack-")
        self.dir = Path(self._tmp.name)
        self.kubeconfig = self.dir / "kubeconfig"
        self.extra_env = dict(env or {})
        self.web: Service | None = None
        self.watcher: Service | None = None

    # -- addresses -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the web process, e.g. http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The live-state WebSocket."""
        return f"ws://127.0.0.1:{self.port}/ws/state/"

    @property
    def redis_url(self) -> str:
        if self.redis is not None:
            return self.redis.url
        assert isinstance(self._redis_given, str)
        return self._redis_given

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> LiveStack:
        """Start every part and return once the web answers and the watcher has published."""
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        if self._owns_redis:
            self.redis = RedisProcess()
            self.redis.start()
        elif self.redis is not None:
            self.redis.start()
            flush_db(self.redis.url)
        else:
            flush_db(self.redis_url)
        self.sim.start()
        self.sim.write_kubeconfig(self.kubeconfig)
        env = self._environment()
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=PROJECT, env=env, check=True, capture_output=True,
        )  # fmt: skip
        self.watcher = Service(
            "watcher",
            [
                sys.executable, "manage.py", "watch_cluster",
                "--kubeconfig", str(self.kubeconfig),
                "--metrics-port", str(self.watcher_metrics_port),
            ],
            env,
            self.dir,
        )  # fmt: skip
        self.web = Service(
            "web",
            [
                sys.executable, "manage.py", "web", "-b", "127.0.0.1", "-p", str(self.port),
            ],
            env,
            self.dir,
        )  # fmt: skip
        self.watcher.start()
        self.web.start()
        self.wait_web()
        self.wait_published()

    def _environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("CONSTELLATION_", "DJANGO_", "DATABASE_URL", "REDIS_URL"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="constellation.settings",
            REDIS_URL=self.redis_url,
            CONSTELLATION_ALLOW_ANONYMOUS="1",
            DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
            DATABASE_URL=f"sqlite:///{self.dir / 'db.sqlite3'}",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def close(self) -> None:
        """Stop everything this stack started and delete its files."""
        for service in (self.web, self.watcher):
            if service is not None:
                service.stop()
        self.sim.stop()
        if self._owns_redis and self.redis is not None:
            self.redis.close()
        self._tmp.cleanup()

    def __enter__(self) -> LiveStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- parts -------------------------------------------------------------------------

    def stop_web(self) -> None:
        assert self.web is not None
        self.web.stop()

    def start_web(self) -> None:
        """Start Daphne again on the same port and wait until it answers."""
        assert self.web is not None
        self.web.start()
        self.wait_web()

    def restart_web(self) -> None:
        self.stop_web()
        self.start_web()

    def stop_watcher(self) -> None:
        assert self.watcher is not None
        self.watcher.stop()

    def start_watcher(self) -> None:
        """Start the watcher and wait until it has published a new epoch."""
        assert self.watcher is not None
        previous = self.snapshot_if_reachable() or Snapshot()
        self.watcher.start()
        self.wait_published(other_than=previous.epoch)

    def restart_watcher(self) -> None:
        self.stop_watcher()
        self.start_watcher()

    def stop_redis(self) -> None:
        """Stop Redis (only a Redis the stack can restart: its own or a given RedisProcess)."""
        if self.redis is None:
            raise RuntimeError("this stack was given a Redis URL; pass a RedisProcess to stop it")
        self.redis.stop()

    def start_redis(self) -> None:
        """Start Redis again on the same port (empty: persistence is off, as after a crash)."""
        if self.redis is None:
            raise RuntimeError("this stack was given a Redis URL; pass a RedisProcess to stop it")
        self.redis.start()

    # -- observation -------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """What the watcher last published; raises when Redis cannot be read."""
        return read_snapshot(self.redis_url)

    def snapshot_if_reachable(self) -> Snapshot | None:
        """The snapshot, or None while Redis is unreachable: for waits that span an outage,
        where a failed read must count as "not yet", never as an empty cluster."""
        try:
            return read_snapshot(self.redis_url)
        except (OSError, RedisError):
            return None

    def http_get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """GET `path` from the web process: (status, body); status 0 when nothing answers."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError:
            return 0, b""

    def watcher_metric(self, name: str) -> float:
        """A sample of the watcher's Prometheus metrics (sum over labels; 0 if absent)."""
        return scrape(f"http://127.0.0.1:{self.watcher_metrics_port}/metrics", name)

    def web_metric(self, name: str) -> float:
        """A sample of the web process's Prometheus metrics (sum over labels; 0 if absent)."""
        return scrape(self.url + "/metrics", name)

    def web_rss_mb(self) -> float:
        """Resident memory of the web process."""
        assert self.web is not None and self.web.process is not None
        return rss_mb(self.web.process.pid)

    def wait_web(self, timeout: float = START_TIMEOUT_S) -> None:
        assert self.web is not None

        def answers() -> bool:
            self.web.check_alive()
            return self.http_get("/healthz", timeout=1.0)[0] == 200

        wait_for(answers, timeout=timeout, message="the web process to answer /healthz")

    def wait_published(self, other_than: str = "", timeout: float = START_TIMEOUT_S) -> Snapshot:
        """The first synced snapshot whose epoch is not `other_than`."""
        assert self.watcher is not None

        def published() -> Snapshot | None:
            self.watcher.check_alive()
            snapshot = self.snapshot_if_reachable()
            if snapshot is None:
                return None
            ready = snapshot.present and snapshot.synced and snapshot.epoch != other_than
            return snapshot if ready else None

        return wait_for(published, timeout=timeout, message="the watcher to publish a snapshot")

    def logs(self) -> str:
        """The tail of each subprocess's log, for failure messages."""
        return "\n".join(
            f"--- {service.name} ---\n{service.log_tail()}"
            for service in (self.watcher, self.web)
            if service is not None
        )
