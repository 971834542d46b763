"""Erlang C against pyworkforce; Erlang A against a discrete-event simulation."""

from __future__ import annotations

import heapq
import itertools
import json
import math

import numpy as np
import pytest
from pyworkforce.queuing import ErlangC

from supportkpi.workforce.erlang import (
    Queue,
    agents_for,
    chat_slots,
    erlang_a,
    erlang_b,
    erlang_c,
    measures,
    with_shrinkage,
)
from tests.callcenter import calls
from tests.conftest import shared_data

GRID = list(
    itertools.product(
        [10, 25, 50, 100, 250, 500, 1000, 2000],  # arrivals / 30 min
        [1, 2, 3, 5, 8, 12, 20],  # AHT, minutes
        [20, 45, 60, 90, 120],
    )
)  # answer within, s


@pytest.mark.parametrize(("arrivals", "aht", "within"), GRID)
def test_erlang_c_agrees_with_pyworkforce(arrivals, aht, within):
    ours = agents_for(Queue(arrivals, aht * 60, 1800), within, 0.8, 0.85)
    theirs = ErlangC(transactions=arrivals, aht=aht, asa=within / 60, interval=30)
    expected = theirs.required_positions(service_level=0.8, max_occupancy=0.85)
    assert ours.agents == expected["raw_positions"]
    assert ours.service_level == pytest.approx(expected["service_level"], abs=1e-6)
    assert ours.occupancy == pytest.approx(expected["occupancy"], abs=1e-6)
    assert ours.wait_probability == pytest.approx(expected["waiting_probability"], abs=1e-6)
    for n in (ours.agents, ours.agents + 3):
        assert erlang_c(
            Queue(arrivals, aht * 60, 1800), n, within
        ).wait_probability == pytest.approx(theirs.waiting_probability(n), abs=1e-6)


def test_fewest_agents_is_the_fewest():
    queue = Queue(480, 240, 1800)
    best = agents_for(queue, 30, 0.9)
    assert best.service_level >= 0.9
    assert erlang_c(queue, best.agents - 1, 30).service_level < 0.9


def test_stable_for_thousands_of_agents():
    # a factorial would overflow long before 5,000; the recursion does not
    assert 0 < erlang_b(5000, 4900.0) < 1
    result = agents_for(Queue(30_000, 600, 1800), 20, 0.95)
    assert result.agents > 10_000 and math.isfinite(result.asa)
    assert agents_for(Queue(3000, 900, 1800, patience=60), 20, 0.8).agents > 0


def test_shrinkage_and_chat_slots():
    assert with_shrinkage(14, 0.3) == 20  # 14 ÷ 0.7 is 20, not 21 from float error
    assert with_shrinkage(15, 0.3) == 22
    queue, slots = chat_slots(Queue(100, 300, 1800), 3, 0.25)
    assert (queue.aht, slots) == (300 * 1.5, 3)


def test_erlang_a_becomes_erlang_c_when_nobody_gives_up():
    patient = Queue(100, 300, 1800, patience=1e9)
    for n in (18, 20, 24):
        a, c = erlang_a(patient, n, 30), erlang_c(Queue(100, 300, 1800), n, 30)
        assert a.service_level == pytest.approx(c.service_level, abs=1e-5)
        assert a.wait_probability == pytest.approx(c.wait_probability, abs=1e-6)
        assert a.asa == pytest.approx(c.asa / (1 - 0), rel=1e-4)
        assert a.abandon_probability < 1e-6


def simulate(
    arrivals: float,
    aht: float,
    patience: float,
    agents: int,
    within: float,
    customers: int,
    seed: int,
) -> dict[str, float]:
    """M/M/N+M, first come first served: a customer takes the first agent to free up after
    everyone before them was served or gave up, unless their patience runs out first."""
    rng = np.random.default_rng(seed)
    rate = arrivals / 1800
    times = np.cumsum(rng.exponential(1 / rate, customers))
    service = rng.exponential(aht, customers)
    patience_draws = rng.exponential(patience, customers)
    free = [0.0] * agents
    heapq.heapify(free)
    warm = customers // 10
    answered = within_t = abandoned = waited = 0
    total_wait = 0.0
    for i in range(customers):
        start = max(times[i], free[0])
        wait = start - times[i]
        if wait > patience_draws[i]:
            abandoned += i >= warm
            continue
        heapq.heapreplace(free, start + service[i])
        if i >= warm:
            answered += 1
            within_t += wait <= within
            waited += wait > 0
            total_wait += wait
    n = customers - warm
    return {
        "service_level": within_t / n,
        "abandon": abandoned / n,
        "asa": total_wait / answered,
        "wait": (waited + abandoned) / n,
    }


