"""CI's entry point refuses to run without the tools the suite needs (issue 20).

A missing Chromium used to turn every browser test into one skip in a green run. `.ci/run`
now stops at `.ci/preflight` before anything else runs; `make` is replaced on PATH by a
stand-in that records being called, so these tests never start the suite they belong to.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake_make(tmp_path: Path) -> Path:
    """A `make` that only records that CI got as far as calling it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    marker = tmp_path / "make-called"
    script = bin_dir / "make"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {marker}\nexit 1\n")
    script.chmod(0o755)
    return bin_dir


@pytest.fixture
def chromium(tmp_path: Path) -> Path:
    """An executable where the preflight looks for Chromium."""
    path = tmp_path / "chromium"
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def run_ci(script: str, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(ROOT / ".ci" / script)],
        env={**os.environ, "PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_ci_stops_before_the_suite_when_chromium_is_missing(
    fake_make: Path, tmp_path: Path
) -> None:
    done = run_ci(
        "run",
        f"{fake_make}:{os.environ['PATH']}",
        CONSTELLATION_CHROMIUM=str(tmp_path / "no-such-chromium"),
    )

    assert done.returncode != 0
    assert "missing tool" in done.stderr and "chromium" in done.stderr
    assert not (tmp_path / "make-called").exists()


def test_the_preflight_names_a_missing_kubectl(tmp_path: Path, chromium: Path) -> None:
    empty = tmp_path / "empty-path"
    empty.mkdir()

    done = run_ci("preflight", str(empty), CONSTELLATION_CHROMIUM=str(chromium))

    assert done.returncode != 0
    assert "kubectl" in done.stderr and "chromium" not in done.stderr.split("missing tool")[1]


def test_the_preflight_names_a_redis_that_does_not_answer(chromium: Path) -> None:
    silent = f"redis://127.0.0.1:{free_port()}/0"

    done = run_ci("preflight", os.environ["PATH"], CONSTELLATION_CHROMIUM=str(chromium),
                  REDIS_URL=silent)

    assert done.returncode != 0
    assert f"redis: nothing answers PING at {silent}" in done.stderr


def test_the_preflight_names_a_port_that_listens_but_is_not_redis(chromium: Path) -> None:
    with socket.socket() as listener:  # accepts connections (backlog), never answers PING
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        silent = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"

        done = run_ci("preflight", os.environ["PATH"], CONSTELLATION_CHROMIUM=str(chromium),
                      REDIS_URL=silent)

    assert done.returncode != 0
    assert f"redis: nothing answers PING at {silent}" in done.stderr


def test_the_preflight_accepts_a_redis_that_answers(chromium: Path, redis_url: str) -> None:

    done = run_ci("preflight", os.environ["PATH"], CONSTELLATION_CHROMIUM=str(chromium),
                  REDIS_URL=redis_url)

    assert done.returncode == 0, done.stderr


def test_ci_requires_every_tool_of_the_suite() -> None:
    script = (ROOT / ".ci" / "run").read_text()

    assert "export CONSTELLATION_REQUIRE_TOOLS=1" in script
    assert script.index(".ci/preflight") < script.index("make test")
