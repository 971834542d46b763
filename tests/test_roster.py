"""Rosters: the solver's optimum equals a brute force on a tiny case; a realistic requirement
is covered everywhere a shift can reach, and every shortfall is reported."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, time

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pytest
from typer.testing import CliRunner

from supportkpi.cli import app
from supportkpi.workforce.erlang import Queue, agents_for
from supportkpi.workforce.roster import Rules, parse_starts, requirements, roster
from tests.callcenter import calls
from tests.conftest import shared_data

MONDAY = datetime(2024, 1, 1)


def _brute_force(need: list[int], rules: Rules) -> float:
    """The least cost + shortfall penalty over every roster of up to 3 agents per shift."""
    shifts = [
        (s.hour, int(length))
        for s in rules.starts
        for length in rules.lengths
        if s.hour < len(need)
    ]
    best = np.inf
    for counts in itertools.product(range(4), repeat=len(shifts)):
        on = np.zeros(len(need))
        for (first, length), n in zip(shifts, counts, strict=True):
            on[first : first + length] += n
        if rules.max_agents is not None and on.max() > rules.max_agents:
            continue
        cost = sum(
            n * length * rules.hourly_rate for (_, length), n in zip(shifts, counts, strict=True)
        )
        best = min(best, cost + rules.penalty * np.maximum(np.array(need) - on, 0).sum())
    return float(best)


@pytest.mark.parametrize(
    ("need", "cap", "penalty"),
    [
        ([1, 3, 3, 2, 2, 4, 1, 0], 3, 2.5),  # the cap and a cheap shortfall bind
        ([2, 2, 1, 0, 1, 3, 3, 1], None, 10.0),  # full cover at the least cost
        ([0, 1, 0, 0, 0, 0, 1, 0], None, 1.5),  # lone needs: cheaper to leave them short
    ],
)
def test_the_solver_finds_the_brute_force_optimum(need, cap, penalty):
    rules = Rules(
        starts=(time(0), time(2), time(4)),
        lengths=(2, 4),
        max_agents=cap,
        hourly_rate=1.0,
        shortfall_cost=penalty,
    )
    result = roster(need, MONDAY, 60, rules)
    assert result.status == "optimal"
    assert result.cost + penalty * result.shortfall == pytest.approx(_brute_force(need, rules))
    coverage = result.coverage.to_pylist()
    assert [c["required"] for c in coverage] == need
    assert all(c["short"] == max(c["required"] - c["on_duty"], 0) for c in coverage)
    assert result.cost == pytest.approx(sum(result.shifts["cost"].to_pylist()))


def _wednesday_requirement() -> np.ndarray:
    """Agents per hour for February's average Wednesday at the bank (P(wait) ≤ 0.2)."""
    wednesdays = [
        c
        for c in calls(shared_data("callcenter/february_calls.tsv.gz"))
        if c.created.weekday() == 2
    ]
    served = [c.service for c in wednesdays if c.answered]
    aht = sum(served) / len(served) + 60
    per_hour = np.bincount([c.created.hour for c in wednesdays], minlength=24) / 4
    return np.array(
        [agents_for(Queue(float(a), aht, 3600), 20, 0.0, max_wait=0.2).agents for a in per_hour]
    )


def test_a_real_requirement_is_covered_or_its_shortfall_reported():
    need = np.tile(_wednesday_requirement(), 7)  # a week of the average Wednesday
    rules = Rules(starts=parse_starts("06:00,07:00,08:00,10:00,12:00,14:00,16:00"), lengths=(4, 8))
    result = roster(need, MONDAY, 60, rules)
    coverage = result.coverage.to_pylist()
    reachable = np.zeros(len(need), bool)  # hours some allowed shift covers: 06:00–24:00
    for day in range(7):
        reachable[day * 24 + 6 : day * 24 + 24] = True
    for i, c in enumerate(coverage):
        assert c["on_duty"] + c["short"] >= c["required"], c
        if reachable[i]:
            assert c["short"] == 0, c  # a shift can reach it: covered
        else:
            assert c["on_duty"] == 0 and c["short"] == c["required"], c
    assert result.shortfall == sum(need[~reachable])
    assert result.shortfall > 0  # midnight's lone calls need an agent no shift can give

    capped = roster(need, MONDAY, 60, Rules(rules.starts, rules.lengths, max_agents=6))
    rows = capped.coverage.to_pylist()
    assert max(r["on_duty"] for r in rows) <= 6
    peak = [r for r in rows if r["required"] > 6]
    assert peak and all(r["short"] == r["required"] - r["on_duty"] for r in peak)
    assert capped.shortfall >= sum(r["required"] - 6 for r in peak)


