"""What a KPI is measured over, row by row, read from its declaration.

A KPI's measure (:mod:`supportkpi.kpis.registry`) is an Ibis aggregate over its grain. Most are
a mean over some rows: ``share(condition, among)`` is the mean of a 0/1 value over ``among``,
a duration the mean of its seconds over the rows that have them, a score the mean of its
answers; ``chat_volume`` counts rows; NPS is a difference of two such means over the same
rows. :func:`per_row` reads that shape off the expression the KPI's own measure builds, so the
drill-down lists exactly the rows the report aggregates (the denominator), each with the value
it contributes and, for a rate, whether it is in the numerator. A KPI of any other shape (a
ratio of sums, a standard deviation) has no per-row value and is refused with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

from supportkpi.analysis.frame import QueryError
from supportkpi.kpis import Kpi, Unit

__all__ = ["PER_ROW_GRAINS", "NoPerRowValue", "PerRow", "check_per_row", "per_row"]

# Grains whose rows each belong to one conversation: conversations themselves, and the
# survey answers and QA reviews of one conversation each.
PER_ROW_GRAINS = ("conversations", "surveys", "qa_reviews")


class NoPerRowValue(QueryError):
    """The KPI is not an average or count of per-conversation values."""


@dataclass(frozen=True)
class PerRow:
    """A KPI over its grain's rows: the report's value is ``how`` (mean or count) of
    ``value`` over the rows where ``among`` holds. ``indicator``: the value is 1 or 0 (a
    rate), so rows with 1 are its numerator. ``guarded``: the report leaves the KPI empty
    in a group where no row carries its input, rather than 0."""

    value: ir.NumericValue
    among: ir.BooleanValue
    how: str
    indicator: bool
    guarded: bool


def check_per_row(kpi: Kpi) -> None:
    """Refuse a KPI whose grain is not per conversation, with the reason."""
    if kpi.grain not in PER_ROW_GRAINS:
        raise NoPerRowValue(
            f"{kpi.name} is measured over {kpi.over}, not per conversation: it has no "
            "conversations to list; choose a KPI measured over conversations, survey answers "
            "or QA reviews"
        )


def per_row(kpi: Kpi, rows: ir.Table) -> PerRow:
    """The per-row value and rows of ``kpi`` over its grain ``rows`` (see the module doc)."""
    check_per_row(kpi)
    node = kpi.measure(rows)[kpi.columns[0]].op()
    guarded = False
    if isinstance(node, ops.IfElse) and _is_null(node.false_null_expr):
        node, guarded = node.true_expr, True
    try:
        value, where, how = _linear(node)
    except _NotLinear:
        raise NoPerRowValue(
            f"{kpi.name} is not an average or count of per-conversation values "
            f"({kpi.description.split(';')[0].rstrip('.')}): there is no value per "
            "conversation to list"
        ) from None
    among = where.to_expr() if where is not None else ibis.literal(True)
    expr = value.to_expr() if isinstance(value, ops.Node) else value
    indicator = kpi.unit is Unit.RATE and _is_indicator(value)
    return PerRow(expr, among & expr.notnull(), how, indicator, guarded)


class _NotLinear(Exception):
    pass


def _linear(node: ops.Node) -> tuple[ops.Node | ir.Value, ops.Node | None, str]:
    """(per-row value, the rows' condition, mean or count) of an aggregate made of means
    over the same rows, their differences and constant multiples, or a row count."""
    match node:
        case ops.Mean(arg=arg, where=where):
            return arg, where, "mean"
        case ops.CountStar(where=where):
            return ibis.literal(1, "int64"), where, "count"
        case ops.Subtract(left=left, right=right):
            (a, wa, ha), (b, wb, hb) = _linear(left), _linear(right)
            if wa != wb or ha != hb or ha != "mean":
                raise _NotLinear
            return _expr(a) - _expr(b), wa, "mean"
        case (
            ops.Multiply(left=left, right=ops.Literal(value=factor))
            | ops.Multiply(left=ops.Literal(value=factor), right=left)
        ):
            a, w, h = _linear(left)
            if h != "mean":
                raise _NotLinear
            return _expr(a) * factor, w, h
    raise _NotLinear


def _expr(value: ops.Node | ir.Value) -> ir.Value:
    return value.to_expr() if isinstance(value, ops.Node) else value


def _is_null(node: ops.Node) -> bool:
    return isinstance(node, ops.Literal) and node.value is None


def _is_indicator(value: ops.Node | ir.Value) -> bool:
    """A boolean cast to a number: 1 where the condition holds, else 0."""
    node = value.op() if isinstance(value, ir.Value) else value
    while isinstance(node, ops.Cast):  # a boolean is cast through int32 (facts.derive.flag)
        if isinstance(node.arg.dtype, dt.Boolean):
            return True
        node = node.arg
    return False
