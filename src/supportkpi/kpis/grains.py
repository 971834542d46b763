"""The fact tables ("grains") that KPIs aggregate over, built for one report.

A grain has one row per thing counted (a conversation, an agent reply, a survey answer, an
agent, an agent's shift, a day) and carries the report's group columns. Attribution follows
KPIS.md: everything measured on a conversation belongs to the conversation's vendor, team and
agent and to the period in which it was created (in the report's time zone); agent activity
belongs to the period in which the state began.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from itertools import pairwise

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from supportkpi.config import Config
from supportkpi.facts import calendar
from supportkpi.facts.bound import bound
from supportkpi.facts.derive import base_facts, flag, reply_pairs, seconds_between
from supportkpi.vocabulary import DIMENSIONS, PERIODS, PROFILES

CONVERSATION_ONLY = ("channel", "queue", "topic")
RANGE = "__range"
"""The group column of a frame over several date ranges at once (:attr:`Frame.ranges`): the
index of the range a row belongs to."""
# Per-conversation clocks that business hours apply to: (name, start column, end column).
CLOCKS = (
    ("frt", "response_start", "first_response_at"),
    ("resolution", "created_at", "resolved_at"),
    ("abandon", "created_at", "left_at"),
    ("active", "first_agent_message_at", "last_message_at"),
)


def period_step(period: str) -> ir.IntervalScalar:
    """One period as an interval."""
    months = {"month": 1, "quarter": 3, "year": 12}.get(period)
    if months:
        return ibis.interval(months=months)
    return ibis.interval(**{"hour": {"hours": 1}, "day": {"days": 1}, "week": {"days": 7}}[period])


def previous_period_start(day: date, period: str) -> date:
    """The first day of the period before the one containing ``day``."""
    if period in ("hour", "day"):
        return day - timedelta(days=1)
    if period == "week":
        return day - timedelta(days=day.weekday() + 7)
    months = {"month": 1, "quarter": 3, "year": 12}[period]
    first_month = (day.month - 1) // months * months if period != "month" else day.month - 1
    index = day.year * 12 + first_month - months
    return date(index // 12, index % 12 + 1, 1)


class Unavailable(Exception):
    """A grain cannot be built for this report; the message says why."""


@dataclass(frozen=True)
class Frame:
    """Everything a grain needs: the stored tables, settings, grouping and filters."""

    tables: Mapping[str, ir.Table]
    config: Config
    by: tuple[str, ...] = ()
    period: str | None = None
    offsets: list[tuple[datetime, int]] = field(default_factory=list)
    start: date | None = None
    end: date | None = None
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    spans: calendar.Spans | None = None
    facts: ir.Table | None = None  # conversation_rows, when a report computed them once
    kept: ir.Table | None = None  # the store's kept facts (supportkpi.store.kept), when current
    kept_replies: ir.Table | None = None  # and its kept reply pairs
    kept_surveys: ir.Table | None = None  # and its survey answers with their facts
    contacts: ir.Table | None = None  # each revenue event's last contact, kept at load
    attributed: ir.Table | None = None  # attributed revenue events, when a report held them
    days: tuple[date, date] | None = None  # the local days the data can touch, when known
    ranges: tuple[tuple[date, date], ...] = ()
    """Several date ranges (first and last local day each, not overlapping) computed
    at once: each row belongs to the range its date falls in, named by its index in the
    :data:`RANGE` group column; rows in none are left out. ``start`` and ``end`` span them."""
    bound: bool = False
    """The instants of the dates (:meth:`window`) as values bound when the statement runs
    (:mod:`supportkpi.facts.bound`) instead of literals: every window of a report's shape
    then has the same expression, and SQL compiled once serves them all."""

    def window(self) -> dict[str, tuple[datetime, bool]]:
        """The instants the dates and ranges filter on, by name: (the instant, whether it is
        UTC; else the report's wall-clock time). The only place they are computed, whether
        they are written into the query or bound when it runs (:meth:`window_values`)."""
        out: dict[str, tuple[datetime, bool]] = {}
        if self.start:
            first = datetime.combine(self.start, time.min)
            out["near_first"] = (first - timedelta(days=1), True)
            out["first"] = (first, False)
        if self.end:
            out["near_after"] = (datetime.combine(self.end + timedelta(days=2), time.min), True)
            out["after"] = (datetime.combine(self.end + timedelta(days=1), time.min), False)
        for index, (first_day, last_day) in enumerate(self.ranges):
            out[f"range_{index}_first"] = (datetime.combine(first_day, time.min), False)
            after = datetime.combine(last_day + timedelta(days=1), time.min)
            out[f"range_{index}_after"] = (after, False)
        return out

    def window_values(self) -> dict[str, datetime]:
        """The values of :meth:`window` as a statement binds them (UTC instants zoned)."""
        return {
            name: moment.replace(tzinfo=UTC) if utc else moment
            for name, (moment, utc) in self.window().items()
        }

    def instant(self, name: str) -> ir.TimestampScalar:
        """The instant ``name`` of :meth:`window`, written in or bound (:attr:`bound`)."""
        moment, utc = self.window()[name]
        if self.bound:
            return bound(name, dt.Timestamp(timezone="UTC" if utc else None))  # type: ignore[return-value]
        return ibis.timestamp(moment, timezone="UTC") if utc else ibis.timestamp(moment)

    @property
    def group(self) -> tuple[str, ...]:
        """The group columns of the report, the range after the dimensions, period last."""
        ranged = (RANGE,) if self.ranges else ()
        return self.by + ranged + ((self.period,) if self.period else ())

    def in_ranges(self, table: ir.Table, at: ir.TimestampValue) -> ir.Table:
        """``table`` with the :data:`RANGE` column of its rows dated ``at`` (a wall-clock
        time), the rows of no range left out; ``table`` as it is without ranges."""
        if not self.ranges:
            return table
        cases = [
            (
                (at >= self.instant(f"range_{index}_first"))
                & (at < self.instant(f"range_{index}_after")),
                index,
            )
            for index in range(len(self.ranges))
        ]
        table = table.mutate(**{RANGE: ibis.cases(*cases, else_=None).cast("int64")})
        # ranges one after the other cover every day from start to end: nothing to leave out
        return table.filter(table[RANGE].notnull()) if self.gaps else table

    @property
    def gaps(self) -> bool:
        """Whether some day between the first range and the last is in none of them."""
        ordered = sorted(self.ranges)
        return any(after[0] != before[1] + timedelta(days=1) for before, after in pairwise(ordered))

    @cached_property
    def conversation_grain(self) -> ir.Table:
        """:func:`conversations` of this frame, built once: most grains stand on it, and
        building the expression again for each is most of a report's Ibis work."""
        return self.select(conversation_rows(self), "created_at", DIMENSIONS)

    def local(self, ts: ir.TimestampValue) -> ir.TimestampValue:
        """Wall-clock time in the report's zone."""
        return calendar.local_time(ts, self.offsets)

    def near(self, ts: ir.TimestampValue) -> list[ir.BooleanValue]:
        """Conditions on the UTC instant ``ts`` a day wider than the report's local dates (no
        zone is a day away from UTC): every row the dates keep passes them, and the engine can
        skip stored blocks on a plain column, not on local time."""
        conditions = []
        if self.start:
            conditions.append(ts >= self.instant("near_first"))
        if self.end:
            conditions.append(ts < self.instant("near_after"))
        return conditions

    def select(self, table: ir.Table, ts: str, available: tuple[str, ...]) -> ir.Table:
        """Filter ``table`` by the report's dates and filters, add the period column."""
        wanted = (set(self.by) - set(PROFILES)) | set(self.filters)
        missing = sorted(wanted - set(available))
        if missing:
            raise Unavailable(f"agent activity is not split by {' or '.join(missing)}")
        local = self.local(table[ts])
        profiles = {
            "hour_of_day": lambda: local.hour().cast("int64"),
            "weekday": lambda: local.day_of_week.index().cast("int64"),
        }
        wanted_profiles = {p: profiles[p]() for p in PROFILES if p in self.by}
        conditions = [table[dim].isin(values) for dim, values in self.filters.items()]
        conditions += self.near(table[ts])
        if self.start:
            conditions.append(local >= self.instant("first"))
        if self.end:
            conditions.append(local < self.instant("after"))
        if conditions:
            table = table.filter(*conditions)
        table = self.in_ranges(table, local)
        if wanted_profiles:
            table = table.mutate(**wanted_profiles)
        if self.period:
            table = table.mutate(
                **{self.period: self.local(table[ts]).truncate(PERIODS[self.period])}
            )
        return table


def _threshold(config: Config, channel: ir.StringValue) -> ir.FloatingValue:
    cases = [(channel == name, float(v)) for name, v in config.service_level.items()]
    return ibis.cases(*cases, else_=float(config.service_level_default))


def conversations(frame: Frame) -> ir.Table:
    """One row per conversation: the facts of :mod:`supportkpi.facts.derive`, durations, dims."""
    return frame.conversation_grain


def conversation_rows(frame: Frame) -> ir.Table:
    """Every conversation with its facts, before the report's dates and filters apply."""
    if frame.facts is not None:
        return frame.facts
    f = frame.kept
    if f is None:
        f = base_facts(
            frame.tables["conversations"],
            frame.tables["messages"],
            frame.tables["surveys"],
            timedelta(days=frame.config.follow_up_days),
        )
    return with_durations(f, frame)


def with_durations(f: ir.Table, frame: Frame) -> ir.Table:
    """Rows carrying a conversation's facts (``f``) with its durations and service-level
    threshold, and its business-hour clocks when the frame has spans."""
    active = seconds_between(f.last_message_at, f.first_agent_message_at)
    f = f.mutate(
        frt_seconds=ibis.ifelse(
            f.handled, seconds_between(f.first_response_at, f.response_start), None
        ),
        resolution_seconds=seconds_between(f.resolved_at, f.created_at),
        abandon_seconds=ibis.ifelse(f.abandoned, seconds_between(f.left_at, f.created_at), None),
        aht_seconds=_handle_time(f, active),
        threshold=_threshold(frame.config, f.channel),
    )
    if frame.spans is not None:
        f = _business_clocks(f, frame)
    return f


def _handle_time(f: ir.Table, active: ir.FloatingValue) -> ir.FloatingValue:
    """Supplied active time + hold + wrap; else first agent message → last message + hold."""
    supplied = f.handle_seconds + f.hold_seconds.fill_null(0) + f.wrap_seconds.fill_null(0)
    derived = active + f.hold_seconds.fill_null(0)
    return ibis.ifelse(f.handled, ibis.coalesce(supplied, derived), None)


def _business_clocks(f: ir.Table, frame: Frame) -> ir.Table:
    assert frame.spans is not None
    f = f.mutate(__calendar=calendar.calendar_key(f, frame.config.business_hours))
    columns = sorted({c for _, a, b in CLOCKS for c in (a, b)})
    # the clocks on the instants alone, joined back by conversation: the calendar joins then
    # carry (and the query spells out) a few columns instead of every fact
    narrow = f.select("conversation_id", "__calendar", *columns)
    clocked = calendar.with_business_clock(narrow, columns, frame.spans)
    clocked = clocked.select(
        __bh_id=clocked.conversation_id, **{f"__bh_{c}": clocked[f"__bh_{c}"] for c in columns}
    )
    f = f.join(clocked, f.conversation_id == clocked.__bh_id).drop("__bh_id")
    bh = {name: f[f"__bh_{end}"] - f[f"__bh_{start}"] for name, start, end in CLOCKS}
    supplied = f.handle_seconds + f.hold_seconds.fill_null(0) + f.wrap_seconds.fill_null(0)
    return f.mutate(
        frt_bh_seconds=ibis.ifelse(f.handled, bh["frt"], None),
        resolution_bh_seconds=bh["resolution"],
        abandon_bh_seconds=ibis.ifelse(f.abandoned, bh["abandon"], None),
        aht_bh_seconds=ibis.ifelse(
            f.handled, ibis.coalesce(supplied, bh["active"] + f.hold_seconds.fill_null(0)), None
        ),
    ).drop(*(f"__bh_{c}" for c in columns))


def _conversation_dims(frame: Frame) -> ir.Table:
    return conversations(frame).select(*_dims_kept(frame))


def _dims_kept(frame: Frame) -> list[str]:
    """The columns of a conversation the rows joined to it (replies, surveys, reviews) carry."""
    keep = ["conversation_id", *frame.group, "frt_seconds", "handled", "created_at"]
    if frame.spans is not None:
        keep.append("__calendar")
    return list(dict.fromkeys(keep))


def responses(frame: Frame) -> ir.Table:
    """One row per agent reply that answers a customer: the reply time − the earliest
    customer message not yet answered (bots, system messages and private notes skipped)."""
    pairs = frame.kept_replies
    if pairs is None:
        pairs = reply_pairs(frame.tables["messages"])
    r = pairs.join(_conversation_dims(frame), "conversation_id")
    r = r.mutate(response_seconds=seconds_between(r.replied_at, r.asked_at))
    if frame.spans is not None:
        r = calendar.with_business_clock(r, ["asked_at", "replied_at"], frame.spans)
        r = r.mutate(response_bh_seconds=r.__bh_replied_at - r.__bh_asked_at)
    return r


def surveys(frame: Frame) -> ir.Table:
    """One row per survey answer on a conversation in the report, scores normalised:
    CSAT to 1–5, NPS to 0–10, CES to 1–7."""
    s = _kept_answers(frame)
    if s is None:
        s = frame.tables["surveys"].join(_conversation_dims(frame), "conversation_id")
    span = s.scale_max - s.scale_min
    return s.mutate(
        csat_score=ibis.ifelse(s.kind == "csat", 1 + (s.score - s.scale_min) * 4 / span, None),
        nps_score=ibis.ifelse(s.kind == "nps", (s.score - s.scale_min) * 10 / span, None),
        ces_score=ibis.ifelse(s.kind == "ces", 1 + (s.score - s.scale_min) * 6 / span, None),
    )


def _kept_answers(frame: Frame) -> ir.Table | None:
    """The survey answers of the report read from the kept survey rows (each answer with its
    conversation's facts: no join), with the columns the join of the surveys to the report's
    conversations gives; None when the frame has none, or has facts or business-hour spans
    of its own (which the kept rows do not carry)."""
    kept = frame.kept_surveys
    if kept is None or frame.kept is None or frame.facts is not None or frame.spans is not None:
        return None
    rows = frame.select(with_durations(kept, frame), "created_at", DIMENSIONS)
    # the kept rows hold every survey column (a new one raises the kept facts' version)
    answers = {
        c: rows.survey_customer_id if c == "customer_id" else rows[c]
        for c in frame.tables["surveys"].columns
    }
    dims = {c: rows[c] for c in _dims_kept(frame) if c not in answers}
    return rows.select(**answers, **dims)


def qa_reviews(frame: Frame) -> ir.Table:
    """One row per QA review of a conversation in the report."""
    return frame.tables["qa_reviews"].join(_conversation_dims(frame), "conversation_id")


def _activity(frame: Frame) -> ir.Table:
    a = frame.tables["agent_activity"]
    a = a.mutate(agent=a.agent_id, __seconds=seconds_between(a.ended_at, a.started_at))
    return frame.select(a, "started_at", ("vendor", "team", "agent"))


def agents(frame: Frame) -> ir.Table:
    """One row per agent (within each group): logged-in, busy and idle seconds."""
    a = _activity(frame)
    keys = list(dict.fromkeys([*frame.group, "agent"]))
    logged = a.__seconds.sum(where=a.state != "offline")
    busy = a.__seconds.sum(where=a.state == "busy")
    out = a.group_by(keys).aggregate(logged_in_seconds=logged, busy_seconds=busy.fill_null(0))
    return out.mutate(idle_seconds=out.logged_in_seconds - out.busy_seconds)


def shifts(frame: Frame) -> ir.Table:
    """One row per agent shift (an agent's logged-in span on one local day: ``shifts`` 1) and
    one per handled conversation (``handled`` 1, ``outside`` 1 when its agent had no shift on
    its local day), each in its own group: a shift belongs to the activity's vendor, team and
    agent and to the day it began; a conversation to its own, as everywhere."""
    a = _activity(frame)
    a = a.filter(a.state != "offline").mutate(__day=frame.local(a.started_at).truncate("D"))
    keys = list(dict.fromkeys([*frame.group, "agent", "__day"]))
    shift_rows = a.group_by(keys).aggregate(__n=ibis._.count())
    on_duty = shift_rows.select("agent", "__day").distinct().mutate(__on=ibis.literal(True))
    c = conversations(frame)
    c = c.filter(c.handled).mutate(__day=frame.local(c.created_at).truncate("D"))
    c = c.left_join(on_duty, [c.agent == on_duty.agent, c.__day == on_duty.__day])

    def part(table: ir.Table, **counts: ir.Value) -> ir.Table:
        group = {g: table[g].cast(table[g].type().copy(nullable=True)) for g in frame.group}
        return table.select(**group, **{k: v.cast("int64") for k, v in counts.items()})

    worked = part(
        shift_rows, shifts=ibis.literal(1), handled=ibis.literal(0), outside=ibis.literal(0)
    )
    answered = part(
        c,
        shifts=ibis.literal(0),
        handled=ibis.literal(1),
        outside=flag(c.__on.isnull()),
    )
    return worked.union(answered)


def agent_load(frame: Frame) -> ir.Table:
    """One row per chat agent: total chat time and the time with at least one chat open
    (the union of the agent's chat intervals, first agent reply → last message)."""
    c = conversations(frame)
    c = c.filter(
        (c.channel == "chat")
        & c.handled
        & c.agent.notnull()
        & (c.last_message_at > c.first_agent_message_at)
    )
    keys = list(dict.fromkeys([*frame.group, "agent"]))
    c = c.select(*keys, s=c.first_agent_message_at, e=c.last_message_at)
    group, order = [c[k] for k in keys], [c.s, c.e]
    earlier = ibis.window(group_by=group, order_by=order, rows=(None, -1))
    running = ibis.cumulative_window(group_by=group, order_by=order)
    # the furthest end of the chats before this one: a start past it opens a new island
    c = c.mutate(__before=c.e.max().over(earlier))
    c = c.mutate(__new=flag(c.__before.isnull() | (c.s > c.__before)))
    c = c.mutate(__island=c.__new.sum().over(running))
    islands = c.group_by([*keys, "__island"]).aggregate(
        busy=seconds_between(ibis._.e.max(), ibis._.s.min()),
        chat=seconds_between(ibis._.e, ibis._.s).sum(),
    )
    return islands.group_by(keys).aggregate(
        chat_seconds=islands.chat.sum(), busy_seconds=islands.busy.sum()
    )


def days(frame: Frame) -> ir.Table:
    """One row per local day with conversations, with its trailing 28-day median volume and
    median absolute deviation, and whether it was a spike (needs 7 days of history)."""
    c = conversations(frame)
    # each range's days have their history within it, as a report over the range alone
    dims = [*frame.by, *([RANGE] if frame.ranges else [])]
    c = c.mutate(__day=frame.local(c.created_at).truncate("D"))
    daily = c.group_by([*dims, "__day"]).aggregate(volume=ibis._.count())
    if frame.period:
        daily = daily.mutate(**{frame.period: daily.__day.truncate(PERIODS[frame.period])})
    past = daily.select(
        *(daily[d].name(f"__p_{d}") for d in dims), __p_day=daily.__day, __p_volume=daily.volume
    )
    same = [
        (daily[d] == past[f"__p_{d}"]) | (daily[d].isnull() & past[f"__p_{d}"].isnull())
        for d in dims
    ]
    window = [past.__p_day < daily.__day, past.__p_day >= daily.__day - ibis.interval(days=28)]
    pairs = daily.join(past, [*same, *window])
    keys = [*frame.group, *dims, "__day", "volume"]
    keys = list(dict.fromkeys(keys))
    med = pairs.group_by(keys).aggregate(
        trailing_median=pairs.__p_volume.median(), history=ibis._.count()
    )
    pairs = pairs.join(med, keys)
    mad = pairs.group_by(keys).aggregate(
        mad=(pairs.__p_volume - pairs.trailing_median).abs().median(),
        trailing_median=pairs.trailing_median.max(),
        history=pairs.history.max(),
    )
    flagged = daily.left_join(mad, keys).select(daily, "trailing_median", "mad", "history")
    return flagged.mutate(
        spike=(flagged.history >= 7) & (flagged.volume > flagged.trailing_median + 3 * flagged.mad)
    )


# Grains built on the conversation facts; a report using two or more computes the facts once.
ON_FACTS = frozenset(
    {
        "conversations",
        "responses",
        "surveys",
        "qa_reviews",
        "shifts",
        "agent_load",
        "days",
        "vendor_money",
        "vendor_cost",
        "revenue",
        "conversions",
        "customers",
    }
)

GRAINS: dict[str, Callable[[Frame], ir.Table]] = {
    "conversations": conversations,
    "responses": responses,
    "surveys": surveys,
    "qa_reviews": qa_reviews,
    "agents": agents,
    "shifts": shifts,
    "agent_load": agent_load,
    "days": days,
}
