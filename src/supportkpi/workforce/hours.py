"""Which intervals of a local-time series fall in business hours.

A series is counted in the report's time zone; a calendar may be in another. Each interval's
start and end are placed in UTC and the interval is open when it overlaps an opening span of
the calendar (``facts.calendar.spans``: ranges across midnight, holidays and DST included).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from supportkpi.config import BusinessHours, Calendars
from supportkpi.facts import calendar


def calendars_for(calendars: Calendars, vendor: str | None = None) -> list[BusinessHours]:
    """The business hours a group keeps: a vendor's own (else the default); for a group
    spanning vendors, the default together with every vendor's and team's (open when any is).
    Empty when the group has no calendar (it may be open at any time)."""
    if vendor is not None:
        own = calendars.vendors.get(vendor, calendars.default)
        return [own] if own is not None else []
    if calendars.default is None:
        return []
    return [calendars.default, *calendars.vendors.values(), *calendars.teams.values()]


def open_mask(
    calendars: Sequence[BusinessHours], tz: str, start: datetime, interval: int, length: int
) -> np.ndarray | None:
    """True for each of ``length`` intervals from ``start`` (local, ``tz``) that any of the
    calendars opens; None without a calendar (every interval may be open)."""
    if not calendars or length <= 0:
        return None
    masks = [_open(hours, tz, start, interval, length) for hours in calendars]
    return np.logical_or.reduce(masks)


def _open(hours: BusinessHours, tz: str, start: datetime, interval: int, length: int) -> np.ndarray:
    zone, step = ZoneInfo(tz), timedelta(minutes=interval)
    first = start.date() - timedelta(days=2)
    last = (start + step * length).date() + timedelta(days=2)
    opening = calendar.spans(hours, first, last)
    starts = [s for s, _ in opening]
    mask = np.zeros(length, dtype=bool)
    for i in range(length):
        lo = (start + step * i).replace(tzinfo=zone).astimezone(UTC)
        hi = lo + step
        j = bisect.bisect_right(starts, hi - timedelta(microseconds=1)) - 1
        mask[i] = j >= 0 and opening[j][1] > lo and opening[j][0] < hi
    return mask
