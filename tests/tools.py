"""External tools some tests need (Chromium, kubectl): a skip on a laptop, a failure in CI.

A fresh laptop may lack Chromium; `make test` then skips the browser tests and says so at the
end of its report (conftest.py). CI sets CONSTELLATION_REQUIRE_TOOLS=1 (`.ci/run`), where a
missing tool fails the run instead: the only tests of the JavaScript must not vanish from a
green build.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

REQUIRE_ENV = "CONSTELLATION_REQUIRE_TOOLS"
CHROMIUM_ENV = "CONSTELLATION_CHROMIUM"
MISSING = "missing tool"


def tool_missing(tool: str, hint: str) -> NoReturn:
    """Skip the calling test or module, or fail it when tools are required."""
    reason = f"{MISSING}: {tool} ({hint})"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1 forbids skipping", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_chromium() -> str:
    """The Chromium binary (CONSTELLATION_CHROMIUM, default Debian's /usr/bin/chromium)."""
    path = os.environ.get(CHROMIUM_ENV, "/usr/bin/chromium")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        tool_missing("chromium", f"none at {path}; Debian: apt-get install chromium")
    return path


def require_kubectl() -> str:
    """kubectl from PATH."""
    path = shutil.which("kubectl")
    if path is None:
        tool_missing("kubectl", "not on PATH; install kubectl 1.32")
    return path
