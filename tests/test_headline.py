"""The headline computes its period and the period before it in one query: each card's value,
target and status equal a report over its period, its previous value a report over the
period before; the volume is also counted here in plain SQL on local days."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from pathlib import Path

import pytest

from supportkpi.analysis import query, views
from supportkpi.analysis.query import report, report_periods
from supportkpi.api.reads import HEADLINE as API_HEADLINE
from supportkpi.config import load_config
from supportkpi.load.ingest import load
from supportkpi.store.store import Store
from tests.conftest import demo_paths

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


HEADLINE_KPIS = list(API_HEADLINE)
GRAINS = [
    (("response_time", "qa_score", "agent_utilization"), {"vendor": ["northwind"]}),
    (("chats_per_agent_shift", "agent_concurrency", "volume_spike"), {}),
    (("roi", "customer_lifetime_value"), {"vendor": ["atlas"]}),
    (("upsell_revenue", "conversion_rate"), {}),
    (("roi", "upsell_count", "cross_sell_count"), {"vendor": ["atlas"]}),
]
"""A KPI of each grain the headline's KPIs do not use: replies, QA, agent activity, shifts,
chat load, days, money, customers, revenue, conversions; and money with revenue together (the
revenue events' attribution held once for both)."""


def alone(store, kpis, start, end, filters, config) -> list[dict]:
    """What a plain report over one range gives: its row, missing KPIs and notes."""
    found = report(
        store, kpis, (), None, start, end, filters, None, config, targets=True, samples=True
    )
    return [found.table.to_pylist(), found.missing, found.notes, found.checked_nowhere]


def assert_each_range_alone(store, kpis, ranges, filters, config) -> None:
    """Every column of each range's report, its missing KPIs and notes, equal a plain report
    over that range alone."""
    found = report_periods(store, kpis, ranges, filters, None, config, targets=True, samples=True)
    assert len(found) == len(ranges)
    for got, (start, end) in zip(found, ranges, strict=True):
        rows, missing, notes, nowhere = alone(store, kpis, start, end, filters, config)
        assert got.missing == missing, (start, end)
        assert got.notes == notes and got.checked_nowhere == nowhere, (start, end)
        mine = got.table.to_pylist()
        assert len(mine) == len(rows) == 1, (start, end)
        assert list(mine[0]) == list(rows[0]), (start, end)
        for column, value in rows[0].items():
            assert same_value(mine[0][column], value), (start, end, column)


def same_value(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return same(a, b)
    return a == b


@pytest.fixture
def passes(monkeypatch):
    """The ranges each call computed on their own (the stacked path), per call."""
    calls: list[list[tuple[date, date]]] = []
    stacked = query._stacked

    def counted(base, computable, chosen, periods, *rest):
        calls.append(list(periods))
        return stacked(base, computable, chosen, periods, *rest)

    monkeypatch.setattr(query, "_stacked", counted)
    return calls


def test_random_windows_equal_a_report_per_range(demo, passes):
    """Windows of 1 to 28 days anywhere in the 70 days of data, with the period before each,
    in one pass: each equals a plain report over its range, every headline KPI and its
    sample, target and status (business hours configured in the demo's settings)."""
    store, config = demo
    assert config.business_hours.configured
    rng = random.Random(7)
    for _ in range(3):
        days = rng.randint(1, 28)
        start = date(2026, 6, 1) + timedelta(days=rng.randint(days, 69 - days))
        end = start + timedelta(days=days - 1)
        before = (start - timedelta(days=days), start - timedelta(days=1))
        assert_each_range_alone(store, HEADLINE_KPIS, [(start, end), before], {}, config)
    assert passes == []  # every range in the one grouped pass


@pytest.mark.parametrize(("kpis", "filters"), GRAINS)
def test_every_grain_respects_the_ranges(demo, passes, kpis, filters):
    """Each grain computed over two ranges with a gap between them, listed latest first."""
    store, config = demo
    if "customer_lifetime_value" in kpis:  # a set lifespan: the value reads the days observed
        config = config.model_copy(update={"customer_lifespan_years": 3.0})
    ranges = [(date(2026, 7, 20), date(2026, 8, 2)), (date(2026, 6, 20), date(2026, 7, 3))]
    assert_each_range_alone(store, kpis, ranges, filters, config)
    assert passes == []


def test_a_range_without_rows_of_a_grain(demo, passes):
    """A period before the data (the window starts on its first day) and a period where one
    grain has no rows (a day without a survey answered for a small scope): those ranges alone
    are computed as a report over them is (a count of nothing is 0, a mean of nothing NULL)."""
    store, config = demo
    first_week = (date(2026, 6, 1), date(2026, 6, 7))
    before = (date(2026, 5, 25), date(2026, 5, 31))
    assert_each_range_alone(store, HEADLINE_KPIS, [first_week, before], {}, config)
    assert passes == [[before]]
    scope = {"vendor": ["atlas"], "channel": ["chat"]}
    days = [(day, day) for day in (date(2026, 7, 1) + timedelta(days=n) for n in range(6))]
    surveys = store.execute(
        "SELECT count(*) FROM surveys s JOIN conversations c USING (conversation_id) "
        "WHERE c.vendor = 'atlas' AND c.channel = 'chat' "
        "AND (c.created_at AT TIME ZONE ?)::DATE BETWEEN '2026-07-01' AND '2026-07-06' "
        "GROUP BY (c.created_at AT TIME ZONE ?)::DATE",
        [config.timezone, config.timezone],
    )
    assert len(surveys) < len(days)  # some of these days had no survey answer in the scope
    passes.clear()
    assert_each_range_alone(store, HEADLINE_KPIS, days, scope, config)
    assert passes and all(len(p) < len(days) for p in passes)


def test_overlapping_ranges_each_on_their_own(demo, passes):
    store, config = demo
    ranges = [(date(2026, 7, 1), date(2026, 7, 14)), (date(2026, 7, 8), date(2026, 7, 21))]
    assert_each_range_alone(store, HEADLINE_KPIS, ranges, {}, config)
    assert passes == [ranges]


@pytest.fixture(scope="module")
def without_surveys(small_demo, tmp_path_factory):
    """The small demo's files loaded without its survey answers."""
    _, config = small_demo
    files = Path(config).parent
    path = tmp_path_factory.mktemp("no_surveys") / "store.duckdb"
    with Store.open(path) as store:
        load(store, [p for p in demo_paths(files) if not p.name.startswith("surveys")])
    with Store.open(path, read_only=True) as store:
        yield store, load_config(config)


def test_a_store_without_surveys(without_surveys, passes):
    store, config = without_surveys
    ranges = [(date(2026, 7, 1), date(2026, 7, 28)), (date(2026, 6, 3), date(2026, 6, 30))]
    assert_each_range_alone(store, HEADLINE_KPIS, ranges, {}, config)
    found = report_periods(store, HEADLINE_KPIS, ranges, {}, None, config, samples=True)
    assert found[0].missing["csat"] == found[1].missing["nps"] == "no surveys loaded"
    assert passes == []


def test_a_range_ending_before_it_starts_is_refused(demo):
    store, config = demo
    ranges = [(date(2026, 7, 1), date(2026, 7, 7)), (date(2026, 6, 30), date(2026, 6, 24))]
    with pytest.raises(query.QueryError, match=r"ends \(2026-06-24\) before it starts"):
        report_periods(store, HEADLINE_KPIS, ranges, {}, None, config)
