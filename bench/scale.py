"""A 100,000-pod cluster end to end: every figure of issue 14 next to its target, one run.

Run: .venv/bin/python bench/scale.py [--pods 100000] [--namespaces 1000] [--quick] [--json]
     [--parts sim,watcher,web,browser,fanout]

Each part lives in its own module (`bench/scale_<part>.py`, a `measure(options)` returning
`Figure`s) and starts what it measures in separate processes: simcluster, Redis, the watcher,
Daphne, Chromium. A part may also define `missing()`, what it needs and the machine lacks,
checked before any part runs. `--quick` is a smoke run at a size that finishes in a few minutes.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.figures import Figure, markdown  # noqa: E402

PARTS = ("sim", "watcher", "web", "browser", "fanout")


@dataclass(frozen=True)
class ScaleOptions:
    """The cluster's shape and how long the timed phases run."""

    pods: int
    namespaces: int
    services: int
    quick: bool
    redis_url: str | None

    @property
    def burst_s(self) -> float:
        return 10.0 if self.quick else 60.0


def parse_args(argv: list[str] | None = None) -> tuple[ScaleOptions, list[str], bool]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=None, help="default 100000 (quick: 10000)")
    parser.add_argument("--namespaces", type=int, default=None, help="default pods / 100")
    parser.add_argument("--services", type=int, default=None, help="default pods / 10")
    parser.add_argument("--quick", action="store_true", help="a smoke run at a small size")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"any of {','.join(PARTS)}")
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    args = parser.parse_args(argv)
    pods = args.pods or (10_000 if args.quick else 100_000)
    namespaces = args.namespaces or max(1, pods // 100)
    services = args.services or max(namespaces, pods // 10)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    redis_url = os.environ.get("REDIS_URL") or None
    return ScaleOptions(pods, namespaces, services, args.quick, redis_url), parts, args.json


def main(argv: list[str] | None = None) -> None:
    options, parts, as_json = parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M")
    modules = [importlib.import_module(f"bench.scale_{part}") for part in parts]
    # A part that cannot run must say so before the others spend their minutes.
    lacking = [need for module in modules for need in getattr(module, "missing", list)()]
    if lacking:
        sys.exit(f"scale: cannot run the parts asked for: {'; '.join(lacking)}")
    figures: list[Figure] = []
    for part, module in zip(parts, modules, strict=True):
        try:
            figures += module.measure(options)
        except BaseException:
            if figures:
                print(f"scale: part {part} failed; what the parts before it measured:\n",
                      file=sys.stderr)
                print(markdown(figures), file=sys.stderr)
            raise
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    if as_json:
        print(json.dumps({"started": started, "machine": machine, "options": vars(options),
                          "figures": [f.as_dict() for f in figures]}, indent=2))
        return
    print(f"{started} · {machine} · {options.pods:,} pods in {options.namespaces:,} namespaces, "
          f"{options.services:,} services{' (quick)' if options.quick else ''}\n")
    print(markdown(figures))


if __name__ == "__main__":
    main()
