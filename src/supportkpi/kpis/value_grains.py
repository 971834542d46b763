"""Grains for the cost and value KPIs: money per vendor, attributed revenue, customers.

Cost rows and revenue events belong to their own dates (KPIS.md). A cost row covers whole days
(the UTC dates of ``period_start`` up to, not including, ``period_end``) and is spread evenly
over them, so a monthly invoice that straddles a report period is split by days. A revenue event
is attributed to the conversation it names, else to the customer's last conversation that began
within the attribution window (default 7 days) before it: that last contact is kept by the store
at load (:mod:`supportkpi.store.kept_contacts`), else found with the report.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from supportkpi.facts.contacts import last_contacts
from supportkpi.facts.derive import flag, seconds_between
from supportkpi.kpis.grains import (
    DIMENSIONS,
    GRAINS,
    PERIODS,
    RANGE,
    Frame,
    Unavailable,
    conversation_rows,
    conversations,
    period_step,
)

SALES = ("purchase", "upsell", "cross_sell")


def _vendor_only(frame: Frame, what: str) -> None:
    other = sorted((set(frame.by) | set(frame.filters)) - {"vendor"})
    if other:
        raise Unavailable(f"{what} are recorded per vendor, not per {' or '.join(other)}")


def _day_spine(frame: Frame) -> ir.Table:
    """Every UTC day from the first cost period's start to the last one's end."""
    costs = frame.tables["costs"]
    bounds = costs.aggregate(lo=costs.period_start.min(), hi=costs.period_end.max())
    days = ibis.range(bounds.lo, bounds.hi, ibis.interval(days=1))
    # unnested on its own, then made a date: Spark refuses a generator inside an expression
    return bounds.select(day=days.unnest()).select(day=ibis._.day.date())


def cost_days(frame: Frame) -> ir.Table:
    """One row per vendor and day with its share of the cost rows covering that day."""
    costs = frame.tables["costs"]
    costs = costs.mutate(first=costs.period_start.date(), stop=costs.period_end.date())
    costs = costs.mutate(days=(costs.stop.delta(costs.first, unit="day")).cast("float64"))
    spine = _day_spine(frame)
    daily = costs.join(spine, [spine.day >= costs.first, spine.day < costs.stop])
    daily = daily.mutate(cost=daily.amount / daily.days, __at=daily.day.cast("timestamp"))
    daily = daily.group_by("vendor", "__at").aggregate(cost=ibis._.cost.sum())
    return _dated(frame, daily, "__at", local=False)


def _dated(frame: Frame, table: ir.Table, column: str, local: bool = True) -> ir.Table:
    """Apply the report's dates and add its period to rows dated by ``column``."""
    at = frame.local(table[column]) if local else table[column]
    conditions = []
    if frame.start:
        conditions.append(at >= frame.instant("first"))
    if frame.end:
        conditions.append(at < frame.instant("after"))
    vendors = frame.filters.get("vendor")
    if vendors:
        conditions.append(table.vendor.isin(vendors))
    if conditions:
        table = table.filter(*conditions)
    table = frame.in_ranges(table, at)
    if frame.period:
        table = table.mutate(**{frame.period: at.truncate(PERIODS[frame.period])})
    return table


def _with_last_contact(frame: Frame, events: ir.Table, rows: ir.Table) -> ir.Table:
    """``events`` with ``__last``, their customer's last conversation begun at or before them
    (:mod:`supportkpi.facts.contacts`): kept by the store at load, else found here."""
    contacts = frame.contacts
    if contacts is None:
        contacts = last_contacts(frame.tables["revenue_events"], rows)
    contacts = contacts.select(__event=contacts.event_id, __last=contacts.last_conversation_id)
    joined = events.left_join(contacts, events.event_id == contacts.__event)
    return joined.select(*events.columns, "__last")


def attributed_revenue(frame: Frame) -> ir.Table:
    """Revenue events (not churn) with the dims of the conversation they are attributed to,
    dated by when they happened, over the report's dates and filters; events attributed to no
    conversation are left out."""
    return frame.select(attributed_events(frame), "occurred_at", DIMENSIONS)


