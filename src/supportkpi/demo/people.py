"""The demo's surveys, QA reviews and agent activity, drawn from its conversations."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from supportkpi.demo.model import (
    VENDORS,
    agent_ids,
    conversation_end,
    ids,
    per_vendor,
    teams,
    timestamps,
)


def surveys(rng: np.random.Generator, conv: dict[str, np.ndarray]) -> pa.Table:
    n = len(conv["offset"])
    chat = conv["channel"] == "chat"
    handled = ~conv["abandoned"]
    target = np.where(chat, 60.0, 3600.0)
    quality = (
        per_vendor(conv["vendor"], "csat_mean")
        - 0.35 * np.log(np.maximum(conv["frt"] / target, 0.25))
        + np.where(conv["resolved"], 0.25, -0.9)
    )
    kinds = []
    for kind, rate in (("csat", 0.22), ("nps", 0.10), ("ces", 0.08)):
        pick = np.flatnonzero(handled & (rng.random(n) < rate))
        base = quality[pick] + rng.normal(0, 0.7, len(pick))
        scale_max = np.full(len(pick), {"csat": 5.0, "nps": 10.0, "ces": 7.0}[kind])
        scale_min = np.full(len(pick), 0.0 if kind == "nps" else 1.0)
        if kind == "csat":
            scale_max = per_vendor(conv["vendor"][pick], "csat_scale_max")
            score = np.clip(np.round(1 + (base - 1) * (scale_max - 1) / 4), 1, scale_max)
        elif kind == "nps":
            score = np.clip(np.round((base - 1) * 2.5 + 0.5), 0, 10)
        else:
            score = np.clip(np.round(8 - base * 1.4), 1, 7)
        kinds.append(
            pa.table(
                {
                    "conversation_id": ids("c", n)[pick],
                    "customer_id": np.char.add("cust-", conv["customer"][pick].astype(str)),
                    "kind": pa.array([kind] * len(pick)),
                    "score": score,
                    "scale_min": scale_min,
                    "scale_max": scale_max,
                    "answered_at": timestamps(
                        conversation_end({k: v[pick] for k, v in conv.items()})
                        + rng.uniform(300, 86400, len(pick))
                    ),
                }
            )
        )
    table = pa.concat_tables(kinds)
    return table.add_column(0, "survey_id", pa.array(ids("s", table.num_rows)))


def qa_reviews(rng: np.random.Generator, conv: dict[str, np.ndarray]) -> pa.Table:
    pick = np.flatnonzero(~conv["abandoned"] & (rng.random(len(conv["offset"])) < 0.03))
    score = np.clip(rng.normal(per_vendor(conv["vendor"][pick], "qa_mean"), 8), 0, 100)
    return pa.table(
        {
            "review_id": ids("qa", len(pick)),
            "conversation_id": ids("c", len(conv["offset"]))[pick],
            "reviewer_id": np.char.add("qa-", rng.integers(1, 4, len(pick)).astype(str)),
            "score": np.round(score, 1),
            "reviewed_at": timestamps(conv["offset"][pick] + rng.uniform(1, 5, len(pick)) * 86400),
        }
    )


def agent_activity(rng: np.random.Generator, days: int) -> pa.Table:
    """Per agent and working day: an 8-hour shift in 30-minute states, with a break."""
    rows: dict[str, list[np.ndarray]] = {
        k: [] for k in ("agent", "vendor", "team", "state", "start")
    }
    for v_index, v in enumerate(VENDORS):
        agent_no = np.arange(1, v.agents + 1)
        shift = np.array(v.shift_start_utc)[agent_no % len(v.shift_start_utc)]
        day_off = (agent_no[:, None] + np.arange(days)[None, :]) % 7 >= 5
        a, d = np.nonzero(~day_off)
        block = np.arange(16)
        start = d[:, None] * 86400 + shift[a][:, None] * 3600 + block[None, :] * 1800
        busy = rng.random(start.shape) < v.busy_share / (15 / 16)
        state = np.where(busy, "busy", "available")
        state[:, 8] = "break"
        vendor = np.full(len(a), v_index)
        names = agent_ids(vendor, agent_no[a])
        rows["agent"].append(np.repeat(names, 16))
        rows["vendor"].append(np.full(start.size, v.name))
        channel = np.where(agent_no[a] % 3 == 0, "email", "chat")
        rows["team"].append(np.repeat(teams(vendor, channel), 16))
        rows["state"].append(state.ravel())
        rows["start"].append(start.ravel().astype(float))
    start = np.concatenate(rows["start"])
    return pa.table(
        {
            "agent_id": np.concatenate(rows["agent"]),
            "vendor": np.concatenate(rows["vendor"]),
            "team": np.concatenate(rows["team"]),
            "state": np.concatenate(rows["state"]),
            "started_at": timestamps(start),
            "ended_at": timestamps(start + 1800),
        }
    )
