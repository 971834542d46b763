"""Cost and value KPIs, targets, SLAs and trends, against values worked out by hand.

Money fixture (UTC): acme handles 3 conversations in April (u1, u2, u3), 10 in May (u1, u4,
u10–u17) and 1 in June (u5); in-house handles 2 in May (u20, u21).
Costs: acme 16 Apr–16 May 3,000 (30 days: 100 a day), acme 16 May–1 Jun 1,600 (16 days: 100 a
day); in-house has no cost rows.
Revenue: r1 upsell u1 7 May 600 (2 days after u1's conversation of 5 May: attributed);
r2 upsell u1 20 May 999 (15 days after: not attributed); r3 cross-sell 400 naming h1
(in-house); r4 purchase u4 12 May 5,400 (2 days after u4's conversation); r5 churn u2 15 May;
r6 churn u3 29 Apr; r7 purchase u5 15 Jun 300 (5 days after u5's conversation).
"""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from supportkpi.analysis.query import report
from supportkpi.analysis.sla import compare, sla
from supportkpi.analysis.targets import compliance
from supportkpi.cli import app
from supportkpi.config import Config, TargetSpec
from supportkpi.kpis.value import customer_lifetime_value, retention_rate, roi
from supportkpi.load.ingest import load
from tests.test_kpis import loaded  # noqa: F401 - the KPI fixture, reused

MAY_CUSTOMERS = ["u1", "u4", *(f"u{n}" for n in range(10, 18))]


def _conversations() -> str:
    rows = ["conversation_id,channel,created_at,customer_id,vendor,first_response_at"]
    april = [("a1", "2024-04-20", "u1"), ("a2", "2024-04-25", "u2"), ("a3", "2024-04-28", "u3")]
    may = [
        (f"m{i}", f"2024-05-{5 if c == 'u1' else 10 if c == 'u4' else 2 + i:02d}", c)
        for i, c in enumerate(MAY_CUSTOMERS)
    ]
    for cid, day, customer in [*april, *may, ("j1", "2024-06-10", "u5")]:
        rows.append(f"{cid},email,{day} 09:00:00,{customer},acme,{day} 10:00:00")
    rows += [
        "h1,email,2024-05-03 09:00:00,u20,in-house,2024-05-03 10:00:00",
        "h2,email,2024-05-04 09:00:00,u21,in-house,2024-05-04 10:00:00",
    ]
    return "\n".join(rows) + "\n"


COSTS = """
vendor,period_start,period_end,amount,currency,kind
acme,2024-04-16,2024-05-16,3000,EUR,invoice
acme,2024-05-16,2024-06-01,1600,EUR,invoice
"""
REVENUE = """
event_id,customer_id,occurred_at,amount,kind,conversation_id
r1,u1,2024-05-07 12:00:00,600,upsell,
r2,u1,2024-05-20 12:00:00,999,upsell,
r3,u20,2024-05-30 12:00:00,400,cross_sell,h1
r4,u4,2024-05-12 12:00:00,5400,purchase,
r5,u2,2024-05-15 12:00:00,0,churn,
r6,u3,2024-04-29 12:00:00,0,churn,
r7,u5,2024-06-15 09:00:00,300,purchase,
"""


@pytest.fixture
def money(store, write):
    summary = load(
        store,
        [
            write("conversations.csv", _conversations()),
            write("costs.csv", COSTS),
            write("revenue_events.csv", REVENUE),
        ],
    )
    assert not summary.quarantined
    return store


def _rows(result, *keys):
    return {
        tuple(r[k] if not hasattr(r[k], "month") else r[k].month for k in keys): r
        for r in result.table.to_pylist()
    }


def test_worked_examples_of_the_contract():
    assert roi(20_000, 10_000) == 100
    assert round(roi(25_000, 12_000), 1) == 108.3
    assert customer_lifetime_value(50, 4, 5) == 1_000
    assert customer_lifetime_value(100, 6, 8) == 4_800
    assert [
        round(retention_rate(a, b) * 100, 1)
        for a, b in [(1000, 950), (950, 900), (900, 850), (850, 825)]
    ] == [95.0, 94.7, 94.4, 97.1]
    assert compliance("<=", 3600, 45 * 60) == 1.0  # first response < 1 h, achieved 45 min
    assert round(compliance(">=", 0.85, 0.80) * 100) == 94  # FCR


