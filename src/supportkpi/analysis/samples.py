"""Sample sizes: how many rows a KPI was measured over, as a KPI of its own.

A value on five conversations is not a value on five thousand: the review's agent table and
the alerts' minimum sample read these counts beside each KPI. The count is the rows the KPI's
measure looks at: the values of a per-conversation KPI (first response time, resolution time…),
the answers of its survey kind, the QA reviews, or the handled, resolved or created
conversations its definition is over.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from supportkpi.kpis import Direction, Kpi, Output, Unit
from supportkpi.kpis.registry import flag

SURVEY_SCORES = {
    "csat": "csat_score",
    "csat_mean": "csat_score",
    "csat_by_response_bucket": "csat_score",
    "nps": "nps_score",
    "ces": "ces_score",
}


def sample_column(name: str) -> str:
    """The report column holding the sample size of KPI ``name``."""
    return f"{name}__sample"


def _counter(kpi: Kpi) -> tuple[str, object] | None:
    """How to count the rows of ``kpi``'s grain it is measured over, and what they are."""
    if kpi.per_row:
        column = kpi.per_row
        return kpi.over, lambda t: t[column].count()
    if kpi.grain == "surveys" and kpi.name in SURVEY_SCORES:
        score = SURVEY_SCORES[kpi.name]
        return kpi.over, lambda t: t[score].count()
    if kpi.grain == "qa_reviews":
        return kpi.over, lambda t: t.count()
    if kpi.grain != "conversations":
        return None
    if kpi.over.startswith("handled"):
        return "handled conversations", lambda t: flag(t.handled).sum()
    if kpi.over.startswith("resolved"):
        return "resolved conversations", lambda t: flag(t.resolved_at.notnull()).sum()
    return "conversations", lambda t: t.count()


@lru_cache(maxsize=1024)
def sample_kpi(kpi: Kpi) -> Kpi | None:
    """A KPI counting the rows ``kpi`` is measured over, in column
    :func:`sample_column` (``None`` for KPIs not measured over rows of one grain). The same
    record for the same KPI each time, so reports asking for samples have one shape
    (:mod:`supportkpi.analysis.shapes`)."""
    found = _counter(kpi)
    if found is None:
        return None
    over, count = found
    column = sample_column(kpi.name)

    def measure(t: ir.Table) -> dict[str, ir.Scalar]:
        return {column: count(t).cast("int64")}  # type: ignore[operator]

    return Kpi(
        column,
        f"{kpi.label} sample",
        Unit.COUNT,
        Direction.NONE,
        kpi.family,
        f"How many {over} {kpi.name} was measured over.",
        kpi.grain,
        kpi.needs,
        measure,
        (Output(column, Unit.COUNT, f"{over} measured"),),
        over=over,
    )


THIN_BELOW = 20
"""A value measured over fewer rows than this is *thin*: a day of 4 conversations whose one
survey answer makes CSAT 0 %. Interfaces show a thin value marked (hollow, grey, ``n=…``) and
keep it out of chart axes; they never plot it as a fact. Counts themselves (volume) are exact
and never thin."""


def thin_column(name: str) -> str:
    """The report column saying whether KPI ``name``'s value is thin (true, false)."""
    return f"{name}__thin"


def with_samples(chosen: Sequence[Kpi]) -> list[Kpi]:
    """``chosen`` followed by the sample-size KPI of each that has one (counts have none:
    they are their own sample)."""
    extra = [s for k in chosen if k.unit is not Unit.COUNT and (s := sample_kpi(k)) is not None]
    names = {k.name for k in chosen}
    return [*chosen, *(s for s in extra if s.name not in names)]


def mark_thin(table: pa.Table, chosen: Sequence[Kpi], below: int = THIN_BELOW) -> pa.Table:
    """``table`` with a :func:`thin_column` per KPI of ``chosen`` whose sample-size column
    it holds (see :func:`with_samples`): true where fewer than ``below`` rows were measured
    (none at all included), false elsewhere."""
    for kpi in chosen:
        column = sample_column(kpi.name)
        if column not in table.column_names or kpi.unit is Unit.COUNT:
            continue
        counts = pc.fill_null(table[column], 0)
        table = table.append_column(thin_column(kpi.name), pc.less(counts, below))
    return table
