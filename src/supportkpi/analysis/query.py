"""The query service: every interface asks it for KPIs.

:func:`report` returns one row per group: the group columns first, then each KPI's columns
(duration KPIs also ``<name>_median`` and ``<name>_p90``). The KPIs of one grain are aggregated
together, each grain on its own, and the grains' results are stacked and regrouped. The grains
read the conversation facts the store keeps (:mod:`supportkpi.store.kept`); without them (another
follow-up window, an older store) the facts are derived, once for the report when several
grains stand on them. A KPI whose inputs are absent is NULL and :attr:`Report.missing` says why.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from itertools import pairwise
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from supportkpi.analysis.aggregate import aggregate, combine, finish, seen_columns
from supportkpi.analysis.compiled import binds_dates
from supportkpi.analysis.coverage import unchecked_column
from supportkpi.analysis.engines import APPROXIMATE_NOTE, approximates, portable
from supportkpi.analysis.frame import QueryError, build_frame, split_by, within
from supportkpi.analysis.inputs import inputs_of, unknown_filter_values
from supportkpi.analysis.result import Frames
from supportkpi.analysis.samples import mark_thin, with_samples
from supportkpi.analysis.shapes import built, rows_kept, rows_of_built, shape_of
from supportkpi.analysis.shared_facts import (
    Held,
    grains_one_at_a_time,
    holds_values,
    share_attribution,
    share_facts,
)
from supportkpi.analysis.targets import all_targets, status_columns
from supportkpi.analysis.trends import with_trends
from supportkpi.config import Config
from supportkpi.kpis import REGISTRY, Family, Kpi, Unit, all_kpis
from supportkpi.kpis.grains import (
    DIMENSIONS,
    PERIODS,
    PROFILES,
    RANGE,
    Frame,
    previous_period_start,
)
from supportkpi.store.store import Store

__all__ = [
    "DIMENSIONS",
    "HEADLINE",
    "PERIODS",
    "PROFILES",
    "QueryError",
    "Report",
    "build_frame",
    "report",
    "report_periods",
    "run",
    "select_kpis",
    "split_by",
]


@dataclass(frozen=True)
class Report(Frames):
    """A computed report: the Arrow table and what it is made of."""

    table: pa.Table
    kpis: tuple[Kpi, ...]
    group: tuple[str, ...]
    missing: dict[str, str] = field(default_factory=dict)
    sql: str = ""
    notes: dict[str, str] = field(default_factory=dict)
    checked_nowhere: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Per KPI, the checks the whole store has no data for (the :attr:`notes` say so once)."""

    def unchecked(self) -> list[tuple[int, dict[str, Any], str, str]]:
        """(row index, group, KPI, note) for each value computed without a check its group
        could not make though the store holds data for it elsewhere (a queue where no caller
        is identified): the per-group counterpart of :attr:`notes`, read from each KPI's
        ``<kpi>_unchecked`` column (:mod:`~supportkpi.analysis.coverage`)."""
        out = []
        for kpi in self.kpis:
            column = unchecked_column(kpi.name)
            if column not in self.table.column_names:
                continue
            everywhere = self.checked_nowhere.get(kpi.name, ())
            for index, text in enumerate(self.table[column].to_pylist()):
                gaps = [w for _, w in kpi.checks if text and w in text and w not in everywhere]
                if gaps:
                    row = {g: self.table[g][index].as_py() for g in self.group}
                    why = f"computed without checking {', '.join(gaps)} in this group"
                    out.append((index, row, kpi.name, why))
        return out

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


def select_kpis(
    names: Iterable[str] | None = None, family: str | None = None, business_hours: bool = False
) -> list[Kpi]:
    """KPIs by name (in the order given) or by family; default: all, ``_bh`` twins only when
    business hours are configured."""
    if names:
        unknown = [n for n in names if n not in REGISTRY]
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(REGISTRY), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise QueryError(
                f"unknown KPI {', '.join(unknown)}{hint}; `supportkpi kpis` lists them"
            )
        return [REGISTRY[n] for n in dict.fromkeys(names)]
    chosen = all_kpis()
    if family:
        if family not in {f.value for f in Family}:
            raise QueryError(
                f"unknown family {family!r}; one of {', '.join(f.value for f in Family)}"
            )
        chosen = [k for k in chosen if k.family == family]
    return [k for k in chosen if business_hours or not k.business_hours]


