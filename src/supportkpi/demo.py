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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

START = datetime(2026, 6, 1, tzinfo=UTC)
TOPICS = ("billing", "delivery", "returns", "account", "technical", "product question")
ESCALATION_REASONS = ("technical issue", "refund approval", "billing dispute", "complaint",
                      "policy exception")


@dataclass(frozen=True)
class Vendor:
    """One staffing partner and the true parameters its conversations are drawn from."""

    name: str
    agents: int
    timezone: str
    shift_start_utc: tuple[int, ...]   # hours (UTC) at which its shifts begin
    share_chat: float                  # share of chat volume it takes
    share_email: float
    frt_chat_median: float             # seconds, lognormal median of first response
    frt_email_median: float
    abandon_chat: float                # probability a chat is left before any reply
    resolve: float                     # probability a handled conversation is resolved
    escalate: float
    reopen: float
    follow_up: float                   # probability the customer comes back within days
    csat_mean: float                   # mean CSAT (1–5) before response/resolution effects
    csat_scale_max: int                # the scale this vendor's CSAT survey uses
    qa_mean: float
    busy_share: float                  # share of logged-in time spent busy
    monthly_cost: float                # invoice per month, EUR


VENDORS: tuple[Vendor, ...] = (
    Vendor("in-house", 20, "Europe/Berlin", (6, 12), 0.30, 0.40, 35, 2400, 0.03, 0.92,
           0.05, 0.04, 0.07, 4.45, 5, 86, 0.74, 80_000),
    Vendor("northwind", 25, "Asia/Manila", (0, 8, 14), 0.45, 0.30, 50, 3300, 0.07, 0.82,
           0.08, 0.09, 0.16, 3.95, 5, 74, 0.86, 52_000),
    Vendor("atlas", 15, "America/Bogota", (12, 18), 0.25, 0.30, 25, 1800, 0.04, 0.88,
           0.12, 0.05, 0.10, 4.25, 10, 81, 0.69, 60_000),
)

DEMO_CONFIG = """\
# Settings of the demo operation (see the README for every key).
timezone = "Europe/Berlin"

[business_hours.default]
timezone = "Europe/Berlin"
mon = "08:00-20:00"
tue = "08:00-20:00"
wed = "08:00-20:00"
thu = "08:00-20:00"
fri = "08:00-20:00"
sat = "10:00-16:00"

[business_hours.vendors.northwind]
timezone = "Asia/Manila"
mon = "00:00-24:00"
tue = "00:00-24:00"
wed = "00:00-24:00"
thu = "00:00-24:00"
fri = "00:00-24:00"
sat = "00:00-24:00"
sun = "00:00-24:00"

# northwind is the cheaper vendor; its contract asks for quality it does not deliver.
[[contracts.northwind]]
kpi = "first_contact_resolution"
op = ">="
value = 0.80

[[contracts.northwind]]
kpi = "csat"
op = ">="
value = 0.85

[[contracts.northwind]]
kpi = "first_response_time"
op = "<="
value = 60
channel = "chat"

[[contracts.northwind]]
kpi = "cost_per_contact"
op = "<="
value = 10

[[contracts.atlas]]
kpi = "first_response_time"
op = "<="
value = 45
channel = "chat"

[[contracts.atlas]]
kpi = "escalation_rate"
op = "<="
value = 0.10

[[contracts.atlas]]
kpi = "csat"
op = ">="
value = 0.80

[workforce]
service_level = 0.8
shrinkage = 0.3
concurrency = 2
hourly_rate = { in-house = 32.0, northwind = 14.0, atlas = 18.0 }
"""

HOURLY_PROFILE = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 3.5, 4.5, 5, 5, 4.6, 4.6, 4.8, 4.6,
                           4.2, 3.8, 3.2, 2.8, 2.4, 2, 1.6, 1.2])
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
                pacsv.write_csv(_with_iso_times(table), path)
            paths.append(path)
        return paths


def _with_iso_times(table: pa.Table) -> pa.Table:
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


