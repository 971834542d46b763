"""Conversation facts kept in the store, so reports need not derive them from the messages.

Every report stands on the per-conversation facts of :mod:`supportkpi.facts.derive` (first and last
messages, reply counts, follow-ups) plus the number of surveys answered, and response times on
the reply pairs (each agent reply with the customer message it answers). Deriving them means
passes over every message; this module keeps them as the tables ``kept_facts`` and
``kept_replies`` instead, brought up to date by each load inside the load's own transaction,
so a report always sees facts that match the data it reads. ``kept_surveys`` holds each survey
answer with its conversation's facts, so the survey KPIs read one table instead of joining
every survey to the conversations of the report.

A load records the conversations it changed (a conversation row, one of its messages or
surveys, before and after the change). Their facts and reply pairs are computed again from
their rows and messages, and their survey rows are written again. Follow-ups link a
customer's conversations to each other, so the follow-up links (``follow_up_of``,
``followed_up``) of every other conversation of the same customers, old and new, are worked
out again too, and updated where they moved; a conversation named as ``follow_up_of``
anywhere is marked followed up from the whole table.
A load that changes a large share of the store rebuilds the tables instead.

``kept_state`` records the facts' layout version, the follow-up window they were computed
with, and the row counts of the tables they were computed from, written in the same
transaction as the facts. A report whose window differs, or a store whose facts are missing,
from another version or out of step with the data, derives the facts as before (same numbers,
slower). Out of step should never happen; if a crash ever leaves the store so, :func:`repair`
(run when a store is opened for writing) and the next load rebuild the facts, and say so.
Facts of an older version's layout are rebuilt the same way, once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import timedelta

import ibis
import ibis.expr.types as ir

from supportkpi.facts.derive import base_facts, follow_ups, own_base_facts, reply_pairs
from supportkpi.store import kept_contacts
from supportkpi.store.store import Store

FACTS = "kept_facts"
REPLIES = "kept_replies"
SURVEYS = "kept_surveys"
STATE = "kept_state"
# 2: handled by any evidence, resolved never abandoned, no guessed leaving time;
# 3: the state records the row counts the facts were computed from;
# 4: each survey answer kept with its conversation's facts (kept_surveys)
VERSION = 4
DEFAULT_WINDOW_DAYS = 7.0
# Above this share of the stored conversations changed, one full rebuild is cheaper than
# recomputing customer by customer.
REBUILD_SHARE = 0.2
# The tables the kept facts are computed from: a load changing another table leaves them be.
SOURCES = ("conversations", "messages", "surveys")

__all__ = [
    "FACTS",
    "REBUILT",
    "REPLIES",
    "SOURCES",
    "SURVEYS",
    "UPGRADED",
    "KeptFactsRebuilt",
    "kept_tables",
    "rebuild",
    "rebuilds",
    "refresh",
    "repair",
    "stale",
    "survey_rows",
]


class KeptFactsRebuilt(UserWarning):
    """The kept facts disagreed with the data they are computed from, or were of an older
    version's layout, and were rebuilt."""


def kept_tables(store: Store, window_days: float) -> tuple[ir.Table, ir.Table, ir.Table] | None:
    """The kept facts, reply pairs and survey rows, when they exist, are of this version, use
    this follow-up window and match the data's row counts."""
    state = _state(store)
    if state is None or state[:2] != (VERSION, float(window_days)):
        return None
    if state[3] or state[2] != _counts(store):
        return None
    return store.con.table(FACTS), store.con.table(REPLIES), store.con.table(SURVEYS)


def survey_rows(facts: ir.Table, surveys: ir.Table) -> ir.Table:
    """Each survey answer with the kept facts of its conversation, the survey's own
    ``customer_id`` as ``survey_customer_id``. The follow-up links are left out: a load
    updates them in conversations it did not change, whose survey rows it does not rewrite."""
    answers = surveys.rename(survey_customer_id="customer_id")
    return answers.join(facts.drop("follow_up_of", "followed_up"), "conversation_id")


def stale(store: Store) -> bool:
    """Whether kept facts of this version exist but were computed from other data than the
    store holds (rows the facts' transaction never saw)."""
    state = _state(store)
    return state is not None and state[0] == VERSION and state[2] != _counts(store)


