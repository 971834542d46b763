"""Rolling-origin backtest of the candidate models, scored per horizon day.

Up to eight forecast origins are spread evenly from the fourteenth day of the cleaned history
to its last day; from each, every model is fitted on the days before and forecasts up to 14
days, as far as the history goes (Tashman, "Out-of-sample tests of forecasting accuracy",
IJF 2000). Per model and horizon day h:

- **MAPE**: mean absolute percentage error of the day's total (days with arrivals);
- **MASE**: the day's mean absolute error per interval ÷ the in-sample mean absolute error of
  the weekly seasonal-naive forecast on the origin's training data (Hyndman & Koehler 2006);
- **bias**: (forecast − actual) ÷ actual over the day totals; positive means over-forecast.

Days with missing intervals are not scored; closed intervals are forecast as 0 like the real
forecast. The model with the lowest mean MASE over all scored days is chosen (seasonal-naive
on a tie).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from supportkpi.workforce.history import Cleaned
from supportkpi.workforce.models import BASELINE, MODELS, Model

HORIZON_DAYS = 14
MIN_TRAIN_DAYS = 14
MAX_ORIGINS = 8


@dataclass(frozen=True)
class Score:
    """One model's errors at one horizon day (None where nothing could be scored)."""

    model: str
    horizon: int
    mape: float | None
    mase: float | None
    bias: float | None
    days: int


@dataclass
class _Errors:
    ape: list[float] = field(default_factory=list)
    ase: list[float] = field(default_factory=list)
    forecast: float = 0.0
    actual: float = 0.0


@dataclass(frozen=True)
class Backtest:
    """Scores per model and horizon, the origins used, and each model's day-total ratios
    (actual ÷ forecast), which size the prediction intervals."""

    origins: tuple[date, ...]
    scores: tuple[Score, ...]
    ratios: dict[str, np.ndarray]
    mean_mase: dict[str, float]

    @property
    def best(self) -> str:
        """The model with the lowest mean MASE (the baseline on a tie)."""
        order = [BASELINE, *(m for m in self.mean_mase if m != BASELINE)]
        return min(order, key=lambda m: self.mean_mase.get(m, np.inf))


def rolling_origin(
    cleaned: Cleaned, models: dict[str, Model] | None = None, horizon_days: int = HORIZON_DAYS
) -> Backtest | None:
    """Backtest every model on the cleaned history; None when it is too short for one."""
    models = models or MODELS
    s, days = cleaned.series, cleaned.days
    if days <= MIN_TRAIN_DAYS:
        return None
    origins = np.unique(np.linspace(MIN_TRAIN_DAYS, days - 1, MAX_ORIGINS).round().astype(int))
    errors = {(m, h): _Errors() for m in models for h in range(1, horizon_days + 1)}
    ratios: dict[str, list[float]] = {m: [] for m in models}
    for origin in origins:
        _score_origin(cleaned, int(origin), models, horizon_days, errors, ratios)
    scores = tuple(_summary(m, h, e) for (m, h), e in errors.items())
    mean_mase = {
        m: float(np.mean(pooled)) if (pooled := _pooled(errors, m)) else np.inf for m in models
    }
    start = s.start.date()
    return Backtest(
        tuple(start + timedelta(days=int(o)) for o in origins),
        scores,
        {m: np.array(v) for m, v in ratios.items()},
        mean_mase,
    )


def _pooled(errors: dict[tuple[str, int], _Errors], model: str) -> list[float]:
    return [v for (m, _), e in errors.items() if m == model for v in e.ase]


def _score_origin(
    cleaned: Cleaned,
    origin: int,
    models: dict[str, Model],
    horizon_days: int,
    errors: dict[tuple[str, int], _Errors],
    ratios: dict[str, list[float]],
) -> None:
    s, per_day = cleaned.series, 24 * 60 // cleaned.series.interval
    cut = origin * per_day
    train = type(s)(s.key, s.start, s.interval, s.counts[:cut])
    missing = cleaned.missing[:cut]
    scale = _naive_scale(train.counts, missing, per_day)
    horizon = min(horizon_days, cleaned.days - origin)
    actual = s.counts[cut : cut + horizon * per_day]
    for name, model in models.items():
        predicted = model(train, missing, horizon)
        if cleaned.open is not None:
            predicted = predicted * cleaned.open[cut : cut + horizon * per_day]
        for h in range(horizon):
            day = slice(h * per_day, (h + 1) * per_day)
            if cleaned.missing[cut + h * per_day : cut + (h + 1) * per_day].any():
                continue
            e, a, f = errors[(name, h + 1)], actual[day].sum(), predicted[day].sum()
            e.forecast, e.actual = e.forecast + f, e.actual + a
            if a > 0:
                e.ape.append(abs(a - f) / a)
            if scale > 0:
                e.ase.append(float(np.mean(np.abs(actual[day] - predicted[day]))) / scale)
            if f > 0:
                ratios[name].append(a / f)


def _naive_scale(counts: np.ndarray, missing: np.ndarray, per_day: int) -> float:
    """In-sample MAE of the weekly seasonal-naive forecast, over pairs both observed."""
    week = 7 * per_day
    both = ~missing[week:] & ~missing[:-week]
    if not both.any():
        return 0.0
    return float(np.mean(np.abs(counts[week:] - counts[:-week])[both]))


def _summary(model: str, horizon: int, e: _Errors) -> Score:
    return Score(
        model,
        horizon,
        float(np.mean(e.ape)) if e.ape else None,
        float(np.mean(e.ase)) if e.ase else None,
        (e.forecast - e.actual) / e.actual if e.actual > 0 else None,
        max(len(e.ape), len(e.ase)),
    )


__all__ = ["Backtest", "Score", "rolling_origin"]
