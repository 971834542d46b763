"""`supportkpi conversations`, `conversation`, `comments` and `sla --breaches` as a user runs
them, on a small store of two vendors."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from supportkpi.cli import app
from tests.drilldown_data import FORMULA, two_vendor_store

runner = (
    CliRunner(mix_stderr=False)
    if "mix_stderr" in CliRunner.__init__.__code__.co_varnames
    else CliRunner()
)


@pytest.fixture
def db(tmp_path):
    return str(two_vendor_store(tmp_path / "two.duckdb"))


def run(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, getattr(result, "stderr", ""))
    return result


def test_conversations_as_json_with_a_kpi_and_its_outcome(db):
    rows = json.loads(run("conversations", "--db", db, "--format", "json").stdout)["rows"]
    assert [r["conversation_id"] for r in rows] == ["a-1", "z-1", "a-2", "z-2"]
    handled = json.loads(
        run("conversations", "--db", db, "--kpi", "resolution_rate", "--format", "json").stdout
    )["rows"]
    assert {r["conversation_id"] for r in handled} == {"a-1", "z-1", "z-2"}
    assert all(r["value"] == 1.0 for r in handled)
    left = json.loads(
        run(
            "conversations", "--db", db, "--kpi", "abandonment_rate", "--outcome", "yes",
            "--format", "json",
        ).stdout
    )["rows"]  # fmt: skip
    assert [r["conversation_id"] for r in left] == ["a-2"]


def test_filters_sort_and_limit(db):
    out = run(
        "conversations", "--db", db, "--vendor", "zed", "--sort", "-first_response_seconds",
        "--limit", "1", "--format", "json",
    ).stdout  # fmt: skip
    (row,) = json.loads(out)["rows"]
    assert row["conversation_id"] == "z-2" and row["first_response_seconds"] == 600
    nobody = json.loads(
        run("conversations", "--db", db, "--agent", "(none)", "--format", "json").stdout
    )["rows"]
    assert [r["conversation_id"] for r in nobody] == ["a-2"]


def test_every_file_format_keeps_formulas_inert(db, tmp_path):
    text = run("conversations", "--db", db, "--format", "csv").stdout
    cells = [c for row in csv.reader(io.StringIO(text)) for c in row]
    assert "'" + FORMULA in cells and FORMULA not in cells
    book = tmp_path / "c.xlsx"
    run("conversations", "--db", db, "--format", "xlsx", "--out", str(book))
    sheet = openpyxl.load_workbook(book).active
    values = [c.value for row in sheet.iter_rows() for c in row]
    assert "'" + FORMULA in values
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    table = tmp_path / "c.parquet"
    run("conversations", "--db", db, "--format", "parquet", "--out", str(table))
    assert pq.read_table(table).num_rows == 4


def test_the_table_and_a_refused_kpi(db):
    shown = run("conversations", "--db", db, "--kpi", "first_response_time")
    assert "a-1" in shown.stdout and "a-2" not in shown.stdout
    refused = runner.invoke(app, ["conversations", "--db", db, "--kpi", "agent_utilization"])
    assert refused.exit_code == 2
    said = " ".join((refused.output + getattr(refused, "stderr", "")).split())
    assert "not per conversation" in said


def test_one_conversation(db):
    found = json.loads(run("conversation", "a-1", "--db", db, "--format", "json").stdout)
    assert [m["reply"] for m in found["messages"]] == [False, False, True]
    shown = run("conversation", "a-1", "--db", db).stdout
    assert "[private note]" in shown and "[reply]" in shown
    missing = runner.invoke(app, ["conversation", "nope", "--db", db])
    assert missing.exit_code == 2


def test_comments_and_breaches(db):
    rows = json.loads(run("comments", "--db", db, "--format", "json").stdout)["rows"]
    assert [r["survey_id"] for r in rows] == ["as1", "zs1", "zs2"]  # per vendor, lowest first
    rows = json.loads(run("comments", "--db", db, "--by", "", "--format", "json").stdout)["rows"]
    assert [r["survey_id"] for r in rows] == ["zs1", "as1", "zs2"]
    rows = json.loads(
        run("comments", "--db", db, "--by", "", "--kind", "nps", "--format", "json").stdout
    )["rows"]
    assert [r["survey_id"] for r in rows] == ["zs2"]
    breaches = json.loads(run("sla", "--db", db, "--breaches", "--format", "json").stdout)
    assert {(b["vendor"], b["conversation_id"]) for b in breaches} == {
        ("acme", "a-1"),
        ("zed", "z-1"),
        ("zed", "z-2"),
    }
    zed = [b for b in breaches if b["vendor"] == "zed"]
    assert [b["conversation_id"] for b in zed] == ["z-2", "z-1"]  # worst first
    assert zed[0]["excess"] == 540 and zed[0]["missed"] == 2
