"""Queueing models for staffing: Erlang C and Erlang A, stable for hundreds of agents.

Units: arrivals are per interval, the interval and all times are in seconds.

**Erlang C** (M/M/N): Poisson arrivals, exponential handle times, N agents, nobody leaves the
queue. With offered load A = arrivals × AHT ÷ interval (in Erlangs), the Erlang B blocking
probability is computed by the recursion B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1)), which
never forms a factorial or a power and so stays exact for thousands of agents; then
P(wait) = N·B / (N − A·(1 − B)), service level = 1 − P(wait)·e^{−(N−A)·t/AHT},
average speed of answer = P(wait)·AHT / (N − A), occupancy = A / N.

**Erlang A** (M/M/N+M, Palm): the same, but each waiting customer abandons after an
exponential patience (mean ``patience``). The birth–death chain of the number in the system is
solved directly (truncated where the remaining probability is below 1e-14). An arrival who
finds j customers ahead in the queue waits while the line moves at rate N/AHT + j/patience;
that absorbing chain gives, exactly: P(abandon), the service level as the share of *all*
arrivals answered within t, and the ASA as the mean wait of those answered.

**Chat concurrency**: an agent serving up to k chats at once is modelled as k independent
slots; each chat's handle time grows with concurrency, AHT_k = AHT × (1 + growth × (k − 1)).
Slots are staffed with the model above and agents = ⌈slots ÷ k⌉. This assumes chats are
independent and that the growth factor captures the split attention (a common planning
approximation; measure the growth from your own data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_banded
from scipy.sparse import diags
from scipy.sparse.linalg import expm_multiply

MAX_AGENTS = 100_000


@dataclass(frozen=True)
class Queue:
    """An interval's demand: arrivals, mean handle time, and optional mean patience."""

    arrivals: float
    aht: float
    interval: float = 1800.0
    patience: float | None = None

    def __post_init__(self) -> None:
        if self.arrivals < 0 or self.aht <= 0 or self.interval <= 0:
            raise ValueError("arrivals must be ≥ 0, AHT and interval > 0")
        if self.patience is not None and self.patience <= 0:
            raise ValueError("patience must be > 0 seconds")

    @property
    def load(self) -> float:
        """Offered load in Erlangs."""
        return self.arrivals * self.aht / self.interval


