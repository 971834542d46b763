"""Property tests: whatever a file holds, nothing handed to the loader is lost or crashes it."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportkpi.load.ingest import load
from supportkpi.store.store import Store

counter = itertools.count()
cell = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["chat", "email", "Chat", " chat ", "fax", "", "null", "NaN", "1e309"]),
    st.sampled_from(
        [
            "2024-05-01 10:00:00",
            "2024-02-30",
            "2024-05-01T10:00:00Z",
            "tomorrow",
            "2024-05-01 10:00:00 +0200",
            "0",
            "-1",
        ]
    ),
    st.integers(min_value=-5, max_value=10**20).map(str),
)
rows = st.lists(st.tuples(st.text(max_size=6), cell, cell, cell), min_size=1, max_size=25)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows)
def test_every_row_is_loaded_or_quarantined(tmp_path_factory, rows):
    directory = tmp_path_factory.mktemp("prop")
    path, records = _write(directory, rows)
    with Store.open(directory / f"p{next(counter)}.duckdb") as store:
        _check(store, path, records)


@pytest.mark.engines
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(rows=rows)
def test_every_row_is_loaded_or_quarantined_on_postgresql(pg_server, tmp_path_factory, rows):
    """The same on the run's PostgreSQL server, each file in a new database, and the rows
    loaded and quarantined are DuckDB's."""
    directory = tmp_path_factory.mktemp("prop_pg")
    path, records = _write(directory, rows)
    with Store.open(pg_server.create_database(f"prop{next(counter)}")) as store:
        got = _check(store, path, records)
    with Store.open(directory / "reference.duckdb") as reference:
        assert got == _check(reference, path, records)


def _write(directory: Path, rows: list[tuple]) -> tuple[Path, int]:
    """The rows as a conversations CSV file; (its path, the records in it as a reader sees
    them: a record spanning lines, through a quoted newline, is one)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["conversation_id", "channel", "created_at", "transfers"])
    writer.writerows(rows)
    path = directory / "conversations.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path, sum(1 for _ in csv.reader(io.StringIO(buffer.getvalue()))) - 1


def _check(store: Store, path: Path, records: int) -> tuple[list, int]:
    """Load the file twice; every record is loaded or quarantined, no unknown channel is
    stored, the second load adds nothing. (the loaded ids and channels, the quarantined)."""
    summary = load(store, [path])
    loaded = summary.tables.get("conversations")
    new = loaded.new if loaded else 0
    quarantined = store.execute("SELECT count(*) FROM quarantine")[0][0]
    assert new + quarantined == records
    assert (
        store.execute(
            "SELECT count(*) FROM conversations WHERE channel NOT IN "
            "('chat', 'email', 'voice', 'social', 'sms', 'messaging', "
            "'web', 'other')"
        )[0][0]
        == 0
    )
    again = load(store, [path])
    assert not again.tables or again.tables["conversations"].new == 0
    stored = store.execute("SELECT conversation_id, channel, transfers FROM conversations")
    return sorted(tuple(map(str, r)) for r in stored), int(quarantined)
