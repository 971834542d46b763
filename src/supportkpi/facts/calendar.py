"""Business hours and time zones as small tables and expressions the engine can use.

Business time between two instants is computed without a loop over rows: for each calendar,
the opening spans of every local day in the data's range are laid out in UTC, with the business
seconds elapsed before each span (``cum``). The business seconds up to an instant ``t`` are then
``cum`` of the last span starting at or before ``t``, plus the part of that span before ``t``;
a running maximum over the instants and span starts in time order finds that span (no as-of
join, which only some engines have). The business time between ``a`` and ``b`` is the
difference.

Local wall-clock ranges are converted to UTC one end at a time, so a DST change inside a range
shortens or lengthens it as the clock does; a range like 22:00-06:00 runs into the next day;
a holiday closes the whole local day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from supportkpi.config import BusinessHours, Calendars
from supportkpi.facts.derive import seconds_between

DEFAULT_KEY = "default"


def spans(hours: BusinessHours, first: date, last: date) -> list[tuple[datetime, datetime]]:
    """Opening spans (UTC start, UTC end) of the local days ``first``…``last``, merged."""
    zone = ZoneInfo(hours.timezone)
    holidays = set(hours.holidays)
    out: list[tuple[datetime, datetime]] = []
    day = first
    while day <= last:
        if day not in holidays:
            for start, length in hours.day(day.weekday()):
                local = datetime.combine(day, start)
                out.append(
                    (
                        local.replace(tzinfo=zone).astimezone(UTC),
                        (local + length).replace(tzinfo=zone).astimezone(UTC),
                    )
                )
        day += timedelta(days=1)
    return list(_merged(sorted(out)))


def _merged(ordered: list[tuple[datetime, datetime]]) -> Iterator[tuple[datetime, datetime]]:
    current: tuple[datetime, datetime] | None = None
    for start, end in ordered:
        if end <= start:
            continue
        if current and start <= current[1]:
            current = (current[0], max(current[1], end))
            continue
        if current:
            yield current
        current = (start, end)
    if current:
        yield current


def span_table(calendars: Calendars, first: date, last: date) -> pa.Table:
    """Every calendar's opening spans, one row per calendar and UTC day (``day``) of the range
    and a day on either side: slot 0 is the last span begun before the day, slots 1… those
    begun in it; each slot has its UTC ``start``, ``length`` and the business seconds before
    it (``cum``). A missing slot has no start."""
    named = _named(calendars)
    laid = {key: _cumulative(spans(hours, first, last)) for key, hours in named.items()}
    days = [first - timedelta(days=1) + timedelta(days=i) for i in range((last - first).days + 3)]
    rows: list[tuple[str, date, list[tuple[datetime, float, float]]]] = []
    for key, opening in laid.items():
        for day in days:
            begins = datetime.combine(day, datetime.min.time(), UTC)
            ends = begins + timedelta(days=1)
            before = [s for s in opening if s[0] < begins][-1:]
            rows.append((key, day, before + [s for s in opening if begins <= s[0] < ends]))
    width = max((len(r[2]) for r in rows), default=1) or 1
    columns: dict[str, pa.Array] = {
        "calendar": pa.array([r[0] for r in rows], pa.string()),
        "day": pa.array([r[1] for r in rows], pa.date32()),
    }
    for i in range(width):
        slot = [r[2][i] if i < len(r[2]) else None for r in rows]
        kinds = (("start", pa.timestamp("us", tz="UTC")), ("length", pa.float64()))
        for j, (name, kind) in enumerate((*kinds, ("cum", pa.float64()))):
            columns[f"s{i}_{name}"] = pa.array([x[j] if x else None for x in slot], kind)
    return pa.table(columns)


def _named(calendars: Calendars) -> dict[str, BusinessHours]:
    named = {DEFAULT_KEY: calendars.default} if calendars.default else {}
    named |= {f"vendor:{k}": v for k, v in calendars.vendors.items()}
    named |= {f"team:{k}": v for k, v in calendars.teams.items()}
    return named


def _cumulative(opening: list[tuple[datetime, datetime]]) -> list[tuple[datetime, float, float]]:
    """(start, length, business seconds before it) of each span."""
    out, total = [], 0.0
    for start, end in opening:
        length = (end - start).total_seconds()
        out.append((start, length, total))
        total += length
    return out


def calendar_key(table: ir.Table, calendars: Calendars) -> ir.StringValue:
    """Which calendar a row follows: its team's, else its vendor's, else the default."""
    cases = [(table.team == name, f"team:{name}") for name in calendars.teams]
    cases += [(table.vendor == name, f"vendor:{name}") for name in calendars.vendors]
    fallback = DEFAULT_KEY if calendars.default else None
    if not cases:
        return ibis.literal(fallback, type="string")
    return ibis.cases(*cases, else_=ibis.literal(fallback, type="string"))


@dataclass(frozen=True)
class Spans:
    """:func:`span_table` as a table of the engine, with the UTC days it covers."""

    rows: ir.Table
    first: date
    last: date


def business_spans(calendars: Calendars, first: date, last: date) -> Spans:
    """The spans of the local days ``first``…``last`` (see :func:`span_table`)."""
    table = ibis.memtable(span_table(calendars, first, last))
    return Spans(table, first - timedelta(days=1), last + timedelta(days=1))


def with_business_clock(
    table: ir.Table, columns: list[str], spans: Spans, key: str = "__calendar"
) -> ir.Table:
    """Add ``__bh_<col>``: business seconds from the calendar's origin to each timestamp;
    NULL where the timestamp is NULL or the row follows no calendar.

    Portable: an equality join on (calendar, UTC day) of :func:`span_table`, no as-of join
    (which only some engines have). Of the day's slots begun at or before the instant, the
    last gives the clock; every earlier one gives less, so the clock is the greatest."""
    span_rows = spans.rows
    slots = sorted({int(c[1 : c.index("_")]) for c in span_rows.columns if c[0] == "s"})
    # an instant outside the range reads the range's first or last day: nothing begun
    # yet, or every span over
    lo, hi = ibis.literal(spans.first), ibis.literal(spans.last)
    for col in columns:
        s = span_rows.rename(**{f"__{col}_{c}": c for c in span_rows.columns})
        table = table.mutate(__day=ibis.greatest(ibis.least(table[col].date(), hi), lo))
        joined = table.left_join(
            s, [table[key] == s[f"__{col}_calendar"], table.__day == s[f"__{col}_day"]]
        )
        at = joined[col]
        candidates = [ibis.literal(0.0)]
        for i in slots:
            start, length = joined[f"__{col}_s{i}_start"], joined[f"__{col}_s{i}_length"]
            inside = ibis.least(seconds_between(at, start), length)
            candidates.append(
                ibis.ifelse(start <= at, joined[f"__{col}_s{i}_cum"] + inside, 0.0).fill_null(0.0)
            )
        value = ibis.ifelse(
            at.isnull() | joined[f"__{col}_day"].isnull(),
            ibis.null("float64"),
            ibis.greatest(*candidates),
        )
        table = joined.mutate(**{f"__bh_{col}": value}).drop("__day", *s.columns)
    return table


def utc_offsets(zone_name: str, first: date, last: date) -> list[tuple[datetime, int]]:
    """(UTC instant, offset seconds from then on) at ``first`` and at each change up to ``last``."""
    zone = ZoneInfo(zone_name)
    start = datetime.combine(first, datetime.min.time(), UTC) - timedelta(days=2)
    end = datetime.combine(last, datetime.min.time(), UTC) + timedelta(days=2)
    offset = _offset(zone, start)
    out = [(start, offset)]
    t = start
    while t < end:  # zones change offset at most once a day: step by day, then bisect
        t += timedelta(days=1)
        now = _offset(zone, t)
        if now != offset:
            out.append((_change_instant(zone, t - timedelta(days=1), t), now))
            offset = now
    return out


def _offset(zone: ZoneInfo, instant: datetime) -> int:
    delta = instant.astimezone(zone).utcoffset()
    return int(delta.total_seconds()) if delta else 0


def _change_instant(zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """The first instant (to the second) in (lo, hi] with hi's offset."""
    target = _offset(zone, hi)
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if _offset(zone, mid) == target:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def local_time(ts: ir.TimestampValue, offsets: list[tuple[datetime, int]]) -> ir.TimestampValue:
    """The wall-clock time of a UTC timestamp in the zone the offsets describe."""
    if len(offsets) == 1:
        # in UTC the wall clock is the instant itself: no shift for the engine to compute
        return ts if offsets[0][1] == 0 else ts + ibis.interval(seconds=offsets[0][1])
    cases = [
        (ts >= ibis.literal(instant), ts + ibis.interval(seconds=seconds))
        for instant, seconds in reversed(offsets[1:])
    ]
    return ibis.cases(*cases, else_=ts + ibis.interval(seconds=offsets[0][1]))
