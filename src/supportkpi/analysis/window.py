"""A KPI over a recent window (the last 60 minutes, today so far) in one scope, with the
number of rows it was measured over and the target it is held to: what an alert reads.

The window is of instants, not days: the conversations created in it, as the records stood at
its end (:func:`supportkpi.analysis.frame.within`), through the same query service and KPI
declarations as every report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from supportkpi.analysis.query import QueryError, run, select_kpis
from supportkpi.analysis.samples import sample_column, sample_kpi
from supportkpi.analysis.targets import Target, held_to
from supportkpi.config import Config, parse_duration
from supportkpi.store.store import Store


@dataclass(frozen=True)
class Reading:
    """A KPI's value over a window, how many rows it stands on, and why it is None."""

    kpi: str
    value: float | None
    sample: int
    since: datetime
    until: datetime
    missing: str | None = None


def bounds(at: datetime, window: str, tz: str) -> tuple[datetime, datetime]:
    """The UTC instants a window ends at ``at``: ``today`` from local midnight, else a
    duration ('60m', '2h') back."""
    at = at.astimezone(UTC)
    if window == "today":
        local = at.astimezone(ZoneInfo(tz))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight.astimezone(UTC), at
    try:
        return at - parse_duration(window), at
    except ValueError as exc:
        raise QueryError(str(exc)) from None


def reading(
    store: Store,
    config: Config,
    kpi: str,
    scope: Mapping[str, str],
    since: datetime,
    until: datetime,
    tz: str | None = None,
) -> Reading:
    """``kpi`` over the conversations of ``scope`` created from ``since`` to ``until``."""
    chosen = select_kpis([kpi])
    counter = sample_kpi(chosen[0])
    if counter is None:
        raise QueryError(f"{kpi} is not measured over conversations or answers; no alert on it")
    zone = ZoneInfo(tz or config.timezone)
    first = since.astimezone(zone).date()
    last = (until - timedelta(microseconds=1)).astimezone(zone).date()
    filters = {d: [v] for d, v in scope.items()}
    result = run(
        store,
        [*chosen, counter],
        (),
        None,
        first,
        max(first, last),
        filters,
        tz,
        config,
        window=(since, until),
        explain=False,
    )
    row = (result.table.to_pylist() or [{}])[0]
    return Reading(
        kpi,
        row.get(kpi),
        int(row.get(sample_column(kpi)) or 0),
        since,
        until,
        result.missing.get(kpi),
    )


def applicable_target(config: Config, kpi: str, scope: Mapping[str, str]) -> Target | None:
    """The target a KPI is held to in ``scope``: the most specific one whose own scope the
    alert's includes, from the one set the scope's vendor is held to (:func:`held_to`)."""
    fitting = [
        t
        for t in held_to(config, scope.get("vendor")).targets
        if t.kpi == kpi and all(scope.get(d) == v for d, v in t.scope.items())
    ]
    return max(fitting, key=lambda t: t.specificity, default=None)
