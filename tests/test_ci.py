"""CI's entry point refuses to run without the tools the suite needs (issue 20).

A missing Chromium used to turn every browser test into one skip in a green run. `.ci/run`
now stops at `.ci/preflight` before anything else runs; `make` is replaced on PATH by a
stand-in that records being called, so these tests never start the suite they belong to.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

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


def test_the_preflight_names_a_missing_kubectl(tmp_path: Path) -> None:
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    empty = tmp_path / "empty-path"
    empty.mkdir()

    done = run_ci("preflight", str(empty), CONSTELLATION_CHROMIUM=str(chromium))

    assert done.returncode != 0
    assert "kubectl" in done.stderr and "chromium" not in done.stderr.split("missing tool")[1]


def test_ci_requires_every_tool_of_the_suite() -> None:
    script = (ROOT / ".ci" / "run").read_text()

    assert "export CONSTELLATION_REQUIRE_TOOLS=1" in script
    assert script.index(".ci/preflight") < script.index("make test")
