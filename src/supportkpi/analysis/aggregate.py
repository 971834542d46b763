"""Aggregation of a report: one aggregate per grain over the report's groups, padded to
the report's shape, stacked and regrouped, then finished (counts filled, units and the
reasons for missing KPIs in the table's metadata)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from supportkpi.analysis.coverage import annotate, checked_counts, hidden_columns
from supportkpi.kpis import Kpi, Unit
from supportkpi.kpis.grains import GRAINS, PERIODS, PROFILES, RANGE, Frame, Unavailable

SEEN = "__seen_"

__all__ = ["aggregate", "combine", "finish", "grouped", "seen_columns"]


def aggregate(
    frame: Frame, computable: list[Kpi], chosen: list[Kpi]
) -> tuple[list[ir.Table], dict[str, str]]:
    """One aggregate per grain over the report's groups; reasons for grains that can't be."""
    raw: list[ir.Table] = []
    seen: list[str] = []
    missing: dict[str, str] = {}
    by_grain: dict[str, list[Kpi]] = {}
    for kpi in computable:
        by_grain.setdefault(kpi.grain, []).append(kpi)
    for grain, kpis in by_grain.items():
        try:
            rows = GRAINS[grain](frame)
        except Unavailable as exc:
            missing |= {k.name: str(exc) for k in kpis}
            continue
        absent = [g.replace("_", " ") for g in frame.group if g not in rows.columns]
        if absent:
            why = f"{kpis[0].over} are not counted by {' or '.join(absent)}"
            missing |= {k.name: why for k in kpis}
            continue
        measures = {
            col: expr.cast(_dtype(kpi, col))
            for kpi in kpis
            for col, expr in kpi.measure(rows).items()
        }
        for kpi in kpis:
            measures |= checked_counts(kpi, rows)
        if frame.ranges:  # whether the grain had rows in each range (see seen_columns)
            seen.append(f"{SEEN}{grain}")
            measures[seen[-1]] = rows.count().cast("int64")
        raw.append(grouped(rows, frame.group, **measures))
    parts = [_pad(part, frame.group, chosen, seen) for part in raw]
    return parts, missing


def seen_columns(columns: Sequence[str]) -> list[str]:
    """The columns of a report over several ranges (:attr:`Frame.ranges`) counting each
    grain's rows per range: NULL where a grain had none in a range. There, unlike a report
    over that range alone, the grain's aggregate gives no row at all (no count 0, say)."""
    return [c for c in columns if c.startswith(SEEN)]


def _dtype(kpi: Kpi, column: str) -> str:
    """Counts are whole numbers; everything else (rates, ratios, durations) is a float."""
    unit = next(o.unit for o in kpi.outputs if o.column == column)
    return "int64" if unit is Unit.COUNT else "float64"


def _pad(
    table: ir.Table, group: tuple[str, ...], chosen: list[Kpi], seen: Sequence[str] = ()
) -> ir.Table:
    # group columns nullable in every part, or the parts' schemas differ (agent ids are
    # required in agent activity, optional on conversations)
    cols: dict[str, ir.Value] = {
        g: table[g].cast(table[g].type().copy(nullable=True)) for g in group
    }
    present = set(table.columns)
    for kpi in chosen:
        for out in kpi.outputs:
            column = out.column
            cols[column] = table[column] if column in present else _NULL[_dtype(kpi, column)]
    for name in [*hidden_columns(chosen), *seen]:
        cols[name] = table[name] if name in present else _NULL["int64"]
    return table.select(**cols)


# one typed NULL of each kind, shared by every padded column: the scorecard pads thirteen
# grains to seventy-odd columns, and building each NULL anew took a seventh of the time its
# grains' expressions take to build
_NULL = {dtype: ibis.null().cast(dtype) for dtype in ("int64", "float64")}


def combine(
    parts: list[ir.Table], group: tuple[str, ...], chosen: list[Kpi], frame: Frame
) -> ir.Table:
    columns = [o.column for k in chosen for o in k.outputs] + hidden_columns(chosen)
    columns += seen_columns(parts[0].columns if parts else ())
    if not parts:  # nothing to aggregate: an empty table of the report's shape
        empty = frame.tables["conversations"].limit(0)
        typed = [ibis.null().cast(_group_type(g)).name(g) for g in group]
        parts = [_pad(empty.select(*typed) if group else empty, group, chosen)]
    stacked = parts[0]
    for part in parts[1:]:
        stacked = stacked.union(part)
    merged = {c: stacked[c].max() for c in columns}
    merged_table = grouped(stacked, group, **merged)
    return merged_table.order_by(list(group)) if group else merged_table


def _group_type(name: str) -> str:
    if name in PERIODS:
        return "timestamp"
    return "int64" if name in PROFILES or name == RANGE else "string"


def finish(
    table: pa.Table,
    chosen: list[Kpi],
    missing: dict[str, str],
    notes: dict[str, str] | None = None,
) -> pa.Table:
    """Counts of computed KPIs are 0 where a group had none; a KPI null in every group is
    missing for want of the rows it is measured over; what a KPI could not check in a
    group becomes its ``<kpi>_unchecked`` column (:mod:`~supportkpi.analysis.coverage`);
    units and reasons go in metadata."""
    table = annotate(table, chosen)
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
        "notes": notes or {},
    }
    return table.replace_schema_metadata({"supportkpi": json.dumps(meta)})


def grouped(table: ir.Table, group: Sequence[str], **aggregates: ir.Scalar) -> ir.Table:
    """``aggregates`` per group, or over the whole table when there is no group."""
    return (
        table.group_by(list(group)).aggregate(**aggregates)
        if group
        else table.aggregate(**aggregates)
    )
