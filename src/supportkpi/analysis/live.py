"""The operation right now: who is waiting and for how long, open conversations per agent,
agents online, and today's first response time, abandonment and volume so far against target.

Everything is computed as of one instant (``at``, by default the current time) over the stored
records, with the same filters as a report; "today" is the local day in the report's zone.

The dashboard asks every 15 s, so the strip is cheap to ask again. The figures of the instant
are computed on every call, by two queries; on a DuckDB store these are compiled once (the
instant is bound to them on each run) and, for instants at or after two days before the last
conversation began ("now", a replay of the last day), read the few rows that can matter then
rather than whole tables (see ``_compiled_figures``). Today's KPIs stand on the records and the
day, not the instant: a report of that day, worked out once per store generation (every load
raises it) on a DuckDB store. Nothing answers from a past instant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

from supportkpi.analysis import kept_queries
from supportkpi.analysis.compiled import Compiled, CompiledCache, runs_compiled
from supportkpi.analysis.query import QueryError, build_frame, report
from supportkpi.config import Config, check_zone
from supportkpi.store.memo import remembered
from supportkpi.store.store import Store

TODAY_KPIS = ("first_response_time", "abandonment_rate", "chat_volume")
ONLINE_STATES = ("available", "busy", "away", "break")


def day_end(day: date, tz: str | None = None, config: Config | None = None) -> datetime:
    """The last second of the local ``day`` (in ``tz``, else the configured zone), in UTC:
    the moment to replay a past day as it closed (``snapshot(at=…)``), when the data ends
    before today."""
    zone = ZoneInfo(tz or (config or Config()).timezone)
    midnight = datetime.combine(day + timedelta(days=1), time(0), zone)
    return (midnight - timedelta(seconds=1)).astimezone(UTC)


def snapshot(
    store: Store,
    filters: Mapping[str, Sequence[str]] | None = None,
    config: Config | None = None,
    tz: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """The live figures as JSON-ready values; see the module doc."""
    config = config or Config()
    at = (at or datetime.now(UTC)).astimezone(UTC)
    zone = _zone(tz, config)
    chosen = {k: tuple(v) for k, v in (filters or {}).items() if v}
    if runs_compiled(store):
        wait, per_agent, online = _compiled_figures(store, chosen, config, tz, at)
    else:
        wait, per_agent, online = _figures(store, chosen, config, tz, ibis.timestamp(at))
    today = at.astimezone(ZoneInfo(zone)).date()
    return {
        "at": at.isoformat(timespec="seconds"),
        "timezone": zone,
        "today": today.isoformat(),
        "waiting": wait["n"],
        "longest_wait_seconds": (at - wait["since"]).total_seconds() if wait["since"] else None,
        "open_per_agent": per_agent,
        "agents_online": online,
        "today_kpis": _today_kpis(store, chosen, config, tz, today),
    }


def _zone(tz: str | None, config: Config) -> str:
    """The report's zone: ``tz`` when given (checked), else the configured one."""
    if not tz:
        return config.timezone
    try:
        return check_zone(tz)
    except ValueError as exc:
        raise QueryError(str(exc)) from None


def _today_kpis(
    store: Store,
    filters: Mapping[str, tuple[str, ...]],
    config: Config,
    tz: str | None,
    today: date,
) -> dict[str, Any]:
    """Today's KPIs so far against target: a report of the one local day. It reads only the
    stored records and the day, never the instant, so on a DuckDB store it is worked out once
    per store generation (every load raises it) and day."""
    key = ("live today", today, tuple(sorted(filters.items())), tz, config.model_dump_json())

    def compute() -> dict[str, Any]:
        so_far = report(
            store, TODAY_KPIS, (), None, today, today, filters, tz, config, targets=True
        )
        return (so_far.table.to_pylist() or [{}])[0]

    return dict(remembered(store, key, compute))


Figures = tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]


def _figures(
    store: Store,
    filters: Mapping[str, tuple[str, ...]],
    config: Config,
    tz: str | None,
    moment: ir.TimestampScalar,
) -> Figures:
    """The waiting count and longest wait's start, open conversations per agent and agents
    online at ``moment``, through Ibis (stores that do not run compiled SQL)."""
    frame = build_frame(store, config, (), None, None, None, filters, tz, False, kept=False)
    queries = _queries(frame.tables, frame.filters, moment)
    return _read(*(q.to_pyarrow() for q in queries))


