"""``supportkpi facts build``: the conversation facts materialised in Spark (local mode) by the
same expressions a DuckDB store keeps at load, read by every report afterwards without changing
a number; stale, absent or differently windowed facts are said, and derived instead.

The Spark tests share the run's one session and the Parquet demo (conftest ``spark_demo``); they
are in ``make test-engines``. The refusals that need no engine run in the default suite."""

from __future__ import annotations

import dataclasses
import math
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from supportkpi.analysis.conversations import conversations
from supportkpi.analysis.frame import build_frame
from supportkpi.analysis.query import report
from supportkpi.analysis.sla import sla
from supportkpi.cli import app
from supportkpi.reports.monthly import build as build_review
from supportkpi.reports.monthly import latest_month
from supportkpi.store import engine_facts
from supportkpi.store.engine import EngineStore
from supportkpi.store.engine_facts import EngineFactsWarning
from supportkpi.store.store import Store, StoreError


def _with_facts(settings: Path, database: str, name: str | None = None) -> Path:
    """A copy of the demo's settings file keeping facts in ``database``."""
    text = settings.read_text(encoding="utf-8")
    copy = settings.with_name(name or f"engine-{database}.toml")
    copy.write_text(text + f'[facts]\ndatabase = "{database}"\n', encoding="utf-8")
    return copy


def close(left: Any, right: Any, where: str = "") -> None:
    """Equal, floats to 1e-9 (engines add doubles in their own order), recursively."""
    if isinstance(left, float) and isinstance(right, float):
        both_nan = math.isnan(left) and math.isnan(right)
        assert both_nan or math.isclose(left, right, rel_tol=1e-9, abs_tol=1e-9), where
    elif isinstance(left, dict) and isinstance(right, dict):
        assert left.keys() == right.keys(), where
        for key in left:
            close(left[key], right[key], f"{where}.{key}")
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        assert len(left) == len(right), where
        for n, (a, b) in enumerate(zip(left, right, strict=True)):
            close(a, b, f"{where}[{n}]")
    else:
        assert left == right, f"{where}: {left!r} != {right!r}"


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """A fact row with its instants as naive UTC (engines name the zone differently)."""
    return {k: (v.replace(tzinfo=None) if isinstance(v, datetime) else v) for k, v in row.items()}


# KPIs reading each kept table (facts, reply pairs, last contacts), in business hours too:
# the report before the build derives them in Spark, which is slow
SAMPLE = [
    "first_response_time",
    "first_response_time_bh",
    "response_time",
    "follow_up_rate",
    "abandonment_rate",
    "csat",
    "roi",
]


def _order(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in sorted(row))


@pytest.fixture(scope="module")
def built(spark_demo):
    """The demo's facts built in Spark's database ``kpi_facts``, with the report computed
    before the build: (connection, DuckDB store, engine store, config, report before)."""
    con, store, settings, config = spark_demo
    engine = EngineStore.open(_with_facts(settings, "kpi_facts"), con=con)
    found = engine_facts.status(engine, config.follow_up_days)
    assert found.reason is not None and "no facts are built in database 'kpi_facts'" in found.reason
    with pytest.warns(EngineFactsWarning, match="facts build"):
        before = report(engine, SAMPLE, by=["vendor"], config=config, explain=True)
    steps: list[tuple[str, int, int]] = []
    state = engine_facts.build(engine, config.follow_up_days, lambda *step: steps.append(step))
    assert [(i, n) for _, i, n in steps] == [(i, 5) for i in range(5)]
    assert steps[1][0] == "conversation facts"
    counts = store.execute(
        "SELECT (SELECT count(*) FROM conversations), (SELECT count(*) FROM messages), "
        "(SELECT count(*) FROM surveys), (SELECT count(*) FROM revenue_events)"
    )[0]
    assert state.counts == dict(zip(engine_facts.SOURCES, counts, strict=True))
    assert state.follow_up_days == config.follow_up_days
    return con, store, engine, config, before


@pytest.mark.spark
@pytest.mark.engines
def test_after_a_build_reports_read_the_facts_and_no_number_moves(built):
    _, store, engine, config, before = built
    assert engine_facts.status(engine, config.follow_up_days).current
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineFactsWarning)
        after = report(engine, by=["vendor"], config=config, explain=True)
        sampled = report(engine, SAMPLE, by=["vendor"], config=config)
        frame = build_frame(engine, config, (), None, None, None, None, None, False)
    assert frame.kept is not None and frame.kept_replies is not None
    assert frame.contacts is not None
    assert "kept_facts" in after.sql and "kept_replies" in after.sql
    assert "kept_facts" not in before.sql
    assert sampled.missing == before.missing == {}
    close(sampled.table.to_pylist(), before.table.to_pylist(), "after vs before")
    expected = report(store, by=["vendor"], config=config)
    close(after.table.to_pylist(), expected.table.to_pylist(), "spark vs duckdb")
    close(sla(engine, config).to_pylist(), sla(store, config).to_pylist(), "sla")
    got = conversations(engine, config, kpi="first_response_time", limit=5)
    listed = conversations(store, config, kpi="first_response_time", limit=5)
    assert got.total == listed.total
    close(got.table.to_pylist(), listed.table.to_pylist(), "drill-down")