REBUILT = (
    "the conversation facts kept in the store did not match its data (an interrupted "
    "write?); they were rebuilt from the data"
)
UPGRADED = (
    "the conversation facts kept in the store were of an older version's layout; they were "
    "rebuilt for this version (once)"
)


def repair(store: Store) -> str | None:
    """Rebuild kept facts that are out of step with the data (:data:`REBUILT`) or of an
    older version's layout (:data:`UPGRADED`: reports would otherwise derive the facts from
    the messages until the next load); what was done, for the caller to say, or None."""
    older = _older_layout(store)
    if older is not None:
        with store.transaction():
            rebuild(store, older)
        return UPGRADED
    if not stale(store):
        return None
    with store.transaction():
        rebuild(store)
    return REBUILT


def _older_layout(store: Store) -> float | None:
    """The follow-up window of kept facts of an older layout than this version's, or None."""
    state = _state(store)
    return state[1] if state is not None and state[0] < VERSION else None


def rebuild(store: Store, window_days: float | None = None) -> None:
    """Compute the kept facts for the whole store (call inside a transaction)."""
    if window_days is None:
        state = _state(store)
        window_days = state[1] if state else DEFAULT_WINDOW_DAYS
    expr = base_facts(
        store.table("conversations"),
        store.table("messages"),
        store.table("surveys"),
        timedelta(days=window_days),
    )
    store.replace_table(FACTS, _compile(store, expr))
    answers = survey_rows(store.con.table(FACTS), store.table("surveys"))
    store.replace_table(SURVEYS, _compile(store, answers))
    pairs = reply_pairs(store.table("messages"))
    store.replace_table(REPLIES, _compile(store, pairs))
    store.execute(f"DROP TABLE IF EXISTS {STATE}")
    store.execute(
        f"CREATE TABLE {STATE} (version INTEGER, follow_up_days DOUBLE, "
        "conversations BIGINT, messages BIGINT, surveys BIGINT)"
    )
    store.execute(
        f"INSERT INTO {STATE} VALUES (?, ?, ?, ?, ?)",
        [VERSION, float(window_days), *_counts(store)],
    )


def refresh(store: Store, touched: str) -> None:
    """Bring the kept facts up to date after a load changed the conversations listed in the
    temporary table ``touched`` (one ``conversation_id`` column). Call inside the load's
    transaction. Each revenue event's last contact (:mod:`supportkpi.store.kept_contacts`)
    is brought up to date with them."""
    kept_contacts.refresh(store, touched)
    state = _state(store)
    if state is None or state[0] != VERSION or state[3]:
        rebuild(store)
        return
    changed, stored = store.execute(
        f"SELECT (SELECT count(DISTINCT conversation_id) FROM {touched}), "
        "(SELECT count(*) FROM conversations)"
    )[0]
    if not changed:
        return
    if changed > REBUILD_SHARE * stored:
        rebuild(store, state[1])
        return
    if store.dialect == "duckdb":
        try:
            _refresh_scope(store, touched, state[1])
        finally:
            for name in _TEMP.values():
                store.drop_temp(name)
    else:  # a failed statement aborts the server's transaction, its temporary tables with it
        _refresh_scope(store, touched, state[1])
        for name in _TEMP.values():
            store.drop_temp(name)
    store.execute(
        f"UPDATE {STATE} SET conversations = ?, messages = ?, surveys = ?", list(_counts(store))
    )


def rebuilds(store: Store) -> bool:
    """Whether :func:`refresh` will rebuild the facts whatever a load changes: none are
    kept yet, they are of another version, or :func:`before_load` marked them."""
    state = _state(store)
    return state is None or state[0] != VERSION or state[3]


def before_load(store: Store) -> None:
    """Call inside a load's transaction, before its merges: facts out of step with the data
    are marked, so :func:`refresh` rebuilds them rather than patching them."""
    if stale(store):
        store.execute(f"UPDATE {STATE} SET conversations = -1")
        warnings.warn(
            "the conversation facts kept in the store did not match its data (an interrupted "
            "write?); this load rebuilds them",
            KeptFactsRebuilt,
            stacklevel=2,
        )