def test_the_roster_command_reads_requirements(tmp_path):
    need = [0, 0, 1, 2, 4, 4, 3, 3, 2, 1] * 2
    path = tmp_path / "need.csv"
    pa.csv.write_csv(
        pa.table(
            {
                "interval_start": pa.array(
                    [MONDAY.replace(hour=i // 2, minute=30 * (i % 2)) for i in range(20)],
                    pa.timestamp("s"),
                ),
                "agents": need,
            }
        ),
        path,
    )
    shown = CliRunner().invoke(
        app,
        [
            *("roster", "--requirements", str(path), "--starts", "every 30"),
            *("--lengths", "2,4", "--rate", "20", "--format", "json"),
        ],
    )
    assert shown.exit_code == 0, shown.output
    [answer] = json.loads(shown.stdout)
    assert answer["status"] == "optimal" and answer["shortfall_agent_intervals"] == 0
    assert [c["required"] for c in answer["coverage"]] == need
    assert all(c["on_duty"] >= c["required"] for c in answer["coverage"])
    assert answer["cost"] == sum(s["hours"] * s["agents"] * 20 for s in answer["shifts"])
    listed = CliRunner().invoke(
        app, ["roster", "--requirements", str(path), "--coverage", "--format", "csv"]
    )
    lines = listed.stdout.splitlines()
    assert lines[0] == '"requirements","interval_start","required","on_duty","short","over"'
    assert len(lines) == 1 + len(need)
    bad = CliRunner().invoke(app, ["roster", "--requirements", str(path), "--starts", "7am"])
    assert bad.exit_code == 2 and "start times are HH:MM" in bad.output


def test_requirements_need_a_regular_interval():
    start, interval, need = requirements(
        pa.table({"interval_start": [MONDAY, MONDAY.replace(hour=2)], "agents": [1, 3]})
    )
    assert (start, interval, need.tolist()) == (MONDAY, 120, [1.0, 3.0])
    with pytest.raises(ValueError, match="interval_start"):
        requirements(pa.table({"agents": [1, 2]}))


def test_the_python_api_rosters_the_staffing_plan(tmp_path):
    import supportkpi
    from supportkpi.load.ingest import load
    from supportkpi.store.store import Store
    from tests.callcenter import write_conversations

    found = calls(shared_data("callcenter/february_calls.tsv.gz"))
    db = tmp_path / "calls.duckdb"
    with Store.open(db) as store:
        load(store, [write_conversations(found, tmp_path / "calls.csv")], table="conversations")
    rules = Rules(starts=parse_starts("every 60"), lengths=(4, 8), min_agents=1)
    with supportkpi.connect(db, read_only=True) as con:
        plan = con.staff(days=2, interval=60)
        [(key, made)] = con.roster(rules, plan=plan)
    assert key == ("voice",) and made.status == "optimal"
    needed = plan.intervals["scheduled"].to_pylist()
    coverage = made.coverage.to_pylist()
    assert [c["required"] for c in coverage] == needed
    assert made.shortfall == 0 and all(c["on_duty"] >= c["required"] for c in coverage)
    assert made.cost == sum(
        made.shifts["hours"].to_pylist()[i] * n
        for i, n in enumerate(made.shifts["agents"].to_pylist())
    )