def test_nps_worked_example(store, write):
    rows = ["conversation_id,channel,created_at", "c1,chat,2024-05-01 10:00:00"]
    answers = [10] * 50 + [8] * 30 + [3] * 20
    surveys = ["survey_id,conversation_id,kind,score"] + [
        f"s{i},c1,nps,{score}" for i, score in enumerate(answers)
    ]
    load(
        store,
        [write("conversations.csv", "\n".join(rows)), write("surveys.csv", "\n".join(surveys))],
    )
    (row,) = report(store, ["nps"], by=[]).table.to_pylist()
    assert row["nps"] == pytest.approx(30)
    assert (row["nps_promoters"], row["nps_passives"], row["nps_detractors"]) == (0.5, 0.3, 0.2)


def test_cost_per_contact_spreads_invoices_over_their_days(money):
    rows = _rows(
        report(money, ["cost_per_contact", "roi"], by=["vendor", "month"]), "vendor", "month"
    )
    assert rows[("acme", 4)]["cost_per_contact"] == pytest.approx(1500 / 3)  # 16–30 Apr
    assert rows[("acme", 5)]["cost_per_contact"] == pytest.approx((1500 + 1600) / 10)
    assert rows[("acme", 6)]["cost_per_contact"] is None  # no cost rows cover June
    assert rows[("in-house", 5)]["cost_per_contact"] is None
    # ROI: May gain r1 600 + r4 5400 (r2 is outside the window); April gains nothing
    assert rows[("acme", 5)]["roi"] == pytest.approx((6000 - 3100) / 3100 * 100)
    assert rows[("acme", 4)]["roi"] == pytest.approx(-100)
    assert rows[("in-house", 5)]["roi"] is None
    whole = _rows(report(money, ["cost_per_contact"], by=["vendor"]), "vendor")
    assert whole[("acme",)]["cost_per_contact"] == pytest.approx(4600 / 14)


def test_a_vendor_without_cost_rows_is_empty_with_the_reason(money):
    result = report(money, ["cost_per_contact"], by=["vendor"])
    assert "cost_per_contact" not in result.missing
    assert (
        {"vendor": "in-house"},
        "cost_per_contact",
        "no cost rows for the vendor (or no conversations it handled) in this group",
    ) in result.empty()
    by_team = report(money, ["cost_per_contact"], by=["team"])
    assert by_team.missing["cost_per_contact"] == "costs are recorded per vendor, not per team"


def test_dates_cut_the_cost_by_day(money):
    result = report(
        money, ["cost_per_contact"], by=["vendor"], start=date(2024, 5, 10), end=date(2024, 5, 20)
    )
    # 10–20 May: 11 days at 100 a day. Handled by acme in those days: m1 (u4) and m8 (u16)
    # on the 10th, m9 (u17) on the 11th.
    assert _rows(result, "vendor")[("acme",)]["cost_per_contact"] == pytest.approx(1100 / 3)


def test_upsells_cross_sells_and_conversion(money):
    kpis = ["upsell_count", "upsell_revenue", "cross_sell_count", "conversion_rate"]
    rows = _rows(report(money, kpis, by=["vendor", "month"]), "vendor", "month")
    may = rows[("acme", 5)]
    assert (may["upsell_count"], may["upsell_revenue"]) == (1, 600)  # r1; r2 not attributed
    assert rows[("in-house", 5)]["cross_sell_count"] == 1  # r3 names h1
    assert rows[("in-house", 5)]["cross_sell_revenue"] == 400
    # bought within 7 days of the conversation: m0 (u1, r1) and m1 (u4, r4) of 10
    assert may["conversion_rate"] == pytest.approx(2 / 10)
    assert rows[("acme", 4)]["conversion_rate"] == 0.0
    assert rows[("acme", 6)]["conversion_rate"] == 1.0  # j1 then r7
    assert rows[("in-house", 5)]["conversion_rate"] == 0.0  # r3 came 27 days later


def test_retention_ignores_new_customers(money):
    rows = _rows(report(money, ["customer_retention_rate"], by=["month"]), "month")
    # April: nobody was a customer before 1 April: no row.
    assert (4,) not in rows
    # May: u1, u2, u3 known; u3 left in April, so u1 and u2 start; u2 leaves on 15 May.
    assert rows[(5,)]["customer_retention_rate"] == pytest.approx(1 / 2)
    # June: u1, u4, u10–u17, u20, u21 start (12; u2 and u3 are gone; u5 is new): all stay
    assert rows[(6,)]["customer_retention_rate"] == 1.0


