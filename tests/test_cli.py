"""The command line, as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from supportkpi.cli import app
from supportkpi.store.store import Store

runner = CliRunner()

CONVERSATIONS = """
    conversation_id,channel,created_at
    c1,chat,2024-05-01 10:00:00
    c2,pigeon,2024-05-01 10:00:00
    c3,email,tomorrow
    """


def test_console_script_is_installed():
    exe = shutil.which("supportkpi", path=str(Path(sys.executable).parent))
    assert exe, "the supportkpi console script is not installed beside the interpreter"
    proc = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True)
    for command in ("demo", "load", "quarantine", "tables"):
        assert command in proc.stdout


def test_load_prints_a_summary_and_quarantine_lists_the_rejects(tmp_path, write):
    db = str(tmp_path / "cli.duckdb")
    path = write("conversations.csv", CONVERSATIONS)
    result = runner.invoke(app, ["load", str(path), "--db", db])
    assert result.exit_code == 0, result.output
    assert "conversations" in result.output and "Quarantined: 2 rows" in result.output
    assert "unknown_value" in result.output and "bad_timestamp" in result.output
    again = runner.invoke(app, ["load", str(path), "--db", db])
    assert "│ conversations │   0 │       0 │         1 │" in again.output
    listed = runner.invoke(app, ["quarantine", "--db", db], env={"COLUMNS": "200"})
    assert (
        "conversations.csv" in listed.output and '"pigeon" is not a valid channel' in listed.output
    )
    only = runner.invoke(
        app, ["quarantine", "--db", db, "--reason", "bad_timestamp"], env={"COLUMNS": "200"}
    )
    assert "tomorrow" in only.output and "pigeon" not in only.output
    tables = runner.invoke(app, ["tables", "--db", db])
    assert "conversations" in tables.output and "quarantine" in tables.output


def test_the_db_comes_from_the_environment(tmp_path, write, monkeypatch):
    db = tmp_path / "env.duckdb"
    monkeypatch.setenv("SUPPORTKPI_DB", str(db))
    result = runner.invoke(app, ["load", str(write("conversations.csv", CONVERSATIONS))])
    assert result.exit_code == 0
    assert db.exists()


def test_user_mistakes_are_one_line_without_traceback(tmp_path, write):
    db = str(tmp_path / "cli.duckdb")
    cases = [
        (["load", str(tmp_path / "missing.csv"), "--db", db], "no such file"),
        (["load", str(write("x.csv", "a\n1\n")), "--db", db], "cannot tell which table"),
        (
            ["load", str(write("conversations.csv", "id\n1\n")), "--db", db],
            "no column 'conversation_id'",
        ),
        (
            [
                "load",
                str(write("conversations.csv", "id\n1\n")),
                "--db",
                db,
                "--mapping",
                str(write("m.toml", "timezone = 'Nowhere/Land'")),
            ],
            "unknown time zone",
        ),
        (
            ["load", str(write("conversations.csv", "id\n1\n")), "--db", db, "--table", "nope"],
            "unknown table 'nope'",
        ),
        (["tables", "--db", str(tmp_path / "absent.duckdb")], "no store at"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_demo_writes_files_and_loads_them(tmp_path):
    db = str(tmp_path / "demo.duckdb")
    out = tmp_path / "files"
    result = runner.invoke(
        app,
        ["demo", "--db", db, "--out", str(out), "--days", "14", "--volume", "60"],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "agent_activity.csv",
        "conversations.csv",
        "costs.csv",
        "messages.parquet",
        "qa_reviews.csv",
        "revenue_events.csv",
        "supportkpi.toml",
        "surveys.csv",
    ]
    assert "Quarantined: 5 rows" in result.output
    # its headline is `supportkpi report`'s on the same store: first response per channel,
    # each against its channel's target, and the story counting the same values
    shown = result.output[result.output.index("Headline KPIs") : result.output.index("Store:")]
    config = str(out / "supportkpi.toml")
    headline = runner.invoke(app, ["report", "--db", db, "--config", config])
    assert headline.exit_code == 0, headline.output
    assert shown == headline.output
    assert "│   chat " in shown and "│     target " in shown
    # the same demo again: loaded again, unchanged
    again = ["demo", "--db", db, "--out", str(out), "--days", "14", "--volume", "60"]
    assert runner.invoke(app, again).exit_code == 0


def test_the_demo_does_not_mix_into_a_store_holding_other_data(tmp_path, write):
    db = str(tmp_path / "mine.duckdb")
    mine = write(
        "conversations.csv", "conversation_id,channel,created_at\nmine-1,chat,2024-05-01\n"
    )
    assert runner.invoke(app, ["load", "--db", db, str(mine)]).exit_code == 0
    args = ["demo", "--db", db, "--out", str(tmp_path / "f"), "--days", "7", "--volume", "20"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2
    assert "already holds 1 conversation that is not the demo's" in refused.output
    with Store.open(db, read_only=True) as store:
        assert store.counts()["conversations"] == 1  # untouched
    assert runner.invoke(app, [*args, "--into-existing"]).exit_code == 0


def test_every_command_is_in_the_readme():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    assert names
    for name in names:
        assert f"supportkpi {name}" in readme, f"`supportkpi {name}` is not in the README"


def test_help_shows_the_defaults_in_brackets():
    result = runner.invoke(app, ["report", "--help"])
    text = " ".join(result.output.split())  # help lines wrap at 80 columns
    assert "[default: from the config, else UTC]" in text
    assert "[default: $SUPPORTKPI_DB or ./supportkpi.duckdb]" in text


def test_quarantine_reads_whole_at_80_columns(tmp_path, write):
    db = str(tmp_path / "cli.duckdb")
    name = "conversations_exported_from_the_helpdesk_2024.csv"
    runner.invoke(app, ["load", str(write(name, CONVERSATIONS)), "--db", db])
    listed = runner.invoke(app, ["quarantine", "--db", db], env={"COLUMNS": "80"})
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines), listed.output
    # where: file and line, then table.column and rule, each on one line, nothing cut
    stripped = [line.strip() for line in lines]
    for line, what in (
        (3, "conversations.channel · unknown_value"),
        (4, "conversations.created_at · bad_timestamp"),
    ):
        at = stripped.index(f"{name}, line {line}")
        assert stripped[at + 1] == what
    # the reason whole (wrapped at word ends when long)
    text = " ".join(line.strip() for line in lines)
    assert '"pigeon" is not a valid channel' in text
    wide = runner.invoke(app, ["quarantine", "--db", db], env={"COLUMNS": "200"})
    assert "┃ file" in wide.output and '"pigeon" is not a valid channel' in wide.output


def test_a_command_on_a_store_that_serve_holds_says_what_to_do(tmp_path, write):
    from tests.server import CLI, serving

    db = tmp_path / "held.duckdb"
    runner.invoke(app, ["load", str(write("conversations.csv", CONVERSATIONS)), "--db", str(db)])
    with serving(db, "--no-auth"):
        held = subprocess.run(
            [str(CLI), "tables", "--db", str(db)],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "400"},
        )
    assert held.returncode == 2
    message = held.stderr.strip()
    assert "is in use by `supportkpi serve` (PID " in message, message
    assert "GET /v1/report" in message and "or stop it and run this command again" in message
    assert "IO Error" not in message and "Traceback" not in message
