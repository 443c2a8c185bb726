"""One measured figure next to its target, and the table `bench/scale.py` prints of them.

Every part of the scale benchmark (`bench/scale_*.py`) returns a list of `Figure`s, so one
run prints every figure of issue 14 with its target and whether it was met.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
}


@dataclass(frozen=True)
class Figure:
    """`value` in `unit`, and optionally a target such as ("<=", 15.0)."""

    part: str
    measure: str
    value: float | int | str
    unit: str = ""
    target: tuple[str, float] | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the target holds; None without a target (or a non-numeric value)."""
        if self.target is None or not isinstance(self.value, int | float):
            return None
        op, bound = self.target
        return _COMPARE[op](self.value, bound)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "met": self.met}


def _number(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return value


def markdown(figures: Iterable[Figure]) -> str:
    """The figures as a markdown table: part, measure, value, target and ✅/❌."""
    lines = ["| part | measure | value | target | note |", "|---|---|---|---|---|"]
    for f in figures:
        value = f"{_number(f.value)} {f.unit}".strip()
        target = ""
        if f.target is not None:
            target = f"{f.target[0]} {_number(f.target[1])} {f.unit}".strip()
            target += " ✅" if f.met else " ❌"
        lines.append(f"| {f.part} | {f.measure} | {value} | {target} | {f.note} |")
    return "\n".join(lines)
