"""Plan against actual: a staffing plan is published (kept in the store as it was made), and
once the days it covers have happened it is held against what came.

Per group and interval of the plan: the forecast and the conversations that actually arrived
(counted the way the forecast's history is), the agents planned (productive and scheduled)
and, where a roster was published with it, the agents rostered; the service level the plan
expected and the one achieved — the registry's ``service_level`` of the hour the interval
falls in, the finest period the query service groups by —; and the occupancy planned and
the occupancy the planned agents had with the load that came:

    actual occupancy = planned occupancy × (actual arrivals × actual AHT)
                                         ÷ (forecast arrivals × AHT planned with),  at most 1

exact for Erlang C (occupancy is the offered load ÷ the agents, and the agents are the
plan's); AHT is the registry's ``average_handle_time`` of the hour. Per group and day: the
forecast and actual volume and the error (forecast − actual: positive when more was forecast
than came) and its share of the actual; per group: the daily MAPE, the interval WAPE
(Σ|error| ÷ Σ actual), the bias (Σ error ÷ Σ actual), and the service level planned
(arrival-weighted over the intervals) and achieved over the days.

Only intervals before the newest conversation in the store are compared (later ones have
not happened yet, as far as the store knows).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa

from supportkpi.analysis.query import report
from supportkpi.config import Config
from supportkpi.store.store import Store
from supportkpi.workforce.roster import Roster
from supportkpi.workforce.staffing import GROUPS, Plan, arrival_counts, demand

TABLES = {
    "published_plans": """
        plan_id VARCHAR PRIMARY KEY,
        name VARCHAR,
        published_at TIMESTAMPTZ NOT NULL,
        interval_minutes INTEGER NOT NULL,
        groups VARCHAR NOT NULL,
        timezone VARCHAR NOT NULL,
        first_interval TIMESTAMP,
        last_interval TIMESTAMP,
        settings VARCHAR NOT NULL""",
    "published_intervals": """
        plan_id VARCHAR NOT NULL,
        channel VARCHAR,
        vendor VARCHAR,
        queue VARCHAR,
        interval_start TIMESTAMP NOT NULL,
        arrivals DOUBLE,
        aht DOUBLE,
        planned_aht DOUBLE,
        agents BIGINT,
        scheduled BIGINT,
        rostered BIGINT,
        service_level DOUBLE,
        occupancy DOUBLE""",
}


def _ensure(store: Store) -> None:
    for name, columns in TABLES.items():
        store.raw.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")


def publish(
    store: Store,
    config: Config,
    p: Plan,
    by: Sequence[str],
    name: str | None = None,
    rosters: Sequence[tuple[tuple, Roster]] = (),
) -> str:
    """Keep the plan (and the agents on duty of its rosters) in the store; its id."""
    _ensure(store)
    plan_id = uuid.uuid4().hex[:12]
    measured = demand(store, config, by)
    on_duty = {
        (key, row["interval_start"]): row["on_duty"]
        for key, r in rosters
        for row in r.coverage.to_pylist()
    }
    rows = p.intervals.to_pylist()
    starts = [r["interval_start"] for r in rows]
    with store.transaction():
        store.raw.execute(
            "INSERT INTO published_plans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                plan_id, name, datetime.now(UTC), p.interval, ",".join(by), config.timezone,
                min(starts, default=None), max(starts, default=None),
                p.settings.model_dump_json(),
            ],
        )  # fmt: skip
        for r in rows:
            key = tuple(r[b] for b in by)
            need = measured.get(key)
            store.raw.execute(
                "INSERT INTO published_intervals VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    plan_id, *(r.get(g) if g in by else None for g in GROUPS),
                    r["interval_start"], r["arrivals"], None if need is None else need.aht,
                    r["aht"], r["agents"], r["scheduled"], on_duty.get((key, r["interval_start"])),
                    r["service_level"], r["occupancy"],
                ],
            )  # fmt: skip
    return plan_id


def plans(store: Store) -> list[dict[str, Any]]:
    """Every published plan, newest first."""
    if not store.exists("published_plans"):
        return []
    rows = store.execute(
        "SELECT plan_id, name, published_at, interval_minutes, groups, timezone, "
        "first_interval, last_interval FROM published_plans ORDER BY published_at DESC"
    )
    names = ("plan_id", "name", "published_at", "interval", "by", "timezone", "first", "last")
    return [dict(zip(names, r, strict=True)) for r in rows]


@dataclass(frozen=True)
class Comparison:
    """A published plan against what happened: per interval, per day, per group."""

    plan: dict[str, Any]
    intervals: pa.Table
    days: pa.Table
    summary: pa.Table
    notes: tuple[str, ...] = ()


def compare(store: Store, config: Config, plan_id: str | None = None) -> Comparison:
    """The plan (default: the latest) against the conversations that came."""
    known = plans(store)
    if not known:
        raise ValueError("no plan has been published: supportkpi plan publish")
    chosen = next((p for p in known if p["plan_id"] == plan_id), None) if plan_id else known[0]
    if chosen is None:
        raise ValueError(f"no published plan {plan_id!r}; supportkpi plan list")
    by = chosen["by"].split(",")
    planned = _planned(store, chosen["plan_id"], by)
    newest = _newest(store, chosen["timezone"])
    step = timedelta(minutes=chosen["interval"])
    happened = [r for r in planned if newest is not None and r["interval_start"] + step <= newest]
    notes = []
    if len(happened) < len(planned):
        notes.append(
            f"{len(planned) - len(happened)} of {len(planned)} planned intervals are after the "
            f"newest conversation ({newest or 'none'}) and not compared yet"
        )
    if not happened:
        empty = pa.table({})
        return Comparison(chosen, empty, empty, empty, tuple(notes))
    first, last = happened[0]["interval_start"], max(r["interval_start"] for r in happened)
    counts = arrival_counts(store, chosen["interval"], by, chosen["timezone"], first, last + step)
    actual = {(tuple(r[b] for b in by), r["slot"]): r["arrivals"] for r in counts.to_pylist()}
    hours = _by_hour(store, config, by, first.date(), last.date(), chosen["timezone"])
    rows = [_interval(r, by, actual, hours) for r in happened]
    days = _days(rows, by)
    served = _service_by_day(store, config, by, first.date(), last.date(), chosen["timezone"])
    return Comparison(
        chosen,
        pa.Table.from_pylist(rows),
        pa.Table.from_pylist(days),
        pa.Table.from_pylist(_summary(rows, days, by, served)),
        tuple(notes),
    )


def _planned(store: Store, plan_id: str, by: list[str]) -> list[dict[str, Any]]:
    rows = store.execute(
        f"SELECT {', '.join(by)}, interval_start, arrivals, aht, planned_aht, agents, scheduled, "
        "rostered, service_level, occupancy FROM published_intervals WHERE plan_id = ? "
        f"ORDER BY {', '.join(by)}, interval_start",
        [plan_id],
    )
    names = [*by, "interval_start", "arrivals", "aht", "planned_aht", "agents", "scheduled",
             "rostered", "service_level", "occupancy"]  # fmt: skip
    return [dict(zip(names, r, strict=True)) for r in rows]


def _newest(store: Store, tz: str) -> datetime | None:
    """The newest conversation's local time: intervals ending by then have happened."""
    from zoneinfo import ZoneInfo

    rows = store.execute("SELECT max(created_at) FROM conversations")
    newest = rows[0][0] if rows else None
    if newest is None:
        return None
    return newest.astimezone(ZoneInfo(tz)).replace(tzinfo=None)


