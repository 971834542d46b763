"""A PostgreSQL server as the store (``--db postgresql://user@host:port/database``).

The canonical tables live on the server, with a unique index on each table's key and the
indexes the KPI queries need (:mod:`supportkpi.store.pgsql`); reports read them through
Ibis's PostgreSQL backend. A load is validated exactly as on DuckDB, in an embedded DuckDB
workspace: the stored rows the load can meet (those with its keys, the conversations it names,
a vendor's agents) are copied into the workspace first, inside the load's transaction on the
server, so the checks, the ownership rules and the merge counts see what the server holds.
The accepted rows are then bulk-copied to the server and upserted (``INSERT … ON CONFLICT``),
the quarantine rows of the loaded files replaced and the kept facts of the conversations the
load changed computed again (:func:`supportkpi.store.kept.refresh`, as on DuckDB: the
workspace's merges list them), all in that one server transaction: the load lands whole or
not at all. Loads take a transaction-scoped advisory lock, so two loads never interleave;
reads go on meanwhile.

No statement in DuckDB's dialect is sent unchecked: :meth:`PostgresStore.execute` rewrites it
for PostgreSQL or refuses it (:func:`supportkpi.store.pgsql.to_postgres`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb
import ibis
import psycopg
import pyarrow as pa
from psycopg.types.numeric import FloatLoader

from supportkpi.store import pgsql, schema
from supportkpi.store.merge import MergeCounts
from supportkpi.store.merge import quoted as q
from supportkpi.store.store import Store, StoreError

SCHEMES = ("postgresql://", "postgres://")
ENV_TIMEOUT = "SUPPORTKPI_STATEMENT_TIMEOUT"
# A request's statement is cancelled past this (seconds); loads are not limited.
DEFAULT_TIMEOUT = 300.0
POOL_SIZE = 8
_LOAD_LOCK = 0x5B0C_4B91  # the advisory lock every load holds in its transaction

_KEEP = "__shadow_keys"


def is_postgres(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL server."""
    return url.startswith(SCHEMES)


def statement_timeout() -> float:
    """Seconds a served request's statement may run: $SUPPORTKPI_STATEMENT_TIMEOUT or 300."""
    raw = os.environ.get(ENV_TIMEOUT)
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise StoreError(f"${ENV_TIMEOUT}={raw!r} is not a number of seconds") from None


