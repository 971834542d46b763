"""The benchmark's three ways to the core KPIs agree, so its ratios compare like with like:
the registry, the hand-written SQL floor and the pandas baseline, on generated data; and the
scorecard's hand-written floor gives every KPI it covers as the registry's report does."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.floor import CORE_KPIS, FLOOR_KEPT_SQL, FLOOR_SQL
from bench.generate import generate, size
from bench.measure import pandas_core
from bench.scorecard_floor import COVERED, SCORECARD_FLOOR_SQL
from supportkpi.analysis.query import report
from supportkpi.kpis import REGISTRY
from supportkpi.load.ingest import load
from supportkpi.store.store import Store

KEPT_COLUMNS = (
    "first_response_time",
    "first_response_time_median",
    "first_response_time_p90",
    "abandonment_rate",
    "resolution_rate",
    "csat",
)


def test_sizes_are_read_as_people_write_them():
    assert [size(s) for s in ("100k", "1M", "10M", "2500", "1.5m")] == [
        100_000, 1_000_000, 10_000_000, 2_500, 1_500_000,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Path]]:
    """A store loaded with 3,000 generated conversations, and the Parquet files' folder."""
    root = tmp_path_factory.mktemp("bench")
    files = generate(3_000, root / "data")
    store = Store.open(root / "bench.duckdb")
    summary = load(store, [p for paths in files["parquet"].values() for p in paths])
    assert summary.quarantined == {}
    yield store, root / "data" / "parquet"
    store.close()


def test_floor_pandas_and_registry_agree(generated):
    store, parquet = generated
    ours = {r["vendor"]: r for r in report(store, CORE_KPIS, ["vendor"]).table.to_pylist()}
    floor = {r[0]: r for r in store.execute(FLOOR_SQL)}
    kept = {r[0]: r for r in store.execute(FLOOR_KEPT_SQL)}
    pandas = pandas_core(parquet)
    assert set(ours) == set(floor) == set(kept) == set(pandas.index)
    for vendor, row in ours.items():
        assert row["chat_volume"] == kept[vendor][1]
        for column, value in zip(KEPT_COLUMNS, kept[vendor][2:], strict=True):
            assert row[column] == pytest.approx(float(value), rel=1e-9), column
        _, volume, frt, median, p90, abandonment, resolution, csat = floor[vendor]
        theirs = pandas.loc[vendor]
        assert row["chat_volume"] == volume == theirs.chat_volume
        for mine, sql, pd_value in [
            (row["first_response_time"], frt, theirs.first_response_time),
            (row["first_response_time_median"], median, theirs.frt_median),
            (row["first_response_time_p90"], p90, theirs.frt_p90),
            (row["abandonment_rate"], abandonment, theirs.abandonment_rate),
            (row["resolution_rate"], resolution, theirs.resolution_rate),
            (row["csat"], csat, theirs.csat),
        ]:
            assert mine == pytest.approx(float(sql), rel=1e-9)
            assert mine == pytest.approx(float(pd_value), rel=1e-9)


def test_scorecard_floor_gives_every_covered_kpi_as_the_registry(generated):
    store, _ = generated
    ours = {r["vendor"]: r for r in report(store, COVERED, ["vendor"]).table.to_pylist()}
    cursor = store.raw.execute(SCORECARD_FLOOR_SQL)
    names = [d[0] for d in cursor.description]
    floor = {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    columns = [c for name in COVERED for c in REGISTRY[name].columns]
    assert set(names) == {"vendor", *columns}
    assert set(ours) == set(floor) and len(ours) >= 3
    for column in columns:
        values = [(ours[v][column], floor[v][column]) for v in sorted(ours)]
        assert any(mine is not None for mine, _ in values), column  # never None == None only
        for mine, theirs in values:
            if mine is None or theirs is None:
                assert mine is None and theirs is None, column
            else:
                assert math.isclose(mine, float(theirs), rel_tol=1e-9), (column, mine, theirs)


def test_chunks_have_unique_keys(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    monkeypatch.setattr("bench.generate.CHUNK", 1_000)
    files = generate(2_500, tmp_path / "data")
    ids = pq.read_table(files["parquet"]["conversations"], columns=["conversation_id"])
    assert len(files["parquet"]["conversations"]) == 3
    assert ids.num_rows == len(set(ids["conversation_id"].to_pylist()))
    assert len(files["parquet"]["agent_activity"]) == 1