def _by_hour(
    store: Store, config: Config, by: list[str], first: date, last: date, tz: str
) -> dict[tuple, dict[str, Any]]:
    found = report(
        store, ["service_level", "average_handle_time"], [*by, "hour"], None, first, last,
        tz=tz, config=config,
    )  # fmt: skip
    return {(tuple(r[b] for b in by), r["hour"]): r for r in found.table.to_pylist()}


def _interval(
    r: dict[str, Any], by: list[str], actual: dict, hours: dict[tuple, dict[str, Any]]
) -> dict[str, Any]:
    key = tuple(r[b] for b in by)
    came = actual.get((key, r["interval_start"]), 0)
    hour = hours.get((key, r["interval_start"].replace(minute=0)), {})
    aht = hour.get("average_handle_time")
    occupancy = None
    if r["agents"] and not came:
        occupancy = 0.0  # staffed, and nobody came
    elif r["occupancy"] and r["arrivals"] and r["aht"] and aht is not None:
        occupancy = min(1.0, r["occupancy"] * came * aht / (r["arrivals"] * r["aht"]))
    elif r["agents"] == 0 and came:
        occupancy = None  # nobody planned: work came that no one was there for
    return {
        **{b: r[b] for b in by},
        "interval_start": r["interval_start"],
        "forecast": r["arrivals"],
        "actual": came,
        "error": (r["arrivals"] or 0.0) - came,  # positive: more forecast than came
        "agents": r["agents"],
        "scheduled": r["scheduled"],
        "rostered": r["rostered"],
        "planned_service_level": r["service_level"],
        "service_level_of_hour": hour.get("service_level"),
        "planned_occupancy": r["occupancy"],
        "actual_occupancy": occupancy,
    }


