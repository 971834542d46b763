"""Per-conversation targets: for each conversation, the target each per-conversation KPI
(first response, resolution, handle time, time to abandon) is held to, and whether it met it.

The target a conversation is judged by is the one its vendor is held to (its contract, else
the general targets, as :func:`supportkpi.analysis.targets.contract` says), the most specific
that fits the conversation's channel and team. ``sla_attainment`` is the share of
conversations meeting such a target; these columns are its rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from supportkpi.analysis.targets import Target, all_targets, held_to, meets
from supportkpi.config import Config
from supportkpi.kpis import REGISTRY

__all__ = ["meets", "row_target_kpis", "target_columns"]


def row_target_kpis(config: Config, business_hours: bool) -> list[str]:
    """The KPIs with a per-conversation value that some target or contract names."""
    names = [t.kpi for t in all_targets(config) if REGISTRY[t.kpi].per_row]
    return [
        n
        for n in dict.fromkeys(names)
        if REGISTRY[n].grain == "conversations"
        and (business_hours or not REGISTRY[n].business_hours)
    ]


def target_columns(
    rows: ir.Table, config: Config, vendors: Sequence[str], business_hours: bool
) -> dict[str, ir.Value]:
    """``<kpi>_target`` (the target, described) and ``<kpi>_met`` for each KPI of
    :func:`row_target_kpis`, over conversation rows carrying the KPIs' per-row columns."""
    out: dict[str, ir.Value] = {}
    for name in row_target_kpis(config, business_hours):
        value = rows[REGISTRY[name].per_row]
        judged: list[tuple[ir.BooleanValue, Target]] = []
        for vendor in [*vendors, None]:
            held = held_to(config, vendor).targets
            mine = sorted(
                (t for t in held if t.kpi == name), key=lambda t: t.specificity, reverse=True
            )
            is_vendor = rows.vendor == vendor if vendor is not None else rows.vendor.isnull()
            judged += [(is_vendor & _fits(rows, t), t) for t in mine]
        if not judged:
            continue
        out[f"{name}_target"] = ibis.cases(
            *((c, ibis.literal(t.describe())) for c, t in judged), else_=ibis.null("string")
        )
        out[f"{name}_met"] = ibis.cases(
            *((c, meets(t, value)) for c, t in judged), else_=ibis.null("boolean")
        )
    return out


def _fits(rows: ir.Table, target: Target) -> ir.BooleanValue:
    fits: ir.BooleanValue = ibis.literal(True)
    for dim in ("channel", "team"):
        wanted = getattr(target, dim)
        if wanted is not None:
            fits &= rows[dim] == wanted
    return fits
