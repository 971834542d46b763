"""A drill-down page is the same rows, in the same order, as the same slice of the whole
listing: paging finds the page with only the columns that choose and order it, then lists
every column of those rows alone; the whole listing computes every row. Sorted by each kind
of column (the time created, a measure, a business-hour clock, a target, a survey score, an
answer's id), with a KPI, an outcome, a missed target and a cell's filters."""

from __future__ import annotations

import pytest

from supportkpi.analysis.conversations import conversations
from supportkpi.store.store import Store

CASES = [
    {},
    {"sort": "first_response_bh_seconds"},
    {"sort": "conversation_id"},
    {"sort": "-csat_score"},
    {"kpi": "first_response_time_bh"},
    {"kpi": "abandonment_rate", "outcome": True},
    {"missed": "first_response_time", "filters": {"vendor": ["northwind"]}},
    {"kpi": "csat", "sort": "-survey_id"},
    {"kpi": "qa_score", "sort": "review_id", "by": ["vendor", "month"], "filters": {}},
]


@pytest.mark.parametrize("asked", CASES, ids=[str(c) for c in CASES])
def test_a_page_is_the_slice_of_the_whole_listing(demo, asked):
    store, config = demo
    whole = conversations(store, config, limit=None, **asked)
    assert whole.total == whole.table.num_rows > 20
    for offset in (0, 13):
        page = conversations(store, config, limit=7, offset=offset, **asked)
        assert page.total == whole.total
        assert page.table.schema == whole.table.schema
        assert page.table.to_pylist() == whole.table.slice(offset, 7).to_pylist()
    past = conversations(store, config, limit=7, offset=whole.total, **asked)
    assert past.table.num_rows == 0 and past.table.schema == whole.table.schema


def test_a_page_follows_a_load_that_adds_a_vendor(tmp_path):
    """A page's columns come from a query compiled once for the store's state: after a load
    brings a vendor with its own contract, a page still equals the whole
    listing, the new vendor judged by its contract (a query compiled before the load did
    not know the vendor; the load keeps to the days the store already covered)."""
    import json

    from supportkpi.analysis import conversations as listing
    from supportkpi.config import Config, TargetSpec
    from supportkpi.load.ingest import load_records
    from tests.drilldown_data import two_vendor_store

    contract = TargetSpec(kpi="first_response_time", op="<=", value=30)
    config = Config(contracts={"newco": (contract,)})
    asked = {"sort": "-created", "kpi": "first_response_time"}
    db = two_vendor_store(tmp_path / "two.duckdb")
    listing._COMPILED.clear()
    with Store.open(db) as store:
        before = conversations(store, config, limit=2, **asked)
        assert "newco" not in before.table.column("vendor").to_pylist()
        assert len(listing._COMPILED._kept) == 1
        new = {
            "conversations": [
                {"conversation_id": "n-1", "channel": "chat", "vendor": "newco",
                 "created_at": "2026-05-06T12:00:00Z", "customer_id": "u9"},
            ],
            "messages": [
                {"message_id": "nm1", "conversation_id": "n-1", "author_role": "customer",
                 "sent_at": "2026-05-06T12:00:00Z", "text": "hi"},
                {"message_id": "nm2", "conversation_id": "n-1", "author_role": "agent",
                 "author_id": "nw-1", "sent_at": "2026-05-06T12:00:45Z", "text": "hello"},
            ],
        }  # fmt: skip
        load_records(store, {k: json.dumps(v).encode() for k, v in new.items()}, "more")
        whole = conversations(store, config, limit=None, **asked)
        page = conversations(store, config, limit=2, **asked)
        assert len(listing._COMPILED._kept) == 2  # compiled again for the new vendor
    assert page.table.to_pylist() == whole.table.slice(0, 2).to_pylist()
    first = page.table.to_pylist()[0]
    assert (first["conversation_id"], first["first_response_seconds"]) == ("n-1", 45.0)
    assert first["first_response_time_target"] == "≤ 30s"  # newco's contract
    assert first["first_response_time_met"] is False
