"""Grains of a report are written out one at a time only where two or more of them hold
every value of a group in memory (exact quantiles); otherwise one query computes them all.
The numbers are the same either way (tests/test_demo.py compares the paths)."""

from __future__ import annotations

import json

from supportkpi.analysis.aggregate import aggregate
from supportkpi.analysis.frame import build_frame
from supportkpi.analysis.query import select_kpis
from supportkpi.analysis.shared_facts import grains_one_at_a_time, holds_values
from supportkpi.config import Config
from supportkpi.load.ingest import load_records
from supportkpi.store.store import Store


def _parts(store: Store, names: list[str]) -> list:
    frame = build_frame(store, Config(), ["vendor"], None, None, None, {}, None, False)
    kpis = select_kpis(names)
    parts, _ = aggregate(frame, kpis, kpis)
    return parts


def test_one_query_unless_two_grains_hold_their_values(tmp_path) -> None:
    rows = [
        {
            "conversation_id": f"c{i}",
            "channel": "chat",
            "created_at": f"2026-05-04T{9 + i:02d}:00:00Z",
            "vendor": "acme",
        }
        for i in range(3)
    ]
    with Store.open(tmp_path / "g.duckdb") as store:
        load_records(store, {"conversations": json.dumps(rows).encode()}, "one")
        # first response time's quantiles on conversations; CSAT a share on surveys
        mixed = _parts(store, ["chat_volume", "first_response_time", "csat"])
        assert [holds_values(p) for p in mixed] == [True, False]
        temps: list[str] = []
        assert grains_one_at_a_time(store, mixed, temps) is mixed
        assert temps == []
        # quantiles on conversations and on replies: each grain written out on its own
        both = _parts(store, ["first_response_time", "response_time"])
        assert [holds_values(p) for p in both] == [True, True]
        held = grains_one_at_a_time(store, both, temps)
        assert len(temps) == 2
        assert [t.to_pyarrow().to_pylist() for t in held] == [
            p.to_pyarrow().to_pylist() for p in both
        ]
        for name in temps:
            store.drop_temp(name)
