"""One-off staffing for one queue: the fewest agents meeting the targets and what nearby
headcounts (or a given one) achieve, as ``supportkpi erlang`` and the Python API show it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyarrow as pa

from supportkpi.analysis.result import Frames
from supportkpi.workforce.erlang import (
    Queue,
    Result,
    agents_for,
    chat_slots,
    measures,
    with_shrinkage,
)

__all__ = ["Staffing", "staffing"]


@dataclass(frozen=True)
class Staffing(Frames):
    """The answer: the model, the offered load, the fewest agents meeting the targets (and
    scheduled after shrinkage), and per headcount tried what it achieves (``table``)."""

    model: str
    load: float
    slots_per_agent: int
    fewest_agents: int
    fewest_scheduled: int
    fewest_slots: int
    asked_agents: int | None
    table: pa.Table

    @property
    def meets_targets(self) -> bool | None:
        """Whether the asked headcount meets the targets (None when none was asked)."""
        return None if self.asked_agents is None else self.asked_agents >= self.fewest_agents


def staffing(
    arrivals: float,
    aht: float,
    interval_minutes: int = 30,
    answer_within: float = 20,
    service_level: float = 0.8,
    patience: float | None = None,
    max_occupancy: float = 1.0,
    max_abandon: float | None = None,
    max_wait: float | None = None,
    concurrency: int = 1,
    growth: float = 0.25,
    shrinkage: float = 0.0,
    agents: int | None = None,
) -> Staffing:
    """Agents for ``arrivals`` per interval of ``aht`` seconds each: Erlang A with a mean
    ``patience`` (seconds), else Erlang C; chats served ``concurrency`` at once as slots.
    Without ``agents``: the fewest meeting the targets and two headcounts either side;
    with it, what that headcount achieves. ValueError on impossible inputs."""
    queue = Queue(arrivals, aht, interval_minutes * 60.0, patience)
    queue, slots = chat_slots(queue, concurrency, growth)
    needed = agents_for(queue, answer_within, service_level, max_occupancy, max_abandon, max_wait)
    fewest = -(-needed.agents // slots)
    if agents is not None:
        if agents < 0:
            raise ValueError("agents must be ≥ 0")
        tried = [agents * slots]
    else:
        tried = list(range(max(1, needed.agents - 2), needed.agents + 3)) if needed.agents else [0]
    rows = [_row(measures(queue, n, answer_within), slots, shrinkage) for n in tried]
    for n, row in zip(tried, rows, strict=True):
        row["fewest"] = n == needed.agents
    return Staffing(
        model="Erlang A" if patience else "Erlang C",
        load=queue.load,
        slots_per_agent=slots,
        fewest_agents=fewest,
        fewest_scheduled=with_shrinkage(fewest, shrinkage),
        fewest_slots=needed.agents,
        asked_agents=agents,
        table=pa.Table.from_pylist(rows, schema=SCHEMA),
    )


SCHEMA = pa.schema(
    [
        ("agents", pa.int64()),
        ("slots", pa.int64()),
        ("scheduled", pa.int64()),
        ("service_level", pa.float64()),
        ("asa", pa.float64()),
        ("occupancy", pa.float64()),
        ("wait_probability", pa.float64()),
        ("abandon_probability", pa.float64()),
        ("fewest", pa.bool_()),
    ]
)


def _row(r: Result, slots: int, shrinkage: float) -> dict[str, float | int | bool | None]:
    agents = -(-r.agents // slots)
    return {
        "agents": agents,
        "slots": r.agents,
        "scheduled": with_shrinkage(agents, shrinkage),
        "service_level": r.service_level,
        "asa": r.asa if math.isfinite(r.asa) else None,
        "occupancy": r.occupancy,
        "wait_probability": r.wait_probability,
        "abandon_probability": r.abandon_probability,
    }