class PostgresStore(Store):
    """A connection to a PostgreSQL store, with the canonical tables created."""

    dialect = "postgres"

    def __init__(self, con: Any, url: str) -> None:
        super().__init__(con, url)
        self._pool: Any = None
        self._pool_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
    ) -> PostgresStore:
        """Connect to the server at ``url`` and create the canonical tables when missing."""
        url = str(url)
        store = cls(_connect(url), url)
        if read_only:
            if not store.exists("conversations"):
                store.close()
                raise StoreError(f"no store at {_shown(url)}; load data first (supportkpi load …)")
            return store
        with store.transaction():
            store._create_tables()
        return store

    def close(self) -> None:
        """Close the connection (and the pool of a server)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self.con.con.close()

    @property
    def raw(self) -> duckdb.DuckDBPyConnection:
        raise StoreError("a PostgreSQL store has no DuckDB connection; this needs a DuckDB store")

    @property
    def pg(self) -> psycopg.Connection:
        """The psycopg connection underneath."""
        return self.con.con

    def _create_tables(self) -> None:
        with self.pg.cursor() as cur:
            for spec in schema.TABLES.values():
                for sql in pgsql.create_table(spec):
                    cur.execute(sql)
                have = set(self.columns(spec.name))
                for column in spec.columns:
                    if column.name not in have and not column.required:
                        cur.execute(
                            f"ALTER TABLE {q(spec.name)} ADD COLUMN {q(column.name)} "
                            f"{pgsql.PG_TYPES[column.kind]}"
                        )

    # ------------------------------------------------------------ reading

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement written in DuckDB's dialect, rewritten for PostgreSQL (or refused
        when PostgreSQL lacks a construct of it); its rows."""
        try:
            text = pgsql.to_postgres(sql, bool(params))
        except pgsql.NotPortable as exc:
            raise StoreError(str(exc)) from None
        return self.run(text, params)

    def run(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement written for PostgreSQL; its rows."""
        with self.pg.cursor() as cur:
            cur.execute(sql, params or None)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description else []

    def counts(self) -> dict[str, int]:
        sql = " UNION ALL ".join(
            f"SELECT '{name}' AS t, count(*) AS n FROM {q(name)}" for name in schema.TABLES
        )
        return {t: int(n) for t, n in self.run(sql)}

    def others(self, table: str, keys: pa.Table) -> int:
        spec = schema.table(table)
        with self._keys_on_server(spec, keys.select(list(spec.key))) as name:
            cols = ", ".join(q(k) for k in spec.key)
            rows = self.run(
                f"SELECT count(*) FROM (SELECT {cols} FROM {q(table)} "
                f"EXCEPT SELECT {cols} FROM {q(name)}) AS o"
            )
        return int(rows[0][0])

    def filled(self, table: str, columns: list[str]) -> set[str]:
        spec = schema.table(table)
        have = set(self.columns(spec.name))
        asked = [c for c in dict.fromkeys(columns) if c in have]
        if not asked:
            return set()
        probes = ", ".join(
            f"EXISTS (SELECT 1 FROM {q(spec.name)} WHERE {q(c)} IS NOT NULL)" for c in asked
        )
        row = self.run(f"SELECT {probes}")[0]
        return {c for c, found in zip(asked, row, strict=True) if found}

    def exists(self, name: str) -> bool:
        return bool(self.run("SELECT to_regclass(%s) IS NOT NULL", [q(name)])[0][0])

    def columns(self, name: str) -> dict[str, str]:
        rows = self.run(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum",
            [q(name)],
        )
        return dict(rows)

    def drop_temp(self, name: str) -> None:
        self.run(f"DROP TABLE IF EXISTS pg_temp.{q(name)}")

    def stage(self, name: str, batch: pa.RecordBatch | pa.Table) -> None:
        raise StoreError("files are staged in the load's DuckDB workspace, not on the server")

    def merge(
        self, table: str, staged: str, provided: set[str], touched: str | None = None
    ) -> MergeCounts:
        raise StoreError("loads merge through PostgresStore.land, not Store.merge")

    # ------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside lands together or not at all; one writer at a time."""
        with self.pg.transaction():
            self.run("SELECT pg_advisory_xact_lock(%s)", [_LOAD_LOCK])
            yield

    def replace_table(self, name: str, sql: str) -> None:
        """(Re)create table ``name`` from the PostgreSQL query ``sql``, inside a transaction."""
        self.run(f"DROP TABLE IF EXISTS {q(name)}")
        self.run(f"CREATE TABLE {q(name)} AS {sql}")
        for stmt in pgsql.index_sql(name, pgsql.KEPT_INDEXES.get(name, ())):
            self.run(stmt)
        self.run(f"ANALYZE {q(name)}")

    # ------------------------------------------------------------ loading

    def workspace(self) -> Store:
        """A fresh embedded DuckDB store where a load is staged and validated."""
        return Store.open(":memory:")

    def shadow(self, work: Store, clean: dict[str, str], vendor: str | None) -> None:
        """Copy into the ``work`` store's canonical tables the stored rows this load can meet:
        the rows of each loaded table with a key of the load (``clean`` maps the table to the
        staged rows), the conversations the load names or whose rows it may replace, and with
        a ``vendor`` the stored activity of the agents it sends. Call in the transaction."""
        duck = work.raw
        with self.pg.cursor() as cur:
            for table in schema.LOAD_ORDER:
                if table not in clean:
                    continue
                spec = schema.table(table)
                columns = ("agent_id",) if (table == "agent_activity" and vendor) else spec.key
                self._fetch_matching(cur, duck, spec, clean[table], columns)
            named = [
                f"SELECT {column} AS conversation_id FROM {q(name)}"
                for table, name in [*clean.items(), *((t, t) for t in clean)]
                for column in ("conversation_id", "follow_up_of")
                if column in schema.table(table).column_names
            ]
            if named:
                duck.execute(
                    "CREATE TEMP TABLE __named AS SELECT DISTINCT conversation_id FROM ("
                    + " UNION ALL ".join(named)
                    + ") WHERE conversation_id IS NOT NULL AND conversation_id NOT IN "
                    "(SELECT conversation_id FROM conversations)"
                )
                try:
                    self._fetch_matching(
                        cur, duck, schema.table("conversations"), "__named", ("conversation_id",)
                    )
                finally:
                    duck.execute("DROP TABLE IF EXISTS temp.__named")

    def _fetch_matching(
        self,
        cur: Any,
        duck: duckdb.DuckDBPyConnection,
        spec: schema.Table,
        staged: str,
        columns: Sequence[str],
    ) -> None:
        """Stored rows of ``spec`` whose ``columns`` match a row of the DuckDB table ``staged``,
        appended to the workspace's table of the same name."""
        defs = ", ".join(f"{q(c)} {pgsql.PG_TYPES[spec.column(c).kind]}" for c in columns)
        cur.execute(f"DROP TABLE IF EXISTS pg_temp.{_KEEP}")
        cur.execute(f"CREATE TEMP TABLE {_KEEP} ({defs}) ON COMMIT DROP")
        cols = ", ".join(q(c) for c in columns)
        pgsql.copy_to_postgres(
            duck, f"SELECT DISTINCT {cols} FROM {q(staged)}", cur, _KEEP, list(columns)
        )
        cur.execute(f"ANALYZE {_KEEP}")
        required = {c.name for c in spec.columns if c.required}
        on = " AND ".join(
            f"t.{q(c)} = k.{q(c)}" if c in required else f"t.{q(c)} IS NOT DISTINCT FROM k.{q(c)}"
            for c in columns
        )
        picked = ", ".join(f"t.{q(c)}" for c in spec.column_names)
        pgsql.copy_from_postgres(
            cur,
            f"SELECT DISTINCT {picked} FROM {q(spec.name)} t JOIN {_KEEP} k ON {on}",
            duck,
            spec.name,
            pgsql.duckdb_types(spec),
        )

    def land(
        self, work: Store, merged: dict[str, str], rejects: str, sources: list[str]
    ) -> dict[str, tuple[int, int]]:
        """Upsert into the server the rows of the ``work`` store's canonical tables whose keys
        this load sent (``merged`` maps each table to its staged rows), and replace the
        quarantine rows of ``sources`` with those of ``rejects``; (new, changed) rows written
        per table. Call in the transaction."""
        duck = work.raw
        written = {}
        with self.pg.cursor() as cur:
            for table, staged in merged.items():
                spec = schema.table(table)
                incoming = f"__in_{table}"
                cur.execute(f"DROP TABLE IF EXISTS pg_temp.{q(incoming)}")
                cur.execute(f"CREATE TEMP TABLE {q(incoming)} (LIKE {q(table)}) ON COMMIT DROP")
                cols = ", ".join(f"t.{q(c)}" for c in spec.column_names)
                match = " AND ".join(f"s.{q(k)} IS NOT DISTINCT FROM t.{q(k)}" for k in spec.key)
                pgsql.copy_to_postgres(
                    duck,
                    f"SELECT {cols} FROM {q(table)} t SEMI JOIN {q(staged)} s ON {match}",
                    cur,
                    incoming,
                    spec.column_names,
                )
                cur.execute(pgsql.upsert_sql(spec, incoming))
                new = [inserted for (inserted,) in cur.fetchall()]
                written[table] = (sum(new), len(new) - sum(new))
            if sources:
                cur.execute("DELETE FROM quarantine WHERE source = ANY(%s)", [sources])
            columns = ["source", "line", "table_name", "column_name", "rule", "reason", "raw"]
            pgsql.copy_to_postgres(
                duck,
                f"SELECT {', '.join(columns)}, now() FROM {rejects}",
                cur,
                "quarantine",
                [*columns, "quarantined_at"],
            )
        return written

    @contextmanager
    def copied(self, work: Store, table: str, column: str) -> Iterator[str]:
        """The distinct non-null values of ``column`` (text) of the ``work`` store's
        ``table`` as a temporary table on the server, with that one column; its name. Call
        in the transaction (the table goes with it if the block fails)."""
        name = f"__copied_{column}"
        with self.pg.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS pg_temp.{q(name)}")
            cur.execute(f"CREATE TEMP TABLE {q(name)} ({q(column)} TEXT) ON COMMIT DROP")
            pgsql.copy_to_postgres(
                work.raw,
                f"SELECT DISTINCT {q(column)} FROM {q(table)} WHERE {q(column)} IS NOT NULL",
                cur,
                name,
                [column],
            )
            cur.execute(f"ANALYZE {q(name)}")
        yield name
        self.drop_temp(name)

    @contextmanager
    def _keys_on_server(self, spec: schema.Table, keys: pa.Table) -> Iterator[str]:
        """``keys`` (an Arrow table of key columns) as a temporary table on the server."""
        name = self.temp_name("keys")
        defs = ", ".join(f"{q(c)} {pgsql.PG_TYPES[spec.column(c).kind]}" for c in keys.column_names)
        duck = duckdb.connect()
        try:
            duck.register("__arrow", keys)
            with self.pg.transaction(), self.pg.cursor() as cur:
                cur.execute(f"CREATE TEMP TABLE {q(name)} ({defs})")
                cols = ", ".join(q(c) for c in keys.column_names)
                pgsql.copy_to_postgres(
                    duck, f"SELECT {cols} FROM __arrow", cur, name, keys.column_names
                )
            yield name
        finally:
            duck.close()
            self.drop_temp(name)

    # ------------------------------------------------------------ serving

    @contextmanager
    def session(self) -> Iterator[Store]:
        """A store of its own for one request: a connection from the server's pool, its
        statements cancelled past :func:`statement_timeout`."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = _pool(self.url)
        with self._pool.connection() as con:
            store = PostgresStore(_backend(con), self.url)
            yield store


def _connect(url: str) -> Any:
    try:
        con = psycopg.connect(url, autocommit=True)
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to the store {_shown(url)}: {exc}") from None
    return _backend(con)


def _backend(con: psycopg.Connection) -> Any:
    """Ibis's PostgreSQL backend on ``con``, compiling with :func:`pgsql.compiler`."""
    # The server sums integers into NUMERIC, which Ibis calls int64 or float64 and Arrow
    # cannot take as Python decimals: results read it as a double.
    con.adapters.register_loader("numeric", FloatLoader)
    backend = ibis.postgres.from_connection(con)
    backend.compiler = _COMPILER
    return backend


_COMPILER = pgsql.compiler()


def _pool(url: str) -> Any:
    from psycopg_pool import ConnectionPool

    timeout_ms = int(statement_timeout() * 1000)

    def configure(con: psycopg.Connection) -> None:
        con.execute(f"SET statement_timeout = {timeout_ms}")

    def reset(con: psycopg.Connection) -> None:
        con.execute("DISCARD TEMP")

    return ConnectionPool(
        url,
        min_size=1,
        max_size=POOL_SIZE,
        kwargs={"autocommit": True},
        configure=configure,
        reset=reset,
        open=True,
    )


def _shown(url: str) -> str:
    """``url`` without its password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return url.split("@")[-1]
    info.pop("password", None)
    return f"postgresql://{info.get('user', '')}@{info.get('host', '')}:{info.get('port', '')}/" + (
        str(info.get("dbname", ""))
    )