@pytest.mark.spark
@pytest.mark.engines
def test_the_built_facts_are_the_ones_duckdb_keeps(built):
    """Row for row: the engine's tables against those the DuckDB store kept at load."""
    con, store, _, _, _ = built
    for name in engine_facts.TABLES:
        theirs = con.table(name, database="kpi_facts").to_pyarrow().to_pylist()
        ours = store.con.table(name).to_pyarrow().to_pylist()
        theirs = sorted(map(_plain, theirs), key=_order)
        ours = sorted(map(_plain, ours), key=_order)
        assert len(theirs) == len(ours) > 0, name
        close([sorted(r) for r in theirs], [sorted(r) for r in ours], name)
        close(theirs, ours, name)


@pytest.mark.spark
@pytest.mark.engines
def test_facts_out_of_step_with_the_data_are_said_and_not_read(built, tmp_path):
    con, store, engine, config, _ = built
    fewer = tmp_path / "conversations.parquet"
    store.execute(
        f"COPY (SELECT * FROM conversations ORDER BY conversation_id LIMIT 100) "
        f"TO '{fewer}' (FORMAT parquet)"
    )
    settings = Path(engine.url)
    text = settings.read_text(encoding="utf-8")
    original = text.split("conversations = ")[1].splitlines()[0]
    moved = tmp_path / "moved.toml"
    moved.write_text(text.replace(original, f'{{ parquet = "{fewer}" }}'), encoding="utf-8")
    stale = EngineStore.open(moved, con=con)
    total = store.execute("SELECT count(*) FROM conversations")[0][0]
    found = engine_facts.status(stale, config.follow_up_days)
    assert found.reason is not None
    assert f"conversations {total:,} then, 100 now" in found.reason
    with pytest.warns(EngineFactsWarning, match="from other data"):
        assert engine_facts.current(stale, config.follow_up_days) is None
    with pytest.warns(EngineFactsWarning, match="from other data"):
        got = report(stale, ["chat_volume"], by=(), config=config)
    assert got.table.to_pylist()[0]["chat_volume"] == 100
    other = engine_facts.status(engine, config.follow_up_days + 1)
    assert other.reason is not None and "follow-up window" in other.reason


@pytest.mark.spark
@pytest.mark.engines
def test_an_engine_that_refuses_the_write_is_said_plainly(spark_demo):
    con, _, settings, config = spark_demo
    engine = EngineStore.open(_with_facts(settings, "no_catalog.at.all"), con=con)
    with pytest.raises(StoreError, match="the engine refused to write"):
        engine_facts.build(engine, config.follow_up_days)


@pytest.mark.spark
@pytest.mark.engines
def test_facts_build_and_status_on_the_command_line(spark_demo):
    """In-process, so the command reuses the run's Spark session (``local[2]``)."""
    _, _, settings, config = spark_demo
    path = _with_facts(settings, "cli_facts")
    config_path = settings.parent / "files" / "supportkpi.toml"
    runner = CliRunner()
    args = ["--db", str(path), "--config", str(config_path)]
    absent = runner.invoke(app, ["facts", "status", *args])
    assert absent.exit_code == 1, absent.output
    assert "no facts are built in database 'cli_facts'" in absent.stdout
    done = runner.invoke(app, ["facts", "build", *args])
    assert done.exit_code == 0, done.output
    assert "[2/5] conversation facts" in done.stderr and "done in" in done.stderr
    assert "facts built in cli_facts" in done.stdout
    assert f"{config.follow_up_days:g}-day follow-up window" in done.stdout
    current = runner.invoke(app, ["facts", "status", *args])
    assert current.exit_code == 0 and "current: reports read them" in current.stdout
    shown = runner.invoke(app, ["report", "--kpi", "chat_volume", *args])
    assert shown.exit_code == 0 and "warning" not in shown.stderr


@pytest.mark.spark
@pytest.mark.engines
def test_the_monthly_review_on_spark_equals_duckdb(built):
    """Every number of one vendor's month (contract, volume, quality, cost, agents, changes,
    next month's forecast) read from the built facts equals the DuckDB store's."""
    _, store, engine, config, _ = built
    month = latest_month(store, config)
    assert latest_month(engine, config) == month
    expected = dataclasses.asdict(build_review(store, config, "atlas", month))
    with warnings.catch_warnings():
        warnings.simplefilter("error", EngineFactsWarning)
        got = dataclasses.asdict(build_review(engine, config, "atlas", month))
    del expected["generated_at"], got["generated_at"]
    assert expected["contract"] and expected["agents"] and expected["volume_by_day"]
    close(got, expected, "review")


def test_facts_build_is_refused_on_a_store(tmp_path):
    Store.open(tmp_path / "s.duckdb").close()
    done = CliRunner().invoke(app, ["facts", "build", "--db", str(tmp_path / "s.duckdb")])
    assert done.exit_code == 2
    assert "keeps its conversation facts itself at every load" in done.stderr


def test_facts_build_without_a_facts_database_is_refused_before_the_engine_starts(tmp_path):
    settings = tmp_path / "engine.toml"
    settings.write_text('[engine]\nurl = "spark://nowhere:7077"\n', encoding="utf-8")
    done = CliRunner().invoke(app, ["facts", "build", "--db", str(settings)])
    assert done.exit_code == 2
    assert "names no database to keep facts in" in done.stderr
    assert '[facts]\ndatabase = "supportkpi_facts"' in done.stderr
