"""Rosters: shifts that cover the agents needed per interval, at the least cost.

The roster is a mixed-integer program (the set-covering model of shift scheduling, Dantzig
1954). For every day of the horizon, allowed start time and shift length there is one shift
type j, and x_j ≥ 0 agents work it (an integer); u_t ≥ 0 is the shortfall of interval t:

    minimise   Σ_j cost_j · x_j + shortfall_cost · Σ_t u_t
    subject to Σ_{j covers t} x_j + u_t ≥ need_t        for every interval t
               Σ_{j covers t} x_j ≤ max_agents           (when a cap is set)

cost_j is the paid hours × the hourly rate; need_t is the requirement, raised to
``min_agents`` wherever anything is needed. By default the shortfall costs more than the
longest shift, so an interval is left short only when no allowed shift can cover it or the
cap forbids it — and then the shortfall is reported, never hidden. Shifts are truncated at the
end of the horizon.

**Breaks** (``Rules.breaks``): a shift of at least ``min_hours`` takes one break of
``minutes``, starting between ``earliest`` and ``latest`` hours after the shift starts (the
rule with the largest ``min_hours`` the shift reaches applies). Each possible placement is a
shift type of its own (the explicit model of Dantzig), so the solver places breaks where
cover is spare; an agent on a break does not count in the intervals the break touches (a
15-minute break takes a whole 30-minute interval), and breaks are paid.

**Days off** (``Rules.max_days``, ``Rules.min_days_off``): agents follow weekly patterns of
working days (the implicit tour model): z_p ≥ 0 agents follow pattern p, a 7-day cycle from
the horizon's first day with at least ``min_days_off`` days off and no more than ``max_days``
working days in a row (the cycle repeated), and each works at most one shift a day, on the
days of their pattern:

               Σ_{j starts on day d} x_j ≤ Σ_p works_p(d) · z_p     for every day d

A day of the pattern without a shift is a day off too, so the rules hold for the days each
agent actually works, in every 7 days in a row. Since one-day patterns always exist, any
shifts can be staffed and the cost does not depend on z: the model is solved in two exact
steps, the least-cost shifts first, then the fewest people (Σ z) staffing them, a MIP over
the patterns alone. The people are then assigned (``Roster.agents``): each day the agents
whose pattern works it take that day's shifts, the one free soonest the earliest shift.

Solver: **HiGHS** through ``scipy.optimize.milp``. HiGHS is a maintained open-source MIP
solver (MIT licence, the default LP/MIP solver of SciPy and of JuMP), it ships inside SciPy,
which supportkpi already needs, so rosters add no dependency; a week of half-hours with hourly
starts and three lengths (~500 integer variables) solves in well under a second. OR-Tools'
CP-SAT would do as well but adds a 25 MB wheel and protobuf for the same model.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
import pyarrow as pa

from supportkpi.config import RosterSettings


@dataclass(frozen=True)
class BreakRule:
    """A shift of at least ``min_hours`` takes a break of ``minutes``, starting between
    ``earliest`` and ``latest`` hours after the shift's start."""

    min_hours: float
    minutes: int
    earliest: float
    latest: float

    def __post_init__(self) -> None:
        if self.minutes <= 0 or self.min_hours <= 0:
            raise ValueError("a break rule needs min_hours > 0 and minutes > 0")
        if not 0 <= self.earliest <= self.latest:
            raise ValueError("a break window needs 0 ≤ earliest ≤ latest (hours after start)")
        if self.latest * 60 + self.minutes > self.min_hours * 60:
            raise ValueError(
                f"a {self.minutes}-minute break starting {self.latest} h in does not fit in a "
                f"{self.min_hours} h shift"
            )


