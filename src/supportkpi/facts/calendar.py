"""Business hours and time zones as small tables and expressions the engine can use.

Business time between two instants is computed without a loop over rows: for each calendar,
the opening spans of every local day in the data's range are laid out in UTC, with the business
seconds elapsed before each span (``cum``). The business seconds up to an instant ``t`` are then
``cum`` of the last span starting at or before ``t``, plus the part of that span before ``t``;
an as-of join finds that span. The business time between ``a`` and ``b`` is the difference.

Local wall-clock ranges are converted to UTC one end at a time, so a DST change inside a range
shortens or lengthens it as the clock does; a range like 22:00-06:00 runs into the next day;
a holiday closes the whole local day.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    """Every calendar's spans with the business seconds before each (``cum``)."""
    rows: dict[str, list] = {"calendar": [], "start": [], "length": [], "cum": []}
    named = {DEFAULT_KEY: calendars.default} if calendars.default else {}
    named |= {f"vendor:{k}": v for k, v in calendars.vendors.items()}
    named |= {f"team:{k}": v for k, v in calendars.teams.items()}
    for key, hours in named.items():
        total = 0.0
        for start, end in spans(hours, first, last):
            length = (end - start).total_seconds()
            rows["calendar"].append(key)
            rows["start"].append(start)
            rows["length"].append(length)
            rows["cum"].append(total)
            total += length
    return pa.table(
        {
            "calendar": pa.array(rows["calendar"], pa.string()),
            "start": pa.array(rows["start"], pa.timestamp("us", tz="UTC")),
            "length": pa.array(rows["length"], pa.float64()),
            "cum": pa.array(rows["cum"], pa.float64()),
        }
    )


def calendar_key(table: ir.Table, calendars: Calendars) -> ir.StringValue:
    """Which calendar a row follows: its team's, else its vendor's, else the default."""
    cases = [(table.team == name, f"team:{name}") for name in calendars.teams]
    cases += [(table.vendor == name, f"vendor:{name}") for name in calendars.vendors]
    fallback = DEFAULT_KEY if calendars.default else None
    if not cases:
        return ibis.literal(fallback, type="string")
    return ibis.cases(*cases, else_=ibis.literal(fallback, type="string"))


def with_business_clock(
    table: ir.Table, columns: list[str], span_rows: ir.Table, key: str = "__calendar"
) -> ir.Table:
    """Add ``__bh_<col>``: business seconds from the calendar's origin to each timestamp;
    NULL where the timestamp is NULL or the row follows no calendar."""
    s = span_rows.rename(__cal="calendar", __start="start", __len="length", __cum="cum")
    for col in columns:
        joined = table.asof_join(s, on=table[col] >= s.__start, predicates=[table[key] == s.__cal])
        elapsed = seconds_between(joined[col], joined.__start)
        clock = joined.__cum + ibis.least(ibis.greatest(elapsed, 0.0), joined.__len)
        before_first = joined[col].notnull() & joined.__start.isnull() & joined[key].notnull()
        # A missing instant has no clock. Tested for explicitly: on large inputs the engine's
        # as-of join can match a NULL instant to the calendar's last span.
        value = ibis.cases(
            (joined[col].isnull(), ibis.null("float64")),
            (before_first, 0.0),
            else_=clock,
        )
        table = joined.mutate(**{f"__bh_{col}": value}).drop("__cal", "__start", "__len", "__cum")
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
        return ts + ibis.interval(seconds=offsets[0][1])
    cases = [
        (ts >= ibis.literal(instant), ts + ibis.interval(seconds=seconds))
        for instant, seconds in reversed(offsets[1:])
    ]
    return ibis.cases(*cases, else_=ts + ibis.interval(seconds=offsets[0][1]))
