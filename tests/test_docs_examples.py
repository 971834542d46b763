"""The README's mapping walkthrough, run: the example files load as the README says."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from supportkpi.analysis.query import report
from supportkpi.load.ingest import load
from supportkpi.sources.mapping import load_mapping

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "helphub"


def test_helphub_walkthrough(store):
    mapping = load_mapping(EXAMPLE / "helphub.toml")
    summary = load(store, [EXAMPLE / "tickets.csv"], mapping=mapping)
    assert summary.tables["conversations"].new == 4
    assert summary.files[0].ignored_columns == ["Status"]
    assert store.execute("SELECT line, column_name, rule FROM quarantine ORDER BY line") == [
        (6, "Channel", "unknown_value"),  # "Fax" has no mapping
        (7, "Opened", "bad_timestamp"),
    ]  # 31 April does not exist
    # 23:55 in Madrid (UTC+2 in May) is 21:55 UTC
    assert store.execute(
        "SELECT created_at, channel, escalated FROM conversations WHERE conversation_id = 'HH-1004'"
    ) == [(datetime(2024, 5, 3, 21, 55, tzinfo=UTC), "voice", True)]
    rows = {
        r["channel"]: r
        for r in report(
            store, ["first_response_time", "abandonment_rate"], by=["channel"]
        ).table.to_pylist()
    }
    assert rows["chat"]["first_response_time"] == 60  # HH-1001; HH-1003 was never answered
    assert rows["chat"]["abandonment_rate"] == 0.5
    assert rows["email"]["first_response_time"] == 82 * 60


CALLS = Path(__file__).resolve().parents[1] / "docs" / "examples" / "callcenter"


def test_callcenter_walkthrough(store):
    summary = load(store, [CALLS / "calls.csv"], mapping=load_mapping(CALLS / "calls.toml"))
    assert summary.tables["conversations"].new == 5
    assert summary.quarantined == {}
    assert summary.files[0].left_out == {"phantom call": 1, "ended in the voice menu": 1}
    # 23:59:29 plus an 88 s wait is answered on the next day
    assert store.execute(
        "SELECT created_at, first_response_at FROM conversations "
        "WHERE conversation_id = 'AA0208/7582'"
    ) == [
        (datetime(2010, 8, 2, 23, 59, 29, tzinfo=UTC), datetime(2010, 8, 3, 0, 0, 57, tzinfo=UTC))
    ]
    (row,) = report(store, ["first_response_time", "abandonment_rate"]).table.to_pylist()
    assert row["first_response_time"] == (90 + 0 + 88 + 101) / 4  # 69.75 s
    assert row["first_response_time_median"] == 89
    assert row["abandonment_rate"] == 0.2
    by_hour = {
        r["hour_of_day"]: r["abandonment_rate"]
        for r in report(store, ["abandonment_rate"], by=["hour_of_day"]).table.to_pylist()
    }
    assert by_hour == {10: 0.0, 11: 1.0, 12: 0.0, 23: 0.0}
