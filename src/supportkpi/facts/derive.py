"""Per-conversation facts derived from messages, for the KPIs to read.

:func:`conversation_facts` returns one row per conversation: every stored column, with
``first_response_at`` and ``follow_up_of`` filled in from messages and neighbouring
conversations only where the conversation row leaves them empty, plus these facts:

==========================  ===============================================================
column                      meaning
==========================  ===============================================================
first_customer_message_at   the customer's first message
first_agent_message_at      the first agent message (bots, system messages and private
                            notes never count as agent replies)
last_message_at             the last public message of any author
agent_messages              number of agent replies (public, by a human agent)
customer_messages           number of customer messages
response_start              when the clock for the first response starts: the first
                            customer message, or ``created_at`` when the customer wrote
                            nothing before the first response
handled                     an agent answered, by the best evidence the data has: an
                            agent reply; else a ``first_response_at``; else an assigned
                            ``agent_id`` with a ``resolved_at`` (ticket exports without
                            messages)
abandoned                   not handled, not resolved, and ended by the customer or a
                            timeout (an empty ``ended_by`` counts as the customer leaving)
left_at                     when an abandoned customer left: ``closed_at``, else the last
                            public message; NULL when the data does not say
ended_at                    ``resolved_at``, else ``closed_at``, else ``created_at``
followed_up                 the same customer opened another conversation within the
                            follow-up window after this one ended (or one names this as its
                            ``follow_up_of``)
==========================  ===============================================================

A conversation B follows up A when it is the same customer's next conversation and begins
within the window (default 7 days) after A ended (``ended_at``). Everything is an Ibis
expression: it runs on whichever backend the store is on.
"""

from __future__ import annotations

from datetime import timedelta

import ibis
import ibis.expr.types as ir

DEFAULT_FOLLOW_UP_WINDOW = timedelta(days=7)


def seconds_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """Seconds from ``earlier`` to ``later``, the same on every backend (millisecond steps)."""
    return later.delta(earlier, unit="millisecond").cast("float64") / 1000.0


def flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    """1 where ``condition`` holds, 0 where it does not, NULL where it is NULL, as an int64.
    Cast through int32: PostgreSQL casts a boolean to ``integer`` only (not to ``bigint`` or
    ``double``), and every other engine accepts that too."""
    return condition.cast("int32").cast("int64")


def message_facts(messages: ir.Table) -> ir.Table:
    """One row per conversation that has messages: first/last times and reply counts."""
    m = messages
    public = ~m.private.fill_null(False)
    by_agent = (m.author_role == "agent") & public
    by_customer = m.author_role == "customer"
    return m.group_by("conversation_id").aggregate(
        first_customer_message_at=m.sent_at.min(where=by_customer),
        first_agent_message_at=m.sent_at.min(where=by_agent),
        last_message_at=m.sent_at.max(where=public),
        # int64 stated: DuckDB would sum into a 128-bit integer
        agent_messages=flag(by_agent).sum().cast("int64"),
        customer_messages=flag(by_customer).sum().cast("int64"),
    )


def reply_pairs(messages: ir.Table) -> ir.Table:
    """One row per agent reply that answers a customer: ``conversation_id``, ``asked_at`` (the
    earliest customer message not yet answered) and ``replied_at`` (the first public agent
    message after it). Bots, system messages and private notes are skipped."""
    m = messages
    public_agent = (m.author_role == "agent") & ~m.private.fill_null(False)
    m = m.filter((m.author_role == "customer") | public_agent)
    is_agent = flag(m.author_role == "agent")
    w = ibis.cumulative_window(
        group_by=m.conversation_id, order_by=[m.sent_at, is_agent, m.message_id]
    )
    m = m.mutate(__turn=is_agent.sum().over(w) - is_agent, __agent=is_agent)
    # one pass: a turn is a pair when it holds both a customer message and a reply
    turns = m.group_by("conversation_id", "__turn").aggregate(
        asked_at=m.sent_at.min(where=m.__agent == 0),
        replied_at=m.sent_at.min(where=m.__agent == 1),
    )
    pairs = turns.filter(turns.asked_at.notnull() & turns.replied_at.notnull())
    return pairs.select("conversation_id", "asked_at", "replied_at")


