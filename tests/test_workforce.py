"""Forecasts and staffing plans: the model beats seasonal-naive, plans meet their targets."""

from __future__ import annotations

import json
from datetime import datetime

import numpy as np
import pytest
from typer.testing import CliRunner

from supportkpi.cli import app
from supportkpi.config import load_config
from supportkpi.workforce.erlang import with_shrinkage
from supportkpi.workforce.forecast import Series, backtest, forecast
from supportkpi.workforce.staffing import arrival_series, daily_summary, demand, peaks, plan

runner = CliRunner()
MONDAY = datetime(2024, 1, 1)


def _profile(per_day: int = 48) -> np.ndarray:
    """A week of rates: busy weekdays from 08:00 to 20:00, quiet weekends, closed nights."""
    hours = np.arange(per_day) / (per_day / 24)
    day = np.where((hours >= 8) & (hours < 20), 10 + 6 * np.sin((hours - 8) / 12 * np.pi), 0)
    return np.concatenate([day * f for f in (1.2, 1.1, 1, 1, 0.9, 0.5, 0.4)])


def test_demo_forecast_beats_seasonal_naive(demo_store):
    store, _, _ = demo_store
    for series in arrival_series(store, 30, ["channel"]):
        score = backtest(series, holdout_days=14)
        assert score.mase < score.naive_mase, score
        assert score.mape < score.naive_mape, score


def test_forecast_recovers_a_known_profile():
    rates = np.tile(_profile(), 10)
    counts = np.random.default_rng(1).poisson(rates)
    expected = forecast(Series(("chat",), MONDAY, 30, counts), 7)
    truth = _profile()
    assert expected[truth == 0].max() == 0  # closed slots stay closed
    daily = expected.reshape(7, 48).sum(axis=1)
    assert np.abs(daily / truth.reshape(7, 48).sum(axis=1) - 1).max() < 0.06


def test_a_spike_day_does_not_inflate_the_forecast():
    rates = np.tile(_profile(), 10)
    counts = np.random.default_rng(2).poisson(rates).astype(float)
    calm = forecast(Series(("chat",), MONDAY, 30, counts.copy()), 7)
    counts[7 * 48 * 8 : 7 * 48 * 8 + 48] *= 4  # an outage on the last Monday but one
    spiky = forecast(Series(("chat",), MONDAY, 30, counts), 7)
    assert abs(spiky[:48].sum() / calm[:48].sum() - 1) < 0.03


def test_plan_meets_its_targets_and_prices_the_hours(demo_store):
    store, _, config_file = demo_store
    config = load_config(config_file)
    result = plan(store, config, days=2, interval=30, by=["channel", "vendor"])
    rows = result.intervals.to_pylist()
    assert len(rows) == 2 * 48 * 6  # two days of half hours for 2 channels × 3 vendors
    rates = {"in-house": 32.0, "northwind": 14.0, "atlas": 18.0}
    for r in rows:
        assert r["scheduled"] == with_shrinkage(r["agents"], 0.3)
        assert r["cost"] == pytest.approx(r["scheduled"] * 0.5 * rates[r["vendor"]])
        if r["arrivals"] > 0:
            assert r["service_level"] >= 0.8 and r["occupancy"] <= 0.85
    summary = daily_summary(result, ["channel", "vendor"]).to_pylist()
    assert len(summary) == 12 and all(s["cost"] > 0 for s in summary)
    top = peaks(result, ["channel", "vendor"], 1).to_pylist()
    assert len(top) == 6


def test_demand_comes_from_the_registry(demo_store):
    store, _, config_file = demo_store
    needs = demand(store, load_config(config_file), ["channel"])
    assert 200 < needs[("chat",)].aht < 600
    assert needs[("chat",)].patience is not None  # chats are abandoned
    assert needs[("email",)].patience is None  # emails are not: Erlang C


def test_commands(tmp_path):
    db, files = str(tmp_path / "small.duckdb"), tmp_path / "files"
    made = runner.invoke(
        app, ["demo", "--db", db, "--out", str(files), "--days", "35", "--volume", "80"]
    )
    assert made.exit_code == 0, made.output
    config_file = files / "supportkpi.toml"
    result = runner.invoke(
        app,
        [
            "erlang",
            "--arrivals",
            "100",
            "--aht",
            "180",
            "--answer-within",
            "20",
            "--max-occupancy",
            "0.85",
        ],
    )
    assert "Fewest meeting the targets: 14 agents" in result.output
    backtested = runner.invoke(app, ["forecast", "--db", db, "--backtest", "--format", "json"])
    scores = json.loads(backtested.stdout)
    assert {s["channel"] for s in scores} == {"chat", "email"}
    staffed = runner.invoke(
        app,
        [
            "staff",
            "--db",
            db,
            "--config",
            str(config_file),
            "--days",
            "1",
            "--format",
            "json",
            "--shrinkage",
            "0",
        ],
    )
    rows = json.loads(staffed.stdout)
    assert len(rows) == 2 * 48 and all(r["scheduled"] == r["agents"] for r in rows)
    wrong = runner.invoke(app, ["staff", "--db", db, "--interval", "20"])
    assert wrong.exit_code == 2 and "interval must be one of 15, 30, 60" in wrong.output


def test_the_slot_and_trend_fit_is_statsmodels_poisson_glm():
    import statsmodels.api as sm

    from supportkpi.workforce.forecast import poisson_fit

    rng = np.random.default_rng(0)
    n = 24 * 7 * 3
    slots, trend = np.arange(n) % 168, np.arange(n) / n
    counts = rng.poisson(np.exp(rng.normal(1, 1, 168))[slots] * np.exp(0.4 * trend))
    effects, b = poisson_fit(counts.astype(float), slots, trend, 168)
    seen = np.unique(slots[counts > 0])
    x = np.zeros((n, len(seen) + 1))
    x[np.arange(n), np.searchsorted(seen, slots)] = 1.0
    x[:, -1] = trend
    keep = np.isin(slots, seen)
    reference = sm.GLM(counts[keep], x[keep], family=sm.families.Poisson()).fit()
    assert b == pytest.approx(reference.params[-1], abs=1e-8)
    assert np.abs(effects[seen] - reference.params[:-1]).max() < 1e-7
    assert np.isneginf(effects[np.setdiff1d(np.arange(168), seen)]).all()
