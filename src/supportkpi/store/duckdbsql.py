"""Compiling Ibis expressions for a DuckDB store.

Ibis's DuckDB compiler, with one difference: the milliseconds between two instants (every
duration of the KPIs, :func:`supportkpi.facts.derive.seconds_between`) are worked out from
their microseconds since the epoch instead of with ``DATE_DIFF``. On ``TIMESTAMP WITH TIME
ZONE`` DuckDB computes ``DATE_DIFF`` through ICU's calendar, about 0.6 s of CPU per million
rows (measured at 1M conversations, bench/RESULTS.md); integer arithmetic takes a few ms.
The numbers are the same: ICU counts the milliseconds between the two instants each cut down
to its millisecond (floored, also before 1970), and so does this.
"""

from __future__ import annotations

from typing import Any

import sqlglot.expressions as sge

__all__ = ["compiler"]

MICROS_PER_MILLI = 1000


def compiler() -> Any:
    """Ibis's DuckDB compiler with integer millisecond deltas between zoned instants."""
    from ibis.backends.sql.compilers.duckdb import DuckDBCompiler

    class _Compiler(DuckDBCompiler):
        def visit_TimestampDelta(self, op: Any, *, part: Any, left: Any, right: Any) -> Any:
            zoned = op.left.dtype.timezone is not None and op.right.dtype.timezone is not None
            if op.part.value != "millisecond" or not zoned:
                return super().visit_TimestampDelta(op, part=part, left=left, right=right)
            later, earlier = self.f.epoch_us(left), self.f.epoch_us(right)
            floored = sge.Sub(
                this=sge.paren(sge.Sub(this=later, expression=_below_milli(later))),
                expression=sge.paren(sge.Sub(this=earlier, expression=_below_milli(earlier))),
            )
            return sge.IntDiv(this=sge.paren(floored), expression=sge.convert(MICROS_PER_MILLI))

    return _Compiler()


def _below_milli(micros: sge.Expression) -> sge.Expression:
    """The microseconds past the last whole millisecond (0–999, before 1970 too)."""
    mod = sge.Mod(this=micros, expression=sge.convert(MICROS_PER_MILLI))
    shifted = sge.Add(this=sge.paren(mod), expression=sge.convert(MICROS_PER_MILLI))
    return sge.paren(sge.Mod(this=sge.paren(shifted), expression=sge.convert(MICROS_PER_MILLI)))
