"""What scheduled deliveries remember, in the store beside the data: every report made for a
due time of a schedule (one item per vendor for reviews) with its content, and each delivery
of it to each channel with its attempts. An item is written, with its deliveries pending,
before anything is sent; so after a restart a due time already made is never made or sent
again, and a delivery that failed is tried again until it goes through.

The tables are made when schedules first run; the canonical tables do not know them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from supportkpi.store.store import Store

TABLES = {
    "schedule_items": """
        schedule VARCHAR NOT NULL,
        due_at TIMESTAMPTZ NOT NULL,
        item VARCHAR NOT NULL,
        made_at TIMESTAMPTZ NOT NULL,
        payload VARCHAR NOT NULL,
        PRIMARY KEY (schedule, due_at, item)""",
    "schedule_deliveries": """
        schedule VARCHAR NOT NULL,
        due_at TIMESTAMPTZ NOT NULL,
        item VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        attempts INTEGER NOT NULL,
        last_error VARCHAR,
        last_attempt_at TIMESTAMPTZ,
        PRIMARY KEY (schedule, due_at, item, channel)""",
}

Key = tuple[str, datetime, str]  # schedule, due time, item


def ensure(store: Store) -> None:
    """Create the schedule tables when missing."""
    for name, columns in TABLES.items():
        store.raw.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")


def made(store: Store, schedule: str, due_at: datetime) -> bool:
    """Whether the reports of this due time were made already."""
    rows = store.execute(
        "SELECT count(*) FROM schedule_items WHERE schedule = ? AND due_at = ?",
        [schedule, due_at],
    )
    return bool(rows[0][0])


def record_items(
    store: Store,
    schedule: str,
    due_at: datetime,
    items: list[tuple[str, dict[str, Any]]],
    channels: list[str],
    at: datetime,
) -> None:
    """The reports of one due time, each with one pending delivery per channel, in one
    transaction: all of them or none."""
    with store.transaction():
        for item, payload in items:
            store.raw.execute(
                "INSERT INTO schedule_items VALUES (?, ?, ?, ?, ?)",
                [schedule, due_at, item, at, json.dumps(payload, default=str)],
            )
            for channel in channels:
                store.raw.execute(
                    "INSERT INTO schedule_deliveries VALUES (?, ?, ?, ?, 'pending', 0, NULL, NULL)",
                    [schedule, due_at, item, channel],
                )


def undelivered(store: Store) -> list[tuple[Key, str, dict[str, Any]]]:
    """((schedule, due time, item), channel, payload) of every delivery not yet sent."""
    rows = store.execute(
        "SELECT d.schedule, d.due_at, d.item, d.channel, i.payload FROM schedule_deliveries d "
        "JOIN schedule_items i USING (schedule, due_at, item) WHERE d.status <> 'sent' "
        "ORDER BY d.due_at, d.schedule, d.item, d.channel"
    )
    return [((s, due, item), channel, json.loads(p)) for s, due, item, channel, p in rows]


def record_delivery(
    store: Store, key: Key, channel: str, sent: bool, attempts: int, error: str | None, at: datetime
) -> None:
    """The outcome of one delivery, attempts added up."""
    store.raw.execute(
        "UPDATE schedule_deliveries SET status = ?, attempts = attempts + ?, last_error = ?, "
        "last_attempt_at = ? WHERE schedule = ? AND due_at = ? AND item = ? AND channel = ?",
        ["sent" if sent else "failed", attempts, error, at, *key, channel],
    )


def history(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """The latest deliveries, newest due time first."""
    if not store.exists("schedule_deliveries"):
        return []
    rows = store.execute(
        "SELECT schedule, due_at, item, channel, status, attempts, last_error, last_attempt_at "
        "FROM schedule_deliveries ORDER BY due_at DESC, schedule, item, channel LIMIT ?",
        [limit],
    )
    names = ("schedule", "due_at", "item", "channel", "status", "attempts", "error", "sent_at")
    return [dict(zip(names, r, strict=True)) for r in rows]
