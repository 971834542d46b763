"""SQL for a PostgreSQL store: the canonical tables' DDL and indexes, the guard that keeps
DuckDB-only SQL from ever reaching the server, and bulk copies between DuckDB and PostgreSQL.

Statements written in DuckDB's dialect (the few a report or a command runs on any store) are
parsed and written out again as PostgreSQL by sqlglot; a construct PostgreSQL lacks or reads
otherwise (``SEMI``/``ANTI JOIN`` would run as an inner join, ``INSERT OR REPLACE``,
``INSERT … BY NAME``, ``GROUP BY ALL``, ``CREATE OR REPLACE TABLE``, a subquery without an
alias) is refused with :class:`NotPortable` instead of being sent.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import ibis.expr.datatypes as dt
import sqlglot
from sqlglot import exp

from supportkpi.store import schema
from supportkpi.store.merge import quoted as q

PG_TYPES = {
    "text": "TEXT",
    "int": "BIGINT",
    "float": "DOUBLE PRECISION",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
}
DUCKDB_TYPES = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
}

# Indexes the KPI queries and the loads need beyond each table's key: conversations by
# customer and time (as-of joins attributing revenue, follow-ups), child rows by their
# conversation, activity by agent and time, the quarantine by source.
INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "conversations": (("customer_id", "created_at"), ("created_at",), ("follow_up_of",)),
    "messages": (("conversation_id", "sent_at"),),
    "surveys": (("conversation_id",),),
    "qa_reviews": (("conversation_id",),),
    "revenue_events": (("customer_id", "occurred_at"), ("conversation_id",)),
    "agent_activity": (("started_at",),),
    "quarantine": (("source", "line"),),
}
KEPT_INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "kept_facts": (("conversation_id",), ("customer_id", "created_at"), ("created_at",)),
    "kept_replies": (("conversation_id",),),
    "kept_surveys": (("conversation_id",), ("created_at",)),
}


class NotPortable(ValueError):
    """A statement in DuckDB's dialect that PostgreSQL lacks or would read otherwise."""


def create_table(spec: schema.Table) -> list[str]:
    """DDL for a canonical table: its columns, a unique index on its key (NULLs equal to each
    other, as the DuckDB merge matches them) and the indexes of :data:`INDEXES`."""
    columns = ", ".join(
        f"{q(c.name)} {PG_TYPES[c.kind]}{' NOT NULL' if c.required else ''}" for c in spec.columns
    )
    out = [f"CREATE TABLE IF NOT EXISTS {q(spec.name)} ({columns})"]
    if spec.loadable:
        keys = ", ".join(q(k) for k in spec.key)
        out.append(
            f"CREATE UNIQUE INDEX IF NOT EXISTS {q(spec.name + '__key')} ON {q(spec.name)} "
            f"({keys}) NULLS NOT DISTINCT"
        )
    out += index_sql(spec.name, INDEXES.get(spec.name, ()))
    return out


def index_sql(table: str, indexes: Sequence[tuple[str, ...]]) -> list[str]:
    """``CREATE INDEX IF NOT EXISTS`` for each column list of ``indexes`` on ``table``."""
    return [
        f"CREATE INDEX IF NOT EXISTS {q(table + '__' + '_'.join(cols))} ON {q(table)} "
        f"({', '.join(q(c) for c in cols)})"
        for cols in indexes
    ]


def key_match(left: str, right: str, spec: schema.Table) -> str:
    """Rows of ``left`` and ``right`` with the same key; equality on required columns lets the
    server use the key's index."""
    required = {c.name for c in spec.columns if c.required}
    return " AND ".join(
        f"{left}.{q(k)} = {right}.{q(k)}"
        if k in required
        else f"{left}.{q(k)} IS NOT DISTINCT FROM {right}.{q(k)}"
        for k in spec.key
    )


def upsert_sql(spec: schema.Table, source: str) -> str:
    """``INSERT … ON CONFLICT`` of every row of ``source`` into the table: a new key is
    inserted, a changed row replaced, an unchanged one left alone; each written row returns
    whether it was new."""
    cols = ", ".join(q(c) for c in spec.column_names)
    rest = [c for c in spec.column_names if c not in spec.key]
    sets = ", ".join(f"{q(c)} = EXCLUDED.{q(c)}" for c in rest)
    old = ", ".join(f"t.{q(c)}" for c in rest)
    new = ", ".join(f"EXCLUDED.{q(c)}" for c in rest)
    return (
        f"INSERT INTO {q(spec.name)} AS t ({cols}) SELECT {cols} FROM {q(source)} "
        f"ON CONFLICT ({', '.join(q(k) for k in spec.key)}) DO UPDATE SET {sets} "
        f"WHERE ROW({old}) IS DISTINCT FROM ROW({new}) RETURNING (xmax = 0)"
    )


# ------------------------------------------------------------ DuckDB's dialect → PostgreSQL

_NOT_IN_POSTGRES = "PostgreSQL has no {what}; this statement must not be sent to it: {sql}"


