"""The SQL a DuckDB store runs: Ibis's DuckDB compiler, with time arithmetic on integers.

Every duration the registry states is ``later.delta(earlier, unit="millisecond")``
(:func:`supportkpi.facts.derive.seconds_between`). Ibis compiles that to ``DATE_DIFF``; on
``TIMESTAMP WITH TIME ZONE`` columns DuckDB answers it through the ICU calendar, row by row,
which measured 16–50 × slower than integer arithmetic (1.4 s for one duration over 1M stored
conversations, most of a dashboard request). The number is the same: ``DATE_DIFF`` in
milliseconds counts the millisecond boundaries crossed, that is
``floor(later_µs / 1000) − floor(earlier_µs / 1000)`` of the instants' epoch microseconds,
whatever the session's time zone, which is what this compiler writes (floored, not
truncated, so instants before 1970 agree too; ``tests/test_duckdb_sql.py`` compares both on
random instants and on instants either side of 1970). Other units and zone-less timestamps
compile as Ibis compiles them.

The report's local time is the same story: ``created_at + INTERVAL 3600 SECOND`` on a zoned
instant, then ``DATE_TRUNC``, ``EXTRACT(hour …)`` or ``DAYOFWEEK`` of it, each went through
ICU (over 1M rows: 0.22 s to shift, 1.0–1.4 s to truncate or take the hour, against 0.05 and
0.08–0.13 s on integers). A store's session is always in UTC (``SET TimeZone = 'UTC'``, see
:mod:`supportkpi.store.store`), where a zoned instant's calendar is that of the naive UTC
timestamp with the same epoch microseconds; so a shift by a fixed number of seconds adds
microseconds, and the calendar functions read ``make_timestamp(epoch_us(…))``, a truncated
instant made zoned again the same way. Only under a UTC session: :func:`use` is called on
connections set so.
"""

from __future__ import annotations

from typing import Any

import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import sqlglot.expressions as sge
from ibis.backends.duckdb import Backend as DuckDBBackend
from ibis.backends.sql.compilers.duckdb import DuckDBCompiler

from supportkpi.facts.bound import Bound

__all__ = ["StoreCompiler", "use"]


class StoreCompiler(DuckDBCompiler):
    """Ibis's DuckDB compiler; a millisecond difference of zoned instants on integers, and a
    value bound when the statement runs (:class:`~supportkpi.facts.bound.Bound`) as the
    parameter ``$name`` of its type."""

    def visit_Bound(self, op: Bound, **_: Any) -> sge.Expression:
        return sge.Cast(this=sge.Placeholder(this=op.name), to=self.type_mapper.from_ibis(op.dtype))

    def visit_TimestampDelta(
        self, op: ops.TimestampDelta, *, part: Any, left: sge.Expression, right: sge.Expression
    ) -> sge.Expression:
        if _zoned(op.left.dtype) and _zoned(op.right.dtype) and _unit(op) == "millisecond":
            later, earlier = _floor_ms(self, left), _floor_ms(self, right)
            return sge.paren(sge.Sub(this=_paren(later), expression=_paren(earlier)), copy=False)
        return super().visit_TimestampDelta(op, part=part, left=left, right=right)

    def visit_NotNull(self, op: ops.NotNull, *, arg: sge.Expression) -> sge.Expression:
        # Ibis's ``arg.is_(…)`` copies ``arg`` whole: after selects are merged that is often a
        # column's entire expression (a duration), copied again for every ``IS NOT NULL``
        # ``IS`` binds tighter than AND, OR and NOT: such an operand keeps its parentheses
        if isinstance(arg, sge.Not):
            arg = sge.paren(arg, copy=False)
        return sge.Is(this=_paren(arg), expression=sge.Not(this=sge.Null()))

    def visit_TimestampAdd(  # a zoned instant shifted by a fixed number of seconds
        self, op: ops.TimestampAdd, *, left: sge.Expression, right: sge.Expression
    ) -> sge.Expression:
        micros = _fixed_micros(op.right)
        if _zoned(op.left.dtype) and micros is not None:
            shifted = self.f.epoch_us(left) + sge.convert(micros)
            return self.f.make_timestamptz(shifted)
        return self.binop(sge.Add, left, right)

    def visit_TimestampTruncate(
        self, op: ops.TimestampTruncate, *, arg: sge.Expression, unit: Any
    ) -> sge.Expression:
        if not _zoned(op.arg.dtype):
            return super().visit_TimestampTruncate(op, arg=arg, unit=unit)
        cut = super().visit_TimestampTruncate(op, arg=_naive(self, arg), unit=unit)
        return self.f.make_timestamptz(self.f.epoch_us(cut))

    def visit_ExtractHour(self, op: ops.ExtractHour, *, arg: sge.Expression) -> sge.Expression:
        return super().visit_ExtractHour(op, arg=_naive_if_zoned(self, op, arg))

    def visit_ExtractMinute(self, op: ops.ExtractMinute, *, arg: sge.Expression) -> sge.Expression:
        return super().visit_ExtractMinute(op, arg=_naive_if_zoned(self, op, arg))

    def visit_DayOfWeekIndex(
        self, op: ops.DayOfWeekIndex, *, arg: sge.Expression
    ) -> sge.Expression:
        return super().visit_DayOfWeekIndex(op, arg=_naive_if_zoned(self, op, arg))

    def visit_Date(self, op: ops.Date, *, arg: sge.Expression) -> sge.Expression:
        return self.f.date(_naive_if_zoned(self, op, arg))


