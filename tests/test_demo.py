"""The demo operation: reproducible, loadable, and showing the ground truth it was drawn from."""

from __future__ import annotations

from datetime import date

import pyarrow.compute as pc
import pytest

from bench.floor import FLOOR_SQL
from supportkpi import demo
from supportkpi.facts.derive import conversation_facts


@pytest.fixture(scope="module")
def demo_set():
    return demo.generate()


@pytest.fixture
def loaded(demo_store):
    store, summary, _ = demo_store
    return store, summary


def test_same_seed_same_data_other_seed_other_data(demo_set):
    again = demo.generate()
    assert all(demo_set.tables[n].equals(again.tables[n]) for n in demo_set.tables)
    other = demo.generate(seed=8)
    assert not other.tables["conversations"].equals(demo_set.tables["conversations"])


def test_shape_of_the_operation(demo_set):
    conv = demo_set.tables["conversations"]
    assert 35_000 < conv.num_rows < 60_000
    assert set(conv["channel"].to_pylist()) == {"chat", "email"}
    assert set(conv["vendor"].to_pylist()) == {"in-house", "northwind", "atlas"}
    activity = demo_set.tables["agent_activity"]
    assert len(set(activity["agent_id"].to_pylist())) == 60
    assert len({v.timezone for v in demo.VENDORS}) == 3
    assert 6.5 < demo_set.tables["messages"].num_rows / conv.num_rows < 9
    kinds = set(demo_set.tables["surveys"]["kind"].to_pylist())
    assert kinds == {"csat", "nps", "ces"}


def test_only_the_planted_bad_rows_are_quarantined(loaded):
    store, summary = loaded
    assert summary.quarantined == {"out_of_range": 3, "unknown_ref": 2}
    assert store.execute("SELECT DISTINCT table_name FROM quarantine ORDER BY 1") == [
        ("messages",),
        ("surveys",),
    ]