def conversation_facts(
    conversations: ir.Table,
    messages: ir.Table,
    follow_up_window: timedelta = DEFAULT_FOLLOW_UP_WINDOW,
) -> ir.Table:
    """Every conversation with the facts of the module doc filled in."""
    return follow_ups(own_facts(conversations, messages), follow_up_window)


def own_facts(conversations: ir.Table, messages: ir.Table) -> ir.Table:
    """Every conversation with the facts that depend on it and its messages alone: all but
    ``followed_up`` and a derived ``follow_up_of``, which :func:`follow_ups` adds."""
    facts = message_facts(messages)
    c = conversations.left_join(facts, "conversation_id").select(
        *conversations.columns,
        *(col for col in facts.columns if col != "conversation_id"),
    )
    c = c.mutate(
        agent_messages=c.agent_messages.fill_null(0),
        customer_messages=c.customer_messages.fill_null(0),
        first_response_at=c.first_response_at.fill_null(c.first_agent_message_at),
    )
    c = c.mutate(
        response_start=ibis.ifelse(
            c.first_customer_message_at.notnull()
            & (c.first_response_at.isnull() | (c.first_customer_message_at <= c.first_response_at)),
            c.first_customer_message_at,
            c.created_at,
        ),
        handled=c.first_response_at.notnull() | (c.agent_id.notnull() & c.resolved_at.notnull()),
        ended_at=ibis.coalesce(c.resolved_at, c.closed_at, c.created_at),
    )
    c = c.mutate(
        abandoned=~c.handled
        & c.resolved_at.isnull()
        & c.ended_by.fill_null("customer").isin(["customer", "timeout"]),
        left_at=ibis.coalesce(c.closed_at, c.last_message_at),
    )
    return c


def follow_ups(c: ir.Table, window: timedelta) -> ir.Table:
    """``follow_up_of`` filled and ``followed_up`` added, from each customer's conversations
    in order: it reads ``conversation_id``, ``customer_id``, ``created_at``, ``ended_at`` and
    the stored ``follow_up_of`` of every conversation of the customers in ``c``."""
    limit = window.total_seconds()
    w = ibis.window(group_by=c.customer_id, order_by=[c.created_at, c.conversation_id])
    c = c.mutate(
        __prev_id=c.conversation_id.lag().over(w),
        __prev_end=c.ended_at.lag().over(w),
        __next_start=c.created_at.lead().over(w),
    )
    known = c.customer_id.notnull()
    derived_of = ibis.ifelse(
        known & (seconds_between(c.created_at, c.__prev_end) <= limit), c.__prev_id, None
    )
    named = c.select(named=c.follow_up_of).filter(ibis._.named.notnull()).distinct()
    c = c.mutate(
        follow_up_of=c.follow_up_of.fill_null(derived_of),
        followed_up=(known & (seconds_between(c.__next_start, c.ended_at) <= limit)).fill_null(
            False
        )
        | c.conversation_id.isin(named.named),
    )
    return c.drop("__prev_id", "__prev_end", "__next_start")


def base_facts(
    conversations: ir.Table, messages: ir.Table, surveys: ir.Table, window: timedelta
) -> ir.Table:
    """The facts of :func:`supportkpi.facts.derive.conversation_facts` with ``agent`` (the agent id
    under its dimension name) and ``surveys_answered``: what reports read per conversation,
    before any setting other than the follow-up window applies."""
    return follow_ups(own_base_facts(conversations, messages, surveys), window)


def own_base_facts(conversations: ir.Table, messages: ir.Table, surveys: ir.Table) -> ir.Table:
    """What :func:`base_facts` has before the follow-ups: each conversation on its own."""
    f = own_facts(conversations, messages)
    counts = surveys.group_by("conversation_id").aggregate(__surveys=ibis._.count())
    f = f.left_join(counts, "conversation_id").drop("conversation_id_right")
    return f.mutate(agent=f.agent_id, surveys_answered=f.__surveys.fill_null(0)).drop("__surveys")
