"""The operation right now: who is waiting and for how long, open conversations per agent,
agents online, and today's first response time, abandonment and volume so far against target.

Everything is computed as of one instant (``at``, by default the current time) over the stored
records, with the same filters as a report; "today" is the local day in the report's zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir

from supportkpi.analysis.query import build_frame, report
from supportkpi.config import Config
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
    frame = build_frame(store, config, (), None, None, None, filters, tz, False)
    zone = frame.config.timezone
    moment = ibis.timestamp(at)
    open_now = _open_conversations(frame.tables, frame.filters, moment)
    waiting = _waiting(open_now, frame.tables["messages"], moment)
    wait = (
        waiting.aggregate(n=ibis._.count(), since=ibis._.waiting_since.min())
        .to_pyarrow()
        .to_pylist()[0]
    )
    today = at.astimezone(ZoneInfo(zone)).date()
    so_far = report(store, TODAY_KPIS, (), None, today, today, filters, tz, config, targets=True)
    return {
        "at": at.isoformat(timespec="seconds"),
        "timezone": zone,
        "today": today.isoformat(),
        "waiting": wait["n"],
        "longest_wait_seconds": (at - wait["since"]).total_seconds() if wait["since"] else None,
        "open_per_agent": _per_agent(open_now),
        "agents_online": _online(frame.tables["agent_activity"], frame.filters, moment),
        "today_kpis": (so_far.table.to_pylist() or [{}])[0],
    }


def _open_conversations(
    tables: Mapping[str, ir.Table], filters: Mapping[str, Sequence[str]], at: ir.TimestampScalar
) -> ir.Table:
    c = tables["conversations"].mutate(agent=ibis._.agent_id)
    ended = [c.resolved_at <= at, c.closed_at <= at]
    conditions = [c.created_at <= at, ~(ended[0].fill_null(False) | ended[1].fill_null(False))]
    conditions += [c[dim].isin(values) for dim, values in filters.items()]
    return c.filter(*conditions)


def _waiting(open_now: ir.Table, messages: ir.Table, at: ir.TimestampScalar) -> ir.Table:
    """Open conversations whose customer wrote after the last public agent reply (or that have
    no messages and no first response yet), with when that unanswered message came."""
    m = messages.filter(
        messages.conversation_id.isin(open_now.conversation_id),
        messages.sent_at <= at,
        ~messages.private.fill_null(False),
    )
    is_agent = m.author_role == "agent"
    last = m.group_by("conversation_id").aggregate(
        __last_agent=m.sent_at.max(where=is_agent), __messages=ibis._.count()
    )
    m = m.join(last, "conversation_id")
    asks = (
        m.filter(
            m.author_role == "customer", m.__last_agent.isnull() | (m.sent_at > m.__last_agent)
        )
        .group_by("conversation_id")
        .aggregate(__ask=ibis._.sent_at.min())
    )
    c = open_now.left_join(asks, "conversation_id").drop("conversation_id_right")
    c = c.left_join(last, "conversation_id").drop("conversation_id_right")
    silent = c.__messages.isnull() & (c.first_response_at.isnull() | (c.first_response_at > at))
    c = c.filter(c.__ask.notnull() | silent)
    return c.mutate(waiting_since=ibis.coalesce(c.__ask, c.created_at))


def _per_agent(open_now: ir.Table) -> list[dict[str, Any]]:
    assigned = open_now.filter(open_now.agent_id.notnull())
    counts = assigned.group_by(["agent_id", "vendor"]).aggregate(open=ibis._.count())
    return counts.order_by([ibis.desc("open"), "agent_id"]).to_pyarrow().to_pylist()


def _online(
    activity: ir.Table, filters: Mapping[str, Sequence[str]], at: ir.TimestampScalar
) -> dict[str, Any]:
    """Agents whose activity at ``at`` is a state other than offline, per state. Activity is
    not split by channel, queue or topic, so those filters do not narrow it."""
    a = activity.filter(
        activity.started_at <= at,
        activity.ended_at.isnull() | (activity.ended_at > at),
        activity.state.isin(ONLINE_STATES),
        *[activity[d].isin(v) for d, v in filters.items() if d in ("vendor", "team")],
        *[activity.agent_id.isin(v) for d, v in filters.items() if d == "agent"],
    )
    rows = a.group_by("state").aggregate(agents=a.agent_id.nunique()).to_pyarrow().to_pylist()
    total = a.aggregate(agents=a.agent_id.nunique()).to_pyarrow().to_pylist()[0]["agents"]
    return {"total": total, "by_state": {r["state"]: r["agents"] for r in rows}}
