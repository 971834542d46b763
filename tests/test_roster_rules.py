"""Rosters with breaks and days off: every rule is checked on the solution by the test's own
code (each agent's days, each shift's break, the coverage recounted from the agents' shifts),
a tiny case with breaks equals a brute force, and a case worked by hand."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, time, timedelta

import numpy as np
import pytest

from supportkpi.workforce.roster import BreakRule, Rules, roster

MONDAY = datetime(2024, 1, 1)
HALF = timedelta(minutes=30)


def week_of_need() -> list[int]:
    """Half-hours of a week: open 08:00–20:00, a morning and an afternoon peak, quieter
    weekends."""
    need = []
    for day in range(7):
        scale = 0.5 if day >= 5 else 1.0
        for slot in range(48):
            hour = slot / 2
            if 8 <= hour < 20:
                peak = 4 * np.exp(-((hour - 11) ** 2) / 4) + 3 * np.exp(-((hour - 16) ** 2) / 6)
                need.append(max(1, round(scale * (1 + peak))))
            else:
                need.append(0)
    return need


RULES = Rules(
    starts=tuple(time(h) for h in range(7, 14)),
    lengths=(4, 8),
    hourly_rate=20.0,
    breaks=(BreakRule(min_hours=6, minutes=30, earliest=2, latest=5),),
    max_days=5,
    min_days_off=2,
)


def check_agents(result, rules: Rules, need: list[int]) -> None:
    """Every rule of ``rules`` holds for each agent, and the coverage and cost the roster
    reports are what the agents' shifts give."""
    rows = result.agents.to_pylist()
    by_agent = defaultdict(list)
    for r in rows:
        by_agent[r["agent"]].append(r)
    on_duty = np.zeros(len(need))
    cost = 0.0
    for shifts in by_agent.values():
        shifts.sort(key=lambda r: r["start"])
        days = [(r["day"] - MONDAY.date()).days for r in shifts]
        assert len(days) == len(set(days)), "two shifts on one day"
        worked = [d in days for d in range(7)]
        assert sum(1 for w in worked if not w) >= rules.min_days_off
        run = longest = 0
        for w in worked:
            run = run + 1 if w else 0
            longest = max(longest, run)
        assert longest <= rules.max_days
        pattern = shifts[0]["pattern"]  # the weekly cycle: every day worked is one of it
        assert all(pattern[d % 7] == "x" for d in days) and pattern.count("-") >= 2
        for a, b in itertools.pairwise(shifts):
            assert a["end"] <= b["start"], "overlapping shifts"
        for r in shifts:
            hours = (r["end"] - r["start"]) / timedelta(hours=1)
            cost += hours * rules.hourly_rate
            rule = next((b for b in rules.breaks if hours >= b.min_hours), None)
            if rule is not None:
                length = -(-rule.minutes // 30) * HALF  # whole half-hours
                assert r["break_end"] - r["break_start"] == length
                after = r["break_start"] - r["start"]
                assert timedelta(hours=rule.earliest) <= after <= timedelta(hours=rule.latest)
                assert r["break_end"] <= r["end"]
            else:
                assert r["break_start"] is None
            t = r["start"]
            while t < r["end"]:
                if not (r["break_start"] and r["break_start"] <= t < r["break_end"]):
                    on_duty[int((t - MONDAY) / HALF)] += 1
                t += HALF
    coverage = result.coverage.to_pylist()
    assert [c["on_duty"] for c in coverage] == on_duty.astype(int).tolist()
    assert [c["short"] for c in coverage] == [
        max(n - o, 0) for n, o in zip(need, on_duty, strict=True)
    ]
    assert result.cost == pytest.approx(cost)
    assert sum(result.shifts["agents"].to_pylist()) == len(rows)


def test_a_week_with_breaks_and_days_off_keeps_every_rule():
    need = week_of_need()
    result = roster(need, MONDAY, 30, RULES)
    assert result.status == "optimal", result.status
    assert result.agents.num_rows > 0
    check_agents(result, RULES, need)
    assert result.shortfall == 0  # every interval open 08–20 can be reached by a shift
    shifts = result.shifts.to_pylist()
    assert any(s["break_start"] is not None for s in shifts)


def test_one_agent_a_day_needs_two_people_when_each_works_five_days():
    need = [0] * (7 * 48)
    for day in range(7):
        need[day * 48 + 16 : day * 48 + 32] = [1] * 16  # 08:00–16:00 every day
    rules = Rules(starts=(time(8),), lengths=(8,), max_days=5, min_days_off=2)
    result = roster(need, MONDAY, 30, rules)
    check_agents(result, rules, need)
    # by hand: seven 8-hour shifts, nobody works six or seven days, so two people
    assert result.cost == 7 * 8 and result.shortfall == 0
    assert len(set(result.agents["agent"].to_pylist())) == 2


def _brute_force(need: list[int], types: list[tuple[int, int, int | None]], penalty: float):
    """The least cost over up to 3 agents of each (start, hours, break hour) shift."""
    best = np.inf
    for counts in itertools.product(range(4), repeat=len(types)):
        on = np.zeros(len(need))
        for (first, hours, pause), n in zip(types, counts, strict=True):
            for t in range(first, min(first + hours, len(need))):
                if t != pause:
                    on[t] += n
        cost = sum(n * hours for (_, hours, _), n in zip(types, counts, strict=True))
        best = min(best, cost + penalty * np.maximum(np.array(need) - on, 0).sum())
    return float(best)


@pytest.mark.parametrize("need", [[1, 2, 2, 2, 1, 0], [2, 2, 2, 2, 2, 2], [0, 1, 3, 3, 1, 1]])
def test_breaks_are_placed_as_a_brute_force_would(need):
    # hourly intervals; a 4-hour shift takes a 1-hour break 1 or 2 hours in, 2-hour shifts none
    rule = BreakRule(min_hours=4, minutes=60, earliest=1, latest=2)
    rules = Rules(starts=(time(0), time(2)), lengths=(2, 4), breaks=(rule,), shortfall_cost=3.0)
    types = [(0, 2, None), (2, 2, None), (0, 4, 1), (0, 4, 2), (2, 4, 3), (2, 4, 4)]
    result = roster(need, MONDAY, 60, rules)
    assert result.status == "optimal"
    assert result.cost + 3.0 * result.shortfall == pytest.approx(_brute_force(need, types, 3.0))


def test_rules_that_cannot_hold_are_refused():
    with pytest.raises(ValueError, match="does not fit"):
        BreakRule(min_hours=4, minutes=60, earliest=1, latest=3.5)
    with pytest.raises(ValueError, match="max_days"):
        Rules(starts=(time(8),), lengths=(8,), max_days=0)
    with pytest.raises(ValueError, match="min_days_off"):
        Rules(starts=(time(8),), lengths=(8,), min_days_off=7)


ROSTER_CONFIG = """
[workforce.roster]
starts = "07:00,08:00,09:00,10:00,11:00,12:00,13:00"
lengths = [4, 8]
max_days = 5
min_days_off = 2

[[workforce.roster.breaks]]
min_hours = 6
minutes = 30
earliest = 2
latest = 5
"""


def test_the_command_takes_the_rules_from_the_config(tmp_path):
    import json

    from typer.testing import CliRunner

    from supportkpi.cli import app

    need = week_of_need()
    rows = [f"{MONDAY + HALF * i:%Y-%m-%dT%H:%M},{n}" for i, n in enumerate(need)]
    (tmp_path / "need.csv").write_text("interval_start,agents\n" + "\n".join(rows) + "\n")
    (tmp_path / "supportkpi.toml").write_text(ROSTER_CONFIG)
    args = ["roster", "--requirements", str(tmp_path / "need.csv"), "--rate", "20"]
    args += ["--config", str(tmp_path / "supportkpi.toml")]
    done = CliRunner().invoke(app, [*args, "--format", "json"])
    assert done.exit_code == 0, done.output
    (made,) = json.loads(done.output)
    direct = roster(need, MONDAY, 30, RULES)  # the same rules, given in Python
    assert made["cost"] == pytest.approx(direct.cost) and made["shortfall_agent_intervals"] == 0
    people = {a["agent"]: a["pattern"] for a in made["agents"]}
    assert people and all(p.count("-") >= 2 and "xxxxxx" not in p + p for p in people.values())
    for a in made["agents"]:
        hours = datetime.fromisoformat(a["end"]) - datetime.fromisoformat(a["start"])
        assert (a["break_start"] is not None) == (hours >= timedelta(hours=6)), a
    table = CliRunner().invoke(app, [*args, "--agents"])
    assert table.exit_code == 0 and f"{len(people)} people" in table.output
    refused = CliRunner().invoke(
        app, ["roster", "--requirements", str(tmp_path / "need.csv"), "--agents"]
    )
    assert refused.exit_code != 0 and "--max-days" in refused.output
