"""What the alerts remember, in the store beside the data: each rule's state (firing or not,
when it last fired), every firing and resolution, and every delivery of each to each channel
with its attempts, so that a restart neither repeats an alert nor forgets an unsent one.

The tables are made when alerts are first checked; the canonical tables do not know them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supportkpi.store.store import Store

TABLES = {
    "alert_state": """
        rule VARCHAR PRIMARY KEY,
        firing BOOLEAN NOT NULL,
        since TIMESTAMPTZ,
        last_fired_at TIMESTAMPTZ,
        value DOUBLE,
        checked_at TIMESTAMPTZ NOT NULL""",
    "alert_events": """
        event_id VARCHAR PRIMARY KEY,
        rule VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        occurred_at TIMESTAMPTZ NOT NULL,
        kpi VARCHAR NOT NULL,
        value DOUBLE,
        threshold VARCHAR,
        sample BIGINT,
        payload VARCHAR NOT NULL""",
    "alert_deliveries": """
        event_id VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        attempts INTEGER NOT NULL,
        last_error VARCHAR,
        last_attempt_at TIMESTAMPTZ,
        PRIMARY KEY (event_id, channel)""",
}


@dataclass(frozen=True)
class State:
    """A rule's remembered state."""

    rule: str
    firing: bool
    since: datetime | None
    last_fired_at: datetime | None


def ensure(store: Store) -> None:
    """Create the alert tables when missing."""
    for name, columns in TABLES.items():
        store.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")


def state(store: Store, rule: str) -> State:
    """The rule's state; never fired when unknown."""
    rows = store.execute(
        "SELECT firing, since, last_fired_at FROM alert_state WHERE rule = ?", [rule]
    )
    if not rows:
        return State(rule, False, None, None)
    return State(rule, *rows[0])


def save_state(store: Store, new: State, value: float | None, checked_at: datetime) -> None:
    """Remember ``new`` as the rule's state."""
    store.execute("DELETE FROM alert_state WHERE rule = ?", [new.rule])
    store.execute(
        "INSERT INTO alert_state VALUES (?, ?, ?, ?, ?, ?)",
        [new.rule, new.firing, new.since, new.last_fired_at, value, checked_at],
    )


def record_event(store: Store, event: dict[str, Any], channels: list[str]) -> None:
    """A firing or resolution, with one pending delivery per channel."""
    store.execute(
        "INSERT INTO alert_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            event["event_id"],
            event["rule"],
            event["status"],
            event["at"],
            event["kpi"],
            event["value"],
            event["threshold"],
            event["sample"],
            json.dumps(event, default=str),
        ],
    )
    for channel in channels:
        store.execute(
            "INSERT INTO alert_deliveries VALUES (?, ?, 'pending', 0, NULL, NULL)",
            [event["event_id"], channel],
        )


def undelivered(store: Store) -> list[tuple[dict[str, Any], str]]:
    """(event, channel) of every delivery not yet sent, oldest first."""
    rows = store.execute(
        "SELECT e.payload, d.channel FROM alert_deliveries d JOIN alert_events e USING "
        "(event_id) WHERE d.status <> 'sent' ORDER BY e.occurred_at, e.event_id, d.channel"
    )
    return [(json.loads(payload), channel) for payload, channel in rows]


def record_delivery(
    store: Store,
    event_id: str,
    channel: str,
    sent: bool,
    attempts: int,
    error: str | None,
    at: datetime,
) -> None:
    """The outcome of delivering an event to a channel, attempts added up."""
    store.execute(
        "UPDATE alert_deliveries SET status = ?, attempts = attempts + ?, last_error = ?, "
        "last_attempt_at = ? WHERE event_id = ? AND channel = ?",
        ["sent" if sent else "failed", attempts, error, at, event_id, channel],
    )


def history(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """The latest firings and resolutions, newest first, each with its deliveries."""
    if not store.exists("alert_events"):
        return []
    rows = store.execute(
        "SELECT event_id, occurred_at, rule, kind, kpi, value, threshold, sample "
        "FROM alert_events "
        "ORDER BY occurred_at DESC, event_id DESC LIMIT ?",
        [limit],
    )
    out = []
    for event_id, at, rule, kind, kpi, value, threshold, sample in rows:
        deliveries = store.execute(
            "SELECT channel, status, attempts, last_error FROM alert_deliveries "
            "WHERE event_id = ? ORDER BY channel",
            [event_id],
        )
        out.append(
            {
                "event_id": event_id,
                "at": at,
                "rule": rule,
                "status": kind,
                "kpi": kpi,
                "value": value,
                "threshold": threshold,
                "sample": sample,
                "deliveries": [
                    {"channel": c, "status": s, "attempts": n, "error": e}
                    for c, s, n, e in deliveries
                ],
            }
        )
    return out
