"""The query service: every interface asks it for KPIs.

:func:`report` returns one row per group: the group columns first, then each KPI's columns
(duration KPIs also ``<name>_median`` and ``<name>_p90``). The KPIs of one grain are aggregated
together, each grain on its own, and the grains' results are stacked and regrouped. The grains
read the conversation facts the store keeps (:mod:`supportkpi.kept`); without them (another
follow-up window, an older store) the facts are derived, once for the report when several
grains stand on them. A KPI whose inputs are absent is NULL and :attr:`Report.missing` says why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from supportkpi import calendar
from supportkpi.config import Config, check_zone
from supportkpi.kept import kept_tables
from supportkpi.kpis import REGISTRY, Direction, Family, Kpi, Unit, all_kpis
from supportkpi.kpis.grains import (
    DIMENSIONS,
    GRAINS,
    ON_FACTS,
    PERIODS,
    Frame,
    Unavailable,
    conversation_rows,
    period_step,
    previous_period_start,
)
from supportkpi.store import Store
from supportkpi.targets import all_targets, status_columns

__all__ = [
    "DIMENSIONS",
    "PERIODS",
    "QueryError",
    "Report",
    "build_frame",
    "report",
    "select_kpis",
    "split_by",
]


class QueryError(ValueError):
    """A report that cannot be asked as given (unknown KPI, dimension, period…)."""


@dataclass(frozen=True)
class Report:
    """A computed report: the Arrow table and what it is made of."""

    table: pa.Table
    kpis: tuple[Kpi, ...]
    group: tuple[str, ...]
    missing: dict[str, str] = field(default_factory=dict)
    sql: str = ""

    def empty(self) -> list[tuple[dict[str, Any], str, str]]:
        """(group, KPI, why) for each computed KPI left empty in a group."""
        rows = self.table.to_pylist()
        out = []
        for kpi in self.kpis:
            if kpi.name in self.missing or kpi.columns[0] not in self.table.column_names:
                continue
            for row in rows:
                if row[kpi.columns[0]] is None:
                    group = {g: row[g] for g in self.group}
                    out.append((group, kpi.name, f"no {kpi.over} in this group"))
        return out

    def units(self) -> dict[str, Unit]:
        """Unit of every KPI column."""
        return {o.column: o.unit for k in self.kpis for o in k.outputs}

    def to_pandas(self) -> Any:
        """The table as a pandas DataFrame (needs pandas)."""
        return self.table.to_pandas()

    def to_polars(self) -> Any:
        """The table as a Polars DataFrame (needs polars)."""
        try:
            import polars as pl
        except ImportError:
            raise ImportError("to_polars() needs Polars: pip install polars") from None
        return pl.from_arrow(self.table)


def select_kpis(
    names: Iterable[str] | None = None, family: str | None = None, business_hours: bool = False
) -> list[Kpi]:
    """KPIs by name (in the order given) or by family; default: all, ``_bh`` twins only when
    business hours are configured."""
    if names:
        unknown = [n for n in names if n not in REGISTRY]
        if unknown:
            raise QueryError(f"unknown KPI {', '.join(unknown)}; `supportkpi kpis` lists them")
        return [REGISTRY[n] for n in dict.fromkeys(names)]
    chosen = all_kpis()
    if family:
        if family not in {f.value for f in Family}:
            raise QueryError(
                f"unknown family {family!r}; one of {', '.join(f.value for f in Family)}"
            )
        chosen = [k for k in chosen if k.family == family]
    return [k for k in chosen if business_hours or not k.business_hours]


def split_by(by: Sequence[str], period: str | None) -> tuple[tuple[str, ...], str | None]:
    """Separate dimensions from a period named among them (``vendor,month``)."""
    dims = [b for b in by if b not in PERIODS]
    periods = [b for b in by if b in PERIODS] + ([period] if period else [])
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown:
        raise QueryError(
            f"cannot group by {', '.join(unknown)}; group by "
            f"{', '.join(DIMENSIONS)} and a period ({', '.join(PERIODS)})"
        )
    if len(set(periods)) > 1:
        raise QueryError(f"one period at a time, not {', '.join(periods)}")
    return tuple(dict.fromkeys(dims)), (periods[0] if periods else None)


def report(
    store: Store,
    kpis: Iterable[str] | None = None,
    by: Sequence[str] = ("vendor",),
    period: str | None = None,
    start: date | None = None,
    end: date | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
    tz: str | None = None,
    config: Config | None = None,
    family: str | None = None,
    *,
    targets: bool = False,
    trend: bool = False,
) -> Report:
    """KPIs per group over the store's data; see the module doc. ``targets`` adds each KPI's
    target, status and compliance; ``trend`` (with a period) adds the previous period's value,
    the change and whether it is an improvement."""
    config = config or Config()
    chosen = select_kpis(kpis, family, config.business_hours.configured)
    return run(
        store, chosen, by, period, start, end, filters, tz, config, targets=targets, trend=trend
    )


def run(
    store: Store,
    chosen: list[Kpi],
    by: Sequence[str],
    period: str | None,
    start: date | None,
    end: date | None,
    filters: Mapping[str, Sequence[str]] | None,
    tz: str | None,
    config: Config,
    *,
    targets: bool = False,
    trend: bool = False,
    share: bool = True,
) -> Report:
    """:func:`report` for KPI records (including ones made for the occasion, as SLAs do).
    ``share=False`` derives the conversation facts from the messages inside the one query,
    neither reading the store's kept facts nor computing them once beforehand: the same
    numbers, the plain path."""
    frame = build_frame(
        store,
        config,
        by,
        period,
        start,
        end,
        filters,
        tz,
        any(k.business_hours for k in chosen),
        kept=share,
    )
    if trend and not frame.period:
        raise QueryError("a trend needs a period: --by month (or day, week…)")
    first = start
    if trend and start and frame.period:
        frame = replace(frame, start=previous_period_start(start, frame.period))
    counts = store.counts()
    missing = {k.name: why for k in chosen if (why := _why_missing(k, counts, config))}
    computable = [k for k in chosen if k.name not in missing]
    plain_frame = frame
    frame, shared = _share_facts(store, frame, computable, share)
    temps: list[str] = []
    try:
        parts, grain_missing = _aggregate(frame, computable, chosen)
        missing |= grain_missing

        def finished(parts: list[ir.Table]) -> ir.Table:
            expr = _combine(parts, frame.group, chosen, frame)
            if trend:
                expr = _with_trends(expr, frame, chosen, first)
            if targets:
                expr = expr.mutate(
                    **status_columns(
                        expr,
                        frame.group,
                        frame.filters,
                        all_targets(config),
                        [k.name for k in chosen],
                    )
                )
            return expr

        sql = ibis.to_sql(finished(parts))
        if share and len(parts) > 1:
            parts = _one_at_a_time(store, parts, temps)
        table = _finish(finished(parts).to_pyarrow(), chosen, missing)
        if shared:
            facts = ibis.to_sql(conversation_rows(plain_frame))
            sql = (
                f"-- the conversation facts, computed once as {shared}:\n{facts};\n\n"
                f"-- the report:\n{sql}"
            )
        elif frame.kept is not None:
            sql = (
                "-- the conversation facts and reply pairs kept in the store (kept_facts, "
                f"kept_replies), which every load keeps up to date, are read as they are.\n"
                f"-- the report:\n{sql}"
            )
    finally:
        for name in [*temps, *([shared] if shared else [])]:
            store.drop_temp(name)
    return Report(table, tuple(chosen), frame.group, missing, sql)


def _one_at_a_time(store: Store, parts: list[ir.Table], temps: list[str]) -> list[ir.Table]:
    """Each grain's aggregate computed on its own, as a temporary table (named into
    ``temps``): exact medians and percentiles hold their values in memory, and in one query
    every grain's would be alive at once. The small aggregates are then combined."""
    out = []
    for part in parts:
        name = store.temp_name("grain")
        temps.append(name)
        out.append(store.con.create_table(name, part, temp=True))
    return out


