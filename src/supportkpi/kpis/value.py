"""Cost and value KPIs (KPIS.md, "Cost and value").

The formulas are plain functions that work on numbers and on Ibis expressions alike, so the
registry and the worked examples of KPIS.md run the same code.
"""

from __future__ import annotations

from typing import TypeVar

import ibis
import ibis.expr.types as ir

from supportkpi.kpis import value_grains  # noqa: F401 - registers the grains
from supportkpi.kpis.registry import (
    Direction,
    Family,
    Kpi,
    Output,
    Unit,
    flag,
    ratio,
    register,
    share,
)

N = TypeVar("N", float, ir.NumericValue)
V = Family.COST_VALUE
YEAR_DAYS = 365.25
ENGAGEMENT = (("0_20", None, 20), ("21_50", 20, 50), ("51_80", 50, 80), ("81_100", 80, None))
DURATIONS = (
    ("under_2m", None, 120),
    ("2_5m", 120, 300),
    ("5_15m", 300, 900),
    ("over_15m", 900, None),
)


def roi(gain: N, cost: N) -> N:
    """(gain − cost) ÷ cost × 100."""
    return (gain - cost) / cost * 100


def customer_lifetime_value(average_purchase: N, purchases_per_year: N, lifespan_years: N) -> N:
    """Average purchase value × purchases per customer per year × lifespan in years."""
    return average_purchase * purchases_per_year * lifespan_years


def retention_rate(at_start: N, retained: N) -> N:
    """Customers still there at the end ÷ customers at the start."""
    return retained / at_start


def _between(column: ir.NumericValue, low: float | None, high: float | None) -> ir.BooleanValue:
    inside = column.notnull()
    if low is not None:
        inside &= column > low if column.get_name() == "engagement_score" else column >= low
    if high is not None:
        inside &= column <= high if column.get_name() == "engagement_score" else column < high
    return inside


def _conversion(t: ir.Table) -> dict[str, ir.Scalar]:
    out = {"conversion_rate": share(t.converted)}
    for name, lo, hi in ENGAGEMENT:
        out[f"conversion_rate_engagement_{name}"] = share(
            t.converted, _between(t.engagement_score, lo, hi)
        )
    for name, lo, hi in DURATIONS:
        out[f"conversion_rate_duration_{name}"] = share(
            t.converted, _between(t.engagement_seconds, lo, hi)
        )
    return out


def _lifetime(t: ir.Table) -> ir.FloatingValue:
    """CLV over a segment's events; the lifespan is the configured one (``lifespan_years``),
    else 1 ÷ the yearly churn rate (churned ÷ customers, scaled to a year)."""
    sales = t.kind != "churn"
    average = t.amount.mean(where=sales)
    buyers = t.customer_id.nunique(where=sales)
    per_year = ratio(flag(sales).sum(), buyers) * YEAR_DAYS / t.observed_days.max()
    churn_per_year = (
        ratio(flag(t.kind == "churn").sum(), t.customer_id.nunique())
        * YEAR_DAYS
        / t.observed_days.max()
    )
    lifespan = ibis.coalesce(t.lifespan_years.max(), 1 / churn_per_year.nullif(0.0))
    return customer_lifetime_value(average, per_year, lifespan)


_LABELS = {
    "under_2m": "under 2 min",
    "2_5m": "2–5 min",
    "5_15m": "5–15 min",
    "over_15m": "over 15 min",
}


def _outputs(
    prefix: str, names: tuple[tuple[str, float | None, float | None], ...], what: str
) -> tuple[Output, ...]:
    return tuple(
        Output(
            f"conversion_rate_{prefix}_{n}",
            Unit.RATE,
            f"{what} {_LABELS.get(n, n.replace('_', '–'))}",
        )
        for n, _, _ in names
    )


