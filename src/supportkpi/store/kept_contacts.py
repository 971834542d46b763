"""Each revenue event's last contact, kept in the store so the money KPIs need not find it.

ROI, upsells and cross-sells, and lifetime value attribute a revenue event to the customer's
last conversation begun at or before it (:mod:`supportkpi.facts.contacts`). Finding it means
ordering every conversation and event of every customer; this module keeps the answer as the
table ``kept_contacts`` (``event_id``, ``last_conversation_id``), brought up to date by each
load inside the load's transaction (:func:`refresh`, called with the kept facts'). The window
(how recent a last contact must be to earn the revenue) is applied by the report, so the table
holds for every setting.

A load that changed revenue events (their fingerprint moved) rebuilds the table; one that
changed conversations recomputes the events of the customers concerned: those of the changed
conversations, and those whose events were attributed to one of them. ``kept_contacts_state``
records the row counts and the events' fingerprint the table was computed from: a report on
a store whose table is missing or out of step finds the last contacts itself (same numbers).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from supportkpi.facts.contacts import last_contacts
from supportkpi.store.store import Store

TABLE = "kept_contacts"
STATE = "kept_contacts_state"
VERSION = 1
_SCOPE = "__kept_contact_customers"

__all__ = ["STATE", "TABLE", "current", "rebuild", "refresh"]


def current(store: Store) -> ir.Table | None:
    """The kept last contacts, when they exist and match the data."""
    if store.dialect != "duckdb":  # kept in DuckDB stores only (the upkeep is DuckDB's SQL)
        return None
    state = _state(store)
    if state is None or state != (VERSION, *_fingerprint(store)):
        return None
    return store.con.table(TABLE)


def rebuild(store: Store) -> None:
    """Compute the last contacts of every revenue event (call inside a transaction)."""
    expr = last_contacts(store.table("revenue_events"), store.table("conversations"))
    store.raw.execute(f"CREATE OR REPLACE TABLE {TABLE} AS {_sql(expr)}")
    store.raw.execute(
        f"CREATE OR REPLACE TABLE {STATE} (version INTEGER, conversations BIGINT, "
        "events BIGINT, events_hash VARCHAR)"
    )
    store.raw.execute(f"INSERT INTO {STATE} VALUES (?, ?, ?, ?)", [VERSION, *_fingerprint(store)])


def refresh(store: Store, touched: str) -> None:
    """Bring the kept last contacts up to date after a load that changed the conversations
    listed in the temporary table ``touched`` (and perhaps revenue events). Call inside the
    load's transaction."""
    if store.dialect != "duckdb":  # kept in DuckDB stores only: reports elsewhere find them
        return
    state = _state(store)
    now = _fingerprint(store)
    if state is None or state[0] != VERSION or state[2:] != now[1:]:
        rebuild(store)
        return
    run = store.raw.execute
    changed = run(f"SELECT count(*) FROM {touched}").fetchone()
    if not changed or not changed[0]:
        return
    run(
        f"CREATE TEMP TABLE {_SCOPE} AS "
        f"SELECT c.customer_id FROM conversations c JOIN {touched} t USING (conversation_id) "
        f"UNION SELECT e.customer_id FROM revenue_events e JOIN {TABLE} k USING (event_id) "
        f"WHERE k.last_conversation_id IN (SELECT conversation_id FROM {touched})"
    )
    try:
        events = store.table("revenue_events")
        conversations = store.table("conversations")
        scope = store.con.table(_SCOPE).customer_id
        expr = last_contacts(
            events.filter(events.customer_id.isin(scope)),
            conversations.filter(conversations.customer_id.isin(scope)),
        )
        run(
            f"DELETE FROM {TABLE} WHERE event_id IN (SELECT event_id FROM revenue_events "
            f"WHERE customer_id IN (SELECT customer_id FROM {_SCOPE}))"
        )
        run(f"INSERT INTO {TABLE} BY NAME {_sql(expr)}")
    finally:
        store.drop_temp(_SCOPE)
    run(f"UPDATE {STATE} SET conversations = ?", [now[0]])


def _sql(expr: ir.Table) -> str:
    return str(ibis.to_sql(expr, dialect="duckdb"))


def _fingerprint(store: Store) -> tuple[int, int, str]:
    """(conversations, revenue events, a hash of what attribution reads of the events)."""
    row = store.raw.execute(
        "SELECT (SELECT count(*) FROM conversations), count(*), "
        "coalesce(bit_xor(hash(event_id, customer_id, occurred_at)), 0)::VARCHAR "
        "FROM revenue_events"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), str(row[2])


def _state(store: Store) -> tuple[int, int, int, str] | None:
    if not {STATE, TABLE} <= set(store.con.list_tables()):
        return None
    row = store.raw.execute(
        f"SELECT version, conversations, events, events_hash FROM {STATE}"
    ).fetchone()
    return (int(row[0]), int(row[1]), int(row[2]), str(row[3])) if row else None