def _share_facts(
    store: Store, frame: Frame, kpis: list[Kpi], share: bool
) -> tuple[Frame, str | None]:
    """Compute the conversation facts once, as a temporary table, when three or more grains
    of the report are built on them (each would otherwise derive them from the messages).
    With two, deriving them twice inside one query measured faster than writing them out."""
    if not share or frame.kept is not None or len({k.grain for k in kpis} & ON_FACTS) < 3:
        return frame, None
    rows = conversation_rows(frame)
    name = store.temp_name("facts")
    needed = _facts_used(frame, kpis, rows.schema(), name)
    facts = store.con.create_table(name, rows.select(*needed), temp=True)
    return replace(frame, facts=facts), name


def _facts_used(frame: Frame, kpis: list[Kpi], schema: Any, name: str) -> list[str]:
    """The fact columns the report may read: its expression is built once over a stand-in
    table, and every fact column named anywhere in it is kept. Matching by name keeps a few
    too many (names the other tables share) but never too few, whatever filters and joins
    stand between the facts and a KPI; facts no KPI of the report names (follow-ups, say)
    cost nothing."""
    stand_in = ibis.table(schema, name=name)
    parts, _ = _aggregate(replace(frame, facts=stand_in), kpis, kpis)
    named = {field.name for part in parts for field in part.op().find(ops.Field)}
    return [c for c in schema.names if c in named]


