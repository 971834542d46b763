"""Every table the CLI draws reads at 80 columns: no line wider than the terminal, nothing cut
short with an ellipsis, and no header word broken across lines because its column was made
narrower than the word."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from supportkpi.cli import app
from supportkpi.kpis import all_kpis
from supportkpi.load.ingest import load
from supportkpi.store import alert_log, schedule_log
from supportkpi.store.store import Store
from supportkpi.vocabulary import DIMENSIONS, PERIODS

runner = CliRunner()
# words a narrow layout may print that a wide one shows otherwise (a KPI's parts as columns)
VOCABULARY = {"KPI", *DIMENSIONS, *PERIODS} | {
    w
    for k in all_kpis()
    for text in (k.label, *(o.meaning for o in k.outputs))
    for w in f"{k.label}: {text}".split()
}

COMMANDS = [
    ["report"],
    ["report", "--all"],
    ["report", "--by", "agent"],
    ["report", "--by", "vendor,month", "--kpi", "csat,first_response_time,cost_per_contact"],
    ["report", "--by", "hour_of_day", "--kpi", "chat_volume,service_level"],
    ["sla"],
    ["sla", "--period", "month", "--vendor", "northwind"],
    ["sla", "--breaches", "--per-target", "3"],
    ["compare"],
    ["escalations"],
    ["tables"],
    ["quarantine"],
    ["conversations", "--kpi", "first_response_time", "--limit", "5"],
    ["comments"],
    ["erlang", "--arrivals", "100", "--aht", "180", "--concurrency", "2", "--patience", "90"],
]


# the workforce commands over two days of the small demo, and the listings of what was
# published, fired and sent (on a copy of the demo: see `logged`)
WORKFORCE = [
    ["forecast", "--days", "2"],
    ["forecast", "--days", "2", "--backtest"],
    ["staff", "--days", "2"],
    ["staff", "--days", "1", "--by", "vendor"],
    ["roster", "--days", "2"],
    ["roster", "--days", "2", "--coverage", "--agents", "--max-days", "5"],
    ["kpis"],
    ["presets"],
]
LOGGED = [
    ["plan", "publish", "--days", "2", "--roster"],
    ["plan", "list"],
    ["plan", "actual", "--plan", "PLAN"],
    ["plan", "actual", "--plan", "PLAN", "--show", "days"],
    ["alerts", "history"],
    ["schedule", "history"],
]
NO_CONFIG = ("erlang", "tables", "quarantine", "kpis", "presets", "alerts", "schedule")
CUT = datetime(2026, 8, 7, tzinfo=UTC)


def header_words(lines: list[str]) -> list[str]:
    """The words of every table header (the lines between ┏ and ┡), as drawn."""
    words, inside = [], False
    for line in lines:
        if line.startswith("┏"):
            inside = True
        elif line.startswith("┡"):
            inside = False
        elif inside:
            words += [w for cell in line.split("┃")[1:-1] for w in cell.split()]
    return words


@pytest.fixture(scope="module")
def logged(small_demo, tmp_path_factory):
    """The small demo as it stood on 7 August with a two-day plan published by vendor,
    then the rest loaded; an alert that fired with a delivery that failed, and a scheduled
    report sent to one channel and failed on another: (db, config, plan id)."""
    _, config = small_demo
    files = config.parent
    folder = tmp_path_factory.mktemp("logged")
    conversations = pacsv.read_csv(files / "conversations.csv")
    early = pc.less(conversations["created_at"], pa.scalar(CUT, pa.timestamp("s", "UTC")))
    pacsv.write_csv(conversations.filter(early), folder / "conversations.csv")
    messages = pq.read_table(files / "messages.parquet")
    kept = pc.is_in(messages["conversation_id"], conversations.filter(early)["conversation_id"])
    pq.write_table(messages.filter(kept), folder / "messages.parquet")
    db = folder / "logged.duckdb"
    with Store.open(db) as store:
        load(store, [folder / "conversations.csv", folder / "messages.parquet"])
    args = ["plan", "publish", "--db", str(db), "--config", str(config), "--by", "vendor"]
    done = runner.invoke(app, [*args, "--days", "2"])
    assert done.exit_code == 0, done.output
    plan = done.output.split("published plan ")[1].split(":")[0]
    at = datetime(2026, 8, 9, 7, 0, tzinfo=UTC)
    with Store.open(db) as store:
        load(store, [files / "conversations.csv", files / "messages.parquet"])
        alert_log.ensure(store)
        event = {
            "event_id": "e1",
            "rule": "northwind first response over target",
            "status": "firing",
            "at": at,
            "kpi": "first_response_time",
            "value": 1834.5,
            "threshold": "≤ 1m 00s",
            "sample": 412,
        }
        alert_log.record_event(store, event, ["mail", "hook"])
        alert_log.record_delivery(store, "e1", "mail", True, 1, None, at)
        error = "connection refused by https://hooks.example.com/services/T0/B0/x after 3 tries"
        alert_log.record_delivery(store, "e1", "hook", False, 3, error, at)
        schedule_log.ensure(store)
        schedule_log.record_items(
            store, "weekly vendor review", at, [("northwind-review.html", {})], ["mail", "hook"], at
        )
        key = ("weekly vendor review", at, "northwind-review.html")
        schedule_log.record_delivery(store, key, "mail", True, 1, None, at)
        schedule_log.record_delivery(store, key, "hook", False, 3, error, at)
    return db, config, plan


def _reads_at_80(args: list[str], extra: list[str]) -> None:
    result = runner.invoke(app, [*args, *extra], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # the same command on a wide terminal: every word it prints, whole
    wide_run = runner.invoke(app, [*args, *extra], env={"COLUMNS": "400"})
    whole = set(wide_run.stdout.split()) | VOCABULARY
    assert lines, "nothing printed"
    wide = [line for line in lines if len(line.rstrip()) > 80]
    assert not wide, wide[:3]
    drawn = [line for line in lines if line[:1] in "┃│"]
    box = "┏┓┗┛┡┩┃│└┘┌┐├┤┣┫╇┼"
    cropped = [line for line in lines if line[:1] in box and line.rstrip()[-1] not in box]
    assert not cropped, f"a table cropped at its right edge: {cropped[:2]}"
    # an ellipsis the text itself holds ("−100…100") is no cut
    cut = [w for line in drawn for w in line.split() if "…" in w and w not in whole]
    assert not cut, f"a value cut short: {cut[:8]}"
    broken = [w for w in header_words(lines) if w not in whole]
    assert not broken, f"header words broken at 80 columns: {broken[:8]}"


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_table_reads_at_80_columns(small_demo, args):
    db, config = small_demo
    extra = [] if args[0] == "erlang" else ["--db", str(db)]
    if args[0] not in NO_CONFIG:
        extra += ["--config", str(config)]
    _reads_at_80(args, extra)


@pytest.mark.parametrize("args", WORKFORCE, ids=[" ".join(c) for c in WORKFORCE])
def test_workforce_tables_read_at_80_columns(small_demo, args):
    db, config = small_demo
    extra = [] if args[0] in ("kpis", "presets") else ["--db", str(db), "--config", str(config)]
    _reads_at_80(args, extra)


@pytest.mark.parametrize("args", LOGGED, ids=[" ".join(c) for c in LOGGED])
def test_published_fired_and_sent_read_at_80_columns(logged, args, tmp_path):
    db, config, plan = logged
    if args[:2] == ["plan", "publish"]:  # a plan of its own, on a copy
        db = shutil.copy(db, tmp_path / "publish.duckdb")
    plain = args[0] in NO_CONFIG or args[:2] == ["plan", "list"]
    extra = ["--db", str(db)] + ([] if plain else ["--config", str(config)])
    _reads_at_80([plan if a == "PLAN" else a for a in args], extra)