def money_unavailable(frame: Frame) -> str | None:
    """Why the money per vendor (:func:`vendor_money`) cannot be computed for ``frame``;
    None when it can."""
    try:
        _vendor_only(frame, "costs")
    except Unavailable as exc:
        return str(exc)
    return "costs are spread over days, not hours" if frame.period == "hour" else None


def attributed_events(frame: Frame) -> ir.Table:
    """:func:`attributed_revenue` before the report's dates and filters apply, except that
    events more than a day outside its dates are left out (:meth:`Frame.near`); the table a
    report held, when it did (:attr:`Frame.attributed`)."""
    if frame.attributed is not None:
        return frame.attributed
    events = frame.tables["revenue_events"]
    events = events.filter(events.kind != "churn", *frame.near(events.occurred_at))
    rows = conversation_rows(frame)
    last = rows.select(__started=rows.created_at, __conv=rows.conversation_id)
    joined = _with_last_contact(frame, events, rows)
    joined = joined.left_join(last, joined.__last == last.__conv)
    window = frame.config.attribution_days * 86400
    recent = seconds_between(joined.occurred_at, joined.__started) <= window
    joined = joined.mutate(
        __attributed=ibis.coalesce(joined.conversation_id, ibis.ifelse(recent, joined.__conv, None))
    )
    dims = rows.select("conversation_id", *DIMENSIONS)
    attributed = joined.join(dims, joined.__attributed == dims.conversation_id)
    return attributed.select(*events.columns, *DIMENSIONS)


def vendor_money(frame: Frame) -> ir.Table:
    """Per vendor (and period): cost, attributed revenue and handled conversations."""
    return _vendor_totals(frame, revenue=True)


def vendor_cost(frame: Frame) -> ir.Table:
    """Per vendor (and period): cost and handled conversations (what a cost per contact
    needs, without attributing revenue)."""
    return _vendor_totals(frame, revenue=False)


def _vendor_totals(frame: Frame, revenue: bool) -> ir.Table:
    why = money_unavailable(frame)
    if why:
        raise Unavailable(why)
    keys = ["vendor", *([RANGE] if frame.ranges else []), *([frame.period] if frame.period else [])]
    none = {"cost": ibis.null("float64"), "revenue": ibis.null("float64")}
    none |= {"handled": ibis.null("int64")}
    cost = cost_days(frame).group_by(keys).aggregate(cost=ibis._.cost.sum())
    c = conversations(frame)
    handled = c.group_by(keys).aggregate(handled=flag(c.handled).sum())
    parts = [
        cost.select(*keys, **(none | {"cost": cost.cost})),
        handled.select(*keys, **(none | {"handled": handled.handled})),
    ]
    if revenue:
        money = attributed_revenue(frame).group_by(keys).aggregate(revenue=ibis._.amount.sum())
        parts.append(money.select(*keys, **(none | {"revenue": money.revenue})))
    stacked = parts[0]
    for part in parts[1:]:
        stacked = stacked.union(part)
    return stacked.group_by(keys).aggregate(
        cost=stacked.cost.sum(), revenue=stacked.revenue.sum(), handled=stacked.handled.sum()
    )


def conversions(frame: Frame) -> ir.Table:
    """Conversations with whether the customer bought within the attribution window after
    the conversation began, and its engagement buckets."""
    c = conversations(frame)
    events = frame.tables["revenue_events"]
    sales = events.filter(events.kind.isin(SALES))
    window = ibis.interval(seconds=int(frame.config.attribution_days * 86400))
    bought = c.select("conversation_id", "customer_id", "created_at").join(
        sales,
        [
            c.customer_id == sales.customer_id,
            sales.occurred_at >= c.created_at,
            sales.occurred_at <= c.created_at + window,
        ],
    )
    buyers = bought.select(__bought=bought.conversation_id).distinct()
    c = c.left_join(buyers, c.conversation_id == buyers.__bought)
    length = seconds_between(
        ibis.coalesce(c.last_message_at, c.closed_at, c.created_at), c.created_at
    )
    return c.mutate(converted=c.__bought.notnull(), engagement_seconds=length)


