"""Staffing plans: forecast arrivals × measured handle time and patience → agents per interval.

For each group (channel, or channel and vendor) the arrivals per interval come from the store,
the forecast from :mod:`.forecast`, and the handle time and the customers' patience from the
report service (the registry's KPIs): AHT is ``average_handle_time``; patience is estimated as
the exponential patience's maximum-likelihood value, total waiting time (first responses of
answered conversations plus times to abandon) ÷ abandoned conversations. Intervals are staffed
with Erlang A when there is patience to model (some customers left) and Erlang C otherwise;
chat is staffed in slots of the configured concurrency. Shrinkage turns productive agents into
scheduled ones, and the hourly rate per vendor turns agent-hours into cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from supportkpi.analysis.query import report
from supportkpi.config import BusinessHours, Config, Workforce
from supportkpi.facts import calendar
from supportkpi.store.store import Store
from supportkpi.workforce.erlang import Queue, agents_for, chat_slots, with_shrinkage
from supportkpi.workforce.forecast import Series, series_from_counts
from supportkpi.workforce.hours import calendars_for
from supportkpi.workforce.predict import Forecast, notes, predict
from supportkpi.workforce.roster import Roster, Rules, roster

GROUPS = ("channel", "vendor", "queue")


@dataclass(frozen=True)
class Demand:
    """What one group's conversations take: handle time and patience (None: nobody left)."""

    aht: float
    patience: float | None


def arrival_series(
    store: Store, interval: int, by: Sequence[str] = ("channel",), tz: str = "UTC"
) -> list[Series]:
    """Conversations per interval (in ``tz``) and group, zero-filled, over the whole history."""
    counts = arrival_counts(store, interval, by, tz)
    return series_from_counts(counts, interval, list(by)) if counts.num_rows else []


def arrival_counts(
    store: Store,
    interval: int,
    by: Sequence[str] = ("channel",),
    tz: str = "UTC",
    since: datetime | None = None,
    until: datetime | None = None,
) -> pa.Table:
    """Rows of (groups…, slot, arrivals): conversations per interval (local time in ``tz``)
    with any, from ``since`` to before ``until`` (local) when given."""
    unknown = [b for b in by if b not in GROUPS]
    if unknown:
        raise ValueError(f"cannot plan by {', '.join(unknown)}; by {', '.join(GROUPS)}")
    c = store.table("conversations")
    bounds = c.aggregate(lo=c.created_at.min(), hi=c.created_at.max()).to_pyarrow()
    first, last = bounds["lo"][0].as_py(), bounds["hi"][0].as_py()
    empty = pa.table({**{b: pa.array([], pa.string()) for b in by},
                      "slot": pa.array([], pa.timestamp("us")),
                      "arrivals": pa.array([], pa.int64())})  # fmt: skip
    if first is None:
        return empty
    offsets = calendar.utc_offsets(tz, first.date(), last.date())
    local = calendar.local_time(c.created_at, offsets)
    slots = c.mutate(slot=local.bucket(minutes=interval))
    if since is not None:
        slots = slots.filter(slots.slot >= since)
    if until is not None:
        slots = slots.filter(slots.slot < until)
    counts = slots.group_by([*by, "slot"]).aggregate(arrivals=ibis._.count()).to_pyarrow()
    return counts.set_column(
        counts.schema.get_field_index("slot"), "slot", pc.cast(counts["slot"], pa.timestamp("us"))
    )


def demand(store: Store, config: Config, by: Sequence[str] = ("channel",)) -> dict[tuple, Demand]:
    """Handle time and patience per group, from the registry's KPIs."""
    kpis = [
        "average_handle_time",
        "first_response_time",
        "time_to_abandon",
        "chat_volume",
        "abandonment_rate",
    ]
    rows = report(store, kpis, by=list(by), config=config).table.to_pylist()
    out = {}
    for r in rows:
        if r["average_handle_time"] is None:
            continue
        abandoned = (r["abandonment_rate"] or 0.0) * r["chat_volume"]
        waited = (r["first_response_time"] or 0.0) * r["chat_volume_handled"] + (
            r["time_to_abandon"] or 0.0
        ) * abandoned
        patience = waited / abandoned if abandoned >= 1 and waited > 0 else None
        out[tuple(r[b] for b in by)] = Demand(r["average_handle_time"], patience)
    return out


def forecasts(
    store: Store,
    config: Config,
    days: int = 7,
    interval: int = 30,
    by: Sequence[str] = ("channel",),
    choose: bool = True,
) -> list[Forecast]:
    """Every group's forecast: cleaned history, the model its backtest chose (``choose``),
    closed business hours at 0, intervals, warnings, or why it cannot be forecast."""
    return [
        predict(s, days, _calendars(config, by, s.key), config.timezone, choose)
        for s in arrival_series(store, interval, by, config.timezone)
    ]


def _calendars(config: Config, by: Sequence[str], key: tuple) -> list[BusinessHours]:
    vendor = key[list(by).index("vendor")] if "vendor" in by else None
    return calendars_for(config.business_hours, vendor)


@dataclass(frozen=True)
class Plan:
    """A staffing plan: one row per group and interval, the settings it was made with, and
    notes on the forecasts (cleaning, warnings, groups that could not be forecast)."""

    intervals: pa.Table
    settings: Workforce
    interval: int
    notes: tuple[str, ...] = ()


