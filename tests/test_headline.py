"""The headline computes its period and the period before it in one query: each card's value,
target and status equal a report over its period, its previous value a report over the
period before; the volume is also counted here in plain SQL on local days."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from supportkpi.analysis import views
from supportkpi.analysis.query import report, report_periods
from supportkpi.config import load_config
from supportkpi.store.store import Store

KPIS = (
    "chat_volume",
    "first_response_time",
    "first_response_time_bh",
    "csat",
    "first_contact_resolution",
    "abandonment_rate",
    "average_handle_time",
    "nps",
    "cost_per_contact",
    "qa_score",
)


def same(a: float | None, b: float | None) -> bool:
    """Equal, whatever order the engine's threads summed floats in."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


@pytest.fixture(scope="module")
def demo(small_demo):
    db, config = small_demo
    with Store.open(db, read_only=True) as store:
        yield store, load_config(config)


@pytest.mark.parametrize(
    ("start", "end", "filters"),
    [
        (date(2026, 7, 1), date(2026, 7, 7), {"vendor": ["northwind"], "channel": ["chat"]}),
        (date(2026, 6, 3), date(2026, 6, 10), {}),  # the period before starts before the data
    ],
)
def test_one_query_equals_two_reports(demo, start, end, filters):
    store, config = demo
    cards = views.headline(store, KPIS, start, end, filters, None, config)
    days = (end - start).days + 1
    before_end = start - timedelta(days=1)
    before_start = before_end - timedelta(days=days - 1)
    now = report(store, KPIS, (), None, start, end, filters, None, config, targets=True)
    before = report(store, KPIS, (), None, before_start, before_end, filters, None, config)
    current, previous = now.table.to_pylist()[0], before.table.to_pylist()[0]
    assert (cards["previous_from"], cards["previous_to"]) == (
        before_start.isoformat(),
        before_end.isoformat(),
    )
    for card in cards["cards"]:
        name = card["kpi"]
        assert same(card["value"], current[name]), name
        assert same(card["previous"], previous[name]), name
        assert card["target"] == current.get(f"{name}_target"), name
        assert card["status"] == current.get(f"{name}_status"), name
        assert card["missing"] == now.missing.get(name), name
    volume = store.execute(
        "SELECT count(*) FROM conversations WHERE (created_at AT TIME ZONE ?)::DATE "
        "BETWEEN ? AND ?" + (" AND vendor = 'northwind' AND channel = 'chat'" if filters else ""),
        [config.timezone, start, end],
    )[0][0]
    assert cards["cards"][0]["value"] == volume


def test_each_period_says_what_it_misses(demo):
    store, config = demo
    inside, before_data = report_periods(
        store,
        ["chat_volume", "csat"],
        [(date(2026, 7, 1), date(2026, 7, 7)), (date(2025, 1, 1), date(2025, 1, 7))],
        {},
        None,
        config,
    )
    assert inside.table.to_pylist()[0]["chat_volume"] > 0
    assert "csat" not in inside.missing
    assert before_data.table.to_pylist()[0]["chat_volume"] == 0
    assert before_data.table.to_pylist()[0]["csat"] is None
    alone = report(
        store, ["chat_volume", "csat"], (), None, date(2025, 1, 1), date(2025, 1, 7), config=config
    )
    assert before_data.missing == alone.missing