def to_postgres(sql: str, with_params: bool) -> str:
    """``sql`` (DuckDB's dialect, ``?`` parameters) as PostgreSQL (``%s`` parameters), or
    :class:`NotPortable` naming the construct that has no PostgreSQL equivalent."""
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise NotPortable(f"cannot read this statement: {exc}") from None
    _refuse_duckdb_only(tree, sql)
    if with_params:  # psycopg reads % as a parameter marker: a literal % is written %%
        for literal in tree.find_all(exp.Literal):
            if literal.is_string and "%" in literal.this:
                literal.set("this", literal.this.replace("%", "%%"))
    return tree.sql(dialect="postgres", unsupported_level=sqlglot.ErrorLevel.RAISE)


def _refuse_duckdb_only(tree: exp.Expression, sql: str) -> None:
    for join in tree.find_all(exp.Join):
        kind = (join.args.get("kind") or "").upper()
        if kind in ("SEMI", "ANTI", "ASOF", "POSITIONAL"):
            raise NotPortable(_NOT_IN_POSTGRES.format(what=f"{kind} JOIN", sql=sql))
    for insert in tree.find_all(exp.Insert):
        if insert.args.get("alternative"):
            what = f"INSERT OR {insert.args['alternative']}"
            raise NotPortable(_NOT_IN_POSTGRES.format(what=what, sql=sql))
        if insert.args.get("by_name"):
            raise NotPortable(_NOT_IN_POSTGRES.format(what="INSERT … BY NAME", sql=sql))
    for create in tree.find_all(exp.Create):
        if create.args.get("replace") and (create.args.get("kind") or "").upper() == "TABLE":
            raise NotPortable(_NOT_IN_POSTGRES.format(what="CREATE OR REPLACE TABLE", sql=sql))
    for group in tree.find_all(exp.Group):
        if group.args.get("all"):
            raise NotPortable(_NOT_IN_POSTGRES.format(what="GROUP BY ALL", sql=sql))
    for sub in tree.find_all(exp.Subquery):
        if isinstance(sub.parent, exp.From | exp.Join) and not sub.alias:
            raise NotPortable(
                _NOT_IN_POSTGRES.format(what="subquery in FROM without an alias", sql=sql)
            )


# ------------------------------------------------------------ bulk copies


@contextmanager
def scratch_file(suffix: str = ".csv") -> Iterator[Path]:
    """A temporary file, removed afterwards."""
    fd, name = tempfile.mkstemp(prefix="supportkpi-", suffix=suffix)
    os.close(fd)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def copy_to_postgres(
    duck: duckdb.DuckDBPyConnection, select: str, cursor: Any, table: str, columns: Sequence[str]
) -> None:
    """Bulk-copy the rows of the DuckDB query ``select`` into ``table`` (its ``columns``, in
    the query's order) through PostgreSQL's COPY, as CSV: NULL is an empty field, an empty
    text ``""``, timestamps carry their offset."""
    with scratch_file() as path:
        duck.execute(
            f"COPY ({select}) TO '{path}' (FORMAT csv, HEADER false, QUOTE '\"', ESCAPE '\"', "
            "TIMESTAMPFORMAT '%Y-%m-%d %H:%M:%S.%f%z')"
        )
        cols = ", ".join(q(c) for c in columns)
        with (
            cursor.copy(f"COPY {q(table)} ({cols}) FROM STDIN (FORMAT csv)") as copy,
            open(path, "rb") as f,
        ):
            while chunk := f.read(1 << 20):
                copy.write(chunk)


def copy_from_postgres(
    cursor: Any, select: str, duck: duckdb.DuckDBPyConnection, table: str, types: dict[str, str]
) -> None:
    """Bulk-copy the rows of the PostgreSQL query ``select`` into the DuckDB ``table``, whose
    columns and DuckDB types are ``types`` (in the query's order)."""
    with scratch_file() as path:
        with open(path, "wb") as f, cursor.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                f.write(chunk)
        if path.stat().st_size == 0:
            return
        columns = "{" + ", ".join(f"'{n}': '{t}'" for n, t in types.items()) + "}"
        duck.execute(
            f"INSERT INTO {q(table)} ({', '.join(q(n) for n in types)}) "
            f"SELECT * FROM read_csv('{path}', columns = {columns}, header = false, "
            "quote = '\"', escape = '\"', allow_quoted_nulls = false, auto_detect = false)"
        )


def duckdb_types(spec: schema.Table, columns: Sequence[str] | None = None) -> dict[str, str]:
    """Column → DuckDB type of a canonical table (only ``columns`` when given)."""
    wanted = columns or spec.column_names
    return {c: DUCKDB_TYPES[spec.column(c).kind] for c in wanted}


# ------------------------------------------------------------ compiling Ibis expressions


def compiler() -> Any:
    """Ibis's PostgreSQL compiler, with one difference: PostgreSQL casts a boolean to
    ``integer`` only, so a boolean cast to another number goes through ``integer``."""
    from ibis.backends.sql.compilers.postgres import PostgresCompiler

    class _Compiler(PostgresCompiler):
        def visit_Cast(self, op: Any, *, arg: Any, to: Any) -> Any:
            if op.arg.dtype.is_boolean() and to.is_numeric() and not to.is_int32():
                arg = self.cast(arg, dt.int32)
            return super().visit_Cast(op, arg=arg, to=to)

        visit_TryCast = visit_Cast

    return _Compiler()