def generate(days: int = 90, daily_volume: float = 450, seed: int = 7,
             broken_rows: bool = True, include: Collection[str] | None = None) -> DemoSet:
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
        "surveys": lambda: _surveys(rng, conv),
        "agent_activity": lambda: _agent_activity(rng, days),
        "qa_reviews": lambda: _qa_reviews(rng, conv),
        "costs": lambda: _costs(days),
        "revenue_events": lambda: _revenue(rng, conv, days),
    }
    tables = {name: make() for name, make in makers.items()
              if include is None or name in include}
    if broken_rows and include is None:
        tables = _break_some_rows(tables)
    return DemoSet(tables, tuple(int(d) for d in spikes))


# ---------------------------------------------------------------- conversations


def _conversations(rng: np.random.Generator, days: int,
                   daily_volume: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
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
    conv = {"offset": offset, "day": day, "channel": channel,
            "customer": customer, "spike": np.isin(day, spikes)}
    return _attributes(rng, conv), np.sort(spikes)


def _pick_vendor(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    chat_p = np.array([v.share_chat for v in VENDORS])
    email_p = np.array([v.share_email for v in VENDORS])
    u = rng.random(len(channel))
    chat_pick = np.searchsorted(np.cumsum(chat_p / chat_p.sum()), u, side="right")
    email_pick = np.searchsorted(np.cumsum(email_p / email_p.sum()), u, side="right")
    return np.minimum(np.where(channel == "chat", chat_pick, email_pick), len(VENDORS) - 1)


def _per_vendor(vendor: np.ndarray, field: str) -> np.ndarray:
    return np.array([getattr(v, field) for v in VENDORS], dtype=float)[vendor]


def _attributes(rng: np.random.Generator, conv: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    n = len(conv["offset"])
    chat = conv["channel"] == "chat"
    vendor = _pick_vendor(rng, conv["channel"])
    agents = np.array([v.agents for v in VENDORS])[vendor]
    agent_no = rng.integers(0, 1 << 30, n) % agents + 1
    median = np.where(chat, _per_vendor(vendor, "frt_chat_median"),
                      _per_vendor(vendor, "frt_email_median"))
    median = median * np.where(conv["spike"], 2.5, 1.0)
    frt = rng.lognormal(np.log(median), np.where(chat, 0.7, 0.9))
    abandoned = chat & (rng.random(n) < _per_vendor(vendor, "abandon_chat")
                        * np.where(conv["spike"], 2.0, 1.0))
    resolved = ~abandoned & (rng.random(n) < _per_vendor(vendor, "resolve"))
    conv.update(
        vendor=vendor, agent_no=agent_no, frt=frt, abandoned=abandoned, resolved=resolved,
        exchanges=np.where(chat, 1 + rng.poisson(2.8, n), 1 + rng.poisson(1.0, n)),
        escalated=~abandoned & (rng.random(n) < _per_vendor(vendor, "escalate")),
        reopened=resolved & (rng.random(n) < _per_vendor(vendor, "reopen")),
        transfers=np.where(abandoned, 0, rng.poisson(0.15, n)),
        topic=rng.integers(0, len(TOPICS), n),
        reason=rng.integers(0, len(ESCALATION_REASONS), n),
        engagement=np.round(rng.beta(2, 2, n) * 100, 1),
        handle=np.round(rng.lognormal(np.log(np.where(chat, 420, 360)), 0.5), 1),
        wrap=np.round(rng.uniform(15, 90, n), 1),
        patience=rng.exponential(np.where(chat, 90, 600)),
    )
    return conv


def _add_follow_ups(rng: np.random.Generator, conv: dict[str, np.ndarray],
                    days: int) -> dict[str, np.ndarray]:
    """Some customers come back within days: worse vendors, more often."""
    p = _per_vendor(conv["vendor"], "follow_up") * np.where(conv["resolved"], 1.0, 2.0)
    parents = np.flatnonzero(rng.random(len(p)) < p)
    gap = conv["frt"][parents] + rng.uniform(0.2, 6.0, len(parents)) * 86400
    offset = conv["offset"][parents] + gap
    keep = offset < days * 86400
    parents, offset = parents[keep], offset[keep]
    child = {"offset": offset, "day": (offset // 86400).astype(int),
             "channel": conv["channel"][parents], "customer": conv["customer"][parents],
             "spike": np.zeros(len(parents), bool)}
    child = _attributes(rng, child)
    merged = {k: np.concatenate([conv[k], child[k]]) for k in conv}
    order = np.argsort(merged["offset"], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def _ts(offset: np.ndarray) -> pa.Array:
    """Timestamps from seconds after START, whole seconds as helpdesks record them."""
    seconds = np.floor(np.asarray(offset)).astype("int64") + int(START.timestamp())
    return pa.array(seconds * 1_000_000, pa.timestamp("us", tz="UTC"))


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.char.add(prefix, np.arange(1, n + 1).astype(str))


def _agent_ids(vendor: np.ndarray, agent_no: np.ndarray) -> np.ndarray:
    codes = np.array([v.name[:2] for v in VENDORS])[vendor]
    return np.char.add(np.char.add(codes, "-"), np.char.zfill(agent_no.astype(str), 2))


def _teams(vendor: np.ndarray, channel: np.ndarray) -> np.ndarray:
    names = np.array([v.name for v in VENDORS])[vendor]
    return np.char.add(np.char.add(names, " "), channel)


def _conversation_end(conv: dict[str, np.ndarray]) -> np.ndarray:
    """Offset of the last message: after the first reply, one exchange per 1–3 minutes."""
    chat = conv["channel"] == "chat"
    per_exchange = np.where(chat, 110.0, 5400.0)
    return conv["offset"] + conv["frt"] + (conv["exchanges"] - 1) * per_exchange


def _conversation_table(conv: dict[str, np.ndarray]) -> pa.Table:
    n = len(conv["offset"])
    handled = ~conv["abandoned"]
    end = _conversation_end(conv)
    chat = conv["channel"] == "chat"
    left = conv["offset"] + np.minimum(conv["patience"], conv["frt"])
    ended_by = np.where(conv["abandoned"], np.where(chat, "customer", "timeout"),
                        np.where(conv["resolved"], "agent", "customer"))
    resolved_at = np.where(conv["resolved"], end + 30, np.nan)
    closed_at = np.where(handled, end + 60, left)
    vendor_names = np.array([v.name for v in VENDORS])[conv["vendor"]]
    return pa.table({
        "conversation_id": _ids("c", n),
        "channel": conv["channel"],
        "created_at": _ts(conv["offset"]),
        "customer_id": np.char.add("cust-", conv["customer"].astype(str)),
        "vendor": vendor_names,
        "team": _teams(conv["vendor"], conv["channel"]),
        "agent_id": pa.array(np.where(handled, _agent_ids(conv["vendor"], conv["agent_no"]),
                                      None)),
        "queue": np.where(chat, "web chat", "support inbox"),
        "resolved_at": _ts_or_null(resolved_at),
        "closed_at": _ts(closed_at),
        "ended_by": ended_by,
        "escalated": conv["escalated"],
        "escalation_reason": pa.array(np.where(
            conv["escalated"], np.array(ESCALATION_REASONS)[conv["reason"]], None)),
        "transfers": conv["transfers"].astype("int64"),
        "reopens": conv["reopened"].astype("int64"),
        "handle_seconds": pa.array(np.where(handled & ~chat, conv["handle"], np.nan),
                                   from_pandas=True),
        "wrap_seconds": pa.array(np.where(handled, conv["wrap"], np.nan), from_pandas=True),
        "topic": np.array(TOPICS)[conv["topic"]],
        "engagement_score": conv["engagement"],
    })


def _ts_or_null(offset: np.ndarray) -> pa.Array:
    mask = np.isnan(offset)
    return pc.if_else(pa.array(mask), pa.scalar(None, pa.timestamp("us", tz="UTC")),
                              _ts(np.nan_to_num(offset)))


# ---------------------------------------------------------------- messages


def _messages(rng: np.random.Generator, conv: dict[str, np.ndarray]) -> pa.Table:
    n = len(conv["offset"])
    chat = conv["channel"] == "chat"
    handled = ~conv["abandoned"]
    conv_ids = _ids("c", n)
    agents = _agent_ids(conv["vendor"], conv["agent_no"])
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
    parts.append(_msg_block(conv_ids[idx][later], customer_at, "customer",
                            conv["customer"][idx][later].astype(str)))
    # private notes by the agent, which are no reply
    noted = np.flatnonzero(handled & (rng.random(n) < 0.1))
    parts.append(_msg_block(conv_ids[noted], conv["offset"][noted] + 1.0, "agent",
                            agents[noted], private=True))
    table = pa.concat_tables(parts)
    order = pc.sort_indices(table, [("conversation_id", "ascending"),
                                            ("sent_at", "ascending")])
    table = table.take(order)
    return table.set_column(0, "message_id", pa.array(_ids("m", table.num_rows)))


def _within_group_rank(idx: np.ndarray) -> np.ndarray:
    """0, 1, 2… within each run of equal values of a sorted array."""
    starts = np.r_[0, np.flatnonzero(np.diff(idx)) + 1]
    lengths = np.diff(np.r_[starts, len(idx)])
    return np.arange(len(idx)) - np.repeat(starts, lengths)


_TEXTS = {"customer": "Hi, I need help with my order.", "agent": "Happy to help!",
          "bot": "Thanks for reaching out, an agent will be with you shortly."}


def _msg_block(conv_ids: np.ndarray, at: np.ndarray, role: str, author: object,
               private: bool = False) -> pa.Table:
    n = len(conv_ids)
    text = "Customer asked about a refund before." if private else _TEXTS[role]
    authors = np.broadcast_to(np.asarray(author, dtype=str), (n,))
    return pa.table({
        "message_id": pa.array([""] * n),
        "conversation_id": conv_ids,
        "sent_at": _ts(at),
        "author_role": pa.array([role] * n),
        "author_id": authors,
        "private": pa.array([private] * n),
        "text": pa.array([text] * n),
    })


# ---------------------------------------------------------------- surveys, QA, activity


def _surveys(rng: np.random.Generator, conv: dict[str, np.ndarray]) -> pa.Table:
    n = len(conv["offset"])
    chat = conv["channel"] == "chat"
    handled = ~conv["abandoned"]
    target = np.where(chat, 60.0, 3600.0)
    quality = (_per_vendor(conv["vendor"], "csat_mean")
               - 0.35 * np.log(np.maximum(conv["frt"] / target, 0.25))
               + np.where(conv["resolved"], 0.25, -0.9))
    kinds = []
    for kind, rate in (("csat", 0.22), ("nps", 0.10), ("ces", 0.08)):
        pick = np.flatnonzero(handled & (rng.random(n) < rate))
        base = quality[pick] + rng.normal(0, 0.7, len(pick))
        scale_max = np.full(len(pick), {"csat": 5.0, "nps": 10.0, "ces": 7.0}[kind])
        scale_min = np.full(len(pick), 0.0 if kind == "nps" else 1.0)
        if kind == "csat":
            scale_max = _per_vendor(conv["vendor"][pick], "csat_scale_max")
            score = np.clip(np.round(1 + (base - 1) * (scale_max - 1) / 4), 1, scale_max)
        elif kind == "nps":
            score = np.clip(np.round((base - 1) * 2.5 + 0.5), 0, 10)
        else:
            score = np.clip(np.round(8 - base * 1.4), 1, 7)
        kinds.append(pa.table({
            "conversation_id": _ids("c", n)[pick],
            "customer_id": np.char.add("cust-", conv["customer"][pick].astype(str)),
            "kind": pa.array([kind] * len(pick)),
            "score": score, "scale_min": scale_min, "scale_max": scale_max,
            "answered_at": _ts(_conversation_end({k: v[pick] for k, v in conv.items()})
                               + rng.uniform(300, 86400, len(pick))),
        }))
    table = pa.concat_tables(kinds)
    return table.add_column(0, "survey_id", pa.array(_ids("s", table.num_rows)))


def _qa_reviews(rng: np.random.Generator, conv: dict[str, np.ndarray]) -> pa.Table:
    pick = np.flatnonzero(~conv["abandoned"] & (rng.random(len(conv["offset"])) < 0.03))
    score = np.clip(rng.normal(_per_vendor(conv["vendor"][pick], "qa_mean"), 8), 0, 100)
    return pa.table({
        "review_id": _ids("qa", len(pick)),
        "conversation_id": _ids("c", len(conv["offset"]))[pick],
        "reviewer_id": np.char.add("qa-", rng.integers(1, 4, len(pick)).astype(str)),
        "score": np.round(score, 1),
        "reviewed_at": _ts(conv["offset"][pick] + rng.uniform(1, 5, len(pick)) * 86400),
    })


def _agent_activity(rng: np.random.Generator, days: int) -> pa.Table:
    """Per agent and working day: an 8-hour shift in 30-minute states, with a break."""
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("agent", "vendor", "team", "state",
                                                         "start")}
    for v_index, v in enumerate(VENDORS):
        agent_no = np.arange(1, v.agents + 1)
        shift = np.array(v.shift_start_utc)[agent_no % len(v.shift_start_utc)]
        day_off = (agent_no[:, None] + np.arange(days)[None, :]) % 7 >= 5
        a, d = np.nonzero(~day_off)
        block = np.arange(16)
        start = (d[:, None] * 86400 + shift[a][:, None] * 3600 + block[None, :] * 1800)
        busy = rng.random(start.shape) < v.busy_share / (15 / 16)
        state = np.where(busy, "busy", "available")
        state[:, 8] = "break"
        vendor = np.full(len(a), v_index)
        agent_ids = _agent_ids(vendor, agent_no[a])
        rows["agent"].append(np.repeat(agent_ids, 16))
        rows["vendor"].append(np.full(start.size, v.name))
        channel = np.where(agent_no[a] % 3 == 0, "email", "chat")
        rows["team"].append(np.repeat(_teams(vendor, channel), 16))
        rows["state"].append(state.ravel())
        rows["start"].append(start.ravel().astype(float))
    start = np.concatenate(rows["start"])
    return pa.table({
        "agent_id": np.concatenate(rows["agent"]),
        "vendor": np.concatenate(rows["vendor"]),
        "team": np.concatenate(rows["team"]),
        "state": np.concatenate(rows["state"]),
        "started_at": _ts(start),
        "ended_at": _ts(start + 1800),
    })


# ---------------------------------------------------------------- money


def _costs(days: int) -> pa.Table:
    """Monthly invoices per vendor, by calendar month: the first and last straddle the data."""
    end = START + timedelta(days=days)
    months = []
    m = datetime(START.year, START.month, 1, tzinfo=UTC)
    while m < end:
        nxt = datetime(m.year + m.month // 12, m.month % 12 + 1, 1, tzinfo=UTC)
        months.append((m, nxt))
        m = nxt
    rows = [(v.name, a, b, float(v.monthly_cost), "EUR", "invoice")
            for v in VENDORS for a, b in months]
    names = ("vendor", "period_start", "period_end", "amount", "currency", "kind")
    cols = list(zip(*rows, strict=True))
    return pa.table({n: pa.array(c) for n, c in zip(names, cols, strict=True)})


def _revenue(rng: np.random.Generator, conv: dict[str, np.ndarray], days: int) -> pa.Table:
    customers = np.unique(conv["customer"])
    n_purchases = rng.poisson(days / 45, len(customers))
    who = np.repeat(customers, n_purchases)
    when = rng.uniform(0, days * 86400, len(who))
    kind = np.full(len(who), "purchase", dtype=object)
    amount = np.round(rng.lognormal(np.log(60), 0.6, len(who)), 2)
    # upsells and cross-sells shortly after a resolved conversation
    sold = np.flatnonzero(conv["resolved"] & (rng.random(len(conv["offset"])) < 0.04))
    sell_kind = np.where(rng.random(len(sold)) < 0.6, "upsell", "cross_sell")
    churned = customers[rng.random(len(customers)) < 0.03]
    table = pa.table({
        "customer_id": np.char.add("cust-", np.concatenate(
            [who, conv["customer"][sold], churned]).astype(str)),
        "occurred_at": _ts(np.concatenate([
            when, conv["offset"][sold] + rng.uniform(600, 3 * 86400, len(sold)),
            rng.uniform(0, days * 86400, len(churned))])),
        "amount": np.concatenate([amount, np.round(rng.lognormal(np.log(40), 0.5, len(sold)),
                                                   2), np.zeros(len(churned))]),
        "kind": np.concatenate([kind, sell_kind, np.full(len(churned), "churn")]).astype(str),
        "conversation_id": pa.array(np.concatenate([
            np.full(len(who), None), _ids("c", len(conv["offset"]))[sold],
            np.full(len(churned), None)])),
    })
    return table.add_column(0, "event_id", pa.array(_ids("r", table.num_rows)))


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