def _read(open_now: pa.Table, online: pa.Table) -> Figures:
    """The figures from the rows of :func:`_queries`: the open conversations per agent and
    vendor (with how many of them wait, and since when) and the agents online per state."""
    groups = open_now.to_pylist()
    since = [g["since"] for g in groups if g["since"] is not None]
    wait = {"n": sum(g["waiting"] for g in groups), "since": min(since) if since else None}
    assigned = [g for g in groups if g["agent_id"] is not None]
    assigned.sort(key=lambda g: (-g["open"], g["agent_id"]))
    per_agent = [{k: g[k] for k in ("agent_id", "vendor", "open")} for g in assigned]
    states = online.to_pylist()
    agents = {
        "total": states[0]["total"] if states else 0,
        "by_state": {r["state"]: r["agents"] for r in states},
    }
    return wait, per_agent, agents


def _queries(
    tables: Mapping[str, ir.Table],
    filters: Mapping[str, Sequence[str]],
    moment: ir.TimestampScalar,
) -> tuple[ir.Table, ir.Table]:
    """The two queries of the figures: open conversations per agent and vendor, with how
    many of them wait and the earliest start of a wait; agents online per state and in all."""
    open_now = _waiting(_open_conversations(tables, filters, moment), tables["messages"], moment)
    waits = open_now.waiting_since.notnull()
    per_agent = open_now.group_by(["agent_id", "vendor"]).aggregate(
        open=ibis._.count(), waiting=ibis._.count(where=waits), since=ibis._.waiting_since.min()
    )
    return per_agent, _online(tables["agent_activity"], filters, moment)


# The figures on a DuckDB store: the queries are compiled once and the instant is bound on
# each run as a one-row table. Conversations still open at an instant after ``since`` are
# among the ones not yet resolved or closed at ``since`` (a conversation closed then is
# closed ever after), and agents online then among the activity not ended by ``since``: those
# few rows, and the messages of those conversations, are kept per store generation and read
# instead of the whole tables when the instant is at or after ``since``, two days before the
# last conversation began, which "now" and a replay of the last day's close always are.
AT = "__live_at"
RECENT = {name: f"__live_{name}" for name in ("conversations", "messages", "agent_activity")}
RECENT_DAYS = 2
# Above this many such conversations (data that never says a conversation ended), keeping
# them would cost more memory than it saves time: the whole tables are read instead. At 10M
# conversations over 90 days there are 235,000, with 1.6M messages: 83 MB kept.
RECENT_LIMIT = 500_000
# what the figures read of a conversation (the filters' dimensions too) and of a message
CONVERSATION_COLUMNS = (
    "conversation_id",
    "created_at",
    "resolved_at",
    "closed_at",
    "first_response_at",
    "agent_id",
    "vendor",
    "team",
    "channel",
    "queue",
    "topic",
)
MESSAGE_COLUMNS = ("conversation_id", "sent_at", "author_role", "private")
_COMPILED: CompiledCache[tuple[Compiled, ...]] = CompiledCache(16)


def _compiled_figures(
    store: Store,
    filters: Mapping[str, tuple[str, ...]],
    config: Config,
    tz: str | None,
    at: datetime,
) -> Figures:
    """:func:`_figures` on a DuckDB store, its queries compiled once."""
    since, recent = remembered(store, "live recent", lambda: _recent(store), latest=True)
    narrowed = since is not None and at >= since
    sources = remembered(store, "live tables", lambda: _sources(store))
    key = (tuple(sorted(filters.items())), narrowed, sources, id(store.con.compiler))
    # what the queries are built from, for a later process to read them back by
    kept_key = ("live", *key[:3], type(store.con.compiler), config, tz)

    def build() -> tuple[Compiled, ...]:
        if found := kept_queries.find(kept_key):
            return tuple(Compiled(sql, schema, (), needed) for sql, schema, needed in found.queries)
        frame = build_frame(store, config, (), None, None, None, filters, tz, False, kept=False)
        tables = dict(frame.tables)
        if narrowed:
            for name, kept in RECENT.items():
                tables[name] = ibis.table(recent[name].schema, name=kept)
        moment = ibis.table({"at": "timestamp('UTC', 6)"}, name=AT).at.as_scalar()
        made = tuple(Compiled.kept(store, q) for q in _queries(tables, frame.filters, moment))
        if not any(q.tables for q in made):
            queries = tuple((q.sql, q.schema, q.needed) for q in made)
            kept_queries.keep(kept_key, kept_queries.Kept(queries, {}))
        return made

    queries = _COMPILED.get(key, build)
    bound = {AT: pa.table({"at": pa.array([at], pa.timestamp("us", "UTC"))})}
    if narrowed:
        bound |= {RECENT[name]: rows for name, rows in recent.items()}
    # each query gets the tables it reads: registering one is work too
    return _read(
        *(
            q.run(store, {name: rows for name, rows in bound.items() if name in q.sql})
            for q in queries
        )
    )


