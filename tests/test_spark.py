"""Read-only mode on Spark: the demo's tables written as Parquet, read through PySpark in local
mode by a settings file, give the same report, SLA view and drill-down as the DuckDB store
they came from. One Spark session for the run, a small demo: Spark starts slowly."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from supportkpi.analysis.conversations import conversations
from supportkpi.analysis.query import report
from supportkpi.analysis.sla import sla, vendors
from supportkpi.store.engine import EngineSettings, EngineStore, StoreError, is_engine_config
from supportkpi.tomlfile import read_model

pytestmark = pytest.mark.spark

if os.environ.get("CI") != "true":
    pytest.importorskip("pyspark")


@pytest.fixture
def spark(spark_demo):
    """(the session's Spark connection, the DuckDB store, the settings file, the config)."""
    return spark_demo


def same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for left, right in zip(a, b, strict=True):
        assert left.keys() == right.keys()
        for key, value in left.items():
            other = right[key]
            if isinstance(value, float) and isinstance(other, float):
                assert math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9), key
            else:
                assert value == other, key


@pytest.mark.engines
def test_the_report_over_parquet_through_spark_equals_duckdb(spark):
    con, store, settings, config = spark
    engine = EngineStore.open(settings, con=con)
    expected = report(store, by=["vendor"], config=config)
    got = report(engine, by=["vendor"], config=config)
    assert got.missing == expected.missing
    assert [k.name for k in got.kpis] == [k.name for k in expected.kpis]
    assert len(got.kpis) - len(got.missing) >= 40  # every KPI the demo's data allows
    same(got.table.to_pylist(), expected.table.to_pylist())


def test_sla_and_drill_down_run_on_spark(spark):
    con, store, settings, config = spark
    engine = EngineStore.open(settings, con=con)
    assert vendors(engine) == vendors(store)
    same(sla(engine, config).to_pylist(), sla(store, config).to_pylist())
    got = conversations(engine, config, kpi="first_response_time", limit=5)
    expected = conversations(store, config, kpi="first_response_time", limit=5)
    assert got.total == expected.total
    same(got.table.to_pylist(), expected.table.to_pylist())


def test_the_settings_file_is_checked(tmp_path):
    assert is_engine_config("spark.toml") and not is_engine_config("store.duckdb")
    bad = tmp_path / "engine.toml"
    bad.write_text('[tables]\ntickets = "support.tickets"\n')
    with pytest.raises(StoreError, match="no canonical table 'tickets'"):
        EngineStore.open(bad, con=object())


def test_the_readme_settings_file_is_valid(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.findall(r"```toml\n(# spark\.toml\n.*?)```", readme, re.S)[0]
    settings = tmp_path / "spark.toml"
    settings.write_text(block, encoding="utf-8")
    parsed = read_model(settings, EngineSettings, "engine settings", StoreError)
    assert parsed.engine.url.startswith("spark://")
    assert set(parsed.tables) == {"conversations", "messages", "surveys"}
