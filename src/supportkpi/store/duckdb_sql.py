"""The SQL a DuckDB store runs: Ibis's DuckDB compiler, with durations computed on integers.

Every duration the registry states is ``later.delta(earlier, unit="millisecond")``
(:func:`supportkpi.facts.derive.seconds_between`). Ibis compiles that to ``DATE_DIFF``; on
``TIMESTAMP WITH TIME ZONE`` columns DuckDB answers it through the ICU calendar, row by row,
which measured 16–50 × slower than integer arithmetic (1.4 s for one duration over 1M stored
conversations, most of a dashboard request). The number is the same: ``DATE_DIFF`` in
milliseconds counts the millisecond boundaries crossed, that is
``floor(later_µs / 1000) − floor(earlier_µs / 1000)`` of the instants' epoch microseconds,
whatever the session's time zone, which is what this compiler writes (floored, not
truncated, so instants before 1970 agree too; ``tests/store/test_duckdb_sql.py`` compares
both on random instants). Other units and zone-less timestamps compile as Ibis compiles them.
"""

from __future__ import annotations

from typing import Any

import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import sqlglot.expressions as sge
from ibis.backends.duckdb import Backend as DuckDBBackend
from ibis.backends.sql.compilers.duckdb import DuckDBCompiler

__all__ = ["StoreCompiler", "use"]


class StoreCompiler(DuckDBCompiler):
    """Ibis's DuckDB compiler; a millisecond difference of zoned instants on integers."""

    def visit_TimestampDelta(
        self, op: ops.TimestampDelta, *, part: Any, left: sge.Expression, right: sge.Expression
    ) -> sge.Expression:
        if _zoned(op.left.dtype) and _zoned(op.right.dtype) and _unit(op) == "millisecond":
            return sge.paren(_floor_ms(self, left) - _floor_ms(self, right), copy=False)
        return super().visit_TimestampDelta(op, part=part, left=left, right=right)


def _zoned(dtype: dt.DataType) -> bool:
    return dtype.is_timestamp() and dtype.timezone is not None  # type: ignore[attr-defined]


def _unit(op: ops.TimestampDelta) -> str | None:
    part = op.part
    return str(part.value).lower() if isinstance(part, ops.Literal) else None


def _floor_ms(compiler: DuckDBCompiler, instant: sge.Expression) -> sge.Expression:
    """floor(epoch µs ÷ 1000): the µs less their non-negative remainder, divided exactly."""
    micros = compiler.f.epoch_us(instant)
    remainder = sge.Mod(
        this=sge.paren(sge.Mod(this=micros, expression=sge.convert(1000)) + sge.convert(1000)),
        expression=sge.convert(1000),
    )
    return sge.IntDiv(this=sge.paren(micros - remainder), expression=sge.convert(1000))


COMPILER = StoreCompiler()


def use(con: DuckDBBackend) -> DuckDBBackend:
    """``con`` compiling with :class:`StoreCompiler` (its own attribute; other connections
    and ``ibis.to_sql(…, dialect="duckdb")`` keep Ibis's)."""
    con.compiler = COMPILER  # type: ignore[misc]
    return con
