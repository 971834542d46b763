"""Generated stores of realistic size, in the shapes real tools export.

Each shape is what one kind of source gives: a chat platform (conversations with messages,
agent activity and surveys), a ticket export (no messages; first replies, resolutions,
reassignments and reopens as columns), a call log (answer times and handle times, no
customers), and a bare export (ids, channels, times and agents only). The data spans the
spring DST changes of Europe and North America, mixes unresolved, abandoned and reopened
conversations, and holds the cases that went wrong before: unresolved conversations under a
business-hours calendar, handled conversations without messages or handle time, agents who
answer on days they logged no activity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SHAPES = ("chat", "tickets", "calls", "bare")
START = datetime(2024, 3, 1, tzinfo=UTC)
DAYS = 60  # across 10 March (US) and 31 March (EU) DST changes
VENDORS = ("in-house", "acme", "beacon")
CHANNELS = ("chat", "email", "voice")

# The calendars the invariant reports use: weekday hours in Berlin by default, a vendor
# open around the clock, a team on a night shift across midnight.
CONFIG = """
timezone = "UTC"

[business_hours.default]
timezone = "Europe/Berlin"
mon = "08:00-18:00"
tue = "08:00-18:00"
wed = "08:00-18:00"
thu = "08:00-18:00"
fri = "08:00-18:00"
holidays = ["2024-03-29", "2024-04-01"]

[business_hours.vendors.acme]
timezone = "America/New_York"
mon = "00:00-24:00"
tue = "00:00-24:00"
wed = "00:00-24:00"
thu = "00:00-24:00"
fri = "00:00-24:00"
sat = "00:00-24:00"
sun = "00:00-24:00"

