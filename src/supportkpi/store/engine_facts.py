"""Conversation facts materialised in an engine: ``supportkpi facts build``.

In read-only mode (:mod:`supportkpi.store.engine`) every report derives the per-conversation
facts, the reply pairs and each revenue event's last contact from the company's tables, which
means passes over every message with each report. :func:`build` computes them once, in the
engine, by the very Ibis expressions a DuckDB store keeps at load (:mod:`supportkpi.store.kept`,
:mod:`supportkpi.store.kept_contacts`), and writes them as tables of the settings file's
``[facts] database``:

=================  ===========================================================================
``kept_facts``     one row per conversation (:func:`supportkpi.facts.derive.base_facts`)
``kept_replies``   one row per answered customer message (:func:`~.derive.reply_pairs`)
``kept_contacts``  each revenue event's last contact (:mod:`supportkpi.facts.contacts`)
``kept_state``     the layout version, the follow-up window, the row counts of the tables the
                   facts were computed from, and when they were built
=================  ===========================================================================

``kept_state`` is dropped first and written last, so an interrupted build leaves no facts a
report would read. A report reads the tables (through :meth:`EngineStore.fact_table`) only
while they are of this version, use the report's follow-up window and the source tables still
hold the row counts recorded beside them; otherwise it derives the facts from the data (same
numbers, slower) and :func:`status` says why, for the interfaces to warn.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir
import sqlglot as sg

from supportkpi.facts.contacts import last_contacts
from supportkpi.facts.derive import base_facts, reply_pairs
from supportkpi.store.engine import EngineSettings, EngineStore
from supportkpi.store.store import StoreError

__all__ = [
    "SOURCES",
    "STATE",
    "TABLES",
    "EngineFactsWarning",
    "FactsState",
    "FactsStatus",
    "build",
    "current",
    "database_of",
    "status",
]

VERSION = 1
FACTS, REPLIES, CONTACTS, STATE = "kept_facts", "kept_replies", "kept_contacts", "kept_state"
TABLES = (FACTS, REPLIES, CONTACTS)
# The tables the facts are computed from: their row counts are recorded beside the facts.
SOURCES = ("conversations", "messages", "surveys", "revenue_events")
# How long a status is trusted before the source tables are counted again: one command asks
# for many reports, each would count them.
STATUS_SECONDS = 30.0

Progress = Callable[[str, int, int], None]


class EngineFactsWarning(UserWarning):
    """The facts materialised in the engine are absent or out of step: derived instead."""


@dataclass(frozen=True)
class FactsState:
    """What ``kept_state`` records of a build."""

    version: int
    follow_up_days: float
    counts: dict[str, int]
    built_at: datetime


@dataclass(frozen=True)
class FactsStatus:
    """Whether the materialised facts can be read, and if not, why (``reason``)."""

    database: str | None
    state: FactsState | None
    counts: dict[str, int]
    reason: str | None

    @property
    def current(self) -> bool:
        """The facts are there and match the data and the window asked about."""
        return self.reason is None


def database_of(settings: EngineSettings, url: str) -> str:
    """The ``[facts] database`` of a settings file, or a StoreError saying how to name one."""
    database = settings.facts.database
    if not database:
        raise StoreError(
            f"{url} names no database to keep facts in: add\n"
            '[facts]\ndatabase = "supportkpi_facts"\n'
            "(a database or schema of the engine supportkpi may create tables in)"
        )
    return database


def build(store: EngineStore, window_days: float, progress: Progress | None = None) -> FactsState:
    """Compute the kept facts in the engine and write them to ``[facts] database`` (created
    when missing), replacing any there; ``progress(step, index, total)`` is told of each step
    before it runs. A StoreError when the settings name no database or the engine refuses."""
    database = database_of(store.settings, store.url)
    steps: list[tuple[str, Callable[[], None]]] = []
    con = store.con
    counts: dict[str, int] = {}

    def write(name: str, expr: ir.Table) -> Callable[[], None]:
        return lambda: con.create_table(name, expr, database=database, overwrite=True)

    def prepare() -> None:
        con.create_database(database, force=True)
        _drop(con, database, STATE)
        counts.update(_source_counts(store))

    c, m, s = (store.table(n) for n in ("conversations", "messages", "surveys"))
    window = timedelta(days=window_days)
    steps.append(("counting the source tables", prepare))
    steps.append(("conversation facts", write(FACTS, base_facts(c, m, s, window))))
    steps.append(("reply pairs", write(REPLIES, reply_pairs(m))))
    steps.append(
        ("last contacts", write(CONTACTS, last_contacts(store.table("revenue_events"), c)))
    )
    state = FactsState(VERSION, float(window_days), counts, datetime.now(UTC).replace(tzinfo=None))
    steps.append(("recording the state", lambda: _write_state(store, database, state)))
    for index, (step, run) in enumerate(steps):
        if progress is not None:
            progress(step, index, len(steps))
        try:
            run()
        except StoreError:
            raise
        except Exception as exc:  # the engine's own error, whatever its driver calls it
            raise StoreError(
                f"the engine refused to write {step} into database {database!r}: {_first_line(exc)}"
            ) from exc
    store.facts_cache.clear()
    return state


def _write_state(store: EngineStore, database: str, state: FactsState) -> None:
    row = {
        "version": [state.version],
        "follow_up_days": [state.follow_up_days],
        **{name: [state.counts[name]] for name in SOURCES},
        "built_at": [state.built_at],
    }
    schema = {
        "version": "int32",
        "follow_up_days": "float64",
        **dict.fromkeys(SOURCES, "int64"),
        "built_at": "timestamp",
    }
    table = ibis.memtable(row, schema=ibis.schema(schema))
    store.con.create_table(STATE, table, database=database, overwrite=True)


def status(store: EngineStore, window_days: float | None = None) -> FactsStatus:
    """Whether the facts in ``[facts] database`` can be read for a report with this follow-up
    window (``None``: any), and why not. Counting the source tables costs a query: an answer
    is reused for :data:`STATUS_SECONDS` by the same store."""
    key = "status"
    cached = store.facts_cache.get(key)
    if cached is None or time.monotonic() - cached[0] > STATUS_SECONDS:
        cached = (time.monotonic(), _status(store))
        store.facts_cache[key] = cached
    found: FactsStatus = cached[1]
    state = found.state
    moved = window_days is not None and float(window_days) != getattr(state, "follow_up_days", 0)
    if found.current and state is not None and moved:
        return FactsStatus(
            found.database,
            state,
            found.counts,
            f"they were built with a {state.follow_up_days:g}-day follow-up window, the "
            f"settings ask for {float(window_days or 0):g} days; run `supportkpi facts build` "
            "with these settings",
        )
    return found


def _status(store: EngineStore) -> FactsStatus:
    database = store.settings.facts.database
    if not database:
        return FactsStatus(None, None, {}, "the settings name no [facts] database")
    build_hint = f"`supportkpi facts build --db {store.url}`"
    state = _read_state(store)
    if state is None or any(store.fact_table(name) is None for name in TABLES):
        return FactsStatus(
            database, None, {}, f"no facts are built in database {database!r}; run {build_hint}"
        )
    if state.version != VERSION:
        return FactsStatus(
            database,
            state,
            {},
            f"the facts in {database!r} are of another layout (version {state.version}); "
            f"run {build_hint}",
        )
    counts = _source_counts(store)
    if counts != state.counts:
        moved = ", ".join(
            f"{name} {state.counts.get(name, 0):,} then, {counts[name]:,} now"
            for name in SOURCES
            if counts[name] != state.counts.get(name)
        )
        return FactsStatus(
            database,
            state,
            counts,
            f"the facts in {database!r} were built at {state.built_at:%Y-%m-%d %H:%M} UTC from "
            f"other data ({moved}); run {build_hint}",
        )
    return FactsStatus(database, state, counts, None)


def current(store: EngineStore, window_days: float) -> tuple[ir.Table, ir.Table, ir.Table] | None:
    """(facts, reply pairs, last contacts) read from the engine, when they are current for a
    report with this follow-up window; None otherwise (the report derives them, and when the
    settings name a facts database, an :class:`EngineFactsWarning` says why)."""
    if not store.settings.facts.database:
        return None
    found = status(store, window_days)
    if not found.current:
        warnings.warn(
            f"reading the facts from the data: {found.reason}", EngineFactsWarning, stacklevel=3
        )
        return None
    tables = [store.fact_table(name) for name in TABLES]
    if any(t is None for t in tables):  # dropped since the status was taken
        return None
    facts, replies, contacts = tables
    assert facts is not None and replies is not None and contacts is not None
    return facts, replies, contacts


def _read_state(store: EngineStore) -> FactsState | None:
    table = store.fact_table(STATE)
    if table is None:
        return None
    rows = table.to_pyarrow().to_pylist()
    if not rows:
        return None
    row: dict[str, Any] = rows[0]
    if not set(SOURCES) <= set(row):
        return FactsState(int(row.get("version") or 0), 0.0, {}, datetime.min)
    return FactsState(
        int(row["version"]),
        float(row["follow_up_days"]),
        {name: int(row[name]) for name in SOURCES},
        row["built_at"].replace(tzinfo=None),
    )


def _drop(con: Any, database: str, name: str) -> None:
    """DROP TABLE IF EXISTS database.name, in the engine's SQL (Ibis 12's ``drop_table`` with a
    database does not compile on Spark)."""
    target = sg.table(name, db=database, quoted=True)
    con.raw_sql(sg.exp.Drop(tables=[target], kind="TABLE", exists=True).sql(dialect=con.dialect))


def _source_counts(store: EngineStore) -> dict[str, int]:
    counts = store.counts()
    return {name: counts[name] for name in SOURCES}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