# The refresh's temporary tables. Their names are fixed so that the SQL compiled from the
# facts' expressions is the same on every refresh, and compiled once per process and dialect.
_TEMP = {
    name: f"__kept_{name}" for name in ("changed", "scope", "others", "messages", "own", "links")
}
_COMPILED: dict[tuple[str, str, float], tuple[str, list[str]]] = {}


def _refresh_scope(store: Store, touched: str, window_days: float) -> None:
    """The steps of :func:`refresh`. Only the changed conversations need their messages and
    their whole rows rewritten; for their customers' other conversations only the follow-up
    links can move, and only those are updated (a kept row is wide: reading whole rows of
    scattered conversations costs a full scan). The same statements run on DuckDB and on
    PostgreSQL, the facts' expressions compiled for each."""
    t = _TEMP
    run = _runner(store)

    def temp(name: str, select: str) -> None:
        run(f"CREATE TEMP TABLE {t[name]} AS {select}")
        if store.dialect == "postgres":  # the server keeps no statistics of temporary tables
            run(f"ANALYZE {t[name]}")

    temp("changed", f"SELECT DISTINCT conversation_id FROM {touched}")
    temp("scope", _SCOPE_SQL.format(touched=t["changed"], facts=FACTS))
    temp(
        "others",
        f"SELECT conversation_id FROM {t['scope']} "
        f"EXCEPT SELECT conversation_id FROM {t['changed']}",
    )
    temp(
        "messages",
        f"SELECT {_MESSAGE_COLUMNS} FROM messages "
        f"WHERE conversation_id IN (SELECT conversation_id FROM {t['changed']})",
    )

    def own() -> ir.Table:
        changed = store.con.table(t["changed"]).conversation_id
        conversations = store.table("conversations")
        surveys = store.table("surveys")
        return own_base_facts(
            conversations.filter(conversations.conversation_id.isin(changed)),
            store.con.table(t["messages"]),
            surveys.filter(surveys.conversation_id.isin(changed)),
        )

    def rows() -> ir.Table:
        links = store.con.table(t["links"])
        return store.con.table(t["own"]).drop("follow_up_of").join(links, "conversation_id")

    temp("own", _compiled(store, "own", window_days, own)[0])
    temp("links", _compiled(store, "links", window_days, lambda: _links(store, window_days))[0])
    changed = f"(SELECT conversation_id FROM {t['changed']})"
    run(f"DELETE FROM {FACTS} WHERE conversation_id IN {changed}")
    run(_insert(store, FACTS, _compiled(store, "rows", window_days, rows)))
    run(
        f"UPDATE {FACTS} SET follow_up_of = l.follow_up_of, followed_up = l.followed_up "
        f"FROM {t['links']} l JOIN {t['others']} o USING (conversation_id) "
        f"WHERE {FACTS}.conversation_id = l.conversation_id AND "
        f"({FACTS}.follow_up_of IS DISTINCT FROM l.follow_up_of "
        f"OR {FACTS}.followed_up IS DISTINCT FROM l.followed_up)"
    )

    def answers() -> ir.Table:
        changed = store.con.table(t["changed"]).conversation_id
        facts = store.con.table(FACTS)
        surveys = store.table("surveys")
        return survey_rows(
            facts.filter(facts.conversation_id.isin(changed)),
            surveys.filter(surveys.conversation_id.isin(changed)),
        )

    run(f"DELETE FROM {SURVEYS} WHERE conversation_id IN {changed}")
    run(_insert(store, SURVEYS, _compiled(store, "surveys", window_days, answers)))
    pairs = _compiled(
        store, "pairs", window_days, lambda: reply_pairs(store.con.table(t["messages"]))
    )
    run(f"DELETE FROM {REPLIES} WHERE conversation_id IN {changed}")
    run(_insert(store, REPLIES, pairs))


def _runner(store: Store) -> Callable[[str], object]:
    """Run one statement written for the store's own engine."""
    if store.dialect == "duckdb":
        return store.raw.execute
    return store.run  # type: ignore[attr-defined]


