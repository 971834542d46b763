"""The KPI record and the registry every interface reads.

A KPI is declared once: its name, label, unit, direction, family, whether it is the customer's
view (qualitative), a definition, the tables it needs, the grain it aggregates over
(:mod:`supportkpi.kpis.grains`) and a function that returns its output columns as
backend-neutral Ibis aggregates over that grain. Durations give mean, median and p90 (exact,
linearly interpolated); each has a ``_bh`` twin counting business hours only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

import ibis
import ibis.expr.types as ir

from supportkpi.facts.derive import flag
from supportkpi.vocabulary import Family


class Unit(StrEnum):
    """What a KPI's number is."""

    SECONDS = "seconds"
    RATE = "rate"
    SCORE = "score"
    COUNT = "count"
    MONEY = "money"
    RATIO = "ratio"


class Direction(StrEnum):
    """Which way is better."""

    HIGHER = "higher"
    LOWER = "lower"
    BAND = "band"
    NONE = "none"


@dataclass(frozen=True)
class Output:
    """One column a KPI adds to a report."""

    column: str
    unit: Unit
    meaning: str


Measure = Callable[[ir.Table], dict[str, ir.Scalar]]


@dataclass(frozen=True)
class Kpi:
    """One KPI, as KPIS.md defines it. ``needs`` are the tables without which it cannot be
    computed; ``needs_values`` the columns (``table.column``; ``a|b`` for either) without a
    single value of which it is missing too; ``checks`` the columns (with what they tell)
    whose absence leaves it computed from what is known, with a note saying what it could not
    check; ``over`` names the rows it is measured over (for the reason when there are none);
    ``per_row`` is the grain column holding each row's value, for per-conversation targets;
    ``without_messages`` says how it behaves on ticket-level data, where that is special.
    """

    name: str
    label: str
    unit: Unit
    direction: Direction
    family: Family
    description: str
    grain: str
    needs: tuple[str, ...]
    measure: Measure
    outputs: tuple[Output, ...]
    qualitative: bool = False
    over: str = "conversations"
    target: str | None = None
    band: tuple[float, float] | None = None
    business_hours: bool = False
    per_row: str | None = None
    needs_values: tuple[str, ...] = ()
    checks: tuple[tuple[str, str], ...] = ()
    without_messages: str = ""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", self.name):
            raise ValueError(f"KPI name {self.name!r} is not snake_case")
        if self.direction is Direction.BAND and self.band is None:
            raise ValueError(f"{self.name}: a band KPI needs its band")

    @property
    def columns(self) -> tuple[str, ...]:
        """The report columns this KPI fills."""
        return tuple(o.column for o in self.outputs)


REGISTRY: dict[str, Kpi] = {}


def register(*kpis: Kpi) -> None:
    """Add KPIs to the registry; a name may be declared only once."""
    for kpi in kpis:
        if kpi.name in REGISTRY:
            raise ValueError(f"KPI {kpi.name!r} is declared twice")
        REGISTRY[kpi.name] = kpi


def all_kpis() -> list[Kpi]:
    """Every KPI in KPIS.md order: by family, then as declared."""
    order = list(Family)
    return sorted(REGISTRY.values(), key=lambda k: order.index(k.family))


def ratio(numerator: ir.NumericValue, denominator: ir.NumericValue) -> ir.FloatingValue:
    """numerator ÷ denominator, NULL (not an error, not 0) when the denominator is 0."""
    return numerator.cast("float64") / denominator.cast("float64").nullif(0.0)


def share(condition: ir.BooleanValue, among: ir.BooleanValue | None = None) -> ir.FloatingValue:
    """The share of rows (``among`` them) for which ``condition`` holds; NULL for no rows."""
    value = flag(condition.fill_null(False)).cast("float64")
    return value.mean(where=among) if among is not None else value.mean()


