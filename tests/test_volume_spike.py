"""volume_spike against a plain-Python reading of its definition, on a noisy series."""

from __future__ import annotations

import statistics
from datetime import date, timedelta

from supportkpi.analysis.query import report
from supportkpi.load.ingest import load

VOLUMES = [
    10,
    12,
    9,
    11,
    10,
    13,
    8,
    10,
    11,
    9,
    12,
    10,
    30,
    11,
    10,
    9,
    13,
    10,
    11,
    10,
    12,
    9,
    10,
    11,
    10,
    12,
    9,
    11,
    10,
    10,
    13,
    9,
    11,
    25,
    10,
    12,
]
START = date(2024, 1, 1)


def expected_flags(volumes: list[int]) -> list[bool]:
    """A day is a spike when it is above the median of up to 28 earlier days by more than
    3 × their median absolute deviation; it needs 7 earlier days to be judged."""
    flags = []
    for i, v in enumerate(volumes):
        window = volumes[max(0, i - 28) : i]
        if len(window) < 7:
            flags.append(False)
            continue
        med = statistics.median(window)
        mad = statistics.median(abs(x - med) for x in window)
        flags.append(v > med + 3 * mad)
    return flags


def test_spike_days(store, write):
    rows = ["conversation_id,channel,created_at,vendor"]
    for day, n in enumerate(VOLUMES):
        when = START + timedelta(days=day)
        rows += [f"c{day}-{k},chat,{when} 12:00:00,acme" for k in range(n)]
    load(store, [write("conversations.csv", "\n".join(rows) + "\n")])
    flags = expected_flags(VOLUMES)
    assert [i for i, f in enumerate(flags) if f] == [12, 33]  # the 30 and the 25
    daily = report(store, ["volume_spike"], by=["day"]).table.to_pylist()
    assert [bool(r["volume_spike"]) for r in daily] == flags
    total = report(store, ["volume_spike"], by=["vendor"]).table.to_pylist()
    assert total == [{"vendor": "acme", "volume_spike": 2}]
