"""Per group, what a KPI computed on what is known could not check there.

A KPI with ``checks`` (first contact resolution: escalations, reopens, follow-ups) counts a
row as passing a check it cannot make. Where a whole store lacks the data the report carries
a note (:meth:`~supportkpi.analysis.inputs.Inputs.unchecked`); but one group can lack it while
the store holds it elsewhere (a call queue where no caller is identified, so no follow-up can
be seen), and there the value would read as a confident figure. So each such KPI gets a column
``<kpi>_unchecked`` naming, row by row, the checks no row of that group it is measured over
could make (``None`` where every check could be made, or where the KPI has no value).

The counts behind it are computed in the report's own aggregation, over the rows the KPI's
measure looks at (:func:`~supportkpi.analysis.measured.per_row`), as hidden columns that
:func:`annotate` turns into the note column once the report has run.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis.expr.types as ir
import pyarrow as pa

from supportkpi.analysis.frame import QueryError
from supportkpi.analysis.inputs import spec_columns
from supportkpi.analysis.measured import per_row
from supportkpi.kpis import Kpi

__all__ = ["annotate", "checked_counts", "hidden_columns", "unchecked_column"]


def unchecked_column(name: str) -> str:
    """The report column naming what KPI ``name`` could not check in each group."""
    return f"{name}_unchecked"


def _hidden(kpi: Kpi, index: int) -> str:
    return f"{kpi.name}__known_{index}"


def hidden_columns(chosen: Sequence[Kpi]) -> list[str]:
    """The hidden count columns of the KPIs with checks, in a fixed order (every part of
    a report carries them, padded with NULL where a grain does not count them)."""
    return [_hidden(k, i) for k in chosen for i in range(len(k.checks))]


def checked_counts(kpi: Kpi, rows: ir.Table) -> dict[str, ir.Scalar]:
    """Per check of ``kpi`` whose columns its grain ``rows`` carry: how many of the rows it
    is measured over hold a value in them (0: the check cannot be made in the group)."""
    if not kpi.checks:
        return {}
    try:
        among = per_row(kpi, rows).among
    except QueryError:  # not a mean over rows: count over every row of the group
        among = None
    out: dict[str, ir.Scalar] = {}
    for index, (spec, _) in enumerate(kpi.checks):
        columns = spec_columns(spec)
        if not all(c in rows.columns for c in columns):
            continue  # not told by the grain's rows: the store-wide note speaks for it
        counts = [rows[c].count(where=among) for c in columns]
        total = counts[0]
        for count in counts[1:]:
            total = total + count
        out[_hidden(kpi, index)] = total.cast("int64")
    return out


def annotate(table: pa.Table, chosen: Sequence[Kpi]) -> pa.Table:
    """``table`` with the hidden counts replaced by each KPI's ``<kpi>_unchecked`` column:
    the checks that found no value among the group's rows, where the KPI has a value."""
    for kpi in chosen:
        if not kpi.checks:
            continue
        values = table[kpi.name].to_pylist() if kpi.name in table.column_names else []
        notes: list[str | None] = []
        counts = [
            table[name].to_pylist() if name in table.column_names else [None] * table.num_rows
            for name in (_hidden(kpi, i) for i in range(len(kpi.checks)))
        ]
        for row in range(table.num_rows):
            gaps = [
                what for (_, what), found in zip(kpi.checks, counts, strict=True) if found[row] == 0
            ]
            notes.append(", ".join(gaps) if gaps and values[row] is not None else None)
        present = [n for n in hidden_columns([kpi]) if n in table.column_names]
        table = table.drop_columns(present)
        after = max(
            (table.schema.get_field_index(c) for c in kpi.columns if c in table.column_names),
            default=table.num_columns - 1,
        )
        column = pa.array(notes, pa.string())
        table = table.add_column(after + 1, unchecked_column(kpi.name), column)
    return table
