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
