"""Report expressions built once per shape.

A report whose dates are bound when its statement runs (:attr:`Frame.bound`) has one
expression for every window of its shape: the KPIs, the grouping, the filters, the zone, the
store's tables and kept facts, the settings. Building that expression (each grain, its
aggregate, the padding, the targets) is most of a report's own Python work: about a tenth of
a second of CPU per dashboard view at any store size. Its compiled SQL is already kept per
expression (:func:`~supportkpi.analysis.compiled.run_windowed`); this module keeps the
expression itself, unbound from the request's connection, under a key made of every field of
the frame except the dates, of which only whether there are any (and whether ranges leave
gaps) counts. The next window of the shape runs it with its own dates. What a run needs of
it (its SQL, the schema of its rows, the values it binds) is also kept on disk under a
digest of the same key (:mod:`~supportkpi.analysis.kept_queries`), so a later process runs
the report without building it.

A frame field the key does not know stops the keeping (:func:`shape_of` gives None) rather
than being left out of the key: a field that changes the expression must change the key.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import fields
from typing import Any, NamedTuple

import ibis.expr.types as ir
import pyarrow as pa

from supportkpi.analysis import compiled, kept_queries
from supportkpi.analysis.compiled import Compiled, CompiledCache, rows_of
from supportkpi.config import Config
from supportkpi.kpis.grains import Frame
from supportkpi.store.store import Store

__all__ = ["BUILT", "Built", "built", "rows_kept", "rows_of_built", "shape_of"]


class Built(NamedTuple):
    """A report's expression, unbound from any connection (None when read from disk: its SQL
    is all a run needs), the KPIs its grains could not compute (with why), as building it
    found them, and the SQL it runs with (None when it reads rows made for each run)."""

    expr: ir.Table | None
    missing: Mapping[str, str]
    sql: Compiled | None


class _Shapes(CompiledCache[Built]):
    """Built reports by shape key (from :func:`shape_of`), in this process and on disk
    (:mod:`~supportkpi.analysis.kept_queries`), as their SQL, for the processes after it."""

    def find(self, key: Hashable) -> Built | None:
        found = super().find(key)
        if found is not None:
            return found
        read = kept_queries.find(key)
        if read is None or len(read.queries) != 1:
            return None
        sql, schema, needed = read.queries[0]
        made = Built(None, read.missing, Compiled(sql, schema, (), needed))
        super().put(key, made)
        return made

    def put(self, key: Hashable, value: Built) -> None:
        super().put(key, value)
        if value.sql is not None and not value.sql.tables:
            query = (value.sql.sql, value.sql.schema, value.sql.needed)
            kept_queries.keep(key, kept_queries.Kept((query,), dict(value.missing)))


BUILT: CompiledCache[Built] = _Shapes(entries=256)


def built(shape: Hashable | None) -> Built | None:
    """The report kept for ``shape`` (from :func:`shape_of`), or None."""
    return BUILT.find(shape) if shape is not None else None


def rows_of_built(store: Store, frame: Frame, made: Built) -> pa.Table:
    """The rows of a kept report over ``frame``'s window, its dates bound."""
    if made.sql is not None:
        return made.sql.run_with(store, frame.window_values())
    assert made.expr is not None  # a report without its SQL kept is kept with its expression
    return compiled.run_unbound(store, made.expr, frame.window_values())


def rows_kept(
    store: Store,
    frame: Frame,
    shape: Hashable | None,
    expr: ir.Table,
    missing: Mapping[str, str],
    *,
    keep: bool = True,
) -> pa.Table:
    """The rows of the report ``expr`` just built over ``frame`` (``missing``: the KPIs its
    grains could not compute). When its dates are bound it is then kept under ``shape`` with
    the SQL it ran with, unless ``keep`` is false (it reads tables held for this run alone)."""
    if not frame.bound:
        return rows_of(store, frame, expr)
    unbound = expr.unbind()
    sql = compiled.compiled_for(store, unbound)
    rows = sql.run_with(store, frame.window_values())
    if shape is not None and keep:
        # SQL reading rows made for one run is compiled again on each: only the expression
        BUILT.put(shape, Built(unbound, missing, None if sql.tables else sql))
    return rows


class _Unkeyed(Exception):
    """A frame field the shape key cannot stand for."""


def shape_of(store: Store, frame: Frame, *more: Hashable) -> Hashable | None:
    """The key of ``frame``'s report shape (its fields but the dates, with ``more``: the
    KPIs, targets…) on ``store``'s compiler; None when the frame's dates are not bound or a
    field cannot be keyed (business-hour spans, rows computed for this report)."""
    if not frame.bound:
        return None
    try:
        key = tuple(_field(frame, f.name) for f in fields(frame))
        shape = (type(store.con.compiler), key, more)
        hash(shape)
    except (_Unkeyed, TypeError):
        return None
    return shape


def _field(frame: Frame, name: str) -> Hashable:
    value = getattr(frame, name)
    if name in ("start", "end"):
        return value is not None  # the dates themselves are bound when the statement runs
    if name == "ranges":
        return len(value), frame.gaps
    if name == "bound":
        return value
    if name == "days":
        # read by no report's expression (tests/test_bound_window.py holds every KPI to it):
        # a load that moves the data's first or last day leaves every shape as it was
        return None
    if name == "offsets" and value:
        # the first offset holds from the start: the instant it is given from (two days
        # before the data's first day) is in no expression (calendar.local_time)
        return value[0][1], tuple(value[1:])
    if name in ("spans", "facts", "attributed"):
        # spans are rows made for this report's dates; facts and attribution are tables it
        # computed for itself: none recurs
        if value is not None:
            raise _Unkeyed(name)
        return None
    return _value(value)


def _value(value: Any) -> Hashable:
    if value is None or isinstance(value, (str, int, float, bool, tuple)):
        return value
    if isinstance(value, ir.Table):
        return value.unbind().op()
    if isinstance(value, Config):
        return value.model_dump_json()
    if isinstance(value, Mapping):
        return tuple(sorted((k, _value(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_value(v) for v in value)
    raise _Unkeyed(type(value).__name__)