def plan(
    store: Store,
    config: Config,
    days: int = 7,
    interval: int = 30,
    by: Sequence[str] = ("channel",),
    answer_within: float | None = None,
    settings: Workforce | None = None,
) -> Plan:
    """Agents needed per interval over the next ``days`` days, with cost where a rate is set."""
    settings = settings or config.workforce
    predicted = forecasts(store, config, days, interval, by)
    needs = demand(store, config, by)
    columns: dict[str, list] = {b: [] for b in by} | {
        k: []
        for k in (
            "interval_start",
            "arrivals",
            "aht",
            "patience",
            "agents",
            "scheduled",
            "service_level",
            "asa",
            "occupancy",
            "abandon",
            "cost",
        )
    }
    for s in predicted:
        need = needs.get(s.key)
        if need is None or s.reason is not None:
            continue
        channel = s.key[list(by).index("channel")] if "channel" in by else None
        target = answer_within if answer_within is not None else config.threshold(channel or "")
        rate = _rate(settings, s.key[list(by).index("vendor")] if "vendor" in by else None)
        for start, arrivals in zip(s.times(), s.expected, strict=True):
            row = _staff(arrivals, need, channel, interval, target, settings)
            for b, v in zip(by, s.key, strict=True):
                columns[b].append(v)
            scheduled = with_shrinkage(row["agents"], settings.shrinkage)
            columns["interval_start"].append(start)
            columns["arrivals"].append(float(arrivals))
            columns["scheduled"].append(scheduled)
            columns["cost"].append(scheduled * interval / 60 * rate if rate else None)
            for k, v in row.items():
                columns[k].append(v)
    types = {"interval_start": pa.timestamp("us"), "agents": pa.int64(), "scheduled": pa.int64()}
    schema = pa.schema(
        [(name, types.get(name, pa.string() if name in by else pa.float64())) for name in columns]
    )
    return Plan(pa.table(columns, schema=schema), settings, interval, tuple(notes(predicted)))


def _rate(settings: Workforce, vendor: str | None) -> float | None:
    return settings.hourly_rate.get(vendor or "", settings.hourly_rate.get("default"))


def _staff(
    arrivals: float,
    need: Demand,
    channel: str | None,
    interval: int,
    answer_within: float,
    settings: Workforce,
) -> dict[str, float | int | None]:
    queue = Queue(arrivals, need.aht, interval * 60.0, need.patience)
    per_agent = 1
    if channel == "chat" and settings.concurrency > 1:
        queue, per_agent = chat_slots(queue, settings.concurrency, settings.concurrency_growth)
    if arrivals <= 0:
        return {
            "aht": queue.aht,
            "patience": need.patience,
            "agents": 0,
            "service_level": 1.0,
            "asa": 0.0,
            "occupancy": 0.0,
            "abandon": 0.0,
        }
    result = agents_for(
        queue,
        answer_within,
        settings.service_level,
        settings.max_occupancy,
        settings.max_abandon if need.patience else None,
    )
    return {
        "aht": queue.aht,
        "patience": need.patience,
        "agents": -(-result.agents // per_agent),
        "service_level": result.service_level,
        "asa": result.asa,
        "occupancy": result.occupancy,
        "abandon": result.abandon_probability,
    }


def rosters(
    p: Plan, by: Sequence[str], rules: Rules, rate_from_settings: bool = True
) -> list[tuple[tuple, Roster]]:
    """A roster per group covering the plan's scheduled agents (after shrinkage); the hourly
    rate is the group's vendor's from the settings when one is set there."""
    rows = p.intervals.to_pylist()
    out = []
    for key in dict.fromkeys(tuple(r[b] for b in by) for r in rows):
        mine = [r for r in rows if tuple(r[b] for b in by) == key]
        rate = _rate(p.settings, key[list(by).index("vendor")] if "vendor" in by else None)
        group_rules = replace(rules, hourly_rate=rate) if rate and rate_from_settings else rules
        needed = [r["scheduled"] for r in mine]
        out.append((key, roster(needed, mine[0]["interval_start"], p.interval, group_rules)))
    return out


def roster_records(made: Sequence[tuple[tuple, Roster]], keys: Sequence[str]) -> list[dict]:
    """Each group's roster (:func:`rosters`) as JSON-ready records: the group's values, cost,
    agent-intervals short, the solver's word, shifts, coverage and agents. The one shape of
    ``supportkpi roster --format json`` and ``/v1/roster``."""
    from supportkpi.analysis.render import plain_records

    return [
        {
            **dict(zip(keys, key, strict=True)),
            "cost": r.cost,
            "shortfall_agent_intervals": r.shortfall,
            "status": r.status,
            "shifts": plain_records(r.shifts),
            "coverage": plain_records(r.coverage),
            "agents": None if r.agents is None else plain_records(r.agents),
        }
        for key, r in made
    ]


def daily_summary(p: Plan, by: Sequence[str]) -> pa.Table:
    """Per group and day: conversations expected, peak scheduled agents, agent-hours, cost."""
    t = ibis.memtable(p.intervals)
    day = t.interval_start.date()
    return (
        t.group_by([*by, day.name("day")])
        .aggregate(
            conversations=t.arrivals.sum(),
            peak_agents=t.scheduled.max(),
            agent_hours=(t.scheduled * p.interval / 60).sum(),
            cost=t.cost.sum(),
        )
        .order_by([*by, "day"])
        .to_pyarrow()
    )


def peaks(p: Plan, by: Sequence[str], top: int = 5) -> pa.Table:
    """The busiest intervals per group."""
    t = ibis.memtable(p.intervals)
    rank = ibis.row_number().over(
        group_by=[t[b] for b in by], order_by=[ibis.desc(t.scheduled), t.interval_start]
    )
    return (
        t.mutate(rank=rank)
        .filter(ibis._.rank < top)
        .drop("rank")
        .order_by([*by, ibis.desc("scheduled"), "interval_start"])
        .to_pyarrow()
    )


__all__ = [
    "Demand",
    "Plan",
    "arrival_counts",
    "arrival_series",
    "daily_summary",
    "demand",
    "forecasts",
    "peaks",
    "plan",
    "rosters",
]
