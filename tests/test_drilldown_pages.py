"""A drill-down page is the same rows, in the same order, as the same slice of the whole
listing: paging finds the page with only the columns that choose and order it, then lists
every column of those rows alone; the whole listing computes every row. Sorted by each kind
of column (the time created, a measure, a business-hour clock, a target, a survey score, an
answer's id), with a KPI, an outcome, a missed target and a cell's filters."""

from __future__ import annotations

import pytest

from supportkpi.analysis.conversations import conversations
from supportkpi.config import load_config
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


@pytest.fixture(scope="module")
def demo(small_demo):
    db, config = small_demo
    with Store.open(db, read_only=True) as store:
        yield store, load_config(config)


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
