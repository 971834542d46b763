"""Real public data (../shared/data): nothing handed to the loader is lost."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

from supportkpi.load.ingest import load
from supportkpi.sources.mapping import load_mapping
from tests.conftest import shared_data

MAPPINGS = Path(__file__).parent / "data"


def test_servicenow_incident_log_loads_whole_through_a_mapping(store):
    path = shared_data("incidents/incident_event_log.csv.gz")
    with gzip.open(path, "rt") as f:
        events = sum(1 for _ in f) - 1
    mapping = load_mapping(MAPPINGS / "servicenow_incidents.toml")
    summary = load(store, [path], mapping=mapping)
    loaded = summary.tables["conversations"].new
    assert events == 141_712
    assert loaded == 24_918
    assert loaded + sum(summary.quarantined.values()) == events  # every row accounted for
    assert summary.quarantined == {"duplicate_key": events - loaded}
    # The last update of an incident is kept: 0000047 began in group 70 and was reassigned
    # once, to group 24, before it was resolved on 1 March and closed on 6 March.
    assert store.execute(
        "SELECT channel, team, agent_id, transfers, created_at, resolved_at, closed_at, vendor "
        "FROM conversations WHERE conversation_id = '0000047'"
    ) == [
        (
            "voice",
            "24",
            "89",
            1,
            datetime(2016, 2, 29, 4, 40, tzinfo=UTC),
            datetime(2016, 3, 1, 9, 52, tzinfo=UTC),
            datetime(2016, 3, 6, 10, 0, tzinfo=UTC),
            "in-house",
        )
    ]
    (reason,) = store.execute("SELECT reason FROM quarantine WHERE line = 2")[0]
    assert reason == "duplicate conversation_id 0000045 (line 5 supersedes it)"
    assert store.execute("SELECT count(*) FROM conversations WHERE channel IS NULL") == [(0,)]