@dataclass(frozen=True)
class Rules:
    """What a roster may use: start times of day, shift lengths (hours), a floor of agents
    whenever any are needed, a cap on agents at once, the hourly rate, the cost of one
    agent-interval short (default: more than the longest shift), a solver time limit; breaks
    by shift length, the most working days in a row and the fewest days off a week."""

    starts: tuple[time, ...]
    lengths: tuple[float, ...]
    min_agents: int = 0
    max_agents: int | None = None
    hourly_rate: float = 1.0
    shortfall_cost: float | None = None
    time_limit: float = 20.0
    breaks: tuple[BreakRule, ...] = ()
    max_days: int | None = None
    min_days_off: int = 0

    @property
    def tours(self) -> bool:
        """Whether agents' days are modelled (days off or a limit on days in a row)."""
        return self.max_days is not None or self.min_days_off > 0

    def break_for(self, hours: float) -> BreakRule | None:
        """The break a shift of ``hours`` takes (the rule with the largest min_hours)."""
        fitting = [b for b in self.breaks if b.min_hours <= hours]
        return max(fitting, key=lambda b: b.min_hours) if fitting else None

    def __post_init__(self) -> None:
        if self.max_days is not None and not 1 <= self.max_days <= 7:
            raise ValueError("max_days (working days in a row) is 1 … 7")
        if not 0 <= self.min_days_off <= 6:
            raise ValueError("min_days_off (per week) is 0 … 6")
        if not self.starts or not self.lengths:
            raise ValueError("a roster needs at least one start time and one shift length")
        if any(length <= 0 or length > 24 for length in self.lengths):
            raise ValueError("shift lengths are hours in (0, 24]")
        if self.min_agents < 0 or (self.max_agents is not None and self.max_agents < 0):
            raise ValueError("min and max agents must be ≥ 0")
        if self.hourly_rate < 0 or (self.shortfall_cost is not None and self.shortfall_cost <= 0):
            raise ValueError("the hourly rate must be ≥ 0 and the shortfall cost > 0")

    @property
    def penalty(self) -> float:
        """Cost of one agent-interval short."""
        if self.shortfall_cost is not None:
            return self.shortfall_cost
        return max(self.lengths) * max(self.hourly_rate, 1.0) + 1.0


@dataclass(frozen=True)
class Roster:
    """The shifts (start, end, hours, break, agents, cost), coverage per interval (required,
    on duty, short, over), the cost of the shifts, the agent-intervals short, the solver's
    word, and — when days off are modelled — each agent's shifts (agent, day, start, end,
    break) and weekly pattern."""

    shifts: pa.Table
    coverage: pa.Table
    cost: float
    shortfall: float
    status: str
    agents: pa.Table | None = None


@dataclass(frozen=True)
class _Shift:
    start: datetime
    first: int
    last: int  # exclusive, truncated at the horizon
    hours: float
    day: int = 0  # days after the horizon's first day
    pause: tuple[int, int] | None = None  # the break's intervals [a, b), absolute

    def covers(self) -> np.ndarray:
        """The intervals the agent is on duty (the break left out)."""
        on = np.arange(self.first, self.last)
        if self.pause is None:
            return on
        return on[(on < self.pause[0]) | (on >= self.pause[1])]


def roster(required: Sequence[float], start: datetime, interval: int, rules: Rules) -> Roster:
    """Shifts covering ``required`` agents per interval of ``interval`` minutes from ``start``."""
    need = np.ceil(np.asarray(required, dtype=float) - 1e-9).clip(min=0)
    if rules.min_agents:
        need = np.where(need > 0, np.maximum(need, rules.min_agents), 0)
    shifts = _shift_types(start, len(need), interval, rules)
    x, status = _solve(need, shifts, rules)
    on_duty = np.zeros(len(need))
    for s, n in zip(shifts, x, strict=True):
        on_duty[s.covers()] += n
    result = _result(need, on_duty, shifts, x, start, interval, rules, status)
    if not rules.tours:
        return result
    days = max((s.day for s in shifts), default=-1) + 1
    per_day = np.zeros(days)
    for s, n in zip(shifts, x, strict=True):
        per_day[s.day] += n
    patterns = _patterns(rules)
    z = _people(patterns, per_day, rules.time_limit)
    step = timedelta(minutes=interval)
    return replace(result, agents=_agents(shifts, x, patterns, z, days, start, step))