def _recent(store: Store) -> tuple[datetime | None, dict[str, pa.Table]]:
    """The instant ``since`` (two days before the last conversation began) and the rows the
    figures read at any later instant: the conversations neither resolved nor closed by then,
    their messages, and the agent activity not ended by then. ``since`` is None without
    conversations, or with over :data:`RECENT_LIMIT` of those conversations."""
    c = store.table("conversations")
    last = c.created_at.max().to_pyarrow().as_py()
    if last is None:
        return None, {}
    since = last - timedelta(days=RECENT_DAYS)
    moment = ibis.timestamp(since)
    ended = (c.resolved_at <= moment).fill_null(False) | (c.closed_at <= moment).fill_null(False)
    kept = c.filter(~ended).select(*CONVERSATION_COLUMNS).limit(RECENT_LIMIT + 1)
    conversations = kept.to_pyarrow()
    if conversations.num_rows > RECENT_LIMIT:
        return None, {}
    ids = ibis.memtable(conversations.select(["conversation_id"]))
    m = store.table("messages").select(*MESSAGE_COLUMNS)
    a = store.table("agent_activity")
    return since, {
        "conversations": conversations,
        "messages": m.filter(m.conversation_id.isin(ids.conversation_id)).to_pyarrow(),
        "agent_activity": a.filter(a.ended_at.isnull() | (a.ended_at > moment)).to_pyarrow(),
    }


def _sources(store: Store) -> tuple[ops.Relation, ...]:
    """The tables the figures read, as this store gives them (their columns and types, and
    the columns an older layout lacks, given as nulls): their compiled SQL stands on them."""
    return tuple(
        store.table(t).unbind().op() for t in ("conversations", "messages", "agent_activity")
    )


def _open_conversations(
    tables: Mapping[str, ir.Table], filters: Mapping[str, Sequence[str]], at: ir.TimestampScalar
) -> ir.Table:
    c = tables["conversations"].select(*CONVERSATION_COLUMNS).mutate(agent=ibis._.agent_id)
    ended = [c.resolved_at <= at, c.closed_at <= at]
    conditions = [c.created_at <= at, ~(ended[0].fill_null(False) | ended[1].fill_null(False))]
    conditions += [c[dim].isin(values) for dim, values in filters.items()]
    return c.filter(*conditions)


def _waiting(open_now: ir.Table, messages: ir.Table, at: ir.TimestampScalar) -> ir.Table:
    """The open conversations, each with ``waiting_since``: when its customer first wrote
    after the last public agent reply, or its start when it has no messages and no first
    response yet; NULL for those not waiting."""
    # only the columns read: the messages' text is the bulk of the table
    messages = messages.select(*MESSAGE_COLUMNS)
    m = messages.filter(
        messages.conversation_id.isin(open_now.conversation_id),
        messages.sent_at <= at,
        ~messages.private.fill_null(False),
    )
    # one pass: each message beside its conversation's last agent reply, then per conversation
    # the first customer message after that reply (or at all, without one) and the count
    # (no FILTER inside a window: not every engine takes one)
    nothing = ibis.null(m.sent_at.type().copy(nullable=True))
    replied = ibis.ifelse(m.author_role == "agent", m.sent_at, nothing)
    last = replied.max().over(group_by=m.conversation_id)
    m = m.mutate(__last_agent=last)
    unanswered = (m.author_role == "customer") & (
        m.__last_agent.isnull() | (m.sent_at > m.__last_agent)
    )
    said = m.group_by("conversation_id").aggregate(
        __ask=m.sent_at.min(where=unanswered), __messages=ibis._.count()
    )
    c = open_now.left_join(said, "conversation_id").drop("conversation_id_right")
    silent = c.__messages.isnull() & (c.first_response_at.isnull() | (c.first_response_at > at))
    since = ibis.ifelse(silent, c.created_at, ibis.null(c.created_at.type().copy(nullable=True)))
    return c.mutate(waiting_since=ibis.coalesce(c.__ask, since))


def _online(
    activity: ir.Table, filters: Mapping[str, Sequence[str]], at: ir.TimestampScalar
) -> ir.Table:
    """Agents whose activity at ``at`` is a state other than offline, per state. Activity is
    not split by channel, queue or topic, so those filters do not narrow it. One row per
    state, each with the ``total`` of agents online in any state (no rows: none online)."""
    a = activity.filter(
        activity.started_at <= at,
        activity.ended_at.isnull() | (activity.ended_at > at),
        activity.state.isin(ONLINE_STATES),
        *[activity[d].isin(v) for d, v in filters.items() if d in ("vendor", "team")],
        *[activity.agent_id.isin(v) for d, v in filters.items() if d == "agent"],
    )
    # one query: the total is not the sum of the states (an agent may be in two at once)
    by_state = a.group_by("state").aggregate(agents=a.agent_id.nunique())
    return by_state.mutate(total=a.agent_id.nunique().as_scalar())