[business_hours.teams."beacon night"]
timezone = "Asia/Manila"
mon = "22:00-06:00"
tue = "22:00-06:00"
wed = "22:00-06:00"
thu = "22:00-06:00"
fri = "22:00-06:00"
"""


@dataclass(frozen=True)
class Generated:
    """The files of one generated store and what the generator knows of them."""

    shape: str
    files: list[Path]
    conversations: int


def _ts(seconds: np.ndarray) -> pa.Array:
    """UTC timestamps ``seconds`` after :data:`START` (NaN → null)."""
    base = int(START.timestamp() * 1_000_000)
    mask = np.isnan(seconds)
    micros = base + np.nan_to_num(seconds * 1_000_000).astype(np.int64)
    return pa.array(micros, pa.timestamp("us", tz="UTC"), mask=mask)


def _text(values: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(values.astype(str).tolist(), pa.string(), mask=mask)


def generate(directory: Path, shape: str, seed: int, n: int = 5_000) -> Generated:
    """Write a store's input files of the given shape; return their paths."""
    assert shape in SHAPES, shape
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    created = np.sort(rng.uniform(0, DAYS * 86_400, n))
    vendor = rng.choice(VENDORS, n, p=[0.4, 0.35, 0.25])
    channel = rng.choice(CHANNELS, n, p=[0.5, 0.3, 0.2])
    team = np.where(
        vendor == "beacon",
        rng.choice(["beacon day", "beacon night"], n),
        np.char.add(vendor.astype(str), " team"),
    )
    agent_no = rng.integers(0, 8, n)
    agent = np.char.add(np.char.add(vendor.astype(str), "-"), agent_no.astype(str))
    # Outcomes: abandoned before any answer, handled (then resolved or not).
    abandoned = rng.random(n) < 0.1
    first_delay = rng.exponential(np.where(channel == "chat", 90, 4_000), n)
    first_at = np.where(abandoned, np.nan, created + first_delay)
    resolved = ~abandoned & (rng.random(n) < 0.8)
    resolved_at = np.where(resolved, first_at + rng.exponential(7_200, n), np.nan)
    closed = resolved | (rng.random(n) < 0.5)
    leave = rng.exponential(60, n)
    closed_at = np.where(
        resolved,
        resolved_at + 600,
        np.where(closed, created + np.where(abandoned, leave, 90_000), np.nan),
    )
    ended_by = np.where(
        abandoned,
        rng.choice(["customer", "timeout"], n),
        np.where(resolved, "agent", rng.choice(["customer", "timeout", "system"], n)),
    )
    handle = np.where(~abandoned & (rng.random(n) < 0.7), rng.gamma(2.0, 200.0, n), np.nan)
    customers = rng.integers(0, max(n // 3, 1), n)
    escalated = ~abandoned & (rng.random(n) < 0.08)
    transfers = np.where(abandoned, 0, rng.poisson(0.2, n))
    reopens = np.where(resolved, rng.poisson(0.05, n), 0)
    ids = np.char.add("c", np.arange(n).astype(str))
    assigned = ~abandoned | (rng.random(n) < 0.3)  # some abandoned ones were routed already

    cols: dict[str, pa.Array] = {
        "conversation_id": _text(ids),
        "channel": _text(channel),
        "created_at": _ts(created),
        "vendor": _text(vendor),
        "team": _text(team),
        "agent_id": _text(agent, mask=~assigned),
        "queue": _text(np.char.add("q", rng.integers(0, 3, n).astype(str))),
        "topic": _text(rng.choice(["billing", "bug", "account", "other"], n)),
        "resolved_at": _ts(resolved_at),
    }
    if shape == "chat":
        cols |= {
            "customer_id": _text(np.char.add("u", customers.astype(str))),
            "closed_at": _ts(closed_at),
            "ended_by": _text(ended_by),
            "escalated": pa.array(escalated),
            "transfers": pa.array(transfers),
            "reopens": pa.array(reopens),
            # some chats carry their handle time, most derive it from messages
            "handle_seconds": pa.array(
                np.where(rng.random(n) < 0.2, handle, np.nan), from_pandas=True
            ),
        }
    elif shape == "tickets":
        # a first reply time for some tickets only: the rest are handled by agent + resolution
        known_first = rng.random(n) < 0.5
        cols |= {
            "customer_id": _text(np.char.add("u", customers.astype(str))),
            "first_response_at": _ts(np.where(known_first, first_at, np.nan)),
            "closed_at": _ts(closed_at),
            "transfers": pa.array(transfers),
            "reopens": pa.array(reopens),
            "sla_breached": pa.array(
                np.where(rng.random(n) < 0.9, first_delay > 3_600, None).tolist(), pa.bool_()
            ),
        }
    elif shape == "calls":
        cols |= {
            "first_response_at": _ts(first_at),
            "closed_at": _ts(np.where(abandoned, created + leave, closed_at)),
            "ended_by": _text(ended_by),
            "handle_seconds": pa.array(handle, from_pandas=True),
            "hold_seconds": pa.array(
                np.where(np.isnan(handle), np.nan, rng.exponential(30, n)), from_pandas=True
            ),
            "transfers": pa.array(transfers),
        }
    files = [directory / "conversations.parquet"]
    pq.write_table(pa.table(cols), files[0])
    if shape == "chat":
        files.append(_messages(directory, rng, ids, created, first_at, resolved_at, abandoned))
        files.append(_surveys(directory, rng, ids, abandoned))
    if shape in ("chat", "calls"):
        files.append(_activity(directory, rng))
    return Generated(shape, files, n)


def _messages(
    directory: Path,
    rng: np.random.Generator,
    ids: np.ndarray,
    created: np.ndarray,
    first_at: np.ndarray,
    resolved_at: np.ndarray,
    abandoned: np.ndarray,
) -> Path:
    conv, sent, role, private = [], [], [], []

    def add(i: int, at: float, who: str, note: bool = False) -> None:
        conv.append(ids[i])
        sent.append(at)
        role.append(who)
        private.append(note)

    for i in range(len(ids)):
        add(i, created[i] + rng.uniform(0, 5), "customer")
        if rng.random() < 0.3:
            add(i, created[i] + 1, "bot")
        if abandoned[i]:
            if rng.random() < 0.5:
                add(i, created[i] + rng.exponential(40), "customer")
            continue
        if rng.random() < 0.15:
            # a private note just before the reply, never before the conversation began
            add(i, first_at[i] - min(0.5, (first_at[i] - created[i]) / 2), "agent", note=True)
        add(i, first_at[i], "agent")
        t = first_at[i]
        for _ in range(rng.integers(0, 4)):
            t += rng.exponential(120)
            add(i, t, "customer")
            t += rng.exponential(60)
            add(i, t, "agent")
        if not np.isnan(resolved_at[i]) and resolved_at[i] > t:
            add(i, resolved_at[i], "system")
    table = pa.table(
        {
            "message_id": pa.array([f"m{k}" for k in range(len(conv))]),
            "conversation_id": pa.array(conv),
            "sent_at": _ts(np.array(sent)),
            "author_role": pa.array(role),
            "private": pa.array(private),
        }
    )
    path = directory / "messages.parquet"
    pq.write_table(table, path)
    return path


def _surveys(
    directory: Path, rng: np.random.Generator, ids: np.ndarray, abandoned: np.ndarray
) -> Path:
    answered = np.flatnonzero(~abandoned & (rng.random(len(ids)) < 0.3))
    kinds = rng.choice(["csat", "nps", "ces"], len(answered))
    top = {"csat": 5, "nps": 10, "ces": 7}
    low = {"csat": 1, "nps": 0, "ces": 1}
    scores = [int(rng.integers(low[k], top[k] + 1)) for k in kinds]
    table = pa.table(
        {
            "survey_id": pa.array([f"s{k}" for k in range(len(answered))]),
            "conversation_id": pa.array(ids[answered].tolist()),
            "kind": pa.array(kinds.tolist()),
            "score": pa.array(scores, pa.float64()),
        }
    )
    path = directory / "surveys.parquet"
    pq.write_table(table, path)
    return path


def _activity(directory: Path, rng: np.random.Generator) -> Path:
    """Shifts for most agents on most days; some days an agent logs nothing but still
    answers, as real logs miss."""
    rows: dict[str, list] = {k: [] for k in ("agent_id", "vendor", "team", "state", "start", "end")}
    for vendor in VENDORS:
        for number in range(8):
            for day in range(DAYS):
                if rng.random() < 0.25:
                    continue
                t = day * 86_400 + rng.uniform(6, 12) * 3_600
                for state in ("available", "busy", "break", "busy", "offline"):
                    length = rng.uniform(600, 10_800)
                    rows["agent_id"].append(f"{vendor}-{number}")
                    rows["vendor"].append(vendor)
                    rows["team"].append(f"{vendor} team")
                    rows["state"].append(state)
                    rows["start"].append(t)
                    rows["end"].append(t + length)
                    t += length
    table = pa.table(
        {
            "agent_id": pa.array(rows["agent_id"]),
            "vendor": pa.array(rows["vendor"]),
            "team": pa.array(rows["team"]),
            "state": pa.array(rows["state"]),
            "started_at": _ts(np.array(rows["start"])),
            "ended_at": _ts(np.array(rows["end"])),
        }
    )
    path = directory / "agent_activity.parquet"
    pq.write_table(table, path)
    return path
