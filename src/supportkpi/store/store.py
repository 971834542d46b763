"""The store: a database holding the canonical tables, opened by URL.

The default is an embedded DuckDB file (``duckdb:///supportkpi.duckdb``, or a plain path).
Loads are staged in temporary tables and land in one transaction: whole or not at all.
Merging is an upsert by key that counts what was new, what changed and what was already there,
so loading the same records twice changes nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa
from ibis.backends.duckdb import Backend as DuckDBBackend

from supportkpi.store import duckdb_sql, schema
from supportkpi.store.merge import MergeCounts, merge
from supportkpi.store.merge import quoted as _q

DEFAULT_DB = "supportkpi.duckdb"
ENV_DB = "SUPPORTKPI_DB"
ENV_MEMORY = "SUPPORTKPI_MEMORY_LIMIT"
# The engine spills to disk beyond this, so a load's memory does not grow with the file.
DEFAULT_MEMORY_LIMIT = "1GB"


class StoreError(RuntimeError):
    """The store cannot be opened or used as asked."""


def default_url() -> str:
    """The store to use when none is named: $SUPPORTKPI_DB, else ./supportkpi.duckdb."""
    return os.environ.get(ENV_DB) or DEFAULT_DB


_LOCK = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def in_use(path: str, exc: Exception) -> str | None:
    """What to say when another process holds the store file (DuckDB lets one process open
    a file at a time): who holds it and what to do; None for any other error."""
    found = _LOCK.search(str(exc))
    if found is None:
        return None
    pid = int(found["pid"])
    command = _command_line(pid)
    serving = " serve" in f" {command}" and "supportkpi" in command
    who = f"`supportkpi serve` (PID {pid})" if serving else f"another process (PID {pid})"
    advice = (
        "while it runs, read through it (the dashboard, or GET /v1/report, /v1/sla, "
        "/v1/conversations … with a token) and send records to POST /v1/records/{table}; "
        "or stop it and run this command again"
        if serving
        else "wait for it to finish, or stop it, and run this command again"
    )
    return f"the store {path} is in use by {who}: one process at a time can open it; {advice}"


def _command_line(pid: int) -> str:
    """A process's command line, from /proc where there is one; empty otherwise."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return " ".join(
        Path(a).name if i == 0 else a
        for i, a in enumerate(raw.decode(errors="replace").split("\0"))
        if a
    )


def _duckdb_path(url: str) -> str:
    """File path of a DuckDB URL: ``duckdb:///rel.duckdb``, ``duckdb:////abs.duckdb``, a path."""
    if url in ("", ":memory:", "duckdb://", "duckdb:///:memory:"):
        return ":memory:"
    if url.startswith("duckdb:///"):
        return url.removeprefix("duckdb:///")
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise StoreError(
            f"store URL scheme {scheme!r} is not supported; use duckdb:///path.duckdb, a plain "
            "file path or postgresql://user@host:port/database"
        )
    return url


_SQL_TYPES = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
}


def _session_settings(con: duckdb.DuckDBPyConnection) -> None:
    """What every connection to a store needs: UTC, no progress bar, no ordering promise."""
    con.execute(
        "SET TimeZone = 'UTC'; SET preserve_insertion_order = false; "
        "SET enable_progress_bar = false"
    )


