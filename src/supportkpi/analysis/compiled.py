"""Queries compiled once and run again on other rows.

Building an Ibis expression and compiling it to SQL costs a tenth of a second or more of
CPU for the larger queries of the query service (a drill-down page's columns: 0.2–0.3 s at
any store size), more than the engine takes to answer them on a million conversations. A
query whose only changing input is a small table of rows (the conversations of one page) is
built and compiled once: :class:`Compiled` holds its SQL, and each run binds that table under
the name the SQL reads it by and runs the SQL on the store's own connection.

The SQL is compiled from the registry's expressions by Ibis, as always; only DuckDB stores
run it this way (:func:`runs_compiled`); other engines keep the plain path. A compiled query
stands on the store's data (its vendors, the days it covers, whether its kept facts are
current) and settings: callers key it by the store's generation, which every load raises.
A report whose dates are bound (:func:`run_windowed`) is keyed instead by its expression,
which holds everything its SQL stands on but the dates. The SQL itself is kept on disk by
the same token (:meth:`Compiled.kept`, :mod:`supportkpi.analysis.kept_sql`), so a process
just started reads it instead of compiling it again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import ibis.expr.operations as ops
import ibis.expr.schema as sch
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot.expressions as sge

from supportkpi.analysis import kept_sql
from supportkpi.facts.bound import bound_names
from supportkpi.kpis.grains import Frame
from supportkpi.store.engine import EngineStore
from supportkpi.store.store import Store

__all__ = [
    "Compiled",
    "CompiledCache",
    "binds_dates",
    "compiled_for",
    "rows_of",
    "run_unbound",
    "run_windowed",
    "runs_compiled",
    "windowed",
]


def runs_compiled(store: Store) -> bool:
    """Whether ``store`` runs compiled SQL on its own connection (a DuckDB store)."""
    return not isinstance(store, EngineStore) and store.dialect == "duckdb"


def binds_dates(store: Store) -> bool:
    """Whether ``store`` runs compiled SQL and its compiler writes bound values
    (:mod:`supportkpi.facts.bound`) as parameters: the DuckDB store's own compiler does, Ibis's
    stock one does not."""
    return runs_compiled(store) and hasattr(store.con.compiler, "visit_Bound")


@dataclass(frozen=True)
class Compiled:
    """An expression's SQL, the schema of its result (to type the rows as running the
    expression through Ibis would), the in-memory tables it reads (settings such as
    business-hour spans, registered on each run)."""

    sql: str
    schema: sch.Schema
    tables: tuple[tuple[str, pa.Table], ...]
    needed: frozenset[str] = frozenset()
    """The names of the values bound when it runs (:mod:`supportkpi.facts.bound`)."""

    @classmethod
    def of(cls, store: Store, expr: ir.Table, *, materialized: bool = False) -> Compiled:
        """Compile ``expr`` for ``store``; its unbound tables are bound on each run.
        ``materialized``: each common table expression is computed once and read from
        there (DuckDB may otherwise compute one read twice, twice)."""
        tables = tuple(
            (op.name, op.data.to_pyarrow(op.schema)) for op in expr.op().find(ops.InMemoryTable)
        )
        query = store.con.compiler.to_sqlglot(expr)
        for cte in query.find_all(sge.CTE) if materialized else ():
            cte.set("materialized", True)
        sql = query.sql(dialect=store.con.dialect)
        return cls(sql, expr.schema(), tables, frozenset(bound_names(expr)))

    @classmethod
    def kept(cls, store: Store, expr: ir.Table, *, materialized: bool = False) -> Compiled:
        """As :meth:`of`, the SQL read from where an earlier process kept it when it did
        (:mod:`supportkpi.analysis.kept_sql`), else compiled and kept there. An expression
        that reads in-memory rows (made anew for each report) is compiled, not kept."""
        if expr.op().find(ops.InMemoryTable):
            return cls.of(store, expr, materialized=materialized)
        compiler = store.con.compiler
        name = kept_sql.name_of(compiler, store.con.dialect, expr, materialized=materialized)
        sql = kept_sql.read(name) if name else None
        if sql is not None:
            return cls(sql, expr.schema(), (), frozenset(bound_names(expr)))
        made = cls.of(store, expr, materialized=materialized)
        if name:
            kept_sql.write(name, made.sql)
        return made

    def run(
        self,
        store: Store,
        bound: Mapping[str, pa.Table],
        values: Mapping[str, Any] | None = None,
    ) -> pa.Table:
        """The rows of the query with ``bound`` (name → rows) as its unbound tables and
        ``values`` (name → value) as its bound values (:mod:`supportkpi.facts.bound`), typed
        as the expression says (exactly what running the expression through Ibis gives)."""
        from ibis.backends.duckdb.converter import DuckDBPyArrowData

        raw = store.raw
        for name, data in [*self.tables, *bound.items()]:
            raw.register(name, data)
        try:
            if values:
                table = raw.execute(self.sql, dict(values)).to_arrow_table()
            else:
                table = raw.sql(self.sql).to_arrow_table()
        finally:
            for name in bound:
                raw.unregister(name)
        return DuckDBPyArrowData.convert_table(table, self.schema)

    def run_with(self, store: Store, values: Mapping[str, Any]) -> pa.Table:
        """:meth:`run` with the bound values it needs taken from ``values`` (a window's
        :meth:`~supportkpi.kpis.grains.Frame.window_values`)."""
        missing = self.needed - set(values)
        if missing:
            raise ValueError(f"no value for {', '.join(sorted(missing))}")
        return self.run(store, {}, {name: values[name] for name in self.needed})


T = TypeVar("T")


class CompiledCache(Generic[T]):
    """Compiled queries (or other things built once) by key, the most recently used
    ``entries`` of them."""

    def __init__(self, entries: int = 64) -> None:
        self._entries = entries
        self._kept: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The thing kept for ``key``, built (outside the lock) when not kept."""
        found = self.find(key)
        if found is not None:
            return found
        made = build()
        self.put(key, made)
        return made

    def find(self, key: Hashable) -> T | None:
        """The thing kept for ``key``, or None."""
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: Hashable, value: T) -> None:
        """Keep ``value`` for ``key``, letting the least recently used go beyond the limit."""
        with self._lock:
            self._kept[key] = value
            while len(self._kept) > self._entries:
                self._kept.popitem(last=False)

    def clear(self) -> None:
        """Forget every compiled query."""
        with self._lock:
            self._kept.clear()