def _insert(store: Store, table: str, compiled: tuple[str, list[str]]) -> str:
    """``INSERT`` of the rows of a compiled query into ``table``, column by name."""
    sql, columns = compiled
    if store.dialect == "duckdb":
        return f"INSERT INTO {table} BY NAME {sql}"
    names = ", ".join(f'"{c}"' for c in columns)
    return f"INSERT INTO {table} ({names}) SELECT {names} FROM ({sql}) AS r"


def _compiled(
    store: Store, step: str, window_days: float, build: Callable[[], ir.Table]
) -> tuple[str, list[str]]:
    """The SQL of a step's expression for the store's engine, and its columns."""
    key = (store.dialect, step, window_days)
    if key not in _COMPILED:
        expr = build()
        sql = _sql(expr) if store.dialect == "duckdb" else _compile(store, expr)
        _COMPILED[key] = (sql, list(expr.columns))
    return _COMPILED[key]


def _links(store: Store, window_days: float) -> ir.Table:
    """``follow_up_of`` and ``followed_up`` of every conversation in the scope: the changed
    ones from their fresh rows (``own``), the others from the kept table and their stored
    ``follow_up_of``."""
    t = _TEMP
    own = store.con.table(t["own"])
    columns = ["conversation_id", "customer_id", "created_at", "ended_at"]
    conversations = store.table("conversations")
    ids = store.con.table(t["scope"]).conversation_id
    k = store.con.table(FACTS)
    k = k.filter(k.conversation_id.isin(store.con.table(t["others"]).conversation_id))
    named = conversations.filter(conversations.conversation_id.isin(ids))
    k = k.select(*columns).join(named.select("conversation_id", "follow_up_of"), "conversation_id")
    mine = own.select(*columns, "follow_up_of")
    k = k.select(**{name: k[name].cast(dtype) for name, dtype in mine.schema().items()})
    f = follow_ups(mine.union(k), timedelta(days=window_days))
    # Within the scope, a conversation named as follow_up_of by one outside it would be
    # missed: the names are read from the whole table.
    named_anywhere = conversations.filter(conversations.follow_up_of.isin(ids)).follow_up_of
    return f.select(
        "conversation_id",
        "follow_up_of",
        followed_up=f.followed_up | f.conversation_id.isin(named_anywhere),
    )


# what the facts and the reply pairs read of a message (not its text)
_MESSAGE_COLUMNS = "message_id, conversation_id, sent_at, author_role, private"

# The conversations whose facts a change can move: the changed ones, the ones they name (or
# named) as follow_up_of, and every conversation of those conversations' customers, before
# and after the change.
_SCOPE_SQL = """
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


def _sql(expr: ir.Table) -> str:
    return str(ibis.to_sql(expr, dialect="duckdb"))


def _compile(store: Store, expr: ir.Table) -> str:
    """``expr`` as SQL for the store's own engine."""
    return str(store.con.compile(expr))


def _counts(store: Store) -> tuple[int, int, int]:
    """Row counts of the tables the facts are computed from."""
    row = store.execute(
        "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), "
        "(SELECT count(*) FROM surveys)"
    )[0]
    return int(row[0]), int(row[1]), int(row[2])


def _state(
    store: Store,
) -> tuple[int, float, tuple[int, int, int] | None, bool] | None:
    """(version, follow-up days, the row counts the facts were computed from, whether they
    are marked for a rebuild), or None without kept facts."""
    tables = set(store.con.list_tables())
    if not {STATE, FACTS, REPLIES} <= tables:
        return None
    columns = set(store.columns(STATE))
    if "surveys" not in columns:  # an older layout: its version says so
        rows = store.execute(f"SELECT version, follow_up_days FROM {STATE}")
        row = rows[0] if rows else None
        return (int(row[0]), float(row[1]), None, False) if row else None
    rows = store.execute(
        f"SELECT version, follow_up_days, conversations, messages, surveys FROM {STATE}"
    )
    if not rows:
        return None
    row = rows[0]
    # marked, or its survey rows missing (older layouts have none; their version says so)
    marked = row[2] is None or row[2] < 0 or SURVEYS not in tables
    return int(row[0]), float(row[1]), (int(row[2] or 0), int(row[3]), int(row[4])), marked