class Store:
    """A connection to the store, with the canonical tables created."""

    dialect = "duckdb"
    """The SQL dialect of the engine underneath, as Ibis and sqlglot name it."""

    def __init__(self, con: DuckDBBackend, url: str) -> None:
        # durations on integers, not DuckDB's calendar (see supportkpi.store.duckdb_sql)
        self.con = duckdb_sql.use(con) if isinstance(con, DuckDBBackend) else con
        self.url = url
        self._temp_counter = 0
        self._tables: dict[str, ibis.Table] = {}  # each table's schema, read once
        # what the query service worked out about the data, by store generation; shared
        # with this store's sessions (see supportkpi.store.memo)
        self.memo: dict[tuple[object, ...], object] = {}

    @classmethod
    def open(
        cls,
        url: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
    ) -> Store:
        """Open (and create when new) the store at ``url``; see :func:`default_url`.

        ``memory_limit`` (e.g. ``"512MB"``; default ``$SUPPORTKPI_MEMORY_LIMIT`` or 1GB) caps
        the engine's memory; larger work spills to a temporary directory beside the store.
        """
        url = str(url) if url is not None else default_url()
        if url.startswith(("postgresql://", "postgres://")):
            from supportkpi.store.postgres import PostgresStore

            return PostgresStore.open(url, read_only=read_only)
        path = _duckdb_path(url)
        if path != ":memory:":
            if read_only and not Path(path).exists():
                raise StoreError(f"no store at {path}; load data first (supportkpi load …)")
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            con = ibis.duckdb.connect(path, read_only=read_only)
        except duckdb.Error as exc:
            held = in_use(path, exc)
            raise StoreError(held or f"cannot open the store {path}: {exc}") from None
        limit = memory_limit or os.environ.get(ENV_MEMORY) or DEFAULT_MEMORY_LIMIT
        try:
            quoted = limit.replace("'", "''")
            con.raw_sql(f"SET memory_limit = '{quoted}'")
        except duckdb.Error as exc:
            con.disconnect()
            raise StoreError(f"memory limit {limit!r} not understood: {exc}") from None
        _session_settings(con.con)
        store = cls(con, url)
        if not read_only:
            store._create_tables()
        return store

    @contextmanager
    def session(self) -> Iterator[Store]:
        """A store of its own for one request, on the same database: a DuckDB cursor, so reads
        run side by side (each sees the data as committed when its statement began)."""
        cursor = self.raw.cursor()
        _session_settings(cursor)
        store = Store(ibis.duckdb.from_connection(cursor), self.url)
        store.memo = self.memo
        try:
            yield store
        finally:
            cursor.close()

    def replace_table(self, name: str, sql: str) -> None:
        """(Re)create table ``name`` from the query ``sql`` (in this store's dialect)."""
        self.raw.execute(f"CREATE OR REPLACE TABLE {_q(name)} AS {sql}")

    def close(self) -> None:
        """Close the connection."""
        self.con.disconnect()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def raw(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection underneath, for staging and merging."""
        return self.con.con

    def _create_tables(self) -> None:
        """Create the canonical tables, and add the optional columns a store written by an
        older version lacks (empty, as the data never said anything of them)."""
        existing = set(self.con.list_tables())
        for spec in schema.TABLES.values():
            if spec.name not in existing:
                self.con.create_table(spec.name, schema=spec.ibis_schema)
                continue
            have = set(self.columns(spec.name))
            for column in spec.columns:
                if column.name not in have and not column.required:
                    self.raw.execute(
                        f"ALTER TABLE {_q(spec.name)} ADD COLUMN {_q(column.name)} "
                        f"{_SQL_TYPES[column.kind]}"
                    )

    def table(self, name: str) -> ibis.Table:
        """The canonical table ``name`` as an Ibis table expression; in a store written by an
        older version and opened read-only, the optional columns it lacks read as empty."""
        found = self._tables.get(name)
        if found is not None:
            return found
        from supportkpi.store.memo import stored_table  # memo imports this module

        spec = schema.table(name)
        table = stored_table(self, spec.name)
        lacking = {c.name: ibis.null(c.dtype) for c in spec.columns if c.name not in table.columns}
        found = table.mutate(**lacking).select(*spec.column_names) if lacking else table
        self._tables[name] = found
        return found

    def counts(self) -> dict[str, int]:
        """Row count of every canonical table."""
        sql = " UNION ALL ".join(
            f"SELECT '{name}' AS t, count(*) AS n FROM {_q(name)}" for name in schema.TABLES
        )
        return dict(self.raw.execute(sql).fetchall())  # type: ignore[arg-type]

    def others(self, table: str, keys: pa.Table) -> int:
        """How many rows of the canonical ``table`` have a key that is not in ``keys`` (a
        table of the key columns): rows that did not come from that set of records."""
        spec = schema.table(table)
        cols = ", ".join(_q(k) for k in spec.key)
        self.raw.register("__keys", keys.select(list(spec.key)))
        try:
            row = self.raw.execute(
                f"SELECT count(*) FROM (SELECT {cols} FROM {_q(table)} "
                f"EXCEPT SELECT {cols} FROM __keys)"
            ).fetchone()
        finally:
            self.raw.unregister("__keys")
        return int(row[0]) if row else 0

    def filled(self, table: str, columns: list[str]) -> set[str]:
        """Which of ``columns`` of the canonical ``table`` hold at least one value."""
        spec = schema.table(table)
        have = set(self.columns(spec.name))
        asked = [c for c in dict.fromkeys(columns) if c in have]
        if not asked:
            return set()
        probes = ", ".join(
            f"EXISTS (SELECT 1 FROM {_q(spec.name)} WHERE {_q(c)} IS NOT NULL)" for c in asked
        )
        row = self.raw.execute(f"SELECT {probes}").fetchone() or ()
        return {c for c, found in zip(asked, row, strict=True) if found}

    # ------------------------------------------------------------ staging

    def temp_name(self, prefix: str) -> str:
        """A fresh name for a temporary staging table."""
        self._temp_counter += 1
        return f"__{prefix}_{self._temp_counter}"

    def stage(self, name: str, batch: pa.RecordBatch | pa.Table) -> None:
        """Append ``batch`` to temporary table ``name``, creating it and any new columns."""
        view = f"{name}__batch"
        self.raw.register(view, batch)
        try:
            if not self.exists(name):
                self.raw.execute(f"CREATE TEMP TABLE {_q(name)} AS SELECT * FROM {_q(view)}")
                return
            have = set(self.columns(name))
            for col in batch.schema.names:
                if col not in have:
                    ctype = self.raw.execute(
                        f"SELECT typeof({_q(col)}) FROM {_q(view)} LIMIT 1"
                    ).fetchone()
                    sql_type = ctype[0] if ctype and ctype[0] != "NULL" else "VARCHAR"
                    self.raw.execute(f"ALTER TABLE {_q(name)} ADD COLUMN {_q(col)} {sql_type}")
            self.raw.execute(f"INSERT INTO {_q(name)} BY NAME SELECT * FROM {_q(view)}")
        finally:
            self.raw.unregister(view)

    def exists(self, name: str) -> bool:
        """Whether a table (temporary or not) called ``name`` exists."""
        row = self.raw.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]
        ).fetchone()
        return bool(row and row[0])

    def columns(self, name: str) -> dict[str, str]:
        """Column name → DuckDB type of a table."""
        rows = self.raw.execute(f"DESCRIBE {_q(name)}").fetchall()
        return {r[0]: r[1] for r in rows}

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one SQL statement and return its rows."""
        return self.raw.execute(sql, params or []).fetchall()

    def quarantined(
        self, reason: str | None = None, limit: int | None = 50
    ) -> tuple[int, list[tuple[Any, ...]]]:
        """(how many, the first ``limit``) quarantined rows, optionally only one rule or those
        whose reason contains ``reason``: (source, line, table, column, rule, reason)."""
        where, params = "", []
        if reason:
            where, params = "WHERE rule = ? OR reason ILIKE ?", [reason, f"%{reason}%"]
        total = self.execute(f"SELECT count(*) FROM quarantine {where}", params)[0][0]
        rows = self.execute(
            f"SELECT source, line, table_name, column_name, rule, reason FROM quarantine {where} "
            "ORDER BY source, line" + (f" LIMIT {int(limit)}" if limit else ""),
            params,
        )
        return total, rows

    def quarantined_from(self, source: str) -> list[tuple[Any, ...]]:
        """The quarantine rows of one source: (line, column, rule, reason), in line order."""
        return self.execute(
            "SELECT line, column_name, rule, reason FROM quarantine WHERE source = ? "
            "ORDER BY line, column_name",
            [source],
        )

    def drop_temp(self, name: str) -> None:
        """Drop a temporary staging table if it exists."""
        self.raw.execute(f"DROP TABLE IF EXISTS temp.{_q(name)}")

    # ------------------------------------------------------------ transactions and merges

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside lands together or not at all. The tables' schemas are read again
        afterwards."""
        self.raw.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.raw.execute("ROLLBACK")
            raise
        finally:
            self._tables.clear()
        self.raw.execute("COMMIT")

    def merge(
        self,
        table: str,
        staged: str,
        provided: set[str],
        touched: str | None = None,
        *,
        insert_new: bool = True,
    ) -> MergeCounts:
        """Upsert the rows of ``staged`` into ``table`` by key (see :func:`merge.merge`)."""
        delta = self.temp_name("delta")
        return merge(self.raw, table, staged, provided, touched, delta, insert_new=insert_new)
