"""Each revenue event's last contact: the customer's last conversation begun at or before it.

Revenue is attributed to the conversation an event names, else to this last contact when it
began within the attribution window (KPIS.md); the customer's segment for lifetime value is
the last contact's too. :func:`last_contacts` finds it without an as-of join, which only some
engines have: a customer's conversations are numbered in time order, laid out beside the
customer's events (a conversation first when both fall on the same instant), and a running
maximum of that number carries the last one to each event; an equality join names it.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

__all__ = ["last_contacts"]


def last_contacts(events: ir.Table, conversations: ir.Table) -> ir.Table:
    """One row per revenue event: ``event_id`` and ``last_conversation_id``, the customer's
    last conversation created at or before ``occurred_at`` (NULL when there is none, or the
    event names no customer). Of conversations created at the same instant, the one with the
    greatest id is the last."""
    c = conversations.filter(conversations.customer_id.notnull())
    order = ibis.window(group_by=c.customer_id, order_by=[c.created_at, c.conversation_id])
    c = c.select(
        __customer=_nullable(c.customer_id),
        __at=_nullable(c.created_at),
        __conv=_nullable(c.conversation_id),
        __n=ibis.row_number().over(order),
    )
    e = events.filter(events.customer_id.notnull())
    at_type = c.__at.type()
    marks = c.select(
        "__customer",
        "__at",
        "__n",
        __kind=ibis.literal(0, "int8"),
        __event=ibis.null("string"),
    ).union(
        e.select(
            __customer=_nullable(e.customer_id),
            __at=e.occurred_at.cast(at_type),
            __n=ibis.null("int64"),
            __kind=ibis.literal(1, "int8"),
            __event=_nullable(e.event_id),
        ),
        distinct=False,
    )
    w = ibis.cumulative_window(group_by=marks.__customer, order_by=[marks.__at, marks.__kind])
    marks = marks.mutate(__last=marks.__n.max().over(w))
    found = marks.filter(marks.__kind == 1)
    named = found.left_join(c, [found.__customer == c.__customer, found.__last == c.__n]).select(
        event_id=found.__event, last_conversation_id=c.__conv
    )
    missing = events.filter(events.customer_id.isnull()).select(
        event_id=_nullable(events.event_id), last_conversation_id=ibis.null("string")
    )
    return named.union(missing, distinct=False)


def _nullable(column: ir.Value) -> ir.Value:
    """``column`` typed as nullable, so that parts of a union agree on their schema."""
    return column.cast(column.type().copy(nullable=True))