register(
    Kpi(
        "cost_per_contact",
        "Cost per contact",
        Unit.MONEY,
        Direction.LOWER,
        V,
        "Σ cost rows of the vendor for the period (spread evenly over the days each covers) "
        "÷ conversations handled by that vendor in the period.",
        "vendor_cost",
        ("costs", "conversations"),
        lambda t: {"cost_per_contact": ratio(t.cost.sum(), t.handled.sum())},
        (Output("cost_per_contact", Unit.MONEY, "cost ÷ handled"),),
        over="cost rows for the vendor (or no conversations it handled)",
    ),
    Kpi(
        "roi",
        "ROI",
        Unit.RATIO,
        Direction.HIGHER,
        V,
        "(gain − cost) ÷ cost × 100 for the same vendor and period; gain is the revenue "
        "attributed to the vendor's conversations (events on their own dates).",
        "vendor_money",
        ("costs", "revenue_events", "conversations"),
        lambda t: {"roi": roi(t.revenue.sum().fill_null(0.0), t.cost.sum().nullif(0.0))},
        (Output("roi", Unit.RATIO, "%"),),
        over="cost rows for the vendor",
    ),
    Kpi(
        "customer_lifetime_value",
        "Customer lifetime value",
        Unit.MONEY,
        Direction.HIGHER,
        V,
        "Average purchase value × purchases per customer per year × customer lifespan in years "
        "(customer_lifespan_years from the config, else 1 ÷ the yearly churn rate); a segment "
        "is the group of the customer's last conversation before each event.",
        "customers",
        ("revenue_events",),
        lambda t: {"customer_lifetime_value": _lifetime(t)},
        (Output("customer_lifetime_value", Unit.MONEY, "per customer"),),
        over="purchases and churns (churn sets the lifespan)",
    ),
    Kpi(
        "customer_retention_rate",
        "Customer retention",
        Unit.RATE,
        Direction.HIGHER,
        V,
        "Customers at the start of the period still customers at its end ÷ customers at the "
        "start (a customer leaves on a churn event; customers new in the period do not count).",
        "retention",
        ("revenue_events",),
        lambda t: {
            "customer_retention_rate": retention_rate(
                t.count().cast("float64").nullif(0.0), flag(t.retained).sum()
            )
        },
        (Output("customer_retention_rate", Unit.RATE, "retained"),),
        over="customers known before the period began",
    ),
    Kpi(
        "upsell_count",
        "Upsells",
        Unit.COUNT,
        Direction.HIGHER,
        V,
        "Upsell events attributed to a conversation (the one named, else the customer's last "
        "conversation within the attribution window before the event, default 7 days).",
        "revenue",
        ("revenue_events", "conversations"),
        lambda t: {"upsell_count": flag(t.kind == "upsell").sum()},
        (Output("upsell_count", Unit.COUNT, "upsells"),),
        over="attributed revenue events",
    ),
    Kpi(
        "cross_sell_count",
        "Cross-sells",
        Unit.COUNT,
        Direction.HIGHER,
        V,
        "Cross-sell events attributed to a conversation, as for upsell_count; also their revenue.",
        "revenue",
        ("revenue_events", "conversations"),
        lambda t: {
            "cross_sell_count": flag(t.kind == "cross_sell").sum(),
            "cross_sell_revenue": t.amount.sum(where=t.kind == "cross_sell").fill_null(0.0),
        },
        (
            Output("cross_sell_count", Unit.COUNT, "cross-sells"),
            Output("cross_sell_revenue", Unit.MONEY, "their revenue"),
        ),
        over="attributed revenue events",
    ),
    Kpi(
        "upsell_revenue",
        "Upsell revenue",
        Unit.MONEY,
        Direction.HIGHER,
        V,
        "Revenue of upsell events attributed to a conversation.",
        "revenue",
        ("revenue_events", "conversations"),
        lambda t: {"upsell_revenue": t.amount.sum(where=t.kind == "upsell").fill_null(0.0)},
        (Output("upsell_revenue", Unit.MONEY, "revenue"),),
        over="attributed revenue events",
    ),
    Kpi(
        "conversion_rate",
        "Conversion rate",
        Unit.RATE,
        Direction.HIGHER,
        V,
        "Conversations followed by a purchase, upsell or cross-sell of the same customer within "
        "the attribution window after the conversation began ÷ conversations; also by "
        "engagement-score bucket (0–20, 21–50, 51–80, 81–100) and by engagement duration "
        "(created → last message: under 2 min, 2–5, 5–15, over 15 min).",
        "conversions",
        ("revenue_events", "conversations"),
        _conversion,
        (
            Output("conversion_rate", Unit.RATE, "converted"),
            *_outputs("engagement", ENGAGEMENT, "engagement score"),
            *_outputs("duration", DURATIONS, "engaged"),
        ),
        over="conversations",
    ),
)