def _shift_types(start: datetime, length: int, interval: int, rules: Rules) -> list[_Shift]:
    """Every (day, start time, length) whose start falls inside the horizon."""
    step = timedelta(minutes=interval)
    end = start + step * length
    out, day = [], datetime.combine(start.date(), time())
    while day < end:
        for t in sorted(set(rules.starts)):
            begin = datetime.combine(day.date(), t)
            if not start <= begin < end:
                continue
            first = int((begin - start) / step)
            index = (day.date() - start.date()).days
            for hours in sorted(set(rules.lengths)):
                last = min(length, first + max(1, round(hours * 60 / interval)))
                plain = _Shift(begin, first, last, hours, index)
                out += _with_breaks(plain, rules.break_for(hours), interval)
        day += timedelta(days=1)
    return out


def _with_breaks(shift: _Shift, rule: BreakRule | None, interval: int) -> list[_Shift]:
    """The shift once per place its break may start (whole intervals inside the window, the
    break over every interval it touches); as it is without a break rule."""
    if rule is None:
        return [shift]
    size = -(-rule.minutes // interval)
    lo = shift.first + -(-round(rule.earliest * 60) // interval)
    hi = shift.first + round(rule.latest * 60) // interval
    out = [
        replace(shift, pause=(a, a + size))
        for a in range(lo, hi + 1)
        if a + size <= shift.first + round(shift.hours * 60 / interval)
    ]
    kept = [s for s in out if s.pause is not None and s.pause[1] <= shift.last]
    return kept or out[:1] or [shift]  # truncated at the horizon: the break may fall after it


def _patterns(rules: Rules) -> list[tuple[int, ...]]:
    """Every 7-day cycle of working days (1) and days off (0) the rules allow."""
    out = []
    for bits in itertools.product((0, 1), repeat=7):
        if 7 - sum(bits) < rules.min_days_off or not any(bits):
            continue
        if rules.max_days is not None and _longest_run(bits) > rules.max_days:
            continue
        out.append(bits)
    return out


def _longest_run(bits: tuple[int, ...]) -> int:
    """The most working days in a row, the cycle repeated (7 when every day works)."""
    if all(bits):
        return len(bits)
    doubled, best, run = bits + bits, 0, 0
    for b in doubled:
        run = run + 1 if b else 0
        best = max(best, run)
    return best


def _solve(need: np.ndarray, shifts: list[_Shift], rules: Rules) -> tuple[np.ndarray, str]:
    """Agents per shift type; columns are [x shifts | u short]."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array, hstack, identity

    n, m = len(shifts), len(need)
    if n == 0 or m == 0:
        return np.zeros(n), "no allowed shift starts inside the horizon"
    rows = np.concatenate([s.covers() for s in shifts])
    cols = np.concatenate([np.full(len(s.covers()), j) for j, s in enumerate(shifts)])
    cover = csr_array((np.ones(len(rows)), (rows, cols)), shape=(m, n))
    cost = np.r_[[s.hours * rules.hourly_rate for s in shifts], np.full(m, rules.penalty)]
    constraints = [LinearConstraint(hstack([cover, identity(m)]), lb=need, ub=np.inf)]
    if rules.max_agents is not None:
        cap = hstack([cover, csr_array((m, m))])
        constraints.append(LinearConstraint(cap, lb=0, ub=rules.max_agents))
    upper = np.r_[np.full(n, rules.max_agents or max(need.max(), 1)), need]
    result = milp(
        cost,
        constraints=constraints,
        integrality=np.r_[np.ones(n), np.zeros(m)],
        bounds=Bounds(0, upper),
        options={"time_limit": rules.time_limit},
    )
    if result.x is None:
        raise ValueError(f"the roster could not be solved: {result.message}")
    gap = getattr(result, "mip_gap", 0.0) or 0.0
    status = "optimal" if result.status == 0 else f"best found ({result.message}; gap {gap:.1%})"
    return np.round(result.x[:n]), status


def _people(patterns: list[tuple[int, ...]], per_day: np.ndarray, limit: float) -> np.ndarray:
    """The fewest people (agents per pattern) so that every day has one for each shift."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    works = np.array([[pat[d % 7] for pat in patterns] for d in range(len(per_day))], float)
    result = milp(
        np.ones(len(patterns)),
        constraints=[LinearConstraint(works, lb=per_day, ub=np.inf)],
        integrality=np.ones(len(patterns)),
        bounds=Bounds(0, max(per_day.max(initial=0), 1)),
        options={"time_limit": limit},
    )
    if result.x is None:
        raise ValueError(f"the days off could not be solved: {result.message}")
    return np.round(result.x)


def _agents(
    shifts: list[_Shift],
    x: np.ndarray,
    patterns: list[tuple[int, ...]],
    z: np.ndarray,
    days: int,
    start: datetime,
    step: timedelta,
) -> pa.Table:
    """The solution as agents: each agent's weekly pattern and, per day of it with a shift
    left, one of that day's shifts — the agent free soonest takes the earliest."""
    people = [pat for pat, k in zip(patterns, z, strict=True) for _ in range(int(k))]
    free = [start] * len(people)
    rows = []
    for day in range(days):
        todays = sorted(
            (s for s, k in zip(shifts, x, strict=True) if s.day == day for _ in range(int(k))),
            key=lambda s: s.first,
        )
        working = sorted((i for i, pat in enumerate(people) if pat[day % 7]), key=lambda i: free[i])
        for i, s in zip(working, todays, strict=False):  # more working than shifts: off
            free[i] = start + step * s.last
            pause = s.pause or (None, None)
            rows.append(
                {
                    "agent": i + 1,
                    "pattern": "".join("x" if b else "-" for b in people[i]),
                    "day": (start + timedelta(days=day)).date(),
                    "start": s.start,
                    "end": start + step * s.last,
                    "break_start": None if pause[0] is None else start + step * pause[0],
                    "break_end": None if pause[1] is None else start + step * pause[1],
                }
            )
    rows.sort(key=lambda r: (r["agent"], r["start"]))
    number = {a: n for n, a in enumerate(dict.fromkeys(r["agent"] for r in rows), start=1)}
    for r in rows:  # people left without a shift (a pattern's spare days) are not listed
        r["agent"] = number[r["agent"]]
    return pa.Table.from_pylist(rows, schema=AGENT_SCHEMA)


AGENT_SCHEMA = pa.schema(
    [
        ("agent", pa.int64()),
        ("pattern", pa.string()),
        ("day", pa.date32()),
        ("start", pa.timestamp("us")),
        ("end", pa.timestamp("us")),
        ("break_start", pa.timestamp("us")),
        ("break_end", pa.timestamp("us")),
    ]
)


def _result(
    need: np.ndarray,
    on_duty: np.ndarray,
    shifts: list[_Shift],
    x: np.ndarray,
    start: datetime,
    interval: int,
    rules: Rules,
    status: str,
) -> Roster:
    step = timedelta(minutes=interval)
    used = [(s, int(n)) for s, n in zip(shifts, x, strict=True) if n > 0]

    def moment(s: _Shift, i: int) -> datetime | None:
        return None if s.pause is None else start + step * s.pause[i]

    shift_table = pa.table(
        {
            "start": pa.array([s.start for s, _ in used], pa.timestamp("us")),
            "end": pa.array([start + step * s.last for s, _ in used], pa.timestamp("us")),
            "hours": pa.array([s.hours for s, _ in used], pa.float64()),
            "break_start": pa.array([moment(s, 0) for s, _ in used], pa.timestamp("us")),
            "break_end": pa.array([moment(s, 1) for s, _ in used], pa.timestamp("us")),
            "agents": pa.array([n for _, n in used], pa.int64()),
            "cost": pa.array([n * s.hours * rules.hourly_rate for s, n in used], pa.float64()),
        }
    )
    short = np.maximum(need - on_duty, 0)
    coverage = pa.table(
        {
            "interval_start": pa.array([start + step * i for i in range(len(need))]),
            "required": pa.array(need.astype(int), pa.int64()),
            "on_duty": pa.array(on_duty.astype(int), pa.int64()),
            "short": pa.array(short.astype(int), pa.int64()),
            "over": pa.array(np.maximum(on_duty - need, 0).astype(int), pa.int64()),
        }
    )
    cost = float(sum(n * s.hours * rules.hourly_rate for s, n in used))
    return Roster(shift_table, coverage, cost, float(short.sum()), status)


def requirements(table: pa.Table) -> tuple[datetime, int, np.ndarray]:
    """(start, interval minutes, agents per interval) from rows of (interval_start, agents)
    at a regular step; intervals missing between the first and the last need nobody."""
    missing = {"interval_start", "agents"} - set(table.column_names)
    if missing:
        raise ValueError(f"the requirements need the columns {', '.join(sorted(missing))}")
    selected = table.select(["interval_start", "agents"]).to_pylist()
    rows = sorted(((r["interval_start"], r["agents"]) for r in selected), key=lambda r: r[0])
    if len(rows) < 2 or not all(isinstance(t, datetime) for t, _ in rows):
        raise ValueError("the requirements need two or more rows with an interval_start time")
    step = min(b[0] - a[0] for a, b in pairwise(rows))
    interval = int(step.total_seconds() // 60)
    if interval <= 0 or step.total_seconds() % 60:
        raise ValueError("interval starts must be whole minutes apart and distinct")
    start = rows[0][0]
    need = np.zeros(int((rows[-1][0] - start) / step) + 1)
    for t, agents in rows:
        need[int((t - start) / step)] = max(float(agents or 0), 0.0)
    return start, interval, need


def rules_from(given: RosterSettings, hourly_rate: float = 1.0, **changes: Any) -> Rules:
    """The roster rules of the config's ``[workforce.roster]``, with ``changes`` (None: keep
    the config's) applied: starts (text), lengths, min_agents, max_agents, max_days,
    min_days_off, shortfall_cost."""
    merged = given.model_dump() | {k: v for k, v in changes.items() if v is not None}
    return Rules(
        parse_starts(merged["starts"]),
        tuple(float(v) for v in merged["lengths"]),
        merged["min_agents"],
        merged["max_agents"],
        hourly_rate,
        merged.get("shortfall_cost"),
        breaks=tuple(BreakRule(**b) for b in merged["breaks"]),
        max_days=merged["max_days"],
        min_days_off=merged["min_days_off"],
    )


def parse_starts(text: str) -> tuple[time, ...]:
    """Start times from "07:00,08:30" or an every-N-minutes rule "every 60" (from 00:00)."""
    text = text.strip()
    if text.startswith("every"):
        minutes = int(text.removeprefix("every").strip())
        if not 0 < minutes <= 24 * 60:
            raise ValueError("every N: N minutes in (0, 1440]")
        return tuple(time(m // 60, m % 60) for m in range(0, 24 * 60, minutes))
    try:
        return tuple(time.fromisoformat(t.strip()) for t in text.split(",") if t.strip())
    except ValueError:
        raise ValueError(f"start times are HH:MM separated by commas, not {text!r}") from None


__all__ = ["BreakRule", "Roster", "Rules", "parse_starts", "requirements", "roster", "rules_from"]