def known_share(
    condition: ir.BooleanValue, among: ir.BooleanValue | None, known: ir.Value
) -> ir.FloatingValue:
    """:func:`share`, NULL where no row (``among`` them) carries a value in ``known``: a rate
    whose input column says nothing in a group is unknown there, not 0. Rows without a value
    count as the condition not holding, as the helpdesks that leave it empty mean."""
    counted = known.count(where=among) if among is not None else known.count()
    return ibis.ifelse(counted > 0, share(condition, among), ibis.null("float64"))


def spread(
    column: ir.FloatingValue, name: str, where: ir.BooleanValue | None = None
) -> dict[str, ir.Scalar]:
    """Mean, median and p90 (continuous, linear interpolation) of a duration column. Both
    quantiles come from one aggregate: each exact quantile holds every value in memory."""
    both = column.quantile([0.5, 0.9], where=where)
    return {
        name: column.mean(where=where),
        f"{name}_median": both[0],
        f"{name}_p90": both[1],
    }


def spread_outputs(name: str, unit: Unit = Unit.SECONDS) -> tuple[Output, ...]:
    """The three outputs of :func:`spread`."""
    return (
        Output(name, unit, "mean"),
        Output(f"{name}_median", unit, "median"),
        Output(f"{name}_p90", unit, "90th percentile"),
    )


def duration(
    name: str,
    label: str,
    description: str,
    grain: str,
    column: str,
    *,
    needs: tuple[str, ...],
    family: Family,
    over: str,
    direction: Direction = Direction.LOWER,
    target: str | None = None,
    without_messages: str = "",
) -> tuple[Kpi, Kpi]:
    """A duration KPI (mean, median, p90 of ``column``) and its business-hours twin."""

    def measure(col: str, out: str) -> Measure:
        return lambda t: spread(t[col], out)

    bh_column = column.replace("_seconds", "_bh_seconds")
    plain = Kpi(
        name,
        label,
        Unit.SECONDS,
        direction,
        family,
        description,
        grain,
        needs,
        measure(column, name),
        spread_outputs(name),
        over=over,
        target=target,
        per_row=column,
        without_messages=without_messages,
    )
    bh = Kpi(
        f"{name}_bh",
        f"{label} (business hours)",
        Unit.SECONDS,
        direction,
        family,
        f"{description} Counts only time inside business hours.",
        grain,
        needs,
        measure(bh_column, f"{name}_bh"),
        spread_outputs(f"{name}_bh"),
        over=over,
        business_hours=True,
        per_row=bh_column,
        without_messages=without_messages,
    )
    return plain, bh


def humanise(value: float | int | None, unit: Unit) -> str:
    """A value as a person reads it: 1m 05s, 93.4 %, 4.21, 1,204."""
    if value is None:
        return "–"
    match unit:
        case Unit.SECONDS:
            return humanise_seconds(float(value))
        case Unit.RATE:
            return f"{value * 100:.1f} %"
        case Unit.SCORE | Unit.RATIO:
            return f"{value:,.2f}"
        case Unit.COUNT:
            return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"
        case Unit.MONEY:
            return f"{value:,.2f}"
        case _:
            assert_never(unit)


def humanise_seconds(seconds: float) -> str:
    """12s, 4m 05s, 3h 20m, 2d 4h."""
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s < 60:
        return f"{sign}{s:.0f}s" if s >= 10 else f"{sign}{s:.1f}s"
    if s < 3600:
        return f"{sign}{int(s // 60)}m {int(s % 60):02d}s"
    if s < 86400:
        return f"{sign}{int(s // 3600)}h {int(s % 3600 // 60):02d}m"
    return f"{sign}{int(s // 86400)}d {int(s % 86400 // 3600)}h"


__all__ = [
    "REGISTRY",
    "Direction",
    "Family",
    "Kpi",
    "Output",
    "Unit",
    "all_kpis",
    "duration",
    "flag",
    "humanise",
    "known_share",
    "ratio",
    "register",
    "share",
    "spread",
]