def test_spike_days_stand_out(demo_set):
    days = pc.floor_temporal(demo_set.tables["conversations"]["created_at"], unit="day")
    per_day = {c["values"]: c["counts"] for c in pc.value_counts(days).to_pylist()}
    ordered = sorted(per_day)
    assert len(demo_set.spike_days) == 3
    for spike in demo_set.spike_days:
        day = ordered[spike]
        same_weekday = sorted(
            n for d, n in per_day.items() if d.weekday() == day.weekday() and d != day
        )
        assert per_day[day] > 1.8 * same_weekday[len(same_weekday) // 2]


def _by_vendor(store, sql):
    return dict(store.execute(sql))


def test_ground_truth_is_visible_in_the_data(loaded):
    store, _ = loaded
    facts = conversation_facts(store.table("conversations"), store.table("messages"))
    store.raw.register("demo_facts", facts.to_pyarrow())
    median_frt = _by_vendor(
        store,
        """
        SELECT vendor, median(date_diff('second', response_start, first_response_at))
        FROM demo_facts WHERE handled AND channel = 'chat' GROUP BY 1""",
    )
    assert median_frt["atlas"] < median_frt["in-house"] < median_frt["northwind"]
    follow_up = _by_vendor(store, "SELECT vendor, avg(followed_up::int) FROM demo_facts GROUP BY 1")
    assert follow_up["northwind"] > follow_up["in-house"]
    cost_per_handled = _by_vendor(
        store,
        """
        SELECT c.vendor, sum(c.amount) / any_value(h.n) FROM costs c
        JOIN (SELECT vendor, count(*) n FROM demo_facts WHERE handled GROUP BY 1) h
        USING (vendor) GROUP BY 1""",
    )
    assert cost_per_handled["northwind"] == min(cost_per_handled.values())
    csat_scales = _by_vendor(
        store,
        """
        SELECT c.vendor, max(s.scale_max) FROM surveys s JOIN conversations c
        USING (conversation_id) WHERE kind = 'csat' GROUP BY 1""",
    )
    assert csat_scales == {"in-house": 5.0, "northwind": 5.0, "atlas": 10.0}
    bot_or_private = store.execute(
        "SELECT count(*) FROM messages WHERE author_role = 'bot' OR private"
    )[0][0]
    assert bot_or_private > 1000


def test_invoices_straddle_the_period(demo_set):
    costs = demo_set.tables["costs"].to_pylist()
    assert len(costs) == 9
    first = min(r["period_start"] for r in costs)
    last = max(r["period_end"] for r in costs)
    created = demo_set.tables["conversations"]["created_at"]
    assert first <= pc.min(created).as_py() and last > pc.max(created).as_py()
    assert last.day == 1 and (last - pc.max(created).as_py()).days >= 1


def test_registry_agrees_with_independent_sql(loaded):
    from supportkpi.analysis.query import report

    store, _ = loaded
    ours = report(
        store,
        ["chat_volume", "first_response_time", "abandonment_rate", "resolution_rate", "csat"],
        by=["vendor"],
    ).table.to_pylist()
    theirs = store.execute(FLOOR_SQL)
    assert len(ours) == len(theirs) == 3
    for mine, (vendor, volume, frt, median, p90, abandonment, resolution, csat) in zip(
        ours, theirs, strict=True
    ):
        assert mine["vendor"] == vendor
        assert mine["chat_volume"] == volume
        assert mine["first_response_time"] == pytest.approx(frt, rel=1e-12)
        assert mine["first_response_time_median"] == pytest.approx(median, rel=1e-12)
        assert mine["first_response_time_p90"] == pytest.approx(p90, rel=1e-12)
        assert mine["abandonment_rate"] == pytest.approx(float(abandonment), rel=1e-12)
        assert mine["resolution_rate"] == pytest.approx(float(resolution), rel=1e-12)
        assert mine["csat"] == pytest.approx(float(csat), rel=1e-12)


def test_demo_ground_truth_in_the_scorecard(loaded):
    from supportkpi.analysis.query import report

    store, _ = loaded
    rows = {r["vendor"]: r for r in report(store, by=["vendor"]).table.to_pylist()}
    northwind, inhouse = rows["northwind"], rows["in-house"]
    assert northwind["csat"] < inhouse["csat"]
    assert northwind["first_contact_resolution"] < inhouse["first_contact_resolution"]
    assert northwind["abandonment_rate"] > inhouse["abandonment_rate"]
    assert northwind["agent_utilization"] > inhouse["agent_utilization"]


def assert_same_rows(fast: list[dict], plain: list[dict]) -> None:
    """The same rows, columns and values, up to the order in which floating-point sums are
    taken."""
    for a, b in zip(fast, plain, strict=True):
        assert a.keys() == b.keys()
        for key, value in a.items():
            if isinstance(value, float):
                assert value == pytest.approx(b[key], rel=1e-9), key
            else:
                assert value == b[key], key


NO_DATES = (None, None)


@pytest.mark.parametrize(
    ("by", "names", "dates", "filters"),
    [
        (["vendor"], None, (None, None), None),
        (["channel", "month"], None, (None, None), None),
        (
            ["agent"],
            ["first_response_time", "response_time", "csat", "qa_score"],
            (None, None),
            None,
        ),
        ([], None, (date(2026, 7, 6), date(2026, 8, 2)), None),
        (
            ["team"],
            ["cost_per_contact", "csat", "nps"],
            (date(2026, 7, 1), None),
            {"vendor": ["atlas"]},
        ),
    ],
)
def test_shared_facts_and_the_plain_path_agree(demo_store, by, names, dates, filters):
    """Facts computed once (the fast path, keeping only the fact columns the report reads) and
    inside the query (the plain one) give the same numbers, up to the order in which
    floating-point sums are taken."""
    from supportkpi.analysis.query import run, select_kpis
    from supportkpi.config import Config

    store, _, _ = demo_store
    kpis = select_kpis(names, None, False)
    fast = run(store, kpis, by, None, *dates, filters, None, Config()).table.to_pylist()
    plain = run(store, kpis, by, None, *dates, filters, None, Config(), share=False)
    plain = plain.table.to_pylist()
    assert len(fast) == len(plain) > 0
    assert_same_rows(fast, plain)


MONEY_KPIS = [
    "roi",
    "cost_per_contact",
    "upsell_count",
    "cross_sell_count",
    "upsell_revenue",
    "customer_lifetime_value",
    "conversion_rate",
]


@pytest.mark.parametrize(
    ("by", "dates", "filters", "tz"),
    [
        (["vendor"], NO_DATES, None, None),
        ([], (date(2026, 7, 6), date(2026, 8, 2)), None, "Pacific/Kiritimati"),
        (["vendor"], (date(2026, 7, 6), date(2026, 8, 2)), {"vendor": ["atlas"]}, "Pacific/Niue"),
        (["vendor", "week"], (date(2026, 7, 1), date(2026, 7, 31)), None, "America/New_York"),
    ],
)
def test_revenue_attributed_once_equals_the_plain_path(demo_store, by, dates, filters, tz):
    """ROI's money per vendor and the upsell and cross-sell counts stand on the same
    attribution of revenue events to conversations; a report with both attributes once into
    a table held for the report, over the events near its dates. The figures equal the plain
    path, which attributes inside its one query, in zones 14 hours either side of UTC (an
    event near the edge of a local day is kept or left out as the plain path does)."""
    from supportkpi.analysis.query import report, run, select_kpis
    from supportkpi.config import Config

    store, _, _ = demo_store
    kpis = select_kpis(MONEY_KPIS, None, False)
    fast = report(store, MONEY_KPIS, by, None, *dates, filters, tz, Config(), explain=True)
    assert "the revenue events' attribution, computed once as" in fast.sql
    plain = run(store, kpis, by, None, *dates, filters, tz, Config(), share=False)
    fast_rows, plain_rows = fast.table.to_pylist(), plain.table.to_pylist()
    assert len(fast_rows) == len(plain_rows) > 0
    assert any(row["upsell_count"] for row in fast_rows)
    assert any(row["roi"] is not None for row in fast_rows)
    assert_same_rows(fast_rows, plain_rows)
    # and both equal SQL written here from the raw tables, on local days in the zone
    zone = tz or "UTC"
    where = ["e.kind <> 'churn'"]
    if dates[0]:
        where.append(f"timezone('{zone}', e.occurred_at)::DATE >= DATE '{dates[0]}'")
    if dates[1]:
        where.append(f"timezone('{zone}', e.occurred_at)::DATE <= DATE '{dates[1]}'")
    if filters:
        where.append(f"f.vendor IN ({', '.join(repr(v) for v in filters['vendor'])})")
    hand = store.execute(
        f"""
        SELECT {"f.vendor" if "vendor" in by else "NULL"} AS vendor,
               count(*) FILTER (WHERE e.kind = 'upsell') AS upsells,
               count(*) FILTER (WHERE e.kind = 'cross_sell') AS cross_sells,
               coalesce(sum(e.amount) FILTER (WHERE e.kind = 'upsell'), 0) AS upsell_revenue
        FROM revenue_events e
        ASOF LEFT JOIN conversations l
            ON l.customer_id = e.customer_id AND e.occurred_at >= l.created_at
        JOIN conversations f ON f.conversation_id = coalesce(e.conversation_id, CASE
            WHEN epoch(e.occurred_at) - epoch(l.created_at) <= 7 * 86400
            THEN l.conversation_id END)
        WHERE {" AND ".join(where)}
        GROUP BY ALL
        """
    )
    totals: dict[object, list[float]] = {}
    for row in fast_rows:
        total = totals.setdefault(row.get("vendor"), [0, 0, 0.0])
        total[0] += row["upsell_count"]
        total[1] += row["cross_sell_count"]
        total[2] += row["upsell_revenue"] or 0.0
    expected = {vendor: [u, c, r] for vendor, u, c, r in hand}
    assert totals.keys() == expected.keys()
    for vendor, (upsells, cross_sells, revenue) in expected.items():
        assert totals[vendor][:2] == [upsells, cross_sells], vendor
        assert totals[vendor][2] == pytest.approx(revenue, rel=1e-9), vendor


def test_the_demo_scorecard_has_no_impossible_value(demo_store):
    """What the demo prints first: no negative duration, and every business-hours figure
    within its calendar twin, for every vendor (the demo's own calendars: weekdays in
    Berlin by default, northwind around the clock in Manila)."""
    from supportkpi.analysis.query import report
    from supportkpi.config import load_config
    from supportkpi.kpis import Unit

    store, _, config_path = demo_store
    result = report(store, by=["vendor"], config=load_config(config_path))
    assert any(k.business_hours for k in result.kpis)
    units = result.units()
    for row in result.table.to_pylist():
        for kpi in result.kpis:
            for column in kpi.columns:
                value = row[column]
                if units[column] is Unit.SECONDS and value is not None:
                    assert value >= 0, (row["vendor"], column, value)
            if kpi.business_hours:
                twin = kpi.name.removesuffix("_bh")
                for suffix in ("", "_median", "_p90"):
                    bh, calendar = row[kpi.name + suffix], row[twin + suffix]
                    assert bh is not None and calendar is not None, (row["vendor"], kpi.name)
                    assert bh <= calendar + 1e-6, (row["vendor"], kpi.name + suffix, bh, calendar)
