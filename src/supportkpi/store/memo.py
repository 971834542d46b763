"""Facts about a DuckDB store's data worked out once per store generation.

Every report begins by asking the store the same things: the days its data spans, whether
the kept conversation facts and last contacts are current. Each is a query (a scan of the
messages for the last one sent, row counts…), and a dashboard page asks them fifteen times.
Their answers change only when the data does, which on a DuckDB store means a committed load
(:mod:`supportkpi.store.generation`: every load raises the generation inside its transaction,
and no other process can write while this one holds the file). So they are kept on the open
store, shared with its per-request sessions, under the generation they were worked out at.
A store opened again starts with nothing kept; engine stores (Spark) and PostgreSQL, which
other processes write to, ask every time. Requests that ask the same thing at once (a page's
requests to a server just started or just loaded) wait for one of them to work it out.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

import ibis.expr.operations as ops
import ibis.expr.types as ir

from supportkpi.inflight import InFlight
from supportkpi.store import generation
from supportkpi.store.store import Store

T = TypeVar("T")
_LIMIT = 256  # answers kept per store; the oldest go first
_WORKING: InFlight[object] = InFlight()  # by (memo, key and generation)
_MISSING = object()

__all__ = ["remembered", "stored_table"]


def remembered(store: Store, key: Hashable, compute: Callable[[], T], *, latest: bool = False) -> T:
    """``compute()``, or its answer at the store's current generation when already worked
    out for ``key`` on this open store (DuckDB stores only). ``latest``: the answers for
    ``key`` at earlier generations are let go when a new one is kept (large answers)."""
    memo = getattr(store, "memo", None)
    if memo is None or type(store) is not Store:
        return compute()
    at = (key, _generation(store, memo))
    if at in memo:
        return cast(T, memo[at])

    def lookup() -> tuple[bool, object]:
        found = memo.get(at, _MISSING)
        return found is not _MISSING, found

    def work() -> object:
        value = compute()
        _keep(memo, key, at, value, latest)
        return value

    # one request works it out; the others asking meanwhile wait for it
    return cast(T, _WORKING.once((id(memo), at), lookup, work))


def _keep(
    memo: dict[tuple[object, ...], object],
    key: Hashable,
    at: tuple[object, ...],
    value: object,
    latest: bool,
) -> None:
    if latest:
        with contextlib.suppress(RuntimeError):  # changed meanwhile
            for old in [k for k in list(memo) if k[0] == key and k != at]:
                memo.pop(old, None)
    if len(memo) >= _LIMIT:
        with contextlib.suppress(StopIteration, RuntimeError):  # changed meanwhile
            memo.pop(next(iter(memo)), None)
    memo[at] = value


def stored_table(store: Store, name: str) -> ir.Table:
    """The stored table ``name`` on ``store``'s own connection, its schema read from the
    catalog once per store generation: each request's session would otherwise ask the
    catalog again for every table a report reads (DuckDB stores only)."""
    if getattr(store, "memo", None) is None or type(store) is not Store:
        return store.con.table(name)
    schema = remembered(store, ("schema", name), lambda: store.con.get_schema(name))
    return ops.DatabaseTable(
        name, schema=schema, source=store.con, namespace=ops.Namespace(None, None)
    ).to_expr()


def _generation(store: Store, memo: dict[tuple[object, ...], object]) -> int:
    """The store's generation; once its table is seen (a load made it, and nothing drops
    it) read without asking the catalog first."""
    if memo.get(("generation table",)):
        rows = store.execute(f"SELECT max(generation) FROM {generation.TABLE}")
        return int(rows[0][0] or 0)
    now = generation.current(store)
    if now:
        memo[("generation table",)] = True
    return now
