"""Values bound when a statement runs: a report's window as named parameters.

A report's expression differs from one window to the next only in a few instants (the first
local day, the day after the last, the UTC margins around them). Written as :class:`Bound`
values instead of literals, the expression is the same for every window of a report's shape,
so its SQL is compiled once and run with each window's values (the store's compiler writes a
``$name`` parameter for each; see ``supportkpi.store.duckdb_sql``). An instant left as a
literal only makes two windows' expressions differ: their SQL is then compiled apart, never
shared with the wrong value.
"""

from __future__ import annotations

import ibis.expr.datashape as ds
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

__all__ = ["Bound", "bound", "bound_names"]


class Bound(ops.Value):
    """A scalar named ``name`` whose value is given when the statement runs."""

    name: str
    dtype: dt.DataType

    shape = ds.scalar


def bound(name: str, dtype: dt.DataType) -> ir.Scalar:
    """The value ``name`` of type ``dtype``, given when the statement runs."""
    return Bound(name, dtype).to_expr()


def bound_names(expr: ir.Expr) -> set[str]:
    """The names of the values ``expr`` needs when it runs."""
    return {op.name for op in expr.op().find(Bound)}
