"""A forecast you can check: cleaned history, a model chosen by backtest, intervals, warnings.

``predict`` cleans the history (:mod:`.history`), backtests the candidates (:mod:`.backtest`),
forecasts with the winner and sets every closed interval to 0. The **80 % prediction
interval** of an interval's arrivals takes two uncertainties: the level (the backtest's 10th
and 90th percentiles of actual ÷ forecast day totals for the chosen model) and Poisson noise
within the interval (its 10 % quantile at the low level, its 90 % quantile at the high one).
Without a backtest only the Poisson part is there, and a warning says so.

A series that cannot be forecast comes back with ``reason`` set and no numbers: nothing here
raises on a short, empty or odd history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from supportkpi.config import BusinessHours
from supportkpi.workforce.backtest import Backtest, rolling_origin
from supportkpi.workforce.forecast import Series
from supportkpi.workforce.history import Cleaned, clean
from supportkpi.workforce.hours import open_mask
from supportkpi.workforce.models import BASELINE, MODELS

DEFAULT_MODEL = "poisson_glm"
LEVEL = (0.10, 0.90)
CLOSED_SHARE = 0.05


@dataclass(frozen=True)
class Forecast:
    """One group's forecast from ``start``: expected arrivals per interval and an 80 %
    interval, the model, what cleaning did, warnings, the backtest, or why there is none."""

    key: tuple[str | None, ...]
    start: datetime
    interval: int
    expected: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    model: str | None
    account: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    backtest: Backtest | None = None
    reason: str | None = None
    spread: tuple[float, float] = (1.0, 1.0)

    def times(self) -> list[datetime]:
        """Start of each forecast interval."""
        step = timedelta(minutes=self.interval)
        return [self.start + step * i for i in range(len(self.expected))]


def predict(
    series: Series,
    horizon_days: int,
    hours: Sequence[BusinessHours] = (),
    tz: str = "UTC",
    choose: bool = True,
) -> Forecast:
    """Forecast ``horizon_days`` after the cleaned history (see the module). ``hours`` close
    intervals (open when any calendar opens); ``choose`` runs the backtest to pick the model
    (else the Poisson GLM)."""
    opened = open_mask(hours, tz, series.start, series.interval, len(series.counts))
    cleaned = clean(series, opened)
    if cleaned.reason is not None:
        return _nothing(series, cleaned.reason, cleaned.account)
    if opened is not None and not opened.any():
        return _nothing(series, "the business hours never open in the history")
    check = rolling_origin(cleaned) if choose else None
    model, warned = _choice(cleaned, check, choose)
    warned += _closed_share(cleaned)
    per_day = 24 * 60 // series.interval
    s = cleaned.series
    skip = cleaned.trailing * per_day
    start = s.start + timedelta(minutes=series.interval * (len(s.counts) + skip))
    expected = MODELS[model](s, cleaned.missing, horizon_days + cleaned.trailing)[skip:]
    future_open = open_mask(hours, tz, start, series.interval, horizon_days * per_day)
    if future_open is not None:
        expected = expected * future_open
    spread = _spread(check.ratios[model] if check else np.array([]))
    lower, upper = bounds(expected, spread)
    return Forecast(
        series.key,
        start,
        series.interval,
        expected,
        lower,
        upper,
        model,
        cleaned.account,
        warned,
        check,
        spread=spread,
    )


def _choice(cleaned: Cleaned, check: Backtest | None, choose: bool) -> tuple[str, tuple[str, ...]]:
    if not choose:
        return DEFAULT_MODEL, ()
    if check is None:
        return DEFAULT_MODEL, (
            f"not backtested: {cleaned.days} days of history, a backtest needs 15; "
            "the interval covers arrival noise only",
        )
    best = check.best
    if not np.isfinite(check.mean_mase.get(best, np.inf)):
        return DEFAULT_MODEL, (
            "the backtest could not score any day (no week-on-week variation to scale by); "
            "the Poisson model is used untested",
        )
    if best == BASELINE:
        others = {m: v for m, v in check.mean_mase.items() if m != BASELINE}
        runner = min(others, key=lambda m: others[m]) if others else None
        detail = (
            f" (MASE {check.mean_mase[BASELINE]:.3f}; best other: {runner} "
            f"{check.mean_mase[runner]:.3f})"
            if runner
            else ""
        )
        return best, (f"no model beats seasonal-naive on the backtest{detail}",)
    return best, ()


def _closed_share(cleaned: Cleaned) -> tuple[str, ...]:
    """A warning when much of the history arrived while the calendar says closed: the plan
    staffs none of that work, so the business hours may not be the hours actually served."""
    if cleaned.open is None or not cleaned.series.counts.sum():
        return ()
    share = cleaned.series.counts[~cleaned.open].sum() / cleaned.series.counts.sum()
    if share <= CLOSED_SHARE:
        return ()
    return (
        f"{share:.0%} of the arrivals came in closed hours and are not planned for; "
        "if they are answered then, widen the business hours",
    )


def _spread(ratios: np.ndarray) -> tuple[float, float]:
    """10th and 90th percentiles of actual ÷ forecast (1, 1 with under five of them)."""
    if len(ratios) < 5:
        return 1.0, 1.0
    low, high = np.quantile(ratios, LEVEL)
    return min(float(low), 1.0), max(float(high), 1.0)


def bounds(expected: np.ndarray, spread: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """80 % bounds of Poisson counts whose mean is ``expected`` give or take the spread."""
    from scipy.stats import poisson

    lower = np.nan_to_num(poisson.ppf(LEVEL[0], expected * spread[0]))
    upper = np.nan_to_num(poisson.ppf(LEVEL[1], expected * spread[1]))
    return np.clip(lower, 0, None), np.clip(upper, 0, None)


def _nothing(series: Series, reason: str, account: tuple[str, ...] = ()) -> Forecast:
    empty = np.zeros(0)
    return Forecast(
        series.key,
        series.start,
        series.interval,
        empty,
        empty,
        empty,
        None,
        account,
        (),
        reason=reason,
    )


def forecast_table(forecasts: Sequence[Forecast], keys: Sequence[str]) -> pa.Table:
    """Rows of (keys…, interval start, expected arrivals, 80 % interval, model)."""
    columns: dict[str, list] = {k: [] for k in keys} | {
        "interval_start": [],
        "arrivals": [],
        "low": [],
        "high": [],
        "model": [],
    }
    for f in forecasts:
        if f.reason is not None:
            continue
        n = len(f.expected)
        for k, v in zip(keys, f.key, strict=True):
            columns[k] += [v] * n
        columns["interval_start"] += f.times()
        columns["arrivals"] += f.expected.tolist()
        columns["low"] += f.lower.tolist()
        columns["high"] += f.upper.tolist()
        columns["model"] += [f.model] * n
    return pa.table(columns)


def daily_table(forecasts: Sequence[Forecast], keys: Sequence[str]) -> pa.Table:
    """Rows of (keys…, model, day, expected conversations, busiest interval, 80 % bounds of
    the day's total)."""
    rows = []
    for f in forecasts:
        if f.reason is None:
            per_day = 24 * 60 // f.interval
            days = f.expected.reshape(-1, per_day)
            low, high = bounds(days.sum(axis=1), f.spread)
            for i, day in enumerate(days):
                rows.append(
                    {
                        **dict(zip(keys, f.key, strict=True)),
                        "model": f.model,
                        "day": (f.start + timedelta(days=i)).date(),
                        "conversations": float(day.sum()),
                        "busiest interval": float(day.max()),
                        "low": float(low[i]),
                        "high": float(high[i]),
                    }
                )
    return pa.Table.from_pylist(rows)


def backtest_table(forecasts: Sequence[Forecast], keys: Sequence[str]) -> pa.Table:
    """Rows of (keys…, model, horizon day, days scored, MAPE, MASE, bias, chosen)."""
    rows = [
        {
            **dict(zip(keys, f.key, strict=True)),
            "model": score.model,
            "horizon": score.horizon,
            "days": score.days,
            "mape": score.mape,
            "mase": score.mase,
            "bias": score.bias,
            "chosen": score.model == f.model,
        }
        for f in forecasts
        if f.backtest is not None
        for score in f.backtest.scores
    ]
    fields = [(k, pa.string()) for k in keys] + [
        ("model", pa.string()),
        ("horizon", pa.int64()),
        ("days", pa.int64()),
        ("mape", pa.float64()),
        ("mase", pa.float64()),
        ("bias", pa.float64()),
        ("chosen", pa.bool_()),
    ]
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


def notes(forecasts: Sequence[Forecast]) -> list[str]:
    """One line per cleaning step, warning and reason, naming the group."""
    lines = []
    for f in forecasts:
        name = "/".join("—" if v is None else str(v) for v in f.key)
        lines += [f"{name}: {line}" for line in f.account]
        lines += [f"{name}: warning: {line}" for line in f.warnings]
        if f.reason is not None:
            lines.append(f"{name}: cannot forecast: {f.reason}")
    return lines
