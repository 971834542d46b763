"""Cleaning an arrivals history before it is forecast, with an account of every change.

Raw histories are rarely fit to forecast as they stand. What is done, in this order:

1. **Stray records**: the days are split wherever seven or more days in a row saw nothing. The
   latest stretch holding at least 10 % of the arrivals and a week of days is kept; records
   outside it (a test conversation a year before the rest, one dated after) are dropped.
2. **Sparse ends**: leading and trailing days with under a quarter of their weekday's median
   volume (a pilot, an export cut mid-day) are trimmed.
3. **Gaps**: a day inside the history with no arrivals although it is open (by the calendar,
   or, without one, because that weekday usually has arrivals) is *missing*, not a zero:
   models skip or fill it instead of learning a quiet day from an outage of the data feed.
   So is a run of an hour or more without arrivals at times that usually get five or more per
   interval (a partial outage).
4. **Closed hours**: with a business-hours calendar, arrivals in closed intervals are counted
   (and reported); forecasts are zero there.

A history that cannot be forecast (nothing left, under a week of days) gets a reason instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

import numpy as np

from supportkpi.workforce.forecast import WEEK_MINUTES, Series

MIN_DAYS = 7
OUTAGE_EXPECTED = 5.0
OUTAGE_MINUTES = 60
SPLIT_EMPTY_DAYS = 7
SEGMENT_SHARE = 0.10
SPARSE_SHARE = 0.25


@dataclass(frozen=True)
class Cleaned:
    """A history ready to forecast: the series, its missing intervals, its open intervals
    (None: no calendar), what was done, why it cannot be forecast (None if it can), and the
    days between its end and the data's (the forecast starts where the data ended, unless
    stray records after the history were dropped)."""

    series: Series
    missing: np.ndarray
    open: np.ndarray | None
    account: tuple[str, ...]
    reason: str | None = None
    trailing: int = 0

    @property
    def days(self) -> int:
        """Whole days of history."""
        return len(self.series.counts) // (24 * 60 // self.series.interval)


def clean(series: Series, open_intervals: np.ndarray | None = None) -> Cleaned:
    """The cleaned history (see the module's steps); ``open_intervals`` covers the series."""
    per_day = 24 * 60 // series.interval
    days = len(series.counts) // per_day
    counts = series.counts[: days * per_day]
    notes: list[str] = []
    if days == 0 or counts.sum() == 0:
        return _unusable(series, "no arrivals in the history")
    daily = counts.reshape(days, per_day).sum(axis=1)
    first, end = _kept_stretch(daily, series, notes)
    first, last = _trim_sparse(daily, series, first, end, notes)
    window = slice(first * per_day, last * per_day)
    kept = replace(
        series, start=series.start + timedelta(days=first), counts=counts[window].astype(float)
    )
    opened = None if open_intervals is None else open_intervals[: days * per_day][window]
    if last - first < MIN_DAYS:
        return _unusable(
            kept,
            f"only {last - first} day(s) of usable history (a forecast needs {MIN_DAYS})",
            notes,
        )
    missing = _gaps(kept, opened, notes)
    missing |= _outages(kept, missing, notes)
    _closed_arrivals(kept, opened, notes)
    after = days - last if daily[end:].sum() == 0 else end - last  # up to the data's end
    return Cleaned(kept, missing, opened, tuple(notes), trailing=after)


def _unusable(series: Series, reason: str, notes: Sequence[str] = ()) -> Cleaned:
    return Cleaned(series, np.zeros(len(series.counts), bool), None, tuple(notes), reason)


def _kept_stretch(daily: np.ndarray, series: Series, notes: list[str]) -> tuple[int, int]:
    """[first, last) days of the latest substantial stretch between long empty runs."""
    stretches, begin, empty = [], None, 0
    for day, volume in enumerate(daily):
        if volume > 0:
            if begin is None or empty >= SPLIT_EMPTY_DAYS:
                if begin is not None:
                    stretches.append((begin, day - empty))
                begin = day
            empty = 0
        else:
            empty += 1
    stretches.append((begin, len(daily) - empty))
    total = daily.sum()
    good = [
        (a, b)
        for a, b in stretches
        if daily[a:b].sum() >= SEGMENT_SHARE * total and b - a >= MIN_DAYS
    ]
    first, last = (
        good[-1] if good else max(stretches, key=lambda s: (daily[s[0] : s[1]].sum(), s[0]))
    )
    dropped = total - daily[first:last].sum()
    if dropped:
        notes.append(
            f"dropped {dropped:g} stray arrival(s) outside {_day(series, first)}–"
            f"{_day(series, last - 1)}, separated from it by {SPLIT_EMPTY_DAYS}+ empty days"
        )
    return first, last


def _trim_sparse(
    daily: np.ndarray, series: Series, first: int, last: int, notes: list[str]
) -> tuple[int, int]:
    """Move the ends inwards past days far below their weekday's median volume."""
    weekday = (series.start.weekday() + np.arange(len(daily))) % 7
    usual = np.zeros(7)
    for w in range(7):
        values = daily[first:last][weekday[first:last] == w]
        usual[w] = np.median(values) if len(values) else 0.0

    def sparse(day: int) -> bool:
        return daily[day] < SPARSE_SHARE * usual[weekday[day]]

    start, end = first, last
    while start < end and sparse(start):
        start += 1
    while end > start and sparse(end - 1):
        end -= 1
    if start > first:
        notes.append(f"trimmed {start - first} sparse leading day(s) before {_day(series, start)}")
    if end < last:
        notes.append(f"trimmed {last - end} sparse trailing day(s) after {_day(series, end - 1)}")
    return start, end


def _gaps(series: Series, opened: np.ndarray | None, notes: list[str]) -> np.ndarray:
    """Intervals of open days that saw nothing although such days usually do."""
    per_day = 24 * 60 // series.interval
    days = len(series.counts) // per_day
    daily = series.counts.reshape(days, per_day).sum(axis=1)
    weekday = (series.start.weekday() + np.arange(days)) % 7
    if opened is not None:
        expected_open = opened.reshape(days, per_day).any(axis=1)
    else:
        busy = np.array([np.median(daily[weekday == w]) > 0 for w in range(7)])
        expected_open = busy[weekday]
    gap = (daily == 0) & expected_open
    if gap.any():
        listed = ", ".join(str(_day(series, d)) for d in np.flatnonzero(gap)[:5])
        more = "…" if gap.sum() > 5 else ""
        notes.append(
            f"{int(gap.sum())} open day(s) with no arrivals treated as missing: {listed}{more}"
        )
    return np.repeat(gap, per_day)


def _outages(series: Series, missing: np.ndarray, notes: list[str]) -> np.ndarray:
    """Runs of an hour or more with no arrivals where the same time-of-week slot usually has
    at least five (Poisson: under a 0.7 % chance of a zero per interval)."""
    slots, counts = series.slots, series.counts
    usual = np.zeros(WEEK_MINUTES // series.interval)
    for slot in np.unique(slots):
        seen = (slots == slot) & ~missing
        usual[slot] = np.median(counts[seen]) if seen.any() else 0.0
    silent = (counts == 0) & (usual[slots] >= OUTAGE_EXPECTED) & ~missing
    shortest = max(1, OUTAGE_MINUTES // series.interval)
    out, runs, i = np.zeros(len(counts), bool), [], 0
    while i < len(counts):
        j = i
        while j < len(counts) and silent[j]:
            j += 1
        if j - i >= shortest:
            out[i:j] = True
            runs.append((i, j))
        i = max(j, i + 1)
    if runs:
        times = series.times()
        step = timedelta(minutes=series.interval)
        listed = ", ".join(
            f"{times[a]:%Y-%m-%d %H:%M}–{times[b - 1] + step:%H:%M}" for a, b in runs[:5]
        )
        notes.append(
            f"{len(runs)} silent stretch(es) where arrivals usually come treated as missing "
            f"(an outage of the data, not a quiet hour): {listed}{'…' if len(runs) > 5 else ''}"
        )
    return out


def _closed_arrivals(series: Series, opened: np.ndarray | None, notes: list[str]) -> None:
    if opened is None:
        return
    outside = float(series.counts[~opened].sum())
    if outside:
        share = outside / max(series.counts.sum(), 1)
        notes.append(
            f"{outside:g} arrival(s) ({share:.1%}) came in closed hours; the forecast and the "
            "plan are 0 when closed (check the business hours if that share is large)"
        )


def _day(series: Series, index: int) -> object:
    return (series.start + timedelta(days=int(index))).date()


def filled(series: Series, missing: np.ndarray) -> np.ndarray:
    """The counts with missing intervals replaced by the median of the same time-of-week
    slot over the weeks that were seen (0 if never seen)."""
    counts = series.counts.astype(float).copy()
    if not missing.any():
        return counts
    slots = series.slots
    for slot in np.unique(slots[missing]):
        seen = (slots == slot) & ~missing
        counts[(slots == slot) & missing] = np.median(counts[seen]) if seen.any() else 0.0
    return counts
