"""Efficiency KPIs: how fast and how much (KPIS.md, "Efficiency")."""

from __future__ import annotations

import ibis.expr.types as ir

from supportkpi.kpis.registry import (
    Direction,
    Family,
    Kpi,
    Output,
    Unit,
    duration,
    flag,
    ratio,
    register,
    share,
    spread,
    spread_outputs,
)

CONV = ("conversations",)
E = Family.EFFICIENCY
FRT_TICKETS = (
    "From first_response_at where the export has it; a ticket handled without one (an "
    "assigned agent and a resolution) has no first response and is left out, never 0."
)


def _consistency(frt: ir.FloatingValue) -> dict[str, ir.Scalar]:
    """Spread of first response times: coefficient of variation, standard deviation and
    p90 ÷ median. The quantiles are the very ones first_response_time takes (one aggregate
    of both), so the engine sorts the values once for the two KPIs."""
    both = frt.quantile([0.5, 0.9])
    sd = frt.std(how="pop")
    return {
        "response_time_consistency": ratio(sd, frt.mean()),
        "response_time_consistency_sd": sd,
        "response_time_consistency_p90_median": ratio(both[1], both[0]),
    }


register(
    *duration(
        "first_response_time",
        "First response time",
        "First agent message − first customer message (or created_at when the customer wrote "
        "nothing first), per handled conversation.",
        "conversations",
        "frt_seconds",
        needs=CONV,
        family=E,
        over="handled conversations with a first response",
        target="chat ≤ 60 s, email ≤ 3,600 s",
        without_messages=FRT_TICKETS,
    ),
    *duration(
        "response_time",
        "Response time",
        "Over every agent reply: reply time − the earliest customer message not yet answered.",
        "responses",
        "response_seconds",
        needs=("messages",),
        family=E,
        over="agent replies to customer messages",
    ),
    Kpi(
        "response_time_consistency",
        "Response time consistency",
        Unit.RATIO,
        Direction.LOWER,
        E,
        "Coefficient of variation (standard deviation ÷ mean) of first_response_time; "
        "also its standard deviation (population) and p90 ÷ median.",
        "conversations",
        CONV,
        lambda t: _consistency(t.frt_seconds),
        (
            Output("response_time_consistency", Unit.RATIO, "coefficient of variation"),
            Output("response_time_consistency_sd", Unit.SECONDS, "standard deviation"),
            Output("response_time_consistency_p90_median", Unit.RATIO, "p90 ÷ median"),
        ),
        over="handled conversations with a non-zero mean first response time",
        without_messages=FRT_TICKETS,
    ),
    Kpi(
        "service_level",
        "Service level",
        Unit.RATE,
        Direction.HIGHER,
        E,
        "Share of handled conversations with a known first response whose "
        "first_response_time ≤ the channel's threshold "
        "(default 60 s chat, 3,600 s email).",
        "conversations",
        CONV,
        lambda t: {"service_level": share(t.frt_seconds <= t.threshold, t.frt_seconds.notnull())},
        (Output("service_level", Unit.RATE, "share within threshold"),),
        over="handled conversations with a first response",
        without_messages="Over the tickets with a first_response_at; missing when none has one.",
    ),
    *duration(
        "resolution_time",
        "Resolution time",
        "resolved_at − created_at (first resolution), per resolved conversation.",
        "conversations",
        "resolution_seconds",
        needs=CONV,
        family=E,
        over="resolved conversations",
        target="email ≤ 86,400 s; chat within the session",
        without_messages="Unchanged: resolved_at − created_at.",
    ),
    *duration(
        "average_handle_time",
        "Average handle time",
        "Active agent time + hold + wrap-up per handled conversation; without supplied active "
        "time, first agent message → last message of the conversation, wrap-up as 0.",
        "conversations",
        "aht_seconds",
        needs=CONV,
        family=E,
        over="handled conversations with handle time or agent messages",
        without_messages=(
            "From handle_seconds (+ hold, + wrap-up); tickets without it are left out."
        ),
    ),
    Kpi(
        "chat_volume",
        "Volume",
        Unit.COUNT,
        Direction.NONE,
        E,
        "Conversations created in the period; also those handled and those resolved.",
        "conversations",
        ("conversations",),
        lambda t: {
            "chat_volume": t.count(),
            "chat_volume_handled": flag(t.handled).sum(),
            "chat_volume_resolved": flag(t.resolved_at.notnull()).sum(),
        },
        (
            Output("chat_volume", Unit.COUNT, "created"),
            Output("chat_volume_handled", Unit.COUNT, "handled"),
            Output("chat_volume_resolved", Unit.COUNT, "resolved"),
        ),
        without_messages="Handled: a first_response_at, else an assigned agent with a resolution.",
    ),
    Kpi(
        "volume_spike",
        "Volume spike days",
        Unit.COUNT,
        Direction.NONE,
        E,
        "Days whose volume is above the trailing 28-day median by more than 3 × the median "
        "absolute deviation (a day needs 7 earlier days with conversations to be judged); "
        "by day it is 1 or 0.",
        "days",
        ("conversations",),
        lambda t: {"volume_spike": flag(t.spike.fill_null(False)).sum()},
        (Output("volume_spike", Unit.COUNT, "spike days"),),
        over="days",
    ),
    Kpi(
        "chats_per_agent_shift",
        "Conversations per agent shift",
        Unit.COUNT,
        Direction.NONE,
        E,
        "Handled conversations ÷ agent shifts (a shift is one agent's logged-in span on one "
        "local day); every handled conversation counts, and the share handled by an agent "
        "with no shift that local day is reported beside it.",
        "shifts",
        ("agent_activity", "conversations"),
        lambda t: {
            "chats_per_agent_shift": ratio(t.handled.sum(), t.shifts.sum()),
            "chats_per_agent_shift_outside": ratio(t.outside.sum(), t.handled.sum()),
        },
        (
            Output("chats_per_agent_shift", Unit.RATIO, "per shift"),
            Output("chats_per_agent_shift_outside", Unit.RATE, "handled outside any shift"),
        ),
        over="agent shifts",
        without_messages="Handled as in chat_volume; needs agent activity.",
    ),
    Kpi(
        "agent_utilization",
        "Agent utilization",
        Unit.RATE,
        Direction.BAND,
        E,
        "Time in the busy state (at least one conversation in progress) ÷ logged-in time "
        "(every state but offline), from agent activity.",
        "agents",
        ("agent_activity",),
        lambda t: {"agent_utilization": ratio(t.busy_seconds.sum(), t.logged_in_seconds.sum())},
        (Output("agent_utilization", Unit.RATE, "busy ÷ logged in"),),
        band=(0.70, 0.80),
        target="between 0.70 and 0.80",
        over="logged-in agent time",
    ),
    Kpi(
        "agent_concurrency",
        "Chat concurrency",
        Unit.RATIO,
        Direction.NONE,
        E,
        "Mean number of chats an agent has open at once while busy with chat: the summed "
        "length of the agent's chats (first agent reply → last message) ÷ the time with at "
        "least one open.",
        "agent_load",
        ("conversations", "messages"),
        lambda t: {"agent_concurrency": ratio(t.chat_seconds.sum(), t.busy_seconds.sum())},
        (Output("agent_concurrency", Unit.RATIO, "chats at once"),),
        over="handled chats with agent messages",
    ),
    Kpi(
        "idle_time",
        "Idle time per agent",
        Unit.SECONDS,
        Direction.NONE,
        E,
        "Logged-in time − busy time, per agent; mean, median and p90 over the agents.",
        "agents",
        ("agent_activity",),
        lambda t: spread(t.idle_seconds, "idle_time"),
        spread_outputs("idle_time"),
        over="agents with activity",
    ),
)