def test_lifetime_value_per_segment(money):
    observed = (date(2024, 6, 15) - date(2024, 4, 29)).days - 3 / 24  # r6 12:00 → r7 09:00
    per_year = 4 / 3 * 365.25 / observed  # acme sales r1, r2, r4, r7 by u1, u4, u5
    average = (600 + 999 + 5400 + 300) / 4
    given = Config(customer_lifespan_years=5)
    rows = _rows(report(money, ["customer_lifetime_value"], by=["vendor"], config=given), "vendor")
    assert rows[("acme",)]["customer_lifetime_value"] == pytest.approx(average * per_year * 5)
    churn_per_year = 2 / 5 * 365.25 / observed  # u2, u3 of u1, u2, u3, u4, u5
    rows = _rows(report(money, ["customer_lifetime_value"], by=["vendor"]), "vendor")
    assert rows[("acme",)]["customer_lifetime_value"] == pytest.approx(
        average * per_year / churn_per_year
    )
    assert rows[("in-house",)]["customer_lifetime_value"] is None  # nobody churned


CONTRACT = Config(
    contracts={
        "acme": (
            TargetSpec(kpi="first_contact_resolution", op=">=", value=0.9),
            TargetSpec(kpi="abandonment_rate", op="<=", value=0.25),
            TargetSpec(kpi="agent_utilization", op="between", value=(0.80, 0.90)),
            TargetSpec(kpi="first_response_time", op="<=", value=60, channel="chat"),
        )
    }
)


def test_targets_in_the_report(loaded):  # noqa: F811 - the fixture of test_kpis
    result = report(
        loaded,
        ["first_contact_resolution", "abandonment_rate", "agent_utilization"],
        by=["vendor"],
        targets=True,
        config=CONTRACT,
    )
    rows = _rows(result, "vendor")
    ih, ac = rows[("in-house",)], rows[("acme",)]
    # in-house: default targets. FCR 0 of ≥ 0.70 → 0; abandonment 1/4 against ≤ 0.05 →
    # 0.05 ÷ 0.25 = 0.2; utilization 10800/19800 below the 0.70–0.80 band → 0.545 ÷ 0.70
    assert (ih["first_contact_resolution_status"], ih["first_contact_resolution_compliance"]) == (
        "missed",
        0.0,
    )
    assert ih["abandonment_rate_compliance"] == pytest.approx(0.05 / 0.25)
    assert ih["agent_utilization_compliance"] == pytest.approx((10800 / 19800) / 0.70)
    assert ih["agent_utilization_target"] == "70.0 %–80.0 %"
    # acme: its contract. FCR 1.0 ≥ 0.9 met; abandonment 1/3 > 0.25 → 0.25 ÷ 1/3 = 0.75;
    # utilization 12600/16200 = 0.778 below 0.80–0.90 → 0.778 ÷ 0.80
    assert ac["first_contact_resolution_status"] == "met"
    assert ac["abandonment_rate_compliance"] == pytest.approx(0.75)
    assert ac["abandonment_rate_target"] == "≤ 25.0 %"
    assert ac["agent_utilization_compliance"] == pytest.approx((12600 / 16200) / 0.80)


def test_sla_lists_each_contract_worst_first(loaded):  # noqa: F811
    table = sla(loaded, CONTRACT, vendor="acme").to_pylist()
    # compliance: first response 60 ÷ 90 = 0.67, abandonment 0.75, utilization 0.97, FCR met
    assert [r["kpi"] for r in table] == [
        "first_response_time",
        "abandonment_rate",
        "agent_utilization",
        "first_contact_resolution",
    ]
    frt = next(r for r in table if r["kpi"] == "first_response_time")
    # acme chat: c6 alone was handled, 90 s: mean 90 > 60 → 60 ÷ 90; 0 of 1 within 60 s
    assert (frt["scope"], frt["achieved"], frt["attainment"]) == ("channel chat", 90, 0.0)
    assert frt["compliance"] == pytest.approx(60 / 90)
    assert frt["status"] == "missed"


def test_sla_uses_the_general_targets_without_a_contract(loaded):  # noqa: F811
    table = sla(loaded, CONTRACT, vendor="in-house").to_pylist()
    frt = {r["scope"]: r for r in table if r["kpi"] == "first_response_time"}
    # chat: c1 30, c2 120 → mean 75 > 60 → 0.8; half within 60 s. email: c4 3600 → met
    assert frt["channel chat"]["compliance"] == pytest.approx(60 / 75)
    assert frt["channel chat"]["attainment"] == 0.5
    assert frt["channel email"]["status"] == "met"
    assert {r["source"] for r in table} == {"default"}