HEADLINE = (
    "chat_volume",
    "first_response_time",
    "service_level",
    "resolution_time",
    "average_handle_time",
    "first_contact_resolution",
    "resolution_rate",
    "abandonment_rate",
    "escalation_rate",
    "csat",
    "nps",
    "cost_per_contact",
)
"""The KPIs a head of support reads first: volume, speed, resolution, loss, satisfaction and
cost; the scorecard's default (every KPI on asking)."""


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
    explain: bool = False,
    samples: bool = False,
) -> Report:
    """KPIs per group over the store's data; see the module doc. ``targets`` adds each KPI's
    target, status and compliance; ``trend`` (with a period) adds the previous period's value,
    the change and whether it is an improvement. ``explain`` also fills :attr:`Report.sql` with
    the SQL the report ran (compiling it is work, done only when asked). ``samples`` adds, per
    KPI that is not a count, how many rows it was measured over (``<kpi>__sample``) and whether
    that is too few to read as a fact (``<kpi>__thin``, below
    :data:`~supportkpi.analysis.samples.THIN_BELOW`)."""
    config = config or Config()
    chosen = select_kpis(kpis, family, config.business_hours.configured)
    result = run(
        store,
        with_samples(chosen) if samples else chosen,
        by,
        period,
        start,
        end,
        filters,
        tz,
        config,
        targets=targets,
        trend=trend,
        explain=explain,
    )
    return _sampled(result, chosen) if samples else result


def _sampled(result: Report, chosen: list[Kpi]) -> Report:
    """``result`` of :func:`with_samples` KPIs with the thin flags, the sample KPIs' own
    missing reasons left out (their KPI's reason says it)."""
    names = {k.name for k in chosen}
    missing = {k: v for k, v in result.missing.items() if k in names}
    return replace(result, table=mark_thin(result.table, chosen), missing=missing)


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
    window: tuple[datetime, datetime] | None = None,
    explain: bool = False,
    bind: bool = True,
) -> Report:
    """:func:`report` for KPI records (including ones made for the occasion, as SLAs do).
    ``share=False`` derives the conversation facts from the messages inside the one query,
    neither reading the store's kept facts nor computing them once beforehand: the same
    numbers, the plain path. ``window`` (UTC instants) narrows the report to conversations
    created in it, as the records stood at its end (:func:`~supportkpi.analysis.frame.within`);
    ``start`` and ``end`` should be the local days it touches. ``explain`` fills
    :attr:`Report.sql` (compiling the SQL is work, done only when asked). ``bind``: a report
    in one statement on a DuckDB store binds its dates when it runs, its SQL compiled once
    for every window (:func:`~supportkpi.analysis.compiled.run_windowed`); ``bind=False``
    writes them into the SQL, as every other report does."""
    share = share and window is None
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
    if window:
        frame = within(frame, *window)
    if trend and not frame.period:
        raise QueryError("a trend needs a period: --by month (or day, week…)")
    first = start
    if trend and start and frame.period:
        frame = replace(frame, start=previous_period_start(start, frame.period))
    held = inputs_of(store, chosen)
    missing = {k.name: why for k in chosen if (why := held.why_missing(k, config))}
    computable = [k for k in chosen if k.name not in missing]
    notes = {k.name: note for k in computable if (note := held.unchecked(k))}
    notes |= unknown_filter_values(store, frame.filters)
    frame, shared = share_facts(store, frame, computable, share)
    temps: list[str] = []
    try:
        frame, attributed = share_attribution(store, frame, computable, share)
        temps += [attributed.name] if attributed else []
        bound = bind and not trend and not explain and window is None
        bound = bound and shared is None and attributed is None and binds_dates(store)
        frame = replace(frame, bound=bound)
        shape = shape_of(store, frame, "report", tuple(chosen), tuple(computable), targets, share)
        made = built(shape)
        parts: list[ir.Table] = []
        if made is None:
            parts, grain_missing = aggregate(frame, computable, chosen)
            if bound and share and sum(map(holds_values, parts)) > 1:
                # the grains will be held one at a time, each its own statement: dates
                # written in
                frame = replace(frame, bound=False)
                parts, grain_missing = aggregate(frame, computable, chosen)
        missing |= made.missing if made else grain_missing
        engine = store.con.name
        parts = [portable(part, engine) for part in parts]
        if approximates(engine):
            quantiled = [k.name for k in computable if f"{k.name}_p90" in k.columns]
            notes |= dict.fromkeys(quantiled, APPROXIMATE_NOTE.format(engine=engine))

        def finished(parts: list[ir.Table]) -> ir.Table:
            expr = combine(parts, frame.group, chosen, frame)
            if trend:
                expr = with_trends(expr, frame, chosen, first)
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

        sql = ibis.to_sql(finished(parts)) if explain else ""
        if made is None:
            if share and len(parts) > 1:
                parts = grains_one_at_a_time(store, parts, temps)
            # an expression reading held tables is this run's alone
            rows = rows_kept(store, frame, shape, finished(parts), grain_missing, keep=not temps)
        else:
            rows = rows_of_built(store, frame, made)
        table = finish(rows, chosen, missing, notes)
        if explain:
            sql = _explained(sql, frame, shared, attributed)
    finally:
        for name in [*temps, *([shared.name] if shared else [])]:
            store.drop_temp(name)
    nowhere = {k.name: held.gaps(k) for k in computable if held.gaps(k)}
    return Report(table, tuple(chosen), frame.group, missing, sql, notes, nowhere)