def _with_trends(expr: ir.Table, frame: Frame, chosen: list[Kpi], first: date | None) -> ir.Table:
    """Previous period's value, change, relative change and improved/worsened/unchanged."""
    assert frame.period
    p = expr[frame.period]
    w = ibis.window(group_by=[expr[d] for d in frame.by], order_by=p)
    adjacent = p.lag().over(w) == p - period_step(frame.period)
    columns: dict[str, ir.Value] = {}
    for kpi in chosen:
        if kpi.name not in expr.columns:
            continue
        now = expr[kpi.name].cast("float64")
        before = ibis.ifelse(adjacent, now.lag().over(w), ibis.null("float64"))
        change = now - before
        columns |= {
            f"{kpi.name}_previous": before,
            f"{kpi.name}_change": change,
            f"{kpi.name}_change_relative": change / before.abs().nullif(0.0),
            f"{kpi.name}_trend": _verdict(kpi, now, before, change),
        }
    out = expr.mutate(**columns)
    if first:
        out = out.filter(
            out[frame.period] >= ibis.timestamp(str(first)).truncate(PERIODS[frame.period])
        )
    return out.order_by(list(frame.group))


def _verdict(
    kpi: Kpi, now: ir.FloatingValue, before: ir.FloatingValue, change: ir.FloatingValue
) -> ir.StringValue:
    """improved / worsened / unchanged, given which way is better."""
    if kpi.direction is Direction.NONE:
        return ibis.null("string")
    if kpi.direction is Direction.BAND:
        assert kpi.band
        low, high = kpi.band

        def off(x: ir.FloatingValue) -> ir.FloatingValue:
            return ibis.greatest(low - x, x - high, 0.0)

        change = off(before) - off(now)  # positive: closer to the band
    elif kpi.direction is Direction.LOWER:
        change = -change
    return ibis.cases(
        (before.isnull() | now.isnull(), ibis.null("string")),
        (change > 0, "improved"),
        (change < 0, "worsened"),
        else_="unchanged",
    )


def build_frame(
    store: Store,
    config: Config,
    by: Sequence[str],
    period: str | None,
    start: date | None,
    end: date | None,
    filters: Mapping[str, Sequence[str]] | None,
    tz: str | None,
    business_hours: bool,
    *,
    kept: bool = True,
) -> Frame:
    """The frame a report or breakdown is computed in: grouping, dates, filters, the zone's
    UTC offsets, when asked for the business-hour spans, and the store's kept conversation
    facts when they are current for these settings (``kept=False``: derive them instead);
    every argument checked."""
    dims, period = split_by(by, period)
    filters = {k: tuple(v) for k, v in (filters or {}).items() if v}
    unknown = [f for f in filters if f not in DIMENSIONS]
    if unknown:
        raise QueryError(
            f"cannot filter by {', '.join(unknown)}; filter by {', '.join(DIMENSIONS)}"
        )
    if start and end and end < start:
        raise QueryError(f"the period ends ({end}) before it starts ({start})")
    if tz:
        try:
            check_zone(tz)
        except ValueError as exc:
            raise QueryError(str(exc)) from None
        config = config.model_copy(update={"timezone": tz})
    first, last = _data_range(store)
    spans = None
    if business_hours and config.business_hours.configured:
        spans = ibis.memtable(calendar.span_table(config.business_hours, first, last))
    tables = {
        name: store.table(name)
        for name in (
            "conversations",
            "messages",
            "surveys",
            "agent_activity",
            "qa_reviews",
            "costs",
            "revenue_events",
        )
    }
    found = kept_tables(store, config.follow_up_days) if kept else None
    return Frame(
        tables,
        config,
        dims,
        period,
        calendar.utc_offsets(config.timezone, first, last),
        start,
        end,
        filters,
        spans,
        kept=found[0] if found else None,
        kept_replies=found[1] if found else None,
    )


def _data_range(store: Store) -> tuple[date, date]:
    """The local days the data can touch, with a margin for zones and late resolutions."""
    row = store.execute(
        "SELECT min(t), max(t) FROM (SELECT min(created_at) AS t FROM conversations UNION ALL "
        "SELECT max(greatest(created_at, resolved_at, closed_at)) FROM conversations UNION ALL "
        "SELECT max(sent_at) FROM messages UNION ALL SELECT min(started_at) FROM agent_activity "
        "UNION ALL SELECT max(coalesce(ended_at, started_at)) FROM agent_activity)"
    )[0]
    if row[0] is None:
        today = date.today()
        return today, today
    return row[0].date() - timedelta(days=2), row[1].date() + timedelta(days=2)


