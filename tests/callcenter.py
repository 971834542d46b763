"""The public bank call-centre log read straight from its raw file, for workforce tests.

Calls that asked for an agent become conversations: not PHANTOM, and either queued
(``q_start`` is not 0:00:00) or served. A call is created when it joined the queue, or when it
left the voice menu if an agent took it at once; it is answered when the outcome is AGENT;
its wait is ``q_time`` and its service ``ser_time`` (seconds)."""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from supportkpi.workforce.forecast import Series


@dataclass(frozen=True)
class Call:
    """One call that asked for an agent."""

    created: datetime
    answered: bool
    wait: float
    service: float


def calls(path: Path) -> list[Call]:
    """Every call of the file that asked for an agent, in file order."""
    delimiter = "\t" if path.name.endswith(".tsv.gz") else ","
    out = []
    with gzip.open(path, "rt", newline="") as f:
        for row in csv.DictReader(f, delimiter=delimiter):
            outcome, queued = row["outcome"], row["q_start"] != "0:00:00"
            if outcome == "PHANTOM" or not (queued or outcome == "AGENT"):
                continue
            day = datetime.strptime(row["date"], "%Y-%m-%d" if "-" in row["date"] else "%y%m%d")
            clock = row["q_start"] if queued else row["vru_exit"]
            h, m, s = (int(v) for v in clock.split(":"))
            created = day + timedelta(hours=h, minutes=m, seconds=s)
            out.append(
                Call(created, outcome == "AGENT", float(row["q_time"]), float(row["ser_time"]))
            )
    return out


def arrivals(found: list[Call], interval: int = 60) -> Series:
    """Arrivals per interval from the first call's day to the last call's day, zero-filled."""
    first = min(c.created for c in found).replace(hour=0, minute=0, second=0)
    last = max(c.created for c in found).replace(hour=0, minute=0, second=0)
    step = timedelta(minutes=interval)
    counts = np.zeros(int((last - first) / step) + 24 * 60 // interval)
    for c in found:
        counts[int((c.created - first) / step)] += 1
    return Series(("voice",), first, interval, counts)


def write_conversations(found: list[Call], path: Path) -> Path:
    """The calls as canonical conversations (voice; answered ones with their first response
    and handle time) in a CSV file the loader reads without a mapping."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            ["conversation_id", "channel", "created_at", "first_response_at", "handle_seconds"]
        )
        for i, c in enumerate(found):
            answered = c.created + timedelta(seconds=c.wait) if c.answered else None
            out.writerow(
                [
                    f"call-{i}",
                    "voice",
                    c.created.isoformat(sep=" "),
                    answered.isoformat(sep=" ") if answered else "",
                    c.service if c.answered else "",
                ]
            )
    return path
