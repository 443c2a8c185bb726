"""What a scenario is: typed parameters, objects to seed, and an optional driver.

A scenario is a dataclass whose fields are its parameters, so `--param pods=500`
from a command line and `pods=500` from Python land in the same typed field, and
an unknown or malformed parameter fails before anything is seeded. Ongoing
activity lives in a `Driver` whose `tick(now)` takes the time as an argument:
`drive()` is the only asyncio code, and tests step drivers on a fake clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from simcluster.scenarios.manifests import Manifest, apply, namespace
from simcluster.store import Store

if TYPE_CHECKING:
    from simcluster.engine import WorkloadEngine

log = logging.getLogger("simcluster.scenarios")

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")

# Every cluster has these; `kube-system` is where users expect cluster add-ons.
SYSTEM_NAMESPACES: tuple[Manifest, ...] = (namespace("default"), namespace("kube-system"))


class Driver(Protocol):
    """A scenario's ongoing activity, advanced by the caller's clock."""

    def tick(self, now: float) -> None:
        """Do whatever is due at `now` (writes go through the Store)."""

    def close(self) -> None:
        """Stop listening to the store."""


@dataclasses.dataclass
class Scenario:
    """The `empty` scenario, and the base every other scenario extends."""

    name: ClassVar[str] = "empty"
    summary: ClassVar[str] = "only the default and kube-system namespaces"
    tick_s: ClassVar[float] = 0.1
    """How often `drive()` ticks the driver."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Scenario:
        """Build from keyword parameters, converting command-line strings to the field types."""
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(params) - set(fields))
        if unknown:
            accepted = ", ".join(sorted(fields)) or "no parameters"
            raise ValueError(
                f"unknown parameter {', '.join(unknown)} for scenario "
                f"'{cls.name}' (it accepts: {accepted})"
            )
        hints = typing.get_type_hints(cls)
        return cls(**{key: convert(key, value, hints[key]) for key, value in params.items()})

    def manifests(self) -> Iterable[Manifest]:
        """The objects to create, in creation order (namespaces before their contents)."""
        return SYSTEM_NAMESPACES

    def seed(self, store: Store, engine: WorkloadEngine) -> None:
        """Create the initial objects and let the engine bring every pod to its steady state."""
        apply(store, self.manifests())
        engine.settle()

    def driver(self, store: Store, engine: WorkloadEngine) -> Driver | None:
        """The ongoing activity, if this scenario has any."""
        return None

    async def drive(self, driver: Driver, clock: Callable[[], float], stop: asyncio.Event) -> None:
        """Tick `driver` every `tick_s` until `stop` is set, then close it.

        A failing tick is logged, and the next one tried.
        """
        try:
            while not stop.is_set():
                try:
                    driver.tick(clock())
                except Exception:
                    log.exception(
                        "scenario %s: drive tick failed; continuing with the next", self.name
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.tick_s)
        finally:
            driver.close()


def convert(key: str, value: Any, wanted: Any) -> Any:
    """`value` as the field type `wanted` (bool, int, float or str); ValueError if it is not."""
    if wanted is bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValueError(f"parameter {key} expects true or false, got {value!r}")
    if wanted in (int, float):
        if isinstance(value, bool) or (wanted is int and isinstance(value, float)):
            raise ValueError(f"parameter {key} expects {_a(wanted)}, got {value!r}")
        try:
            return wanted(value)
        except (TypeError, ValueError):
            raise ValueError(f"parameter {key} expects {_a(wanted)}, got {value!r}") from None
    return str(value)


def _a(wanted: type) -> str:
    return "an integer" if wanted is int else "a number"


def require(condition: bool, message: str) -> None:
    """Parameter validation for `__post_init__`: a ValueError naming the rule."""
    if not condition:
        raise ValueError(message)
