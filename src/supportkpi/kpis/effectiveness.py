"""Effectiveness KPIs: whether problems get solved (KPIS.md, "Effectiveness")."""

from __future__ import annotations

import ibis

from supportkpi.kpis.registry import (
    Direction,
    Family,
    Kpi,
    Output,
    Unit,
    duration,
    flag,
    known_share,
    ratio,
    register,
    share,
)

CONV = ("conversations",)
F = Family.EFFECTIVENESS


def _resolved(t):
    return t.resolved_at.notnull()


RESOLVED = "conversations.resolved_at"
FOLLOW_UPS = "conversations.customer_id|follow_up_of"
ANSWERED = "conversations.first_response_at|messages.message_id"


def _follow_ups_known(t):
    """Follow-ups can be found in a group when its conversations name their customers or
    name the conversation they follow up."""
    return (t.customer_id.count() + t.follow_up_of.count()) > 0


def _rate(
    name: str,
    label: str,
    direction: Direction,
    description: str,
    measure,
    over: str,
    target: str | None = None,
    needs_values: tuple[str, ...] = (),
    checks: tuple[tuple[str, str], ...] = (),
    without_messages: str = "",
) -> Kpi:
    return Kpi(
        name,
        label,
        Unit.RATE,
        direction,
        F,
        description,
        "conversations",
        CONV,
        lambda t: {name: measure(t)},
        (Output(name, Unit.RATE, "share"),),
        over=over,
        target=target,
        needs_values=needs_values,
        checks=checks,
        without_messages=without_messages,
    )


