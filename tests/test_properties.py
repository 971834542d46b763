"""Property tests: whatever a file holds, nothing handed to the loader is lost or crashes it."""

from __future__ import annotations

import csv
import io
import itertools

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
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["conversation_id", "channel", "created_at", "transfers"])
    writer.writerows(rows)
    path = directory / "conversations.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    with Store.open(directory / f"p{next(counter)}.duckdb") as store:
        summary = load(store, [path])
        loaded = summary.tables.get("conversations")
        new = loaded.new if loaded else 0
        quarantined = store.execute("SELECT count(*) FROM quarantine")[0][0]
        # a record spanning lines (a quoted newline) is one record, as the reader sees it
        records = sum(1 for _ in csv.reader(io.StringIO(buffer.getvalue()))) - 1
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
