"""Breaches of per-conversation targets: how many conversations missed a first-response or
resolution target, out of how many were measured, so a contract's attainment reads as counts
("269 of 607") as well as a share.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from supportkpi.analysis.query import run
from supportkpi.analysis.targets import Target, contract, meets
from supportkpi.config import Config
from supportkpi.kpis import REGISTRY, Direction, Kpi, Output, Unit
from supportkpi.kpis.registry import flag
from supportkpi.store.store import Store


@lru_cache(maxsize=1024)  # the same record for the same target: one report shape
def breach_kpi(target: Target) -> Kpi | None:
    """Per-conversation values measured, and those missing ``target``, as a KPI."""
    kpi = REGISTRY[target.kpi]
    if kpi.per_row is None:
        return None
    column = kpi.per_row

    def measure(t: Any) -> dict[str, Any]:
        value = t[column]
        met = meets(target, value)
        return {
            "breaches": flag(value.notnull() & ~met).sum(),
            "measured": value.count().cast("int64"),
        }

    return Kpi(
        "breaches",
        f"{kpi.label} breaches",
        Unit.COUNT,
        Direction.LOWER,
        kpi.family,
        f"{kpi.over} missing {target.describe()}.",
        kpi.grain,
        kpi.needs,
        measure,
        (
            Output("breaches", Unit.COUNT, "breaches"),
            Output("measured", Unit.COUNT, "measured"),
        ),
        over=kpi.over,
    )


def count_breaches(
    store: Store, config: Config, vendor: str, start: date, end: date, tz: str
) -> dict[tuple[str, str, str], tuple[int | None, int | None]]:
    """(breaches, measured) of each per-conversation target, by (kpi, scope, target)."""
    out = {}
    for target in contract(config, vendor):
        counter = breach_kpi(target)
        if counter is None:
            continue
        filters = {"vendor": [vendor]} | {d: [v] for d, v in target.scope.items() if d != "vendor"}
        result = run(store, [counter], (), None, start, end, filters, tz, config)
        row = (result.table.to_pylist() or [{}])[0]
        shown = {d: v for d, v in target.scope.items() if d != "vendor"}
        scope = ", ".join(f"{d} {v}" for d, v in shown.items()) or "all"
        out[(target.kpi, scope, target.describe())] = (row.get("breaches"), row.get("measured"))
    return out
