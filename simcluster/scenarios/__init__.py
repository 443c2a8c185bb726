"""Scenarios: what a simulated cluster holds at start-up, and what keeps it moving.

A scenario is a dataclass (its fields are its parameters) with the manifests it
seeds and, optionally, a driver for ongoing activity. To add one, subclass
`Scenario` in a module here and list it in SCENARIOS.
"""

from __future__ import annotations

from typing import Any

from simcluster.scenarios.base import Driver, Scenario
from simcluster.scenarios.bulk import ChurnScenario, LargeScenario, WideNamespaceScenario
from simcluster.scenarios.demo import DemoScenario

SCENARIOS: dict[str, type[Scenario]] = {
    cls.name: cls
    for cls in (Scenario, DemoScenario, LargeScenario, ChurnScenario, WideNamespaceScenario)
}


def get_scenario(name: str, **params: Any) -> Scenario:
    """The scenario called `name`, built from `params` (strings are converted).

    ValueError for an unknown scenario (listing the known ones) or parameter.
    """
    cls = SCENARIOS.get(name)
    if cls is None:
        known = ", ".join(sorted(SCENARIOS))
        raise ValueError(f"unknown scenario {name!r}; choose one of: {known}")
    return cls.from_params(params)


__all__ = ["SCENARIOS", "Driver", "Scenario", "get_scenario"]