def _explained(sql: str, frame: Frame, shared: Held | None, attributed: Held | None) -> str:
    """The report's SQL after what it reads that was computed before it or kept at load."""
    before = []
    if shared:
        facts = ibis.to_sql(shared.expr)
        before.append(f"-- the conversation facts, computed once as {shared.name}:\n{facts};\n")
    elif frame.kept is not None:
        before.append(
            "-- the conversation facts, reply pairs and survey answers kept in the store\n"
            "-- (kept_facts, kept_replies, kept_surveys), which every load keeps up to date,\n"
            "-- are read as they are."
        )
    if attributed:
        how = ibis.to_sql(attributed.expr)
        before.append(
            f"-- the revenue events' attribution, computed once as {attributed.name}:\n{how};\n"
        )
    return "\n".join(before) + f"\n-- the report:\n{sql}" if before else sql


def report_periods(
    store: Store,
    kpis: Iterable[str],
    periods: Sequence[tuple[date, date]],
    filters: Mapping[str, Sequence[str]] | None = None,
    tz: str | None = None,
    config: Config | None = None,
    *,
    targets: bool = False,
    samples: bool = False,
) -> list[Report]:
    """The same KPIs, overall (no grouping), over each of several date ranges: one
    :class:`Report` per range, each exactly what :func:`report` gives for it (the headline's
    period and the period before it, say; ``samples`` as there). Ranges that do not overlap
    are one aggregation grouped by the range each row falls in, so the query is built and
    compiled once, not once per range; a range where some grain has no rows, or ranges that
    overlap, are computed again on their own (stacked in a second query)."""
    config = config or Config()
    asked = select_kpis(kpis, None, config.business_hours.configured)
    chosen = with_samples(asked) if samples else asked
    found = _periods(store, chosen, periods, filters, tz, config, targets)
    return [_sampled(r, asked) for r in found] if samples else found