def _why_missing(kpi: Kpi, counts: dict[str, int], config: Config) -> str | None:
    empty = [t for t in kpi.needs if not counts.get(t)]
    if empty:
        return f"no {' or '.join(t.replace('_', ' ') for t in empty)} loaded"
    if kpi.business_hours and not config.business_hours.configured:
        return "no business hours configured ([business_hours] in supportkpi.toml)"
    return None


def _aggregate(
    frame: Frame, computable: list[Kpi], chosen: list[Kpi]
) -> tuple[list[ir.Table], dict[str, str]]:
    """One aggregate per grain over the report's groups; reasons for grains that can't be."""
    parts, missing = [], {}
    by_grain: dict[str, list[Kpi]] = {}
    for kpi in computable:
        by_grain.setdefault(kpi.grain, []).append(kpi)
    for grain, kpis in by_grain.items():
        try:
            rows = GRAINS[grain](frame)
        except Unavailable as exc:
            missing |= {k.name: str(exc) for k in kpis}
            continue
        measures = {
            col: expr.cast(_dtype(kpi, col))
            for kpi in kpis
            for col, expr in kpi.measure(rows).items()
        }
        parts.append(_pad(_grouped(rows, frame.group, **measures), frame.group, chosen))
    return parts, missing


def _dtype(kpi: Kpi, column: str) -> str:
    """Counts are whole numbers; everything else (rates, ratios, durations) is a float."""
    unit = next(o.unit for o in kpi.outputs if o.column == column)
    return "int64" if unit is Unit.COUNT else "float64"


def _pad(table: ir.Table, group: tuple[str, ...], chosen: list[Kpi]) -> ir.Table:
    # group columns nullable in every part, or the parts' schemas differ (agent ids are
    # required in agent activity, optional on conversations)
    cols: dict[str, ir.Value] = {
        g: table[g].cast(table[g].type().copy(nullable=True)) for g in group
    }
    for kpi in chosen:
        for out in kpi.outputs:
            cols[out.column] = (
                table[out.column]
                if out.column in table.columns
                else ibis.null().cast(_dtype(kpi, out.column))
            )
    return table.select(**cols)


def _combine(
    parts: list[ir.Table], group: tuple[str, ...], chosen: list[Kpi], frame: Frame
) -> ir.Table:
    columns = [o.column for k in chosen for o in k.outputs]
    if not parts:  # nothing to aggregate: an empty table of the report's shape
        empty = frame.tables["conversations"].limit(0)
        typed = [ibis.null().cast("timestamp" if g in PERIODS else "string").name(g) for g in group]
        parts = [_pad(empty.select(*typed) if group else empty, group, chosen)]
    stacked = parts[0]
    for part in parts[1:]:
        stacked = stacked.union(part)
    merged = {c: stacked[c].max() for c in columns}
    merged_table = _grouped(stacked, group, **merged)
    return merged_table.order_by(list(group)) if group else merged_table


def _finish(table: pa.Table, chosen: list[Kpi], missing: dict[str, str]) -> pa.Table:
    """Counts of computed KPIs are 0 where a group had none; a KPI null in every group is
    missing for want of the rows it is measured over; units and reasons go in metadata."""
    for kpi in chosen:
        if kpi.name in missing:
            continue
        if all(table[c].null_count == table.num_rows for c in kpi.columns):
            missing[kpi.name] = (
                f"no {kpi.over} in the data"
                if table.num_rows
                else "no conversations match the report's filters"
            )
            continue
        for out in kpi.outputs:
            if out.unit is Unit.COUNT and pa.types.is_integer(table[out.column].type):
                index = table.schema.get_field_index(out.column)
                filled = table[out.column].fill_null(0)
                table = table.set_column(index, out.column, filled)
    meta = {
        "units": {o.column: o.unit.value for k in chosen for o in k.outputs},
        "missing": missing,
    }
    return table.replace_schema_metadata({"supportkpi": json.dumps(meta)})


def _grouped(table: ir.Table, group: Sequence[str], **aggregates: ir.Scalar) -> ir.Table:
    """``aggregates`` per group, or over the whole table when there is no group."""
    return (
        table.group_by(list(group)).aggregate(**aggregates)
        if group
        else table.aggregate(**aggregates)
    )
