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
end of the horizon; breaks are not modelled.

Solver: **HiGHS** through ``scipy.optimize.milp``. HiGHS is a maintained open-source MIP
solver (MIT licence, the default LP/MIP solver of SciPy and of JuMP), it ships inside SciPy,
which supportkpi already needs, so rosters add no dependency; a week of half-hours with hourly
starts and three lengths (~500 integer variables) solves in well under a second. OR-Tools'
CP-SAT would do as well but adds a 25 MB wheel and protobuf for the same model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import pairwise

import numpy as np
import pyarrow as pa


@dataclass(frozen=True)
class Rules:
    """What a roster may use: start times of day, shift lengths (hours), a floor of agents
    whenever any are needed, a cap on agents at once, the hourly rate, the cost of one
    agent-interval short (default: more than the longest shift), a solver time limit."""

    starts: tuple[time, ...]
    lengths: tuple[float, ...]
    min_agents: int = 0
    max_agents: int | None = None
    hourly_rate: float = 1.0
    shortfall_cost: float | None = None
    time_limit: float = 20.0

    def __post_init__(self) -> None:
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
    """The shifts (start, end, hours, agents, cost), coverage per interval (required, on duty,
    short, over), the cost of the shifts, the agent-intervals short, and the solver's word."""

    shifts: pa.Table
    coverage: pa.Table
    cost: float
    shortfall: float
    status: str


@dataclass(frozen=True)
class _Shift:
    start: datetime
    first: int
    last: int  # exclusive, truncated at the horizon
    hours: float


def roster(required: Sequence[float], start: datetime, interval: int, rules: Rules) -> Roster:
    """Shifts covering ``required`` agents per interval of ``interval`` minutes from ``start``."""
    need = np.ceil(np.asarray(required, dtype=float) - 1e-9).clip(min=0)
    if rules.min_agents:
        need = np.where(need > 0, np.maximum(need, rules.min_agents), 0)
    shifts = _shift_types(start, len(need), interval, rules)
    x, status = _solve(need, shifts, rules)
    on_duty = np.zeros(len(need))
    for s, n in zip(shifts, x, strict=True):
        on_duty[s.first : s.last] += n
    return _result(need, on_duty, shifts, x, start, interval, rules, status)


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
            for hours in sorted(set(rules.lengths)):
                last = min(length, first + max(1, round(hours * 60 / interval)))
                out.append(_Shift(begin, first, last, hours))
        day += timedelta(days=1)
    return out


def _solve(need: np.ndarray, shifts: list[_Shift], rules: Rules) -> tuple[np.ndarray, str]:
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array, hstack, identity

    n, m = len(shifts), len(need)
    if n == 0 or m == 0:
        return np.zeros(n), "no allowed shift starts inside the horizon"
    rows = np.concatenate([np.arange(s.first, s.last) for s in shifts])
    cols = np.concatenate([np.full(s.last - s.first, j) for j, s in enumerate(shifts)])
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
    shift_table = pa.table(
        {
            "start": pa.array([s.start for s, _ in used], pa.timestamp("us")),
            "end": pa.array([start + step * s.last for s, _ in used], pa.timestamp("us")),
            "hours": pa.array([s.hours for s, _ in used], pa.float64()),
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


__all__ = ["Roster", "Rules", "parse_starts", "requirements", "roster"]
