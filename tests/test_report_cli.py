"""`supportkpi report` and `supportkpi kpis` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from supportkpi.cli import app
from supportkpi.kpis import all_kpis
from supportkpi.kpis.docs import markdown
from supportkpi.load.ingest import load
from supportkpi.store.store import Store
from tests.test_kpis import CONVERSATIONS, MESSAGES, SURVEYS

runner = (
    CliRunner(mix_stderr=False)
    if "mix_stderr" in CliRunner.__init__.__code__.co_varnames
    else CliRunner()
)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "kpis.md"


@pytest.fixture
def db(tmp_path, write):
    path = tmp_path / "r.duckdb"
    with Store.open(path) as store:
        load(
            store,
            [
                write("conversations.csv", CONVERSATIONS),
                write("messages.csv", MESSAGES),
                write("surveys.csv", SURVEYS),
            ],
        )
    return str(path)


def test_json_keys_are_the_arrow_columns(db):
    result = runner.invoke(
        app,
        [
            "report",
            "--db",
            db,
            "--kpi",
            "first_response_time,csat",
            "--by",
            "vendor,day",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert list(rows[0]) == [
        "vendor",
        "day",
        "first_response_time",
        "first_response_time_median",
        "first_response_time_p90",
        "csat",
    ]
    assert rows[0] == {
        "vendor": "acme",
        "day": "2024-05-07",
        "first_response_time": 1845.0,
        "first_response_time_median": 1845.0,
        "first_response_time_p90": pytest.approx(3249.0),
        "csat": 1.0,
    }


def test_csv_and_parquet(db, tmp_path):
    result = runner.invoke(
        app, ["report", "--db", db, "--kpi", "chat_volume", "--by", "channel", "--format", "csv"]
    )
    assert result.stdout.splitlines() == [
        '"channel","chat_volume","chat_volume_handled","chat_volume_resolved"',
        '"chat",5,3,2',
        '"email",2,2,2',
    ]
    out = tmp_path / "r.parquet"
    result = runner.invoke(app, ["report", "--db", db, "--format", "parquet", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column_names[0] == "vendor" and "csat" in table.column_names


def test_every_kpi_is_humanised_and_says_what_is_missing(db):
    result = runner.invoke(app, ["report", "--db", db, "--all"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "First response time" in text and "61m" not in text
    assert "30m 45s" in text  # acme's mean first response, 1845 s
    assert "qa_score: not computed: no qa reviews loaded" in text
    assert "agent_utilization: not computed: no agent activity loaded" in text


def test_the_default_is_the_headline_against_targets_with_its_days_and_zone(db):
    result = runner.invoke(app, ["report", "--db", db], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "Headline KPIs by vendor, 2024-05-06 to 2024-05-08 (UTC)"
    # first response per channel against each channel's default target (chat 1 min, e-mail
    # 1 h), never one mean over both (acme: 1h and 90 s, 30m 45s together)
    assert "30m 45s" not in result.stdout
    rows = [[c.strip() for c in line.split("│")[1:4]] for line in lines if "│" in line]
    at = rows.index(["First response time (mean)", "", ""])
    assert rows[at + 1 : at + 5] == [
        ["chat", "1m 30s ✗", "1m 15s ✗"],
        ["target", "≤ 1m 00s", "≤ 1m 00s"],
        ["email", "1h 00m ✓", "1h 00m ✓"],
        ["target", "≤ 1h 00m", "≤ 1h 00m"],
    ]
    assert "Average handle time (mean)" in result.stdout and "median" not in result.stdout
    assert "qa_score" not in result.stdout  # not a headline KPI
    assert "  target" in result.stdout and ("✓" in result.stdout or "✗" in result.stdout)
    assert all(len(line) <= 80 for line in lines)
    listed = runner.invoke(app, ["report", "--db", db, "--format", "json"])
    assert {k for row in json.loads(listed.stdout) for k in row if k.endswith("_status")}
    assert json.loads(listed.stdout)[0]["first_response_time"] == 1845.0


def test_filters_dates_and_explain(db):
    result = runner.invoke(
        app,
        [
            "report",
            "--db",
            db,
            "--kpi",
            "chat_volume",
            "--by",
            "day",
            "--tz",
            "Europe/Berlin",
            "--from",
            "2024-05-08",
            "--to",
            "2024-05-08",
            "--channel",
            "chat",
            "--format",
            "json",
            "--explain",
        ],
    )
    assert json.loads(result.stdout) == [
        {"day": "2024-05-08", "chat_volume": 2, "chat_volume_handled": 1, "chat_volume_resolved": 1}
    ]
    assert "SELECT" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kpi", "speed"], "unknown KPI speed"),
        (["--by", "weekdays"], "cannot group by weekdays"),
        (["--by", "day,month"], "one period at a time"),
        (["--from", "May 1"], "is not a date"),
        (["--from", "2024-05-09", "--to", "2024-05-01"], "ends (2024-05-01) before it starts"),
        (["--tz", "Moon/Base"], "unknown time zone"),
        (["--format", "xml"], "unknown format"),
        (["--format", "parquet"], "needs --out"),
        (["--family", "speed"], "unknown family"),
    ],
)
def test_report_mistakes(db, args, message):
    result = runner.invoke(app, ["report", "--db", db, *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert message in result.output + (result.stderr or "")


def test_kpis_lists_the_registry():
    result = runner.invoke(app, ["kpis"], env={"COLUMNS": "250"})
    for kpi in all_kpis():
        assert kpi.name in result.stdout


def test_kpi_docs_are_generated_from_the_registry():
    assert DOCS.read_text() == markdown(), (
        'docs/kpis.md is stale: python -c "from supportkpi.kpis.docs import markdown; '
        "open('docs/kpis.md','w').write(markdown())\""
    )


def test_every_kpi_of_the_contract_is_declared():
    contract = Path(__file__).resolve().parents[2] / "shared" / "KPIS.md"
    if not contract.exists():
        pytest.skip("../shared/KPIS.md is not beside the checkout")
    text = contract.read_text()
    sections = text.split("## Cost and value")[0]
    import re

    names = set(re.findall(r"^\| `([a-z_]+)`", sections, flags=re.MULTILINE))
    declared = {k.name for k in all_kpis()}
    assert names and names <= declared, names - declared


def test_escalations_by_reason(db):
    # in-house: c4 escalated for billing, 1 of 3 handled; acme: none
    result = runner.invoke(app, ["escalations", "--db", db], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    line = next(li for li in result.stdout.splitlines() if "billing" in li)
    assert "in-house" in line and "100.0 %" in line and "33.3 %" in line
    assert "acme" not in result.stdout


def _explain(db: str) -> str:
    result = runner.invoke(
        app,
        [
            "report",
            "--db",
            db,
            "--kpi",
            "first_response_time,csat,response_time",
            "--format",
            "json",
            "--explain",
        ],
    )
    assert result.exit_code == 0
    assert "-- the report:" in result.stderr
    return result.stderr


def test_explain_shows_the_kept_facts_read(db):
    sql = _explain(db)
    assert "-- the conversation facts, reply pairs and survey answers kept in the store" in sql
    assert '"kept_facts"' in sql and '"kept_replies"' in sql and '"kept_surveys"' in sql
    assert "computed once" not in sql


def test_explain_shows_the_facts_computed_once_without_kept_ones(db):
    with Store.open(db) as store:
        store.execute("DROP TABLE kept_state")
    sql = _explain(db)
    assert "-- the conversation facts, computed once as" in sql
    assert '"kept_facts"' not in sql


def test_an_empty_store_answers_every_command_calmly(tmp_path):
    db = str(tmp_path / "empty.duckdb")
    Store.open(db).close()
    report_result = runner.invoke(
        app,
        ["report", "--db", db, "--by", "vendor,month", "--trend", "--targets", "--format", "json"],
    )
    assert report_result.exit_code == 0 and json.loads(report_result.stdout) == []
    assert "no conversations loaded" in report_result.stderr
    for args, expected in [
        (["sla"], "No vendor has conversations"),
        (["escalations"], "No escalated conversations"),
        (["staff"], "no conversations with a handle time"),
        (["forecast"], "no conversations in the store"),
        (["forecast", "--backtest"], "no conversations in the store"),
        (["roster"], "nothing to roster"),
    ]:
        result = runner.invoke(app, [*args, "--db", db], env={"COLUMNS": "200"})
        assert expected in result.output + (result.stderr or ""), args
        assert "Traceback" not in result.output


def test_typos_are_named_with_the_closest_known_value(db):
    result = runner.invoke(app, ["report", "--db", db, "--kpi", "csta"])
    assert result.exit_code != 0
    assert "did you mean csat?" in result.output
    result = runner.invoke(
        app, ["report", "--db", db, "--kpi", "chat_volume", "--vendor", "acmee", "--format", "json"]
    )
    assert result.exit_code == 0
    assert "no conversation has vendor 'acmee'" in result.stderr
    assert "did you mean acme?" in result.stderr


def test_groups_that_do_not_fit_are_rows_and_no_header_word_is_cut(db):
    result = runner.invoke(
        app, ["report", "--db", db, "--by", "agent", "--all"], env={"COLUMNS": "80"}
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    tables = [line for line in lines if line[:1] in "┃│"]
    assert tables and not any("…" in line for line in tables)  # nothing cut short
    assert "(1 of " in result.stdout  # the KPIs split over several tables


def test_the_format_comes_from_the_files_extension(db, tmp_path):
    for name, check in (
        ("r.csv", lambda p: p.read_text().startswith('"vendor"')),
        ("r.json", lambda p: json.loads(p.read_text())[0]["vendor"]),
        ("r.xlsx", lambda p: p.read_bytes()[:2] == b"PK"),
    ):
        path = tmp_path / name
        result = runner.invoke(app, ["report", "--db", db, "--out", str(path)])
        assert result.exit_code == 0, result.output
        assert check(path), name
    result = runner.invoke(app, ["report", "--db", db, "--out", str(tmp_path / "r.txt")])
    assert result.exit_code == 2 and "give --format" in result.output
    assert not (tmp_path / "r.txt").exists()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("supportkpi ")


def test_targets_are_numbers_for_machines(db):
    result = runner.invoke(
        app,
        ["report", "--db", db, "--kpi", "csat,agent_utilization", "--targets", "--format", "json"],
    )
    row = json.loads(result.stdout)[0]
    assert (row["csat_target_op"], row["csat_target_value"], row["csat_target_high"]) == (
        ">=",
        0.9,
        None,
    )
    assert row["csat_target"] == "≥ 90.0 %"  # and as people read it
    sla = runner.invoke(app, ["sla", "--db", db, "--format", "json"])
    rows = json.loads(sla.stdout)
    assert rows and all(isinstance(r["target_value"], float) for r in rows if r["target_op"])
