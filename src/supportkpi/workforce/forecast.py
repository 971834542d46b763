"""Arrival profiles and forecasts of conversations per interval.

The model is the one contact-centre research settled on for arrivals (Brown et al., "Statistical
analysis of a telephone call center", JASA 2005; Weinberg, Brown & Stroud 2007): counts per
interval are Poisson with a rate that is the product of a level, a trend and a time-of-week
profile. It is fitted as a Poisson GLM (log link) with one effect per time-of-week slot, which
holds the daily and the weekly seasonality together (Mondays at 10:00 differ from Saturdays at
10:00), plus a linear trend. Days whose volume is far above the fitted one (outages, campaigns)
are left out of a second fit so that a spike does not inflate next week's plan.

Library: **statsmodels** (GLM with the Poisson family). It is the well-kept standard for
statistical models in Python (BSD, releases every year, wheels for every platform, no compiler or
network at install or run time), its GLM is exact maximum likelihood rather than a heuristic,
and it needs nothing heavier than NumPy and SciPy. Heavier forecasting stacks (Prophet,
statsforecast with numba) add install weight without a better model for Poisson counts.

Slots that never saw a conversation in the history are forecast as 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa

INTERVALS = (15, 30, 60)
WEEK_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Series:
    """Arrivals per interval for one group (e.g. one channel), from ``start`` (local time)."""

    key: tuple[str | None, ...]
    start: datetime
    interval: int
    counts: np.ndarray

    @property
    def slots(self) -> np.ndarray:
        """Time-of-week slot of each interval (0 = Monday 00:00)."""
        first = (
            self.start.weekday() * 24 * 60 + self.start.hour * 60 + self.start.minute
        ) // self.interval
        return (first + np.arange(len(self.counts))) % (WEEK_MINUTES // self.interval)

    def times(self, offset: int = 0, length: int | None = None) -> list[datetime]:
        """Start of each interval, ``offset`` intervals from the series start."""
        n = len(self.counts) if length is None else length
        step = timedelta(minutes=self.interval)
        return [self.start + step * (offset + i) for i in range(n)]


def series_from_counts(
    table: pa.Table,
    interval: int,
    keys: Sequence[str],
    first: datetime | None = None,
    last: datetime | None = None,
) -> list[Series]:
    """Complete series (zero where nothing arrived) from rows of (keys…, slot, arrivals)."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(map(str, INTERVALS))} minutes")
    step = timedelta(minutes=interval)
    rows = table.to_pylist()
    if not rows:
        return []
    begin = first or _floor_day(min(r["slot"] for r in rows))
    end = last or _floor_day(max(r["slot"] for r in rows)) + timedelta(days=1)
    length = int((end - begin) / step)
    out: dict[tuple, np.ndarray] = {}
    for r in rows:  # one row per (group, interval) with arrivals: the profile, not raw data
        key = tuple(r[k] for k in keys)
        counts = out.setdefault(key, np.zeros(length))
        index = int((r["slot"] - begin) / step)
        if 0 <= index < length:
            counts[index] += r["arrivals"]
    return [Series(k, begin, interval, v) for k, v in sorted(out.items(), key=_order)]


def _order(item: tuple[tuple, np.ndarray]) -> tuple:
    return tuple("" if v is None else str(v) for v in item[0])


def _floor_day(t: datetime) -> datetime:
    return datetime.combine(t.date(), datetime.min.time())


def _design(series: Series, slots: np.ndarray, trend: np.ndarray, seen: np.ndarray) -> np.ndarray:
    index = np.searchsorted(seen, slots)
    x = np.zeros((len(slots), len(seen) + 1))
    x[np.arange(len(slots)), index] = 1.0
    x[:, -1] = trend
    return x


