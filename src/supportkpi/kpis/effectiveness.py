"""Effectiveness KPIs: whether problems get solved (KPIS.md, "Effectiveness")."""

from __future__ import annotations

from supportkpi.kpis.registry import (
    Direction,
    Family,
    Kpi,
    Output,
    Unit,
    duration,
    ratio,
    register,
    share,
)

CONV = ("conversations",)
F = Family.EFFECTIVENESS


def _resolved(t):
    return t.resolved_at.notnull()


def _rate(
    name: str,
    label: str,
    direction: Direction,
    description: str,
    measure,
    over: str,
    target: str | None = None,
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
            "follow_up_rate": share(t.followed_up),
            "follow_up_contacts_per_issue": ratio(
                t.follow_up_of.notnull().cast("int64").sum(),
                t.follow_up_of.isnull().cast("int64").sum(),
            ),
        },
        (
            Output("follow_up_rate", Unit.RATE, "share followed up"),
            Output("follow_up_contacts_per_issue", Unit.RATIO, "follow-ups per issue"),
        ),
    ),
    _rate(
        "resolution_rate",
        "Resolution rate",
        Direction.HIGHER,
        "Resolved ÷ handled, however many interactions it took.",
        lambda t: share(_resolved(t), t.handled),
        over="handled conversations",
        target="≥ 0.90",
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
            "escalation_rate": share(t.escalated, t.handled),
            "escalation_rate_slow_first_response": share(
                t.frt_seconds > t.threshold, t.handled & t.escalated.fill_null(False)
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
    ),
    _rate(
        "transfer_rate",
        "Transfer rate",
        Direction.LOWER,
        "Handled conversations transferred between agents at least once ÷ handled.",
        lambda t: share(t.transfers.fill_null(0) >= 1, t.handled),
        over="handled conversations",
    ),
    _rate(
        "reopen_rate",
        "Reopen rate",
        Direction.LOWER,
        "Resolved conversations reopened at least once ÷ resolved.",
        lambda t: share(t.reopens.fill_null(0) >= 1, _resolved(t)),
        over="resolved conversations",
    ),
    _rate(
        "abandonment_rate",
        "Abandonment rate",
        Direction.LOWER,
        "Conversations the customer left before any agent message ÷ conversations created.",
        lambda t: share(t.abandoned),
        over="conversations",
        target="≤ 0.05",
    ),
    _rate(
        "abandonment_after_contact_rate",
        "Abandonment after contact",
        Direction.LOWER,
        "Handled conversations that ended without resolution because the customer left or "
        "timed out ÷ handled.",
        lambda t: share(~_resolved(t) & t.ended_by.isin(["customer", "timeout"]), t.handled),
        over="handled conversations",
    ),
    *duration(
        "time_to_abandon",
        "Time to abandon",
        "For abandoned conversations, the customer's leaving time (closed_at, else the "
        "last message) − created_at.",
        "conversations",
        "abandon_seconds",
        needs=CONV,
        family=F,
        over="abandoned conversations",
        direction=Direction.NONE,
    ),
)
