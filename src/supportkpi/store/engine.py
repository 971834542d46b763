"""Read-only mode: the KPIs over tables or views that already live in another engine.

A small TOML file names the engine and maps the company's tables (or views, or Parquet files)
onto the canonical tables of :mod:`supportkpi.store.schema`, column by column where the names
differ::

    [engine]
    url = "spark://spark-master:7077"     # or local[2], or sc://host:15002 (Spark Connect)

    [tables]
    conversations = "support.tickets_v"   # a table or view the engine knows
    messages = { parquet = "/data/messages/" }
    surveys = { table = "support.csat", columns = { survey_id = "response_id" } }

Tables left out are empty; columns left out are NULL. Nothing is written to the company's
tables. The conversation facts are computed in the engine with every report, or read from the
tables ``supportkpi facts build`` materialised there (``[facts] database = "…"``,
:mod:`supportkpi.store.engine_facts`), while the row counts recorded beside them still match
the data's.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
from pydantic import BaseModel, ConfigDict, Field, field_validator

from supportkpi.store import schema
from supportkpi.store.store import StoreError
from supportkpi.tomlfile import read_model

__all__ = ["EngineSettings", "EngineStore", "TableSource", "is_engine_config"]

FACT_TABLES = ("kept_facts", "kept_replies", "kept_contacts", "kept_state")


class TableSource(BaseModel):
    """Where a canonical table's rows come from: an engine table or view, or Parquet files."""

    model_config = ConfigDict(extra="forbid")
    table: str | None = None
    parquet: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)


class EngineSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = "local[2]"
    conf: dict[str, str] = Field(default_factory=dict)


class FactsSection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    database: str | None = None


class EngineSettings(BaseModel):
    """The read-only mode's settings file."""

    model_config = ConfigDict(extra="forbid")
    engine: EngineSection = Field(default_factory=EngineSection)
    tables: dict[str, TableSource | str] = Field(default_factory=dict)
    facts: FactsSection = Field(default_factory=FactsSection)

    @field_validator("tables")
    @classmethod
    def _known(cls, tables: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(tables) - set(schema.TABLES) - {"quarantine"})
        if unknown:
            raise ValueError(
                f"no canonical table {unknown[0]!r}; one of {', '.join(sorted(schema.TABLES))}"
            )
        return tables


def is_engine_config(url: str) -> bool:
    """Whether a ``--db`` value names a read-only engine's settings file (``*.toml``)."""
    return str(url).endswith(".toml")


class EngineStore:
    """The canonical tables as views over an engine's tables: the query service reads it as
    it reads a :class:`~supportkpi.store.store.Store`, and nothing is ever written."""

    temp_tables = False  # grains are combined in one query; no temporary tables needed
    read_only = True

    def __init__(self, con: Any, url: str, settings: EngineSettings) -> None:
        self.con = con
        self.url = url
        self.settings = settings
        self._sources: dict[str, ir.Table] = {}
        # what :mod:`supportkpi.store.engine_facts` found of the materialised facts, for a while
        self.facts_cache: dict[str, Any] = {}
        for name, source in settings.tables.items():
            if isinstance(source, str):
                source = TableSource(table=source)
            self._sources[name] = self._read(name, source)

    @classmethod
    def open(cls, path: str | Path, con: Any | None = None) -> EngineStore:
        """Open the engine the settings file at ``path`` names (``con``: an Ibis connection
        already made, e.g. one Spark session shared by tests)."""
        settings = read_model(Path(path), EngineSettings, "engine settings", StoreError)
        if con is None:
            con = connect(settings.engine.url, settings.engine.conf)
        return cls(con, str(path), settings)

    def _read(self, name: str, source: TableSource) -> ir.Table:
        if source.parquet:
            # a view of its own: another settings file read in the same session (a server, a
            # second store) may map the same table onto other files
            view = f"__supportkpi_{name}_{uuid.uuid4().hex[:12]}"
            raw = self.con.read_parquet(source.parquet, table_name=view)
        elif source.table:
            database = tuple(source.table.split(".")[:-1]) or None
            raw = self.con.table(source.table.split(".")[-1], database=database)
        else:
            raise StoreError(f"tables.{name}: give table = '…' or parquet = '…'")
        spec = schema.table(name)
        renamed = {canonical: own for canonical, own in source.columns.items()}
        lacking = [c for c in spec.required if renamed.get(c, c) not in raw.columns]
        if lacking:
            raise StoreError(f"tables.{name} has no column {lacking[0]!r} (required)")
        return raw.select(
            **{
                c.name: (
                    raw[renamed.get(c.name, c.name)].cast(c.dtype)
                    if renamed.get(c.name, c.name) in raw.columns
                    else ibis.null(c.dtype)
                )
                for c in spec.columns
            }
        )

    def close(self) -> None:
        """Leave the engine's session running for others; nothing to release here."""

    def __enter__(self) -> EngineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def table(self, name: str) -> ir.Table:
        """The canonical table ``name``: the mapped table, or an empty one."""
        if name in self._sources:
            return self._sources[name]
        spec = schema.table(name)
        return ibis.memtable(
            {c.name: [] for c in spec.columns}, schema=spec.ibis_schema, name=f"__empty_{name}"
        )

    def counts(self) -> dict[str, int]:
        """Row count of every canonical table (0 for those not mapped), in one query."""
        parts = [
            self._sources[name].aggregate(t=ibis.literal(name), n=ibis._.count())
            for name in schema.TABLES
            if name in self._sources
        ]
        found: dict[str, int] = dict.fromkeys(schema.TABLES, 0)
        if parts:
            stacked = parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]
            for row in stacked.to_pyarrow().to_pylist():
                found[row["t"]] = int(row["n"])
        return found

    def filled(self, table: str, columns: list[str]) -> set[str]:
        """Which of ``columns`` hold at least one value."""
        if table not in self._sources:
            return set()
        t = self._sources[table]
        asked = [c for c in dict.fromkeys(columns) if c in t.columns]
        if not asked:
            return set()
        row = t.aggregate(**{c: t[c].count() for c in asked}).to_pyarrow().to_pylist()[0]
        return {c for c in asked if row[c]}

    def temp_name(self, prefix: str) -> str:
        """Names are asked for by callers that hold results; none is ever created here."""
        return f"__{prefix}"

    def drop_temp(self, name: str) -> None:
        """Nothing was created."""

    def execute(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Refused: every read goes through Ibis expressions, portable to the engine."""
        raise StoreError(f"the engine at {self.url} is read through its tables only, not SQL")

    def fact_table(self, name: str) -> ir.Table | None:
        """A table ``supportkpi facts build`` materialised, when there is one."""
        database = self.settings.facts.database
        if database is None:
            return None
        try:
            names = self.con.list_tables(database=database)
        except Exception:  # no such database (yet): the engine's own error, whatever its driver
            return None
        if name not in names:
            return None
        return self.con.table(name, database=database)


def connect(url: str, conf: dict[str, str]) -> Any:
    """An Ibis connection to the engine at ``url``: Spark master URLs (``local[N]``,
    ``spark://…``, ``yarn``, ``k8s://…``) and Spark Connect (``sc://…``)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise StoreError(
            "reading tables through Spark needs PySpark: pip install 'supportkpi[spark]'"
        ) from None
    builder = SparkSession.builder.appName("supportkpi")
    builder = builder.remote(url) if url.startswith("sc://") else builder.master(url)
    for key, value in {"spark.sql.session.timeZone": "UTC", **conf}.items():
        builder = builder.config(key, value)
    return ibis.pyspark.connect(builder.getOrCreate())