def forecast(series: Series, horizon_days: int) -> np.ndarray:
    """Expected arrivals for each interval of the ``horizon_days`` after the series."""
    import statsmodels.api as sm

    per_day = 24 * 60 // series.interval
    n, horizon = len(series.counts), horizon_days * per_day
    slots = series.slots
    seen = np.unique(slots[series.counts > 0])
    if not len(seen):
        return np.zeros(horizon)
    scale = max(n, 1)
    keep = np.isin(slots, seen)
    future_slots = (slots[-1] + 1 + np.arange(horizon)) % (WEEK_MINUTES // series.interval)
    future_trend = (n + np.arange(horizon)) / scale
    for _ in range(2):  # fit, drop the spike days, fit again
        x = _design(series, slots[keep], np.arange(n)[keep] / scale, seen)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = sm.GLM(series.counts[keep], x, family=sm.families.Poisson()).fit()
        fitted = np.zeros(n)
        inside = np.isin(slots, seen)
        fitted[inside] = model.predict(
            _design(series, slots[inside], np.arange(n)[inside] / scale, seen)
        )
        keep &= ~_spike_days(series.counts, fitted, per_day)
    unseen = ~np.isin(future_slots, seen)
    future_slots[unseen] = seen[0]
    expected = model.predict(_design(series, future_slots, future_trend, seen))
    expected[unseen] = 0.0
    return expected


def _spike_days(counts: np.ndarray, fitted: np.ndarray, per_day: int) -> np.ndarray:
    """Intervals on days with at least 1.6 × the fitted volume (and 5 sd above it)."""
    days = len(counts) // per_day
    actual = counts[: days * per_day].reshape(days, per_day).sum(axis=1)
    expected = fitted[: days * per_day].reshape(days, per_day).sum(axis=1)
    spike = (actual > 1.6 * expected) & (actual > expected + 5 * np.sqrt(expected + 1))
    mask = np.repeat(spike, per_day)
    return np.concatenate([mask, np.zeros(len(counts) - len(mask), bool)])


@dataclass(frozen=True)
class Backtest:
    """Errors of the model and of the seasonal-naive baseline on a held-out tail."""

    key: tuple[str | None, ...]
    holdout_days: int
    mape: float
    mase: float
    naive_mape: float
    naive_mase: float


def backtest(series: Series, holdout_days: int = 14) -> Backtest:
    """Fit on all but the last ``holdout_days`` days and score the forecast of those days.

    MAPE is over the daily totals (intervals are often zero); MASE divides the interval-level
    mean absolute error by that of the in-sample seasonal-naive forecast (same slot a week
    earlier). The baseline repeats the last week of the training data.
    """
    per_day = 24 * 60 // series.interval
    per_week = 7 * per_day
    cut = len(series.counts) - holdout_days * per_day
    if cut < 2 * per_week:
        raise ValueError("a backtest needs at least two weeks of history before the holdout")
    train = Series(series.key, series.start, series.interval, series.counts[:cut])
    actual = series.counts[cut:]
    model = forecast(train, holdout_days)
    naive = np.resize(train.counts[-per_week:], len(actual))
    scale = np.mean(np.abs(train.counts[per_week:] - train.counts[:-per_week]))
    return Backtest(
        series.key,
        holdout_days,
        _mape(actual, model, per_day),
        float(np.mean(np.abs(actual - model)) / scale),
        _mape(actual, naive, per_day),
        float(np.mean(np.abs(actual - naive)) / scale),
    )


def _mape(actual: np.ndarray, predicted: np.ndarray, per_day: int) -> float:
    days = len(actual) // per_day
    a = actual[: days * per_day].reshape(days, per_day).sum(axis=1)
    p = predicted[: days * per_day].reshape(days, per_day).sum(axis=1)
    inside = a > 0
    return float(np.mean(np.abs(a[inside] - p[inside]) / a[inside]))


def forecast_table(series: list[Series], horizon_days: int, keys: Sequence[str]) -> pa.Table:
    """Every group's forecast as rows of (keys…, interval start, expected arrivals)."""
    columns: dict[str, list] = {k: [] for k in keys} | {"interval_start": [], "arrivals": []}
    for s in series:
        expected = forecast(s, horizon_days)
        columns["interval_start"] += s.times(len(s.counts), len(expected))
        columns["arrivals"] += [float(v) for v in expected]
        for k, v in zip(keys, s.key, strict=True):
            columns[k] += [v] * len(expected)
    return pa.table(columns)


def horizon_start(series: list[Series]) -> date | None:
    """The first day the forecast covers."""
    if not series:
        return None
    s = series[0]
    return (s.start + timedelta(minutes=s.interval * len(s.counts))).date()