@pytest.mark.parametrize(
    ("arrivals", "aht", "patience", "agents", "within"),
    [
        (100, 180, 120, 10, 20),  # short patience, busy
        (300, 300, 300, 45, 60),  # a mid-size chat queue
        (60, 600, 900, 18, 120),  # long handle times, patient customers
    ],
)
def test_erlang_a_agrees_with_simulation(arrivals, aht, patience, agents, within):
    runs = [simulate(arrivals, aht, patience, agents, within, 40_000, seed) for seed in range(8)]
    model = erlang_a(Queue(arrivals, aht, 1800, patience), agents, within)
    expected = {
        "service_level": model.service_level,
        "abandon": model.abandon_probability,
        "asa": model.asa,
        "wait": model.wait_probability,
    }
    for name, value in expected.items():
        sample = np.array([r[name] for r in runs])
        error = sample.std(ddof=1) / math.sqrt(len(sample))
        assert abs(sample.mean() - value) <= 4 * error + 1e-3 * max(value, 1), (
            name,
            sample.mean(),
            value,
            error,
        )


WRAP_UP = 60.0


def test_february_wednesdays_hour_by_hour_agree_with_pyworkforce():
    """Arrivals per hour averaged over February's four Wednesdays; AHT = mean service + 60 s of
    wrap-up; the fewest agents keeping P(wait) ≤ 0.5, ours against pyworkforce's."""
    found = calls(shared_data("callcenter/february_calls.tsv.gz"))
    wednesdays = [c for c in found if c.created.weekday() == 2]
    assert len({c.created.date() for c in wednesdays}) == 4
    served = [c.service for c in wednesdays if c.answered]
    aht = sum(served) / len(served) + WRAP_UP
    per_hour = np.bincount([c.created.hour for c in wednesdays], minlength=24) / 4
    assert (per_hour == 0).any() and per_hour.max() > 100
    for hour, arrivals in enumerate(per_hour):
        ours = agents_for(Queue(float(arrivals), aht, 3600), 20, 0.0, max_wait=0.5)
        if arrivals == 0:
            assert ours.agents == 0 and ours.wait_probability == 0, hour
            continue
        theirs = ErlangC(transactions=arrivals, aht=aht / 60, asa=20 / 60, interval=60)
        n = math.floor(theirs.intensity) + 1
        while theirs.waiting_probability(n) > 0.5:
            n += 1
        assert ours.agents == n, (hour, arrivals, ours, n)
        assert ours.wait_probability == pytest.approx(theirs.waiting_probability(n), abs=1e-9)
        assert ours.service_level == pytest.approx(theirs.service_level(n), abs=1e-9)
        assert ours.occupancy == pytest.approx(theirs.achieved_occupancy(n), abs=1e-9)


def test_what_a_given_headcount_achieves():
    queue = Queue(100, 180, 1800)
    twelve = measures(queue, 12, 20)
    assert twelve == erlang_c(queue, 12, 20)
    assert 0.6 < twelve.service_level < 0.7 and twelve.occupancy == pytest.approx(10 / 12)
    assert measures(Queue(0, 180, 1800), 0, 20).service_level == 1.0
    assert agents_for(Queue(0, 180, 1800, patience=60), 20, 0.8).agents == 0
    with pytest.raises(ValueError, match="agents must be"):
        measures(queue, -1, 20)


def test_the_erlang_command_answers_what_if_in_json():
    from typer.testing import CliRunner

    from supportkpi.cli import app

    args = ["erlang", "--arrivals", "100", "--aht", "180", "--answer-within", "20"]
    shown = CliRunner().invoke(app, [*args, "--agents", "12", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    answer = json.loads(shown.stdout)
    [row] = answer["staffing"]
    expected = erlang_c(Queue(100, 180, 1800), 12, 20)
    assert row["agents"] == 12 and row["service_level"] == pytest.approx(expected.service_level)
    assert row["asa"] == pytest.approx(expected.asa) and answer["meets_targets"] is False
    assert answer["fewest_agents"] == agents_for(Queue(100, 180, 1800), 20, 0.8).agents
    table = CliRunner().invoke(app, [*args, "--agents", "15"])
    assert "With 15 agents you meet the targets" in table.output
    idle = CliRunner().invoke(
        app, ["erlang", "--arrivals", "0", "--aht", "180", "--format", "json"]
    )
    assert json.loads(idle.stdout)["fewest_agents"] == 0
    capped = CliRunner().invoke(app, [*args, "--max-wait", "0.2", "--format", "json"])
    assert (
        json.loads(capped.stdout)["fewest_agents"]
        == agents_for(Queue(100, 180, 1800), 20, 0.8, max_wait=0.2).agents
    )