@dataclass(frozen=True)
class Result:
    """What N agents achieve for one queue."""

    agents: int
    service_level: float
    asa: float
    occupancy: float
    wait_probability: float
    abandon_probability: float = 0.0


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of N servers at offered load A (stable recursion)."""
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    return b


def erlang_c(queue: Queue, agents: int, answer_within: float) -> Result:
    """Erlang C measures for N agents; an unstable queue (N ≤ A) waits forever."""
    a = queue.load
    if a == 0:
        return Result(agents, 1.0, 0.0, 0.0, 0.0)
    if agents <= a:
        return Result(agents, 0.0, math.inf, 1.0, 1.0)
    b = erlang_b(agents, a)
    wait = agents * b / (agents - a * (1 - b))
    sl = 1 - wait * math.exp(-(agents - a) * answer_within / queue.aht)
    asa = wait * queue.aht / (agents - a)
    return Result(agents, max(0.0, sl), asa, a / agents, wait)


def erlang_a(queue: Queue, agents: int, answer_within: float) -> Result:
    """Erlang A measures for N agents (needs ``queue.patience``)."""
    if queue.patience is None:
        raise ValueError("Erlang A needs the customers' mean patience")
    lam, mu, theta = queue.arrivals / queue.interval, 1 / queue.aht, 1 / queue.patience
    if lam == 0:
        return Result(agents, 1.0, 0.0, 0.0, 0.0, 0.0)
    if agents == 0:
        return Result(0, 0.0, 0.0, 1.0, 1.0, 1.0)
    states = _stationary(lam, mu, theta, agents)
    queued = states[agents:]  # probabilities of finding j = 0, 1, … ahead in the queue
    wait = float(queued.sum())
    mean_queue = float(np.dot(np.arange(len(queued)), queued))
    abandon = theta * mean_queue / lam
    answered, within, wait_answered = _tagged(queued, agents * mu, theta, answer_within)
    served_at_once = 1 - wait
    sl = served_at_once + within
    asa = wait_answered / (served_at_once + answered) if served_at_once + answered else 0.0
    busy = float(np.dot(np.minimum(np.arange(len(states)), agents), states)) / agents
    return Result(agents, sl, asa, busy, wait, abandon)


def _stationary(lam: float, mu: float, theta: float, agents: int) -> np.ndarray:
    """P(n in system), n = 0 … truncation, computed in logs to avoid overflow."""
    logs = [0.0]
    for n in range(1, agents + 1):
        logs.append(logs[-1] + math.log(lam / (n * mu)))
    j, top, negligible = 0, max(logs), math.log(1e-14)
    while True:  # the queue's terms shrink once arrivals are slower than departures
        j += 1
        step = lam / (agents * mu + j * theta)
        logs.append(logs[-1] + math.log(step))
        top = max(top, logs[-1])
        if step < 1 and logs[-1] - top < negligible:
            break
    values = np.exp(np.array(logs) - max(logs))
    return values / values.sum()


def _tagged(
    queued: np.ndarray, rate: float, theta: float, within: float
) -> tuple[float, float, float]:
    """For arrivals who queue: P(answered), P(answered within t), E[wait; answered].

    A queued arrival with j customers ahead moves to j − 1 at rate N/AHT + jθ (an agent frees
    up or someone ahead gives up), is answered from j = 0 at rate N/AHT, and gives up at rate
    θ. With T the sub-generator over j and x = (−T)⁻¹e₀: P(answered) = rate·π·x,
    P(answered by t) = rate·π·(x − e^{Tt}x), E[wait; answered] = rate·π·(−T)⁻²e₀.
    """
    size = len(queued)
    j = np.arange(size, dtype=float)
    move = rate + j * theta
    leave = move + theta
    banded = np.zeros((2, size))  # −T: diagonal, then the subdiagonal (j → j − 1)
    banded[0] = leave
    banded[1, :-1] = -move[1:]
    x = solve_banded((1, 0), banded, _unit(size))
    y = solve_banded((1, 0), banded, x)
    t = diags([-leave, move[1:]], [0, -1], format="csc")
    stay = expm_multiply(t * within, x) if within > 0 else x
    return (rate * float(queued @ x), rate * float(queued @ (x - stay)), rate * float(queued @ y))


def _unit(size: int) -> np.ndarray:
    e = np.zeros(size)
    e[0] = 1.0
    return e


def measures(queue: Queue, agents: int, answer_within: float) -> Result:
    """What ``agents`` achieve: Erlang A when the queue has a patience, else Erlang C."""
    if agents < 0:
        raise ValueError("agents must be ≥ 0")
    model = erlang_a if queue.patience is not None else erlang_c
    return model(queue, agents, answer_within)


def agents_for(
    queue: Queue,
    answer_within: float,
    service_level: float,
    max_occupancy: float = 1.0,
    max_abandon: float | None = None,
    max_wait: float | None = None,
) -> Result:
    """The fewest agents meeting the service level, the occupancy cap, the cap on the
    probability of waiting and (Erlang A) the abandonment cap; no arrivals need no agents.
    Each target holds from some N on, so the search doubles, then bisects."""
    if not 0 <= service_level < 1 or not 0 < max_occupancy <= 1:
        raise ValueError("service level in [0, 1), max occupancy in (0, 1]")
    if max_wait is not None and not 0 < max_wait <= 1:
        raise ValueError("the probability of waiting must be capped in (0, 1]")
    if queue.arrivals == 0:
        return Result(0, 1.0, 0.0, 0.0, 0.0)
    model = erlang_a if queue.patience is not None else erlang_c

    def meets(n: int) -> Result | None:
        r = model(queue, n, answer_within)
        ok = (
            r.service_level >= service_level
            and r.occupancy <= max_occupancy
            and (max_abandon is None or r.abandon_probability <= max_abandon)
            and (max_wait is None or r.wait_probability <= max_wait)
        )
        return r if ok else None

    low = max(0, math.floor(queue.load)) if model is erlang_c else 0  # fails (or is 0)
    high = max(1, low + 1)
    while meets(high) is None:
        low, high = high, high * 2
        if high > MAX_AGENTS:
            raise ValueError(f"no staffing under {MAX_AGENTS} agents meets the targets")
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if meets(mid) is not None else (mid, high)
    result = meets(high)
    assert result is not None
    return result


def with_shrinkage(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents`` are productive after shrinkage."""
    if not 0 <= shrinkage < 1:
        raise ValueError("shrinkage must be in [0, 1)")
    return math.ceil(agents / (1 - shrinkage) - 1e-9)


def chat_slots(queue: Queue, concurrency: int, growth: float) -> tuple[Queue, int]:
    """The queue as seen by chat slots (handle time grown by concurrency) and the slots per
    agent."""
    if concurrency < 1 or growth < 0:
        raise ValueError("concurrency ≥ 1 and growth ≥ 0")
    aht = queue.aht * (1 + growth * (concurrency - 1))
    return Queue(queue.arrivals, aht, queue.interval, queue.patience), concurrency
