"""Arrival profiles and forecasts of conversations per interval.

The model is the one contact-centre research settled on for arrivals (Brown et al., "Statistical
analysis of a telephone call center", JASA 2005; Weinberg, Brown & Stroud 2007): counts per
interval are Poisson with a rate that is the product of a level, a trend and a time-of-week
profile. It is fitted as a Poisson GLM (log link) with one effect per time-of-week slot, which
holds the daily and the weekly seasonality together (Mondays at 10:00 differ from Saturdays at
10:00), plus a linear trend. Given the trend, each slot's maximum-likelihood effect has a closed
form, so the fit is a one-dimensional Newton search (``poisson_fit``): the same estimates as
statsmodels' GLM (a test holds them together) in milliseconds, where the GLM's dense design of
336 slot columns took seconds per fit at 30-minute intervals. Days whose volume is far above
the fitted one (outages, campaigns) are left out of a second fit so that a spike does not
inflate next week's plan.

Library: **statsmodels** for the other candidates (:mod:`.models`) and as the reference this
fit is checked against. It is the well-kept standard for statistical models in Python (BSD,
releases every year, wheels for every platform, no compiler or network at install or run time).
Heavier forecasting stacks (Prophet, statsforecast with numba's compile step) add install weight
and start-up time without a better model for Poisson counts.

Slots that never saw a conversation in the history are forecast as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

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


def poisson_fit(
    counts: np.ndarray, slot: np.ndarray, trend: np.ndarray, slots: int
) -> tuple[np.ndarray, float]:
    """Maximum likelihood of log E[y] = effect[slot] + b × trend: (effects, b).

    Given b, each slot's effect has a closed form, log(Σ y ÷ Σ e^{b·trend}) over the slot, so
    the likelihood profiles to a concave function of b alone, maximised by Newton's method.
    Slots without arrivals get an effect of −∞ (expected 0)."""
    total = np.bincount(slot, weights=counts, minlength=slots)
    target, b = float(counts @ trend), 0.0
    for _ in range(100):
        w = np.exp(b * trend)
        s0 = np.bincount(slot, weights=w, minlength=slots)
        s1 = np.bincount(slot, weights=w * trend, minlength=slots)
        s2 = np.bincount(slot, weights=w * trend * trend, minlength=slots)
        used = s0 > 0
        m1, m2 = s1[used] / s0[used], s2[used] / s0[used]
        gradient = target - float(total[used] @ m1)
        curvature = float(total[used] @ (m2 - m1 * m1))
        if curvature <= 0:
            break
        step = float(np.clip(gradient / curvature, -5.0, 5.0))
        b += step
        if abs(step) < 1e-12:
            break
    s0 = np.bincount(slot, weights=np.exp(b * trend), minlength=slots)
    with np.errstate(divide="ignore", invalid="ignore"):
        effects = np.where(total > 0, np.log(total / np.where(s0 > 0, s0, 1.0)), -np.inf)
    return effects, b


def forecast(series: Series, horizon_days: int, missing: np.ndarray | None = None) -> np.ndarray:
    """Expected arrivals for each interval of the ``horizon_days`` after the series, fitted
    on the intervals that are not ``missing``."""
    per_day = 24 * 60 // series.interval
    n, horizon = len(series.counts), horizon_days * per_day
    week = WEEK_MINUTES // series.interval
    slots = series.slots
    keep = np.ones(n, bool) if missing is None else ~missing
    if not (series.counts[keep] > 0).any():
        return np.zeros(horizon)
    trend = np.arange(n + horizon) / max(n, 1)
    for _ in range(2):  # fit, drop the spike days, fit again
        effects, b = poisson_fit(series.counts[keep], slots[keep], trend[:n][keep], week)
        fitted = np.exp(effects[slots] + b * trend[:n])
        keep &= ~_spike_days(series.counts, fitted, per_day)
    future_slots = (slots[-1] + 1 + np.arange(horizon)) % week
    return np.exp(effects[future_slots] + b * trend[n:])


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