_WINDOWED: CompiledCache[Compiled] = CompiledCache(entries=128)


def run_windowed(store: Store, expr: ir.Table, values: Mapping[str, Any]) -> pa.Table:
    """The rows of ``expr``, an expression whose window is bound
    (:attr:`~supportkpi.kpis.grains.Frame.bound`), with the window's ``values``. Its SQL is
    compiled once per expression: the expression itself, on tables named rather than on
    this request's connection, is the key, so every window of a report's shape shares it,
    and an expression that differs in anything else (a literal date, a filter value, the
    store's schema) is compiled apart."""
    return run_unbound(store, expr.unbind(), values)


def run_unbound(store: Store, key: ir.Table, values: Mapping[str, Any]) -> pa.Table:
    """:func:`run_windowed` of an expression already unbound from its connection
    (``Expr.unbind``), as a report built once per shape keeps it
    (:mod:`supportkpi.analysis.shapes`)."""
    return compiled_for(store, key).run_with(store, values)


def compiled_for(store: Store, key: ir.Table) -> Compiled:
    """The SQL of ``key``, an expression unbound from its connection, on ``store``'s
    compiler: compiled once per expression (and kept on disk), or for this run alone when it
    reads rows made for it."""
    compiler = type(store.con.compiler)  # the same expression compiles apart per compiler
    found = _WINDOWED.find((compiler, key.op()))
    if found is not None:
        return found
    if key.op().find(ops.InMemoryTable):
        # rows made for this report (business-hour spans) are named anew on every build: the
        # key would never recur, so the SQL is compiled for this run alone, not kept
        return Compiled.of(store, key)
    return _WINDOWED.get((compiler, key.op()), lambda: Compiled.kept(store, key))


def windowed(store: Store, frame: Frame) -> Frame:
    """``frame`` with its dates bound when its statement runs (:attr:`Frame.bound`) on a
    store whose compiler binds them (:func:`binds_dates`); as it is elsewhere."""
    return replace(frame, bound=binds_dates(store))


def rows_of(store: Store, frame: Frame, expr: ir.Table) -> pa.Table:
    """The rows of ``expr``, built on ``frame``: through SQL compiled once per expression
    (:func:`run_windowed`) when the frame's dates are bound, else as Ibis runs it."""
    if frame.bound:
        return run_windowed(store, expr, frame.window_values())
    return expr.to_pyarrow()