def test_compare_in_house_with_each_vendor(loaded):  # noqa: F811
    table = compare(loaded, Config(), kpis=["first_response_time", "abandonment_rate"])
    rows = {r["kpi"]: r for r in table.to_pylist()}
    frt = rows["first_response_time"]
    assert frt["acme_difference"] == pytest.approx(1845 - 1250)
    assert frt["acme_verdict"] == "worse"
    assert rows["abandonment_rate"]["acme_difference"] == pytest.approx(1 / 3 - 1 / 4)


def test_trends_against_the_previous_period(loaded):  # noqa: F811
    result = report(
        loaded, ["abandonment_rate", "agent_utilization", "chat_volume"], by=["day"], trend=True
    )
    days = result.table.to_pylist()
    # abandonment: 6 May 1/4 (c3), 7 May 0 of 2, 8 May 1 of 1
    assert days[0]["abandonment_rate_previous"] is None
    assert (days[1]["abandonment_rate_change"], days[1]["abandonment_rate_trend"]) == (
        -0.25,
        "improved",
    )
    assert days[1]["abandonment_rate_change_relative"] == -1.0
    assert (days[2]["abandonment_rate_trend"], days[2]["abandonment_rate_change_relative"]) == (
        "worsened",
        None,
    )  # from 0: no relative change
    # utilization 0.545 (6 May) → 0.778 (7 May): closer to the 0.70–0.80 band
    assert days[1]["agent_utilization_trend"] == "improved"
    assert days[1]["chat_volume_trend"] is None  # volume has no better direction
    later = report(loaded, ["abandonment_rate"], by=["day"], trend=True, start=date(2024, 5, 7))
    first = later.table.to_pylist()[0]
    assert first["abandonment_rate_previous"] == 0.25  # 6 May, before the range


def test_sla_command_fails_on_breach(loaded, tmp_path):  # noqa: F811
    db = tmp_path / "test.duckdb"  # the fixture's store file
    del db
    config = tmp_path / "supportkpi.toml"
    config.write_text('[[contracts.acme]]\nkpi = "abandonment_rate"\nop = "<="\nvalue = 0.1\n')
    path = loaded.url
    loaded.close()
    runner = CliRunner()
    ok = runner.invoke(
        app,
        ["sla", "--db", path, "--config", str(config), "--vendor", "acme"],
        env={"COLUMNS": "200"},
    )
    assert ok.exit_code == 0, ok.output
    assert "Abandonment rate" in ok.output and "✗" in ok.output
    narrow = runner.invoke(
        app, ["sla", "--db", path, "--config", str(config)], env={"COLUMNS": "80"}
    )
    lines = narrow.output.splitlines()
    assert all(len(line) <= 80 for line in lines), narrow.output
    assert not any("…" in line for line in lines), narrow.output  # no vendor or KPI cut short
    breach = runner.invoke(app, ["sla", "--db", path, "--config", str(config), "--fail-on-breach"])
    assert breach.exit_code == 3


def test_customers_without_a_conversation_are_in_no_segment(money, write):
    extra = write(
        "revenue_events_more.csv",
        """
        event_id,customer_id,occurred_at,amount,kind
        r8,u99,2024-05-20 12:00:00,1000,purchase
        r9,u99,2024-05-25 12:00:00,0,churn
        """,
    )
    load(money, [extra])
    given = Config(customer_lifespan_years=5)
    grouped = report(money, ["customer_lifetime_value"], by=["vendor"], config=given)
    assert {r["vendor"] for r in grouped.table.to_pylist()} == {"acme", "in-house"}
    result = report(money, ["customer_lifetime_value"], by=[], config=given)
    (overall,) = result.table.to_pylist()
    # in the whole base u99 counts: sales r1, r2, r3, r4, r7, r8 (6) by u1, u20, u4, u5, u99
    observed = (date(2024, 6, 15) - date(2024, 4, 29)).days - 3 / 24
    per_year = 6 / 5 * 365.25 / observed
    average = (600 + 999 + 400 + 5400 + 300 + 1000) / 6
    assert overall["customer_lifetime_value"] == pytest.approx(average * per_year * 5)