def _periods(
    store: Store,
    chosen: list[Kpi],
    periods: Sequence[tuple[date, date]],
    filters: Mapping[str, Sequence[str]] | None,
    tz: str | None,
    config: Config,
    targets: bool,
    bind: bool = True,
) -> list[Report]:
    """:func:`report_periods` of KPI records: ranges that do not overlap in one aggregation
    grouped by the range each row falls in (:attr:`~supportkpi.kpis.grains.Frame.ranges`),
    overlapping ones as one full aggregation per range, stacked. ``bind`` as in :func:`run`:
    the one aggregation binds the ranges' dates on a DuckDB store."""
    if not periods:
        return []
    for start, end in periods:  # as a report over each range checks its dates
        if end < start:
            raise QueryError(f"the period ends ({end}) before it starts ({start})")
    ordered = sorted(periods)
    apart = all(b[0] > a[1] for a, b in pairwise(ordered))
    bh = any(k.business_hours for k in chosen)
    first, last = ordered[0][0], max(end for _, end in periods)
    base = build_frame(store, config, (), None, first, last, filters, tz, bh)
    held = inputs_of(store, chosen)
    missing = {k.name: why for k in chosen if (why := held.why_missing(k, config))}
    computable = [k for k in chosen if k.name not in missing]
    notes = {k.name: note for k in computable if (note := held.unchecked(k))}
    notes |= unknown_filter_values(store, base.filters)
    base, shared = share_facts(store, base, computable, True)
    names = [k.name for k in chosen]
    attributed = None
    try:
        base, attributed = share_attribution(store, base, computable, True)
        bound = bind and shared is None and attributed is None and binds_dates(store)
        frame = replace(base, ranges=tuple(periods), bound=bound)
        tables: dict[int, pa.Table] = {}
        shape = shape_of(store, frame, "periods", tuple(chosen), tuple(computable), targets)
        made = built(shape) if apart else None
        if made is not None:
            missing |= made.missing
            tables = _by_range(rows_of_built(store, frame, made), RANGE)
        elif apart:
            parts, grain_missing = aggregate(frame, computable, chosen)
            missing |= grain_missing
            if parts:
                expr = combine(parts, frame.group, chosen, frame)
                if targets:
                    # the same targets for every range: they are not scoped to dates
                    status = status_columns(expr, (), frame.filters, all_targets(config), names)
                    expr = expr.mutate(**status)
                tables = _by_range(rows_kept(store, frame, shape, expr, grain_missing), RANGE)
        # a range where a grain had no rows: a report over it alone still has that grain's
        # aggregate over nothing (a count 0, say), so it is computed as that report is
        again = [i for i in range(len(periods)) if i not in tables]
        if again:
            stacked = _stacked(
                base, computable, chosen, [periods[i] for i in again], config, targets, missing
            )
            found = _by_range(stacked, "__period")
            tables |= {i: found[n] for n, i in enumerate(again)}
    finally:
        for temp in filter(None, (shared, attributed)):
            store.drop_temp(temp.name)
    out = []
    for i in range(len(periods)):
        rows = tables[i]
        found = dict(missing)  # finish() adds the KPIs this range has no rows for
        done = finish(rows, chosen, found, dict(notes))
        nowhere = {k.name: held.gaps(k) for k in computable if held.gaps(k)}
        out.append(Report(done, tuple(chosen), (), found, "", dict(notes), nowhere))
    return out


def _by_range(table: pa.Table, column: str) -> dict[int, pa.Table]:
    """The one row of each range in ``table`` (its index in ``column``), without that column
    and the :func:`~supportkpi.analysis.aggregate.seen_columns`, for the ranges where every
    grain had rows."""
    seen = seen_columns(table.column_names)
    out = {}
    for n, index in enumerate(table[column].to_pylist()):
        row = table.slice(n, 1)
        if all(row[c][0].is_valid for c in seen):
            out[index] = row.drop_columns([column, *seen])
    return out


def _stacked(
    base: Frame,
    computable: list[Kpi],
    chosen: list[Kpi],
    periods: Sequence[tuple[date, date]],
    config: Config,
    targets: bool,
    missing: dict[str, str],
) -> pa.Table:
    """Each range's full aggregation, stacked in one query with its index in ``__period``
    (``missing`` gains the KPIs no grain can give)."""
    exprs = []
    for index, (start, end) in enumerate(periods):
        frame = replace(base, start=start, end=end)
        parts, grain_missing = aggregate(frame, computable, chosen)
        missing |= grain_missing
        expr = combine(parts, (), chosen, frame)
        if targets:
            status = status_columns(
                expr, (), frame.filters, all_targets(config), [k.name for k in chosen]
            )
            expr = expr.mutate(**status)
        exprs.append(expr.mutate(__period=ibis.literal(index, "int64")))
    stacked = exprs[0]
    for expr in exprs[1:]:
        stacked = stacked.union(expr)
    return stacked.to_pyarrow()