def customer_values(frame: Frame) -> ir.Table:
    """Sales and churns, each with the segment (dims) of the customer's last conversation
    before it, over the report's dates. Grouped by a dimension, events of customers who had not
    yet contacted support belong to no segment and are left out."""
    if frame.period:
        raise Unavailable(
            "customer lifetime value is over the report's whole range, not per period"
        )
    events = frame.tables["revenue_events"]
    rows = conversation_rows(frame)
    last = rows.select(
        *(rows[d].name(f"__{d}") for d in DIMENSIONS),
        __started=rows.created_at,
        __conv=rows.conversation_id,
    )
    joined = _with_last_contact(frame, events, rows)
    joined = joined.left_join(last, joined.__last == last.__conv)
    if frame.by:  # a customer joins a segment with their first conversation
        joined = joined.filter(joined.__started.notnull())
    joined = joined.mutate(**{d: joined[f"__{d}"] for d in DIMENSIONS})
    joined = joined.select(*events.columns, *DIMENSIONS)
    selected = frame.select(joined, "occurred_at", DIMENSIONS)
    lifespan = frame.config.customer_lifespan_years
    if frame.ranges:  # each range observed over its own events
        span = selected.group_by(RANGE).aggregate(
            __first=selected.occurred_at.min(), __last=selected.occurred_at.max()
        )
        span = span.rename(__span_range=RANGE)
        selected = selected.join(span, selected[RANGE] == span.__span_range).drop("__span_range")
    else:
        span = selected.aggregate(
            __first=selected.occurred_at.min(), __last=selected.occurred_at.max()
        )
        selected = selected.cross_join(span)
    return selected.mutate(
        observed_days=ibis.greatest(seconds_between(ibis._.__last, ibis._.__first) / 86400.0, 1.0),
        lifespan_years=ibis.literal(lifespan, type="float64"),
    )


def retention(frame: Frame) -> ir.Table:
    """One row per (period, customer known before it began): whether they churned in it."""
    other = sorted(set(frame.by) | set(frame.filters))
    if other:
        raise Unavailable(
            f"retention is over the whole customer base, not per {' or '.join(other)}"
        )
    if not frame.period:
        raise Unavailable(
            "retention needs a period (--by month, …): customers at its start and at its end"
        )
    unit = PERIODS[frame.period]
    c, e = frame.tables["conversations"], frame.tables["revenue_events"]
    seen = c.select(customer_id=c.customer_id.cast("string"), at=c.created_at).union(
        e.select(customer_id=e.customer_id.cast("string"), at=e.occurred_at)
    )
    seen = seen.filter(seen.customer_id.notnull())
    customers = seen.group_by("customer_id").aggregate(first_seen=seen.at.min())
    churn = (
        e.filter(e.kind == "churn")
        .group_by("customer_id")
        .aggregate(churned_at=ibis._.occurred_at.min())
    )
    customers = customers.left_join(churn, "customer_id").select(
        "customer_id", "first_seen", "churned_at"
    )
    customers = customers.mutate(
        first_local=frame.local(customers.first_seen), churn_local=frame.local(customers.churned_at)
    )
    starts = seen.select(p=frame.local(seen.at).truncate(unit)).distinct()
    starts = starts.mutate(p_end=starts.p + period_step(frame.period))
    pairs = starts.join(customers, [customers.first_local < starts.p])
    pairs = pairs.filter(pairs.churn_local.isnull() | (pairs.churn_local >= pairs.p))
    pairs = pairs.mutate(
        retained=pairs.churn_local.isnull() | (pairs.churn_local >= pairs.p_end),
        **{frame.period: pairs.p},
    )
    if frame.start:
        pairs = pairs.filter(pairs.p >= frame.instant("first"))
    if frame.end:
        pairs = pairs.filter(pairs.p < frame.instant("after"))
    return pairs


GRAINS.update(
    {
        "vendor_money": vendor_money,
        "vendor_cost": vendor_cost,
        "revenue": attributed_revenue,
        "conversions": conversions,
        "customers": customer_values,
        "retention": retention,
    }
)
