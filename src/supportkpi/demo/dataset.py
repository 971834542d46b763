"""Realistic demo data with a known ground truth.

A support operation over 90 days: an in-house team and two outsourcing vendors (BPOs) with
different speed, quality and cost, about 60 agents in three time zones, chat and email with
daily and weekly seasonality and a few volume spikes. Conversations come with messages (and bot
greetings and private notes that must not count as replies), CSAT/NPS/CES surveys whose scores
depend on response time and resolution, escalations with reasons, transfers, reopens,
follow-up contacts, agent activity states, monthly vendor invoices that straddle the period's
edges, and revenue events. A handful of deliberately broken rows show the quarantine at work.

Everything is drawn with NumPy from one seed, in vectorised steps, so the same generator makes
the 100k-to-10M-conversation benchmark sets. :data:`VENDORS` is the ground truth.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from supportkpi.demo.model import (
    ESCALATION_REASONS,
    START,
    TOPICS,
    VENDORS,
    Vendor,
    agent_ids,
    conversation_end,
    ids,
    per_vendor,
    teams,
    timestamps,
    timestamps_or_null,
)
from supportkpi.demo.money import costs, revenue
from supportkpi.demo.people import agent_activity, qa_reviews, surveys

__all__ = ["START", "VENDORS", "DemoSet", "Vendor", "generate"]


DEMO_CONFIG = (Path(__file__).parent / "demo_config.toml").read_text(encoding="utf-8")

HOURLY_PROFILE = np.array(
    [
        1,
        0.6,
        0.4,
        0.3,
        0.3,
        0.5,
        1,
        2,
        3.5,
        4.5,
        5,
        5,
        4.6,
        4.6,
        4.8,
        4.6,
        4.2,
        3.8,
        3.2,
        2.8,
        2.4,
        2,
        1.6,
        1.2,
    ]
)
WEEKLY_PROFILE = np.array([1.15, 1.1, 1.0, 1.0, 0.95, 0.6, 0.5])  # Monday first


@dataclass(frozen=True)
class DemoSet:
    """The generated canonical tables, as Arrow tables named like the store's."""

    tables: dict[str, pa.Table]
    spike_days: tuple[int, ...]

    def write_config(self, directory: str | Path) -> Path:
        """Write the demo's supportkpi.toml: business hours and the vendors' contracts."""
        path = Path(directory) / "supportkpi.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DEMO_CONFIG, encoding="utf-8")
        return path

    def write(self, directory: str | Path) -> list[Path]:
        """Write the tables as input files (CSV, messages as Parquet); return the paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, table in self.tables.items():
            if name == "messages":
                path = out / "messages.parquet"
                pq.write_table(table, path, row_group_size=256_000)
            else:
                path = out / f"{name}.csv"
                pacsv.write_csv(with_iso_times(table), path)
            paths.append(path)
        return paths


def with_iso_times(table: pa.Table) -> pa.Table:
    """Timestamps as ISO 8601 text with a Z, as exports usually write them."""
    cols = []
    for col in table.columns:
        if pa.types.is_timestamp(col.type):
            seconds = col.cast(pa.timestamp("s", tz="UTC"), safe=False)
            text = pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ")
            cols.append(text)
        else:
            cols.append(col)
    return pa.table(cols, names=table.column_names)


def generate(
    days: int = 90,
    daily_volume: float = 450,
    seed: int = 7,
    broken_rows: bool = True,
    include: Collection[str] | None = None,
) -> DemoSet:
    """Draw a demo operation of ``days`` days at about ``daily_volume`` conversations a day.

    ``include`` limits the tables drawn (e.g. only ``{"conversations"}`` for a benchmark);
    the broken rows are planted only when every table is drawn.
    """
    rng = np.random.default_rng(seed)
    conv, spikes = _conversations(rng, days, daily_volume)
    conv = _add_follow_ups(rng, conv, days)
    makers: dict[str, Callable[[], pa.Table]] = {
        "conversations": lambda: _conversation_table(conv),
        "messages": lambda: _messages(rng, conv),
        "surveys": lambda: surveys(rng, conv),
        "agent_activity": lambda: agent_activity(rng, days),
        "qa_reviews": lambda: qa_reviews(rng, conv),
        "costs": lambda: costs(days),
        "revenue_events": lambda: revenue(rng, conv, days),
    }
    tables = {name: make() for name, make in makers.items() if include is None or name in include}
    if broken_rows and include is None:
        tables = _break_some_rows(tables)
    return DemoSet(tables, tuple(int(d) for d in spikes))


# ---------------------------------------------------------------- conversations


def _conversations(
    rng: np.random.Generator, days: int, daily_volume: float
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    weekday0 = START.weekday()
    day_factor = WEEKLY_PROFILE[(np.arange(days) + weekday0) % 7]
    trend = np.linspace(0.95, 1.08, days)
    spikes = rng.choice(np.arange(7, days), size=min(3, max(days - 7, 0)), replace=False)
    day_factor = day_factor * trend
    day_factor[spikes] *= rng.uniform(2.2, 3.0, size=len(spikes))
    per_day = rng.poisson(daily_volume * day_factor / day_factor.mean())
    day = np.repeat(np.arange(days), per_day)
    n = len(day)
    hour = rng.choice(24, size=n, p=HOURLY_PROFILE / HOURLY_PROFILE.sum())
    offset = day * 86400 + hour * 3600 + rng.uniform(0, 3600, n)
    order = np.argsort(offset, kind="stable")
    offset, day = offset[order], day[order]
    channel = np.where(rng.random(n) < 0.65, "chat", "email")
    # a large pool: repeat contacts by chance are rare, follow-ups come from _add_follow_ups
    customer = rng.integers(0, max(n * 4, 10), n)
    conv = {
        "offset": offset,
        "day": day,
        "channel": channel,
        "customer": customer,
        "spike": np.isin(day, spikes),
    }
    return _attributes(rng, conv), np.sort(spikes)


def _pick_vendor(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    chat_p = np.array([v.share_chat for v in VENDORS])
    email_p = np.array([v.share_email for v in VENDORS])
    u = rng.random(len(channel))
    chat_pick = np.searchsorted(np.cumsum(chat_p / chat_p.sum()), u, side="right")
    email_pick = np.searchsorted(np.cumsum(email_p / email_p.sum()), u, side="right")
    return np.minimum(np.where(channel == "chat", chat_pick, email_pick), len(VENDORS) - 1)


def _attributes(rng: np.random.Generator, conv: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    n = len(conv["offset"])
    chat = conv["channel"] == "chat"
    vendor = _pick_vendor(rng, conv["channel"])
    agents = np.array([v.agents for v in VENDORS])[vendor]
    agent_no = rng.integers(0, 1 << 30, n) % agents + 1
    median = np.where(
        chat, per_vendor(vendor, "frt_chat_median"), per_vendor(vendor, "frt_email_median")
    )
    median = median * np.where(conv["spike"], 2.5, 1.0)
    frt = rng.lognormal(np.log(median), np.where(chat, 0.7, 0.9))
    abandoned = chat & (
        rng.random(n) < per_vendor(vendor, "abandon_chat") * np.where(conv["spike"], 2.0, 1.0)
    )
    resolved = ~abandoned & (rng.random(n) < per_vendor(vendor, "resolve"))
    conv.update(
        vendor=vendor,
        agent_no=agent_no,
        frt=frt,
        abandoned=abandoned,
        resolved=resolved,
        exchanges=np.where(chat, 1 + rng.poisson(2.8, n), 1 + rng.poisson(1.0, n)),
        escalated=~abandoned & (rng.random(n) < per_vendor(vendor, "escalate")),
        reopened=resolved & (rng.random(n) < per_vendor(vendor, "reopen")),
        transfers=np.where(abandoned, 0, rng.poisson(0.15, n)),
        topic=rng.integers(0, len(TOPICS), n),
        reason=rng.integers(0, len(ESCALATION_REASONS), n),
        engagement=np.round(rng.beta(2, 2, n) * 100, 1),
        handle=np.round(rng.lognormal(np.log(np.where(chat, 420, 360)), 0.5), 1),
        wrap=np.round(rng.uniform(15, 90, n), 1),
        patience=rng.exponential(np.where(chat, 90, 600)),
    )
    return conv


def _add_follow_ups(
    rng: np.random.Generator, conv: dict[str, np.ndarray], days: int
) -> dict[str, np.ndarray]:
    """Some customers come back within days: worse vendors, more often."""
    p = per_vendor(conv["vendor"], "follow_up") * np.where(conv["resolved"], 1.0, 2.0)
    parents = np.flatnonzero(rng.random(len(p)) < p)
    gap = conv["frt"][parents] + rng.uniform(0.2, 6.0, len(parents)) * 86400
    offset = conv["offset"][parents] + gap
    keep = offset < days * 86400
    parents, offset = parents[keep], offset[keep]
    child = {
        "offset": offset,
        "day": (offset // 86400).astype(int),
        "channel": conv["channel"][parents],
        "customer": conv["customer"][parents],
        "spike": np.zeros(len(parents), bool),
    }
    child = _attributes(rng, child)
    merged = {k: np.concatenate([conv[k], child[k]]) for k in conv}
    order = np.argsort(merged["offset"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def _conversation_table(conv: dict[str, np.ndarray]) -> pa.Table:
    n = len(conv["offset"])
    handled = ~conv["abandoned"]
    end = conversation_end(conv)
    chat = conv["channel"] == "chat"
    left = conv["offset"] + np.minimum(conv["patience"], conv["frt"])
    ended_by = np.where(
        conv["abandoned"],
        np.where(chat, "customer", "timeout"),
        np.where(conv["resolved"], "agent", "customer"),
    )
    resolved_at = np.where(conv["resolved"], end + 30, np.nan)
    closed_at = np.where(handled, end + 60, left)
    vendor_names = np.array([v.name for v in VENDORS])[conv["vendor"]]
    return pa.table(
        {
            "conversation_id": ids("c", n),
            "channel": conv["channel"],
            "created_at": timestamps(conv["offset"]),
            "customer_id": np.char.add("cust-", conv["customer"].astype(str)),
            "vendor": vendor_names,
            "team": teams(conv["vendor"], conv["channel"]),
            "agent_id": pa.array(
                np.where(handled, agent_ids(conv["vendor"], conv["agent_no"]), None)
            ),
            "queue": np.where(chat, "web chat", "support inbox"),
            "resolved_at": timestamps_or_null(resolved_at),
            "closed_at": timestamps(closed_at),
            "ended_by": ended_by,
            "escalated": conv["escalated"],
            "escalation_reason": pa.array(
                np.where(conv["escalated"], np.array(ESCALATION_REASONS)[conv["reason"]], None)
            ),
            "transfers": conv["transfers"].astype("int64"),
            "reopens": conv["reopened"].astype("int64"),
            "handle_seconds": pa.array(
                np.where(handled & ~chat, conv["handle"], np.nan), from_pandas=True
            ),
            "wrap_seconds": pa.array(np.where(handled, conv["wrap"], np.nan), from_pandas=True),
            "topic": np.array(TOPICS)[conv["topic"]],
            "engagement_score": conv["engagement"],
        }
    )


# ---------------------------------------------------------------- messages


def _messages(rng: np.random.Generator, conv: dict[str, np.ndarray]) -> pa.Table:
    n = len(conv["offset"])
    chat = conv["channel"] == "chat"
    handled = ~conv["abandoned"]
    conv_ids = ids("c", n)
    agents = agent_ids(conv["vendor"], conv["agent_no"])
    # customer's opening message, then a bot greeting on chat
    parts = [
        _msg_block(conv_ids, conv["offset"] + 2, "customer", conv["customer"].astype(str)),
        _msg_block(conv_ids[chat], conv["offset"][chat] + 3, "bot", "greeter"),
    ]
    # exchanges: the agent answers, the customer writes again, the agent answers…
    idx = np.repeat(np.flatnonzero(handled), conv["exchanges"][handled])
    step = _within_group_rank(idx)
    per_exchange = np.where(chat[idx], 110.0, 5400.0)
    agent_at = conv["offset"][idx] + 2 + conv["frt"][idx] + step * per_exchange
    parts.append(_msg_block(conv_ids[idx], agent_at, "agent", agents[idx]))
    later = step > 0
    customer_at = agent_at[later] - per_exchange[later] * rng.uniform(0.2, 0.6, later.sum())
    parts.append(
        _msg_block(
            conv_ids[idx][later], customer_at, "customer", conv["customer"][idx][later].astype(str)
        )
    )
    # private notes by the agent, which are no reply
    noted = np.flatnonzero(handled & (rng.random(n) < 0.1))
    parts.append(
        _msg_block(
            conv_ids[noted], conv["offset"][noted] + 1.0, "agent", agents[noted], private=True
        )
    )
    table = pa.concat_tables(parts)
    order = pc.sort_indices(table, [("conversation_id", "ascending"), ("sent_at", "ascending")])
    table = table.take(order)
    return table.set_column(0, "message_id", pa.array(ids("m", table.num_rows)))


def _within_group_rank(idx: np.ndarray) -> np.ndarray:
    """0, 1, 2… within each run of equal values of a sorted array."""
    starts = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
    lengths = np.diff(np.r_[starts, len(idx)])
    return np.arange(len(idx)) - np.repeat(starts, lengths)


_TEXTS = {
    "customer": "Hi, I need help with my order.",
    "agent": "Happy to help!",
    "bot": "Thanks for reaching out, an agent will be with you shortly.",
}


def _msg_block(
    conv_ids: np.ndarray, at: np.ndarray, role: str, author: object, private: bool = False
) -> pa.Table:
    n = len(conv_ids)
    text = "Customer asked about a refund before." if private else _TEXTS[role]
    authors = np.broadcast_to(np.asarray(author, dtype=str), (n,))
    return pa.table(
        {
            "message_id": pa.array([""] * n),
            "conversation_id": conv_ids,
            "sent_at": timestamps(at),
            "author_role": pa.array([role] * n),
            "author_id": authors,
            "private": pa.array([private] * n),
            "text": pa.array([text] * n),
        }
    )


# ---------------------------------------------------------------- surveys, QA, activity


# ---------------------------------------------------------------- money


def _break_some_rows(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """A few rows of the kind real exports carry, for the quarantine to catch."""
    surveys = tables["surveys"]
    bad = surveys.slice(0, 3).to_pydict()
    bad["survey_id"] = ["s-bad-1", "s-bad-2", "s-bad-3"]
    bad["score"] = [6.0, 0.0, 9.0]
    bad["scale_max"] = [5.0, 5.0, 5.0]
    bad["kind"] = ["csat", "csat", "csat"]
    bad["scale_min"] = [1.0, 1.0, 1.0]
    tables["surveys"] = pa.concat_tables([surveys, pa.table(bad, schema=surveys.schema)])
    messages = tables["messages"]
    orphan = messages.slice(0, 2).to_pydict()
    orphan["message_id"] = ["m-orphan-1", "m-orphan-2"]
    orphan["conversation_id"] = ["c-missing-1", "c-missing-2"]
    tables["messages"] = pa.concat_tables([messages, pa.table(orphan, schema=messages.schema)])
    return tables
