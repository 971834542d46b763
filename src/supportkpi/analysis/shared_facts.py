"""Work a report's grains share, done once: when a report has no kept facts to read, the
facts are computed once as a temporary table for the grains that stand on them; the revenue
events' attribution likewise, for the two grains that stand on it; and each grain's aggregate
can be computed on its own so exact quantiles of different grains are never held in memory
together."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
from ibis.common.graph import Graph

from supportkpi.analysis.aggregate import aggregate
from supportkpi.kpis import Kpi
from supportkpi.kpis.grains import DIMENSIONS, ON_FACTS, Frame, conversation_rows
from supportkpi.kpis.registry import REGISTRY
from supportkpi.kpis.value_grains import attributed_events, money_unavailable
from supportkpi.store.store import Store

__all__ = [
    "ATTRIBUTING",
    "Held",
    "grains_one_at_a_time",
    "hold",
    "holds_values",
    "share_attribution",
    "share_facts",
]

ATTRIBUTING = frozenset({"vendor_money", "revenue"})
"""The grains that stand on the revenue events' attribution: the money per vendor (ROI) and
the attributed events themselves (upsell and cross-sell)."""


# Aggregates that hold every value of their group in memory until the group is done.
HOLDING = (
    ops.Median,
    ops.Quantile,
    ops.MultiQuantile,
    ops.CountDistinct,
    ops.ArrayCollect,
    ops.Mode,
)


def holds_values(part: ir.Table) -> bool:
    """Whether ``part`` aggregates with an exact quantile (or another aggregate that keeps
    every value of a group in memory)."""
    return bool(part.op().find(HOLDING))


def grains_one_at_a_time(store: Store, parts: list[ir.Table], temps: list[str]) -> list[ir.Table]:
    """Each grain's aggregate computed on its own, as a temporary table (named into
    ``temps``): exact medians and percentiles hold their values in memory, and in one query
    every grain's would be alive at once. The small aggregates are then combined.

    Where at most one grain holds values (a report of a duration and a few rates, say), one
    query computes every grain: no two grains' values are ever alive together, and writing
    each grain out costs more than it spares (measured at 1M conversations: bench/RESULTS.md).
    Engines without temporary tables keep fetching grain by grain."""
    if getattr(store, "temp_tables", True) and sum(map(holds_values, parts)) < 2:
        return parts
    out = []
    for part in parts:
        if not getattr(store, "temp_tables", True):
            # no temporary tables (Spark): each grain's small aggregate is fetched on its own,
            # which also spares the engine planning every grain as one query
            out.append(ibis.memtable(part.to_pyarrow()))
            continue
        name = store.temp_name("grain")
        temps.append(name)
        out.append(hold(store, name, part))
    return out


def hold(store: Store, name: str, expr: ir.Table) -> ir.Table:
    """``expr`` computed once into the temporary table ``name``, where the engine has
    temporary tables; elsewhere the expression itself, computed where it is used."""
    if not getattr(store, "temp_tables", True):
        return expr
    return store.con.create_table(name, expr, temp=True)


class Held(NamedTuple):
    """A table computed once for a report: its temporary name and the expression it holds."""

    name: str
    expr: ir.Table


def share_facts(
    store: Store, frame: Frame, kpis: list[Kpi], share: bool
) -> tuple[Frame, Held | None]:
    """Compute the conversation facts once, as a temporary table, when three or more grains
    of the report are built on them (each would otherwise derive them from the messages).
    With two, deriving them twice inside one query measured faster than writing them out.
    Returns the frame reading the table and what it holds, or the frame as it was and None."""
    if (
        not share
        or frame.kept is not None
        or not getattr(store, "temp_tables", True)
        or len({k.grain for k in kpis} & ON_FACTS) < 3
    ):
        return frame, None
    rows = conversation_rows(frame)
    name = store.temp_name("facts")
    needed = _facts_used(frame, kpis, rows.schema(), name)
    held = rows.select(*needed)
    return replace(frame, facts=hold(store, name, held)), Held(name, held)


def _facts_used(frame: Frame, kpis: list[Kpi], schema: Any, name: str) -> list[str]:
    """The fact columns the report may read: its expression is built once over a stand-in
    table, and every fact column named anywhere in it is kept. Matching by name keeps a few
    too many (names the other tables share) but never too few, whatever filters and joins
    stand between the facts and a KPI; facts no KPI of the report names (follow-ups, say)
    cost nothing."""
    stand_in = ibis.table(schema, name=name)
    # a record made for one report (a target's main value alone) builds every output of the
    # registry's KPI and keeps one: the registry's own record names what they all read
    whole = [REGISTRY.get(k.name, k) for k in kpis]
    parts, _ = aggregate(replace(frame, facts=stand_in), whole, whole)
    named = {field.name for part in parts for field in part.op().find(ops.Field)}
    return [c for c in schema.names if c in named]


def share_attribution(
    store: Store, frame: Frame, kpis: list[Kpi], share: bool
) -> tuple[Frame, Held | None]:
    """Attribute the revenue events to conversations once, as a temporary table, when both
    grains that stand on the attribution (:data:`ATTRIBUTING`) are in the report: each would
    otherwise join every event to the conversations again (at 1M conversations and 1.7M
    events, holding it spared a tenth of the scorecard's CPU time: bench/RESULTS.md).
    The table holds the events near the report's dates, before its dates and filters apply
    (each grain applies them as it would to its own attribution), with the columns the grains
    name. Returns the frame reading the table and what it holds (its name, to drop), or the
    frame as it was and None."""
    if (
        not share
        or not getattr(store, "temp_tables", True)
        or not {k.grain for k in kpis} >= ATTRIBUTING
        or money_unavailable(frame)
    ):
        return frame, None
    events = attributed_events(frame)
    name = store.temp_name("attributed")
    stand_in = ibis.table(events.schema(), name=name)
    using = [k for k in kpis if k.grain in ATTRIBUTING]
    parts, _ = aggregate(replace(frame, attributed=stand_in), using, using)
    named = {"occurred_at", *DIMENSIONS}  # what the grains' dates and filters read
    for part in parts:
        named |= _names_read(part.op(), stand_in.op())
    needed = [c for c in events.columns if c in named]
    held = events.select(*needed)
    table = hold(store, name, held)
    return replace(frame, attributed=table), Held(name, held)


def _names_read(root: ops.Node, table: ops.Node) -> set[str]:
    """The column names read anywhere downstream of ``table`` in the expression ``root``: on
    the table itself and on every relation built from it (a filter or a join passes columns
    on by name). A few too many, never too few, for expressions that read columns by name;
    columns of other tables the expression reads (a cost's amount, a conversation's customer)
    are not counted. An operation on whole rows (``distinct()`` over the table, say) would
    see only the columns kept: the grains that stand on a held table read by name."""
    dependents = Graph.from_bfs(root).invert()
    seen, todo = {table}, [table]
    while todo:
        for node in dependents.get(todo.pop(), ()):
            if node not in seen:
                seen.add(node)
                todo.append(node)
    return {node.name for node in seen if isinstance(node, ops.Field)}
