"""SLA breaches: for each vendor and each per-conversation target it is held to (first
response, resolution, handle time…), the conversations that missed it, worst first.

A conversation is judged by the target :mod:`supportkpi.analysis.row_targets` gives it (its
vendor's contract, else the general targets, the most specific for its channel and team), so
the breaches of a target are exactly the conversations its ``sla`` attainment counts as not
meeting it. ``excess`` is how far the conversation's value is past the target (seconds).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from supportkpi.analysis.conversations import LISTED, select
from supportkpi.analysis.frame import QueryError
from supportkpi.analysis.row_targets import row_target_kpis
from supportkpi.analysis.sla import vendors
from supportkpi.analysis.targets import Target, contract
from supportkpi.config import Config
from supportkpi.kpis import REGISTRY
from supportkpi.store.store import Store

__all__ = ["breaches"]

SHOWN = ("conversation_id", "created", "channel", "team", "agent")


def breaches(
    store: Store,
    config: Config,
    vendor: str | None = None,
    start: date | None = None,
    end: date | None = None,
    tz: str | None = None,
    per_target: int = 10,
) -> pa.Table:
    """Up to ``per_target`` breaching conversations per vendor and target, the furthest past
    the target first; each row names the vendor, KPI, target, the value and the excess, and
    how many conversations missed that target in all (``missed``)."""
    if per_target < 1:
        raise QueryError("per_target is a count of at least 1")
    names = [vendor] if vendor else vendors(store)
    rows = select(store, config, start=start, end=end, tz=tz).rows
    judged = set(row_target_kpis(config, config.business_hours.configured))
    parts = [
        _missed(rows, v, t)
        for v in names
        for t in contract(config, v)
        if t.kpi in judged and f"{t.kpi}_met" in rows.columns
    ]
    if not parts:
        return pa.table({c: pa.array([], pa.string()) for c in ("vendor", "kpi", "target")})
    union = ibis.union(*parts) if len(parts) > 1 else parts[0]
    key = [union.vendor, union.kpi, union.target]
    ranked = union.mutate(
        __rank=ibis.row_number().over(group_by=key, order_by=[ibis.desc(union.excess)]),
        missed=union.count().over(group_by=key),
    )
    ranked = ranked.filter(ranked.__rank < per_target).drop("__rank")
    worst = ranked.missed.max().over(group_by=[ranked.vendor, ranked.kpi, ranked.target])
    ranked = ranked.mutate(__worst=worst)
    order = [ibis.desc("__worst"), "vendor", "kpi", "target", ibis.desc("excess")]
    return ranked.order_by(order).drop("__worst").to_pyarrow()


def _missed(rows: ir.Table, vendor: str, target: Target) -> ir.Table:
    """The conversations of ``vendor`` that missed ``target``."""
    mine = rows.filter(
        rows.vendor == vendor,
        rows[f"{target.kpi}_target"] == target.describe(),
        rows[f"{target.kpi}_met"] == False,  # noqa: E712 - an Ibis comparison
        *(rows[d] == v for d, v in target.scope.items() if d != "vendor"),
    )
    value = mine[LISTED[REGISTRY[target.kpi].per_row]]
    return mine.select(
        vendor=mine.vendor,
        kpi=ibis.literal(target.kpi),
        target=ibis.literal(target.describe()),
        **{c: mine[c] for c in SHOWN},
        value=value.cast("float64"),
        excess=_excess(target, value).cast("float64"),
    )


def _excess(target: Target, value: ir.NumericValue) -> ir.NumericValue:
    """How far past the target a value is."""
    if isinstance(target.value, tuple):
        low, high = target.value
        return ibis.greatest(low - value, value - high)
    return value - target.value if target.op == "<=" else target.value - value