register(
    _rate(
        "first_contact_resolution",
        "First contact resolution",
        Direction.HIGHER,
        "Resolved conversations that were not escalated, not reopened, and not followed by "
        "another conversation from the same customer within the follow-up window (default "
        "7 days) ÷ resolved conversations.",
        lambda t: share(
            ~t.escalated.fill_null(False) & (t.reopens.fill_null(0) == 0) & ~t.followed_up,
            _resolved(t),
        ),
        over="resolved conversations",
        target="≥ 0.70",
        without_messages=(
            "Tickets without escalated, reopens or follow-up data count as resolved first "
            "time on what is known; the report notes what it could not check."
        ),
        needs_values=(RESOLVED,),
        checks=(
            ("conversations.escalated", "escalations"),
            ("conversations.reopens", "reopens"),
            (FOLLOW_UPS, "follow-ups (no customer_id or follow_up_of)"),
        ),
    ),
    Kpi(
        "follow_up_rate",
        "Follow-up rate",
        Unit.RATE,
        Direction.LOWER,
        F,
        "Conversations followed by another conversation from the same customer within the "
        "window ÷ conversations; also follow-up contacts per issue (conversations that follow "
        "up ÷ conversations that do not).",
        "conversations",
        ("conversations",),
        lambda t: {
            "follow_up_rate": ibis.ifelse(
                _follow_ups_known(t), share(t.followed_up), ibis.null("float64")
            ),
            "follow_up_contacts_per_issue": ibis.ifelse(
                _follow_ups_known(t),
                ratio(
                    flag(t.follow_up_of.notnull()).sum(),
                    flag(t.follow_up_of.isnull()).sum(),
                ),
                ibis.null("float64"),
            ),
        },
        (
            Output("follow_up_rate", Unit.RATE, "share followed up"),
            Output("follow_up_contacts_per_issue", Unit.RATIO, "follow-ups per issue"),
        ),
        over="conversations with a customer_id or follow_up_of",
        needs_values=(FOLLOW_UPS,),
        without_messages="Needs customer_id or follow_up_of; missing otherwise.",
    ),
    _rate(
        "resolution_rate",
        "Resolution rate",
        Direction.HIGHER,
        "Resolved ÷ handled, however many interactions it took.",
        lambda t: share(_resolved(t), t.handled),
        over="handled conversations",
        target="≥ 0.90",
        # without any sign of an answer but the resolution itself, resolved ÷ handled is 1
        # by construction: a ticket export without replies cannot tell it
        needs_values=(RESOLVED, ANSWERED),
        without_messages=(
            "Missing when the tickets have neither first_response_at nor messages: handled "
            "would be known only through the resolution, making the rate 1 by construction."
        ),
    ),
    Kpi(
        "escalation_rate",
        "Escalation rate",
        Unit.RATE,
        Direction.LOWER,
        F,
        "Escalated ÷ handled; also the share of escalations whose first response missed its "
        "threshold. `escalation_reasons()` breaks the escalations down by reason.",
        "conversations",
        CONV,
        lambda t: {
            "escalation_rate": known_share(t.escalated, t.handled, t.escalated),
            "escalation_rate_slow_first_response": share(
                t.frt_seconds > t.threshold,
                t.handled & t.escalated.fill_null(False) & t.frt_seconds.notnull(),
            ),
        },
        (
            Output("escalation_rate", Unit.RATE, "share escalated"),
            Output(
                "escalation_rate_slow_first_response",
                Unit.RATE,
                "escalations after a slow first response",
            ),
        ),
        over="handled conversations",
        needs_values=("conversations.escalated",),
        without_messages="From the escalated column; missing where it holds no value.",
    ),
    _rate(
        "transfer_rate",
        "Transfer rate",
        Direction.LOWER,
        "Handled conversations transferred between agents at least once ÷ handled.",
        lambda t: known_share(t.transfers.fill_null(0) >= 1, t.handled, t.transfers),
        over="handled conversations",
        needs_values=("conversations.transfers",),
        without_messages="From transfers (reassignments); missing where it holds no value.",
    ),
    _rate(
        "reopen_rate",
        "Reopen rate",
        Direction.LOWER,
        "Resolved conversations reopened at least once ÷ resolved.",
        lambda t: known_share(t.reopens.fill_null(0) >= 1, _resolved(t), t.reopens),
        over="resolved conversations",
        needs_values=(RESOLVED, "conversations.reopens"),
        without_messages="From reopens; missing where it holds no value.",
    ),
    _rate(
        "abandonment_rate",
        "Abandonment rate",
        Direction.LOWER,
        "Conversations the customer left before any agent answered (no agent message, no "
        "first_response_at, not resolved) ÷ conversations created.",
        lambda t: share(t.abandoned),
        over="conversations",
        target="≤ 0.05",
        without_messages=(
            "Abandoned: no first_response_at, no assigned agent with a resolution, not "
            "resolved, and ended_by customer, timeout or empty. A resolved ticket never is."
        ),
    ),
    _rate(
        "abandonment_after_contact_rate",
        "Abandonment after contact",
        Direction.LOWER,
        "Handled conversations that ended without resolution because the customer left or "
        "timed out ÷ handled.",
        lambda t: known_share(
            ~_resolved(t) & t.ended_by.isin(["customer", "timeout"]), t.handled, t.ended_by
        ),
        over="handled conversations",
        needs_values=("conversations.ended_by",),
        without_messages="Needs ended_by; missing otherwise.",
    ),
    *duration(
        "time_to_abandon",
        "Time to abandon",
        "For abandoned conversations, the customer's leaving time (closed_at, else the "
        "last message; missing when neither is known) − created_at.",
        "conversations",
        "abandon_seconds",
        needs=CONV,
        family=F,
        over="abandoned conversations",
        direction=Direction.NONE,
        without_messages=(
            "closed_at − created_at; an abandoned ticket without closed_at is left out, never 0."
        ),
    ),
)


register(
    Kpi(
        "source_sla_attainment",
        "SLA attainment (source system)",
        Unit.RATE,
        Direction.HIGHER,
        F,
        "Share of conversations whose source system says its SLA was met (sla_breached false, "
        "e.g. ServiceNow's made_sla), to reconcile with our own sla_attainment.",
        "conversations",
        CONV,
        lambda t: {
            "source_sla_attainment": share(~t.sla_breached, t.sla_breached.notnull()),
        },
        (Output("source_sla_attainment", Unit.RATE, "share the source counts as met"),),
        over="conversations with the source system's SLA verdict",
        needs_values=("conversations.sla_breached",),
        without_messages="Unchanged: from sla_breached.",
    ),
)