def _days(rows: list[dict[str, Any]], by: list[str]) -> list[dict[str, Any]]:
    totals: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0])
    for r in rows:
        key = (*(r[b] for b in by), r["interval_start"].date())
        totals[key][0] += r["forecast"] or 0.0
        totals[key][1] += r["actual"]
    out = []
    for key, (forecast, came) in totals.items():
        out.append(
            {
                **dict(zip(by, key[:-1], strict=True)),
                "day": key[-1],
                "forecast": forecast,
                "actual": came,
                "error": forecast - came,
                "error_share": (forecast - came) / came if came else None,
            }
        )
    return out


def _service_by_day(
    store: Store, config: Config, by: list[str], first: date, last: date, tz: str
) -> dict[tuple, tuple[float, int]]:
    """(service level, conversations) per group over the days, from the registry."""
    found = report(store, ["service_level", "chat_volume"], by, None, first, last, tz=tz,
                   config=config)  # fmt: skip
    return {
        tuple(r[b] for b in by): (r["service_level"], r["chat_volume"])
        for r in found.table.to_pylist()
    }


def _summary(
    rows: list[dict[str, Any]], days: list[dict[str, Any]], by: list[str], served: dict
) -> list[dict[str, Any]]:
    out = []
    for key in dict.fromkeys(tuple(r[b] for b in by) for r in rows):
        mine = [r for r in rows if tuple(r[b] for b in by) == key]
        daily = [d for d in days if tuple(d[b] for b in by) == key]
        came = sum(r["actual"] for r in mine)
        forecast = sum(r["forecast"] or 0.0 for r in mine)
        scored = [abs(d["error_share"]) for d in daily if d["error_share"] is not None]
        weights = sum(r["forecast"] or 0.0 for r in mine if r["planned_service_level"] is not None)
        planned_sl = (
            sum((r["forecast"] or 0.0) * r["planned_service_level"] for r in mine
                if r["planned_service_level"] is not None) / weights
            if weights else None
        )  # fmt: skip
        out.append(
            {
                **dict(zip(by, key, strict=True)),
                "days": len(daily),
                "forecast": forecast,
                "actual": came,
                "bias": (forecast - came) / came if came else None,
                "daily_mape": sum(scored) / len(scored) if scored else None,
                "interval_wape": sum(abs(r["error"]) for r in mine) / came if came else None,
                "planned_service_level": planned_sl,
                "service_level": served.get(key, (None, 0))[0],
            }
        )
    return out


def describe(c: Comparison) -> dict[str, Any]:
    """The comparison as JSON-ready data."""
    from supportkpi.analysis import render

    return {
        "plan": render.jsonable(c.plan),
        "summary": render.plain_records(c.summary),
        "days": render.plain_records(c.days),
        "intervals": render.plain_records(c.intervals),
        "notes": list(c.notes),
    }


__all__ = ["Comparison", "compare", "describe", "plans", "publish"]
