"""The frame a report is computed in: grouping split into dimensions and a period, dates,
filters, the zone's UTC offsets, business-hour spans and the store's kept facts, every
argument checked before any query runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir

from supportkpi.config import Config, check_zone
from supportkpi.facts import calendar
from supportkpi.kpis.grains import DIMENSIONS, PERIODS, PROFILES, Frame
from supportkpi.store import engine_facts, kept_contacts
from supportkpi.store.engine import EngineStore
from supportkpi.store.kept import FACTS, REPLIES, SURVEYS, kept_tables
from supportkpi.store.memo import remembered, stored_table
from supportkpi.store.store import Store

__all__ = ["QueryError", "build_frame", "split_by", "within"]


class QueryError(ValueError):
    """A report that cannot be asked as given (unknown KPI, dimension, period…)."""


def split_by(by: Sequence[str], period: str | None) -> tuple[tuple[str, ...], str | None]:
    """Separate dimensions from a period named among them (``vendor,month``)."""
    dims = [b for b in by if b not in PERIODS]
    periods = [b for b in by if b in PERIODS] + ([period] if period else [])
    unknown = [d for d in dims if d not in DIMENSIONS and d not in PROFILES]
    if unknown:
        raise QueryError(
            f"cannot group by {', '.join(unknown)}; group by "
            f"{', '.join(DIMENSIONS + PROFILES)} and a period ({', '.join(PERIODS)})"
        )
    if len(set(periods)) > 1:
        raise QueryError(f"one period at a time, not {', '.join(periods)}")
    return tuple(dict.fromkeys(dims)), (periods[0] if periods else None)


def build_frame(
    store: Store,
    config: Config,
    by: Sequence[str],
    period: str | None,
    start: date | None,
    end: date | None,
    filters: Mapping[str, Sequence[str]] | None,
    tz: str | None,
    business_hours: bool,
    *,
    kept: bool = True,
) -> Frame:
    """The frame a report or breakdown is computed in: grouping, dates, filters, the zone's
    UTC offsets, when asked for the business-hour spans, and the store's kept conversation
    facts when they are current for these settings (``kept=False``: derive them instead);
    every argument checked."""
    dims, period = split_by(by, period)
    filters = {k: tuple(v) for k, v in (filters or {}).items() if v}
    odd = [v for values in filters.values() for v in values if not v.isprintable() or len(v) > 500]
    if odd:
        raise QueryError(
            f"a filter value holds control characters or is over 500 characters: {odd[0][:40]!r}"
        )
    unknown = [f for f in filters if f not in DIMENSIONS]
    if unknown:
        raise QueryError(
            f"cannot filter by {', '.join(unknown)}; filter by {', '.join(DIMENSIONS)}"
        )
    if start and end and end < start:
        raise QueryError(f"the period ends ({end}) before it starts ({start})")
    if tz:
        try:
            check_zone(tz)
        except ValueError as exc:
            raise QueryError(str(exc)) from None
        config = config.model_copy(update={"timezone": tz})
    first, last = remembered(store, "data_range", lambda: _data_range(store))
    spans = None
    if business_hours and config.business_hours.configured:
        spans = calendar.business_spans(config.business_hours, first, last)
    tables = {
        name: store.table(name)
        for name in (
            "conversations",
            "messages",
            "surveys",
            "agent_activity",
            "qa_reviews",
            "costs",
            "revenue_events",
        )
    }
    days = config.follow_up_days
    found: tuple[ir.Table, ir.Table, ir.Table | None] | None = None
    contacts = None
    if isinstance(store, EngineStore):  # facts an engine keeps: `supportkpi facts build`
        built = engine_facts.current(store, days) if kept else None
        if built is not None:  # its surveys are joined to the facts as they are read
            found, contacts = (built[0], built[1], None), built[2]
        kept = False
    # whether the kept tables are current is remembered; the tables are this store's own
    # (a remembered table would be bound to the connection of the request that asked first)
    if kept and remembered(store, ("kept", days), lambda: kept_tables(store, days) is not None):
        found = (
            stored_table(store, FACTS),
            stored_table(store, REPLIES),
            stored_table(store, SURVEYS),
        )
    if kept and remembered(store, "contacts", lambda: kept_contacts.current(store) is not None):
        contacts = stored_table(store, kept_contacts.TABLE)
    return Frame(
        tables,
        config,
        dims,
        period,
        calendar.utc_offsets(config.timezone, first, last),
        start,
        end,
        filters,
        spans,
        kept=found[0] if found else None,
        kept_replies=found[1] if found else None,
        kept_surveys=found[2] if found else None,
        contacts=contacts,
        days=(first, last),
    )


def _data_range(store: Store) -> tuple[date, date]:
    """The local days the data can touch, with a margin for zones and late resolutions."""
    c = store.table("conversations")
    m = store.table("messages")
    a = store.table("agent_activity")
    found = [
        *c.aggregate(
            lo=c.created_at.min(), hi=ibis.greatest(c.created_at, c.resolved_at, c.closed_at).max()
        )
        .to_pyarrow()
        .to_pylist()[0]
        .values(),
        m.aggregate(hi=m.sent_at.max()).to_pyarrow().to_pylist()[0]["hi"],
        *a.aggregate(lo=a.started_at.min(), hi=ibis.coalesce(a.ended_at, a.started_at).max())
        .to_pyarrow()
        .to_pylist()[0]
        .values(),
    ]
    days = [t.date() for t in found if t is not None]
    if not days:
        today = date.today()
        return today, today
    return min(days) - timedelta(days=2), max(days) + timedelta(days=2)


def within(frame: Frame, since: datetime, until: datetime) -> Frame:
    """``frame`` narrowed to the conversations created from ``since`` to before ``until``, as
    the records stood at ``until``: later messages, answers and reviews left out, later first
    responses, resolutions and closings not yet happened. The facts are derived, not kept."""
    start, stop = ibis.literal(since), ibis.literal(until)
    tables = dict(frame.tables)
    c = tables["conversations"]
    c = c.filter(c.created_at >= start, c.created_at < stop)
    tables["conversations"] = c.mutate(
        **{
            column: ibis.ifelse(c[column] < stop, c[column], ibis.null(c[column].type()))
            for column in ("first_response_at", "resolved_at", "closed_at")
        }
    )
    m = tables["messages"]
    tables["messages"] = m.filter(m.sent_at < stop)
    s = tables["surveys"]
    tables["surveys"] = s.filter(s.answered_at.isnull() | (s.answered_at < stop))
    q = tables["qa_reviews"]
    tables["qa_reviews"] = q.filter(q.reviewed_at.isnull() | (q.reviewed_at < stop))
    return replace(
        frame,
        tables=tables,
        kept=None,
        kept_replies=None,
        kept_surveys=None,
        facts=None,
        contacts=None,
        attributed=None,
    )
