"""The Python API gives what the CLI gives: the same SLA, comparison, quarantine and Erlang
answers, as typed results that convert to Arrow, pandas and Polars."""

from __future__ import annotations

import json
import sys

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import supportkpi
from supportkpi.cli import app
from supportkpi.workforce.erlang import Queue, agents_for, erlang_a, erlang_c


def _cli_json(*args: str) -> list[dict]:
    result = CliRunner().invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_sla_and_compare_are_the_cli_answers(small_demo):
    db, config = small_demo
    with supportkpi.connect(db, config=config, read_only=True) as con:
        sla = con.sla()
        monthly = con.sla(vendor="northwind", period="month")
        compared = con.compare()
    listed = _cli_json("sla", "--db", str(db), "--config", str(config))
    assert len(sla.to_pylist()) == len(listed) > 0
    for ours, theirs in zip(sla.to_pylist(), listed, strict=True):
        assert ours["vendor"] == theirs["vendor"] and ours["kpi"] == theirs["kpi"]
        assert ours["achieved"] == pytest.approx(theirs["achieved"])
        assert ours["status"] == theirs["status"]
    assert set(monthly.table.column("vendor").to_pylist()) == {"northwind"}
    assert "period" in monthly.table.column_names or "month" in monthly.table.column_names
    kpis = compared.table.column("kpi").to_pylist()
    assert "cost_per_contact" in kpis and "csat" in kpis


def test_quarantine_lists_file_line_column_and_reason(store, write):
    path = write(
        "conversations.csv",
        """
        conversation_id,channel,created_at
        c1,chat,2026-07-01T09:00:00Z
        c2,chat,not a time
        c3,pigeon,2026-07-01T09:05:00Z
        """,
    )
    con = supportkpi.client.Connection(store, supportkpi.config.Config())
    con.load([path])
    found = con.quarantine()
    assert found.total == 2
    rows = found.to_pylist()
    assert [(r["source"], r["line"], r["column"]) for r in rows] == [
        (str(path), 3, "created_at"),
        (str(path), 4, "channel"),
    ]
    assert all(r["reason"] for r in rows)
    first = con.quarantine(limit=1)
    assert first.total == 2 and len(first.to_pylist()) == 1
    only = con.quarantine(reason=rows[1]["rule"])
    assert only.total == 1 and only.to_pylist()[0]["line"] == 4
    empty = supportkpi.client.Connection(store, supportkpi.config.Config()).quarantine("nothing")
    assert empty.total == 0 and empty.table.num_rows == 0
    assert empty.table.schema.field("line").type == pa.int64()


def test_erlang_answers_as_the_queueing_models_do():
    with supportkpi.connect(":memory:") as con:
        found = con.erlang(100, 180, answer_within=20, service_level=0.8)
        asked = con.erlang(100, 180, agents=12)
        patient = con.erlang(100, 180, patience=120, max_abandon=0.05)
        chats = con.erlang(100, 180, concurrency=2, growth=0.5, shrinkage=0.3)
    fewest = agents_for(Queue(100, 180, 1800), 20, 0.8).agents
    assert found.model == "Erlang C" and found.fewest_agents == fewest
    assert found.load == pytest.approx(10.0)
    rows = found.to_pylist()
    assert [r["agents"] for r in rows] == list(range(fewest - 2, fewest + 3))
    assert [r["fewest"] for r in rows] == [False, False, True, False, False]
    for r in rows:
        expected = erlang_c(Queue(100, 180, 1800), r["agents"], 20)
        assert r["service_level"] == pytest.approx(expected.service_level)
        assert r["occupancy"] == pytest.approx(expected.occupancy)
    [row] = asked.to_pylist()
    assert row["agents"] == 12 and asked.meets_targets is (fewest <= 12)
    assert found.meets_targets is None
    assert patient.model == "Erlang A"
    chosen = next(r for r in patient.to_pylist() if r["fewest"])
    assert chosen["abandon_probability"] <= 0.05
    expected = erlang_a(Queue(100, 180, 1800, 120), chosen["slots"], 20)
    assert chosen["abandon_probability"] == pytest.approx(expected.abandon_probability)
    # two chats at once, each half again as long: slots, then agents, then scheduled
    slots = agents_for(Queue(100, 270, 1800), 20, 0.8).agents
    assert chats.fewest_slots == slots and chats.fewest_agents == -(-slots // 2)
    assert chats.fewest_scheduled == -(-chats.fewest_agents * 10 // 7)
    with pytest.raises(ValueError, match="AHT"):
        supportkpi.connect(":memory:").erlang(10, 0)


def test_results_convert_to_arrow_pandas_and_polars(small_demo, monkeypatch):
    db, config = small_demo
    with supportkpi.connect(db, config=config, read_only=True) as con:
        results = [
            con.report(kpis=["csat"]),
            con.sla(),
            con.compare(),
            con.escalation_reasons(),
            con.comments(),
            con.sla_breaches(),
            con.conversations("csat", limit=5),
        ]
    for result in results:
        table = result.to_arrow()
        assert isinstance(table, pa.Table)
        frame = result.to_pandas()
        assert list(frame.columns) == table.column_names and len(frame) == table.num_rows
        polars = result.to_polars()
        assert polars.columns == table.column_names and polars.height == table.num_rows
    monkeypatch.setitem(sys.modules, "polars", None)
    with pytest.raises(ImportError, match="pip install polars"):
        results[1].to_polars()