def _zoned(dtype: dt.DataType) -> bool:
    return dtype.is_timestamp() and dtype.timezone is not None  # type: ignore[attr-defined]


# microseconds in one of each fixed-length interval unit (months, and days outside UTC, vary)
_MICROS = {"s": 10**6, "m": 60 * 10**6, "h": 3600 * 10**6, "ms": 1000, "us": 1}


def _fixed_micros(interval: ops.Value) -> int | None:
    """An interval literal of a fixed-length unit, in microseconds; None for anything else."""
    if not isinstance(interval, ops.Literal) or not interval.dtype.is_interval():
        return None
    factor = _MICROS.get(interval.dtype.unit.short)  # type: ignore[attr-defined]
    value = interval.value
    if factor is None or not isinstance(value, int) or isinstance(value, bool):
        return None
    return value * factor


def _naive(compiler: DuckDBCompiler, instant: sge.Expression) -> sge.Expression:
    """A zoned instant as the naive UTC timestamp of the same epoch microseconds."""
    return compiler.f.make_timestamp(compiler.f.epoch_us(instant))


def _naive_if_zoned(compiler: DuckDBCompiler, op: ops.Value, arg: sge.Expression) -> sge.Expression:
    return _naive(compiler, arg) if _zoned(op.arg.dtype) else arg  # type: ignore[attr-defined]


def _unit(op: ops.TimestampDelta) -> str | None:
    part = op.part
    return str(part.value).lower() if isinstance(part, ops.Literal) else None


def _floor_ms(compiler: DuckDBCompiler, instant: sge.Expression) -> sge.Expression:
    """floor(epoch µs ÷ 1000). From 1970 on the µs are not negative and DuckDB's integer
    division (which truncates) is the floor; before 1970 the µs less their non-negative
    remainder are divided exactly. The branch costs less than the exact form on every row
    (0.10 against 0.15 s of CPU for three durations over 1M conversations)."""
    micros = compiler.f.epoch_us(instant)
    remainder = sge.Mod(
        this=sge.paren(sge.Mod(this=micros, expression=sge.convert(1000)) + sge.convert(1000)),
        expression=sge.convert(1000),
    )
    exact = sge.Sub(this=micros.copy(), expression=_paren(remainder))
    before_1970 = sge.IntDiv(this=sge.paren(exact, copy=False), expression=sge.convert(1000))
    since_1970 = sge.IntDiv(this=micros.copy(), expression=sge.convert(1000))
    return sge.Case(
        ifs=[sge.If(this=sge.GTE(this=micros.copy(), expression=sge.convert(0)), true=since_1970)],
        default=before_1970,
    )


def _paren(expression: sge.Expression) -> sge.Expression:
    """``expression`` in parentheses when it is a binary operation (as sqlglot's operators
    put it), without copying it."""
    return sge.paren(expression, copy=False) if isinstance(expression, sge.Binary) else expression


COMPILER = StoreCompiler()


def use(con: DuckDBBackend) -> DuckDBBackend:
    """``con`` compiling with :class:`StoreCompiler` (its own attribute; other connections
    and ``ibis.to_sql(…, dialect="duckdb")`` keep Ibis's)."""
    con.compiler = COMPILER  # type: ignore[misc]
    return con
