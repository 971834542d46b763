"""Per-conversation facts from messages, checked against values worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from supportkpi.facts.derive import conversation_facts
from supportkpi.load.ingest import load


def t(day: int, hms: str) -> datetime:
    h, m, s = (int(x) for x in hms.split(":"))
    return datetime(2024, 5, day, h, m, s, tzinfo=UTC)


CONVERSATIONS = """
    conversation_id,channel,created_at,customer_id,first_response_at,resolved_at,ended_by,follow_up_of
    A,chat,2024-05-01 10:00:00,u1,,2024-05-01 10:10:00,agent,
    B,chat,2024-05-01 09:00:00,u2,,,,
    C,email,2024-05-01 08:00:00,u3,2024-05-01 09:00:00,,,
    D,chat,2024-05-01 11:00:00,u4,,,,
    E,chat,2024-05-01 12:00:00,u5,,,agent,
    F,chat,2024-05-01 13:00:00,u6,2024-05-01 13:05:00,,,
    G,chat,2024-05-08 10:10:00,u1,,,,
    H,chat,2024-05-15 10:10:01,u1,,,,
    I,chat,2024-05-02 10:00:00,,,,,
    J,chat,2024-05-03 10:00:00,,,,,
    K,email,2024-05-20 10:00:00,u9,,,,B
    """
MESSAGES = """
    message_id,conversation_id,sent_at,author_role,private
    a1,A,2024-05-01 10:00:10,customer,
    a2,A,2024-05-01 10:00:12,bot,
    a3,A,2024-05-01 10:00:20,agent,true
    a4,A,2024-05-01 10:01:10,agent,false
    a5,A,2024-05-01 10:02:00,customer,
    a6,A,2024-05-01 10:03:00,agent,
    a7,A,2024-05-01 10:04:00,system,
    b1,B,2024-05-01 09:00:30,agent,
    b2,B,2024-05-01 09:05:00,customer,
    d1,D,2024-05-01 11:00:05,customer,
    d2,D,2024-05-01 11:02:05,customer,
    e1,E,2024-05-01 12:00:01,customer,
    f1,F,2024-05-01 13:01:10,agent,
    """


@pytest.fixture
def facts(store, write):
    load(store, [write("conversations.csv", CONVERSATIONS), write("messages.csv", MESSAGES)])
    table = conversation_facts(store.table("conversations"), store.table("messages"))
    rows = table.to_pyarrow().to_pylist()
    return {r["conversation_id"]: r for r in rows}


def test_bots_system_and_private_notes_are_no_replies(facts):
    a = facts["A"]
    assert a["first_customer_message_at"] == t(1, "10:00:10")
    assert a["first_agent_message_at"] == t(1, "10:01:10")  # not the note at 10:00:20
    assert a["first_response_at"] == t(1, "10:01:10")
    assert a["response_start"] == t(1, "10:00:10")
    assert a["last_message_at"] == t(1, "10:04:00")  # the system message is public
    assert (a["agent_messages"], a["customer_messages"]) == (2, 2)
    assert (a["handled"], a["abandoned"]) == (True, False)


def test_agent_first_starts_the_clock_at_creation(facts):
    b = facts["B"]
    assert b["first_agent_message_at"] == t(1, "09:00:30")
    assert b["response_start"] == t(1, "09:00:00")


def test_row_values_win_over_derived_ones(facts):
    assert facts["C"]["first_response_at"] == t(1, "09:00:00")
    assert facts["C"]["handled"] is True
    assert facts["C"]["agent_messages"] == 0
    assert facts["F"]["first_response_at"] == t(1, "13:05:00")
    assert facts["F"]["first_agent_message_at"] == t(1, "13:01:10")


def test_abandonment(facts):
    d = facts["D"]
    assert (d["handled"], d["abandoned"]) == (False, True)  # ended_by empty: the customer left
    assert d["left_at"] == t(1, "11:02:05")
    assert facts["E"]["abandoned"] is False  # closed by an agent without a reply
    assert facts["E"]["handled"] is False


def test_follow_ups_within_the_window_after_the_end(facts):
    # A ended (resolved) 05-01 10:10:00; G began exactly 7 days later: a follow-up.
    assert facts["G"]["follow_up_of"] == "A"
    assert facts["A"]["followed_up"] is True
    # G ended at its creation (not resolved); H began 7 days and 1 second later: not one.
    assert facts["H"]["follow_up_of"] is None
    assert facts["G"]["followed_up"] is False
    # No customer, no follow-up, however close.
    assert facts["J"]["follow_up_of"] is None
    assert facts["I"]["followed_up"] is False
    # A follow-up named in the data counts, whoever the customer.
    assert facts["K"]["follow_up_of"] == "B"
    assert facts["B"]["followed_up"] is True


def test_the_window_is_configurable(store, write):
    load(store, [write("conversations.csv", CONVERSATIONS), write("messages.csv", MESSAGES)])
    table = conversation_facts(
        store.table("conversations"), store.table("messages"), follow_up_window=timedelta(days=1)
    )
    rows = {r["conversation_id"]: r for r in table.to_pyarrow().to_pylist()}
    assert rows["G"]["follow_up_of"] is None
    assert rows["A"]["followed_up"] is False


def test_conversations_without_messages_still_appear(store, write):
    load(store, [write("conversations.csv", CONVERSATIONS)])
    table = conversation_facts(store.table("conversations"), store.table("messages"))
    rows = table.to_pyarrow().to_pylist()
    assert len(rows) == 11
    assert all(r["agent_messages"] == 0 for r in rows)
