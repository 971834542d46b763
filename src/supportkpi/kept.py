"""Conversation facts kept in the store, so reports need not derive them from the messages.

Every report stands on the per-conversation facts of :mod:`supportkpi.derive` (first and last
messages, reply counts, follow-ups) plus the number of surveys answered, and response times on
the reply pairs (each agent reply with the customer message it answers). Deriving them means
passes over every message; this module keeps them as the tables ``kept_facts`` and
``kept_replies`` instead, brought up to date by each load inside the load's own transaction,
so a report always sees facts that match the data it reads.

A load records the conversations it changed (a conversation row, one of its messages or
surveys). Their facts are computed again, together with every conversation of the same
customers (old and new), since follow-ups link a customer's conversations to each other; a
conversation named as ``follow_up_of`` anywhere is marked followed up from the whole table.
A load that changes a large share of the store rebuilds the table instead.

``kept_state`` records the facts' layout version and the follow-up window they were computed
with; a report whose window differs, or a store whose facts are missing or from another
version, derives the facts as before (same numbers, slower).
"""

from __future__ import annotations

from datetime import timedelta

import ibis
import ibis.expr.types as ir

from supportkpi.derive import conversation_facts, reply_pairs
from supportkpi.store import Store

FACTS = "kept_facts"
REPLIES = "kept_replies"
STATE = "kept_state"
VERSION = 1
DEFAULT_WINDOW_DAYS = 7.0
# Above this share of the stored conversations changed, one full rebuild is cheaper than
# recomputing customer by customer.
REBUILD_SHARE = 0.2

__all__ = ["FACTS", "REPLIES", "base_facts", "kept_tables", "rebuild", "refresh"]


def base_facts(
    conversations: ir.Table, messages: ir.Table, surveys: ir.Table, window: timedelta
) -> ir.Table:
    """The facts of :func:`supportkpi.derive.conversation_facts` with ``agent`` (the agent id
    under its dimension name) and ``surveys_answered``: what reports read per conversation,
    before any setting other than the follow-up window applies."""
    f = conversation_facts(conversations, messages, window)
    counts = surveys.group_by("conversation_id").aggregate(__surveys=ibis._.count())
    f = f.left_join(counts, "conversation_id").drop("conversation_id_right")
    return f.mutate(agent=f.agent_id, surveys_answered=f.__surveys.fill_null(0)).drop("__surveys")


def kept_tables(store: Store, window_days: float) -> tuple[ir.Table, ir.Table] | None:
    """The kept facts and reply pairs, when they exist, are of this version and use this
    follow-up window."""
    state = _state(store)
    if state is None or state != (VERSION, float(window_days)):
        return None
    return store.con.table(FACTS), store.con.table(REPLIES)


def rebuild(store: Store, window_days: float | None = None) -> None:
    """Compute the kept facts for the whole store (call inside a transaction)."""
    if window_days is None:
        state = _state(store)
        window_days = state[1] if state else DEFAULT_WINDOW_DAYS
    expr = _facts_of(store, None, store.table("messages"), window_days)
    store.raw.execute(f"CREATE OR REPLACE TABLE {FACTS} AS {_sql(expr)}")
    pairs = reply_pairs(store.table("messages"))
    store.raw.execute(f"CREATE OR REPLACE TABLE {REPLIES} AS {_sql(pairs)}")
    store.raw.execute(f"CREATE OR REPLACE TABLE {STATE} (version INTEGER, follow_up_days DOUBLE)")
    store.raw.execute(f"INSERT INTO {STATE} VALUES (?, ?)", [VERSION, float(window_days)])


def refresh(store: Store, touched: str) -> None:
    """Bring the kept facts up to date after a load changed the conversations listed in the
    temporary table ``touched`` (one ``conversation_id`` column). Call inside the load's
    transaction."""
    state = _state(store)
    if state is None or state[0] != VERSION:
        rebuild(store)
        return
    changed = store.raw.execute(f"SELECT count(DISTINCT conversation_id) FROM {touched}").fetchone()
    stored = store.raw.execute("SELECT count(*) FROM conversations").fetchone()
    assert changed is not None and stored is not None
    if not changed[0]:
        return
    if changed[0] > REBUILD_SHARE * stored[0]:
        rebuild(store, state[1])
        return
    scope = store.temp_name("scope")
    inside = store.temp_name("scope_messages")
    store.raw.execute(_SCOPE_SQL.format(scope=scope, touched=touched, facts=FACTS))
    try:
        # the scope's messages once, read by both the facts and the reply pairs
        store.raw.execute(
            f"CREATE TEMP TABLE {inside} AS SELECT {_MESSAGE_COLUMNS} FROM messages "
            f"WHERE conversation_id IN (SELECT conversation_id FROM {scope})"
        )
        messages = store.con.table(inside)
        expr = _facts_of(store, scope, messages, state[1])
        for table, rows in ((FACTS, expr), (REPLIES, reply_pairs(messages))):
            store.raw.execute(
                f"DELETE FROM {table} WHERE conversation_id IN "
                f"(SELECT conversation_id FROM {scope})"
            )
            store.raw.execute(f"INSERT INTO {table} BY NAME {_sql(rows)}")
    finally:
        store.drop_temp(inside)
        store.drop_temp(scope)


# what the facts and the reply pairs read of a message (not its text)
_MESSAGE_COLUMNS = "message_id, conversation_id, sent_at, author_role, private"

# The conversations whose facts a change can move: the changed ones, the ones they name (or
# named) as follow_up_of, and every conversation of those conversations' customers, before
# and after the change.
_SCOPE_SQL = """
CREATE TEMP TABLE {scope} AS
WITH changed AS (SELECT DISTINCT conversation_id FROM {touched}),
named AS (
    SELECT conversation_id FROM changed
    UNION SELECT c.follow_up_of FROM conversations c JOIN changed USING (conversation_id)
    UNION SELECT k.follow_up_of FROM {facts} k JOIN changed USING (conversation_id)
),
customers AS (
    SELECT c.customer_id FROM conversations c JOIN named USING (conversation_id)
    UNION SELECT k.customer_id FROM {facts} k JOIN named USING (conversation_id)
)
SELECT conversation_id FROM named WHERE conversation_id IS NOT NULL
UNION SELECT c.conversation_id FROM conversations c JOIN customers USING (customer_id)
"""


def _facts_of(store: Store, scope: str | None, messages: ir.Table, window_days: float) -> ir.Table:
    """The facts of every conversation, or of those listed in the temporary table ``scope``
    (``messages`` then holding theirs)."""
    conversations = store.table("conversations")
    surveys = store.table("surveys")
    if scope is not None:
        ids = store.con.table(scope).conversation_id
        conversations = conversations.filter(conversations.conversation_id.isin(ids))
        surveys = surveys.filter(surveys.conversation_id.isin(ids))
    f = base_facts(conversations, messages, surveys, timedelta(days=window_days))
    if scope is not None:
        # Within the scope, a conversation named as follow_up_of by one outside it would
        # be missed: the names are read from the whole table.
        every = store.table("conversations")
        named = every.filter(every.follow_up_of.notnull()).follow_up_of
        f = f.mutate(followed_up=f.followed_up | f.conversation_id.isin(named))
    return f


def _sql(expr: ir.Table) -> str:
    return str(ibis.to_sql(expr, dialect="duckdb"))


def _state(store: Store) -> tuple[int, float] | None:
    if not {STATE, FACTS, REPLIES} <= set(store.con.list_tables()):
        return None
    row = store.raw.execute(f"SELECT version, follow_up_days FROM {STATE}").fetchone()
    return (int(row[0]), float(row[1])) if row else None
