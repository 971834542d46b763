"""The demo operation's model: its vendors (the ground truth) and the helpers every table uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

START = datetime(2026, 6, 1, tzinfo=UTC)
TOPICS = ("billing", "delivery", "returns", "account", "technical", "product question")
ESCALATION_REASONS = (
    "technical issue",
    "refund approval",
    "billing dispute",
    "complaint",
    "policy exception",
)


@dataclass(frozen=True)
class Vendor:
    """One staffing partner and the true parameters its conversations are drawn from."""

    name: str
    agents: int
    timezone: str
    shift_start_utc: tuple[int, ...]  # hours (UTC) at which its shifts begin
    share_chat: float  # share of chat volume it takes
    share_email: float
    frt_chat_median: float  # seconds, lognormal median of first response
    frt_email_median: float
    abandon_chat: float  # probability a chat is left before any reply
    resolve: float  # probability a handled conversation is resolved
    escalate: float
    reopen: float
    follow_up: float  # probability the customer comes back within days
    csat_mean: float  # mean CSAT (1–5) before response/resolution effects
    csat_scale_max: int  # the scale this vendor's CSAT survey uses
    qa_mean: float
    busy_share: float  # share of logged-in time spent busy
    monthly_cost: float  # invoice per month, EUR


VENDORS: tuple[Vendor, ...] = (
    Vendor(
        "in-house",
        20,
        "Europe/Berlin",
        (6, 12),
        0.30,
        0.40,
        35,
        2400,
        0.03,
        0.92,
        0.05,
        0.04,
        0.07,
        4.45,
        5,
        86,
        0.74,
        80_000,
    ),
    Vendor(
        "northwind",
        25,
        "Asia/Manila",
        (0, 8, 14),
        0.45,
        0.30,
        50,
        3300,
        0.07,
        0.82,
        0.08,
        0.09,
        0.16,
        3.95,
        5,
        74,
        0.86,
        52_000,
    ),
    Vendor(
        "atlas",
        15,
        "America/Bogota",
        (12, 18),
        0.25,
        0.30,
        25,
        1800,
        0.04,
        0.88,
        0.12,
        0.05,
        0.10,
        4.25,
        10,
        81,
        0.69,
        60_000,
    ),
)


def per_vendor(vendor: np.ndarray, field: str) -> np.ndarray:
    return np.array([getattr(v, field) for v in VENDORS], dtype=float)[vendor]


def timestamps(offset: np.ndarray) -> pa.Array:
    """Timestamps from seconds after START, whole seconds as helpdesks record them."""
    seconds = np.floor(np.asarray(offset)).astype("int64") + int(START.timestamp())
    return pa.array(seconds * 1_000_000, pa.timestamp("us", tz="UTC"))


def ids(prefix: str, n: int) -> np.ndarray:
    return np.char.add(prefix, np.arange(1, n + 1).astype(str))


def agent_ids(vendor: np.ndarray, agent_no: np.ndarray) -> np.ndarray:
    codes = np.array([v.name[:2] for v in VENDORS])[vendor]
    return np.char.add(np.char.add(codes, "-"), np.char.zfill(agent_no.astype(str), 2))


def teams(vendor: np.ndarray, channel: np.ndarray) -> np.ndarray:
    names = np.array([v.name for v in VENDORS])[vendor]
    return np.char.add(np.char.add(names, " "), channel)


def conversation_end(conv: dict[str, np.ndarray]) -> np.ndarray:
    """Offset of the last message: after the first reply, one exchange per 1–3 minutes."""
    chat = conv["channel"] == "chat"
    per_exchange = np.where(chat, 110.0, 5400.0)
    return conv["offset"] + conv["frt"] + (conv["exchanges"] - 1) * per_exchange


def timestamps_or_null(offset: np.ndarray) -> pa.Array:
    mask = np.isnan(offset)
    return pc.if_else(
        pa.array(mask),
        pa.scalar(None, pa.timestamp("us", tz="UTC")),
        timestamps(np.nan_to_num(offset)),
    )
