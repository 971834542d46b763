"""Trends of a report by period: the previous period's value, the change, the relative
change and whether it is an improvement given which way is better."""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir

from supportkpi.kpis import Direction, Kpi
from supportkpi.kpis.grains import PERIODS, Frame, period_step

__all__ = ["with_trends"]


def with_trends(expr: ir.Table, frame: Frame, chosen: list[Kpi], first: date | None) -> ir.Table:
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
