"""Every validation rule: a bad row between good ones is quarantined; the good ones load."""

from __future__ import annotations

import json

import pytest

from supportkpi.load.ingest import load
from tests.conftest import quarantine

CONV_HEADER = "conversation_id,channel,created_at,resolved_at,escalated,transfers,engagement_score"
GOOD_1 = "c1,chat,2024-05-01 10:00:00,2024-05-01 10:30:00,false,0,50"
GOOD_2 = "c9,email,2024-05-02 10:00:00,,true,2,80"

CONVERSATION_CASES = [
    # (bad row, column, rule)
    (",chat,2024-05-01 10:00:00,,,,", "conversation_id", "missing_value"),
    ("c2,,2024-05-01 10:00:00,,,,", "channel", "missing_value"),
    ("c2,chat,,,,,", "created_at", "missing_value"),
    ("c2,chat,yesterday,,,,", "created_at", "bad_timestamp"),
    ("c2,chat,2024-05-01 10:00:00,2024-13-01 10:00,,,", "resolved_at", "bad_timestamp"),
    ("c2,fax,2024-05-01 10:00:00,,,,", "channel", "unknown_value"),
    ("c2,chat,2024-05-01 10:00:00,,maybe,,", "escalated", "bad_boolean"),
    ("c2,chat,2024-05-01 10:00:00,,,1.5,", "transfers", "bad_integer"),
    ("c2,chat,2024-05-01 10:00:00,,,two,", "transfers", "bad_integer"),
    ("c2,chat,2024-05-01 10:00:00,,,-1,", "transfers", "out_of_range"),
    ("c2,chat,2024-05-01 10:00:00,,,,high", "engagement_score", "bad_number"),
    ("c2,chat,2024-05-01 10:00:00,,,,101", "engagement_score", "out_of_range"),
    ("c2,chat,2024-05-01 10:00:00,,,,nan", "engagement_score", "bad_number"),
    ("c2,chat,2024-05-01 10:00:00,2024-05-01 09:59:59,,,", "resolved_at", "bad_order"),
    ("c1,chat,2024-05-01 11:00:00,,,,", "conversation_id", "duplicate_key"),
    ("c2,chat,2024-05-01 10:00:00,,,,,surplus", None, "malformed_row"),
]


@pytest.mark.parametrize(
    ("bad", "column", "rule"),
    CONVERSATION_CASES,
    ids=[f"{c[2]}-{c[1]}" for c in CONVERSATION_CASES],
)
def test_conversation_rule(store, write, bad, column, rule):
    path = write("conversations.csv", f"{CONV_HEADER}\n{GOOD_1}\n{bad}\n{GOOD_2}\n")
    summary = load(store, [path])
    assert quarantine(store) == [(3, column, rule)]
    ids = [r[0] for r in store.execute("SELECT conversation_id FROM conversations ORDER BY 1")]
    assert ids == ["c1", "c9"]
    assert summary.tables["conversations"].new == 2
    assert summary.quarantined == {rule: 1}


def test_reason_is_written_for_a_person(store, write):
    path = write("conversations.csv", f"{CONV_HEADER}\n{GOOD_1}\nc2,fax,2024-05-01,,,,\n")
    load(store, [path])
    ((source, reason, raw),) = store.execute("SELECT source, reason, raw FROM quarantine")
    assert source == str(path.resolve())
    assert reason == (
        '"fax" is not a valid channel; expected one of chat, email, voice, '
        "social, sms, messaging, web, other"
    )
    assert json.loads(raw)["channel"] == "fax"


def test_duplicate_reason_names_the_first_line(store, write):
    path = write("conversations.csv", f"{CONV_HEADER}\n{GOOD_1}\n{GOOD_2}\n{GOOD_1}\n")
    load(store, [path])
    assert store.execute("SELECT line, reason FROM quarantine") == [
        (4, "duplicate conversation_id c1 (first seen on line 2)")
    ]


def test_duplicate_of_a_bad_row_keeps_the_good_one(store, write):
    bad_then_good = "c1,chat,never,,,,\nc1,chat,2024-05-01 10:00:00,,,,"
    load(store, [write("conversations.csv", f"{CONV_HEADER}\n{bad_then_good}\n")])
    assert quarantine(store) == [(2, "created_at", "bad_timestamp")]
    assert store.counts()["conversations"] == 1


def test_malformed_rows_keep_later_line_numbers_true(store, write):
    rows = [
        GOOD_1,
        "c2,chat",
        "c3,chat,2024-05-01 10:00:00,,,,",
        "c4,chat,x,y",
        "c5,chat,later,,,,",
    ]
    load(store, [write("conversations.csv", CONV_HEADER + "\n" + "\n".join(rows) + "\n")])
    assert quarantine(store) == [
        (3, None, "malformed_row"),
        (5, None, "malformed_row"),
        (6, "created_at", "bad_timestamp"),
    ]


CONVERSATIONS = f"{CONV_HEADER}\n{GOOD_1}\n{GOOD_2}\n"
MESSAGE_HEADER = "message_id,conversation_id,sent_at,author_role,private"
MESSAGE_CASES = [
    ("m2,c404,2024-05-01 10:01:00,agent,", "conversation_id", "unknown_ref"),
    ("m2,c1,2024-05-01 09:59:00,agent,", "sent_at", "before_start"),
    ("m2,c1,2024-05-01 10:01:00,robot,", "author_role", "unknown_value"),
    ("m2,c1,2024-05-01 10:01:00,agent,perhaps", "private", "bad_boolean"),
    ("m2,,2024-05-01 10:01:00,agent,", "conversation_id", "missing_value"),
]


@pytest.mark.parametrize(
    ("bad", "column", "rule"), MESSAGE_CASES, ids=[c[2] for c in MESSAGE_CASES]
)
def test_message_rule(store, write, bad, column, rule):
    conv = write("conversations.csv", CONVERSATIONS)
    good = "m1,c1,2024-05-01 10:00:30,customer,false\nm3,c9,2024-05-02 10:00:00,agent,true"
    messages = write(
        "messages.csv", f"{MESSAGE_HEADER}\n{good.splitlines()[0]}\n{bad}\n{good.splitlines()[1]}\n"
    )
    load(store, [messages, conv])  # order on the command line does not matter
    assert quarantine(store) == [(3, column, rule)]
    assert store.counts()["messages"] == 2


def test_references_resolve_against_the_store(store, write):
    load(store, [write("conversations.csv", CONVERSATIONS)])
    msgs = write("messages.csv", f"{MESSAGE_HEADER}\nm1,c9,2024-05-02 10:00:05,customer,\n")
    load(store, [msgs])
    assert store.counts()["messages"] == 1
    assert quarantine(store) == []


SURVEY_HEADER = "survey_id,conversation_id,kind,score,scale_min,scale_max"
SURVEY_CASES = [
    ("s2,c1,csat,6,,", "score", "out_of_range"),
    ("s2,c1,csat,0,,", "score", "out_of_range"),
    ("s2,c1,nps,11,,", "score", "out_of_range"),
    ("s2,c1,ces,8,,", "score", "out_of_range"),
    ("s2,c1,csat,11,1,10", "score", "out_of_range"),
    ("s2,c1,csat,3,5,1", "scale_max", "out_of_range"),
    ("s2,c1,happiness,3,,", "kind", "unknown_value"),
    ("s2,c404,csat,3,,", "conversation_id", "unknown_ref"),
    ("s2,c1,csat,,,", "score", "missing_value"),
]


@pytest.mark.parametrize(
    ("bad", "column", "rule"), SURVEY_CASES, ids=[f"{c[2]}-{c[0]}" for c in SURVEY_CASES]
)
def test_survey_rule(store, write, bad, column, rule):
    good = "s1,c1,csat,5,,\ns3,,nps,0,,\ns4,c9,csat,9,1,10\ns5,c1,CES,7,,"
    lines = good.splitlines()
    surveys = write("surveys.csv", f"{SURVEY_HEADER}\n{lines[0]}\n{bad}\n" + "\n".join(lines[1:]))
    load(store, [write("conversations.csv", CONVERSATIONS), surveys])
    assert quarantine(store) == [(3, column, rule)]
    assert store.execute(
        "SELECT survey_id, kind, scale_min, scale_max FROM surveys ORDER BY 1"
    ) == [
        ("s1", "csat", 1.0, 5.0),
        ("s3", "nps", 0.0, 10.0),
        ("s4", "csat", 1.0, 10.0),
        ("s5", "ces", 1.0, 7.0),
    ]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "agent_activity.csv",
            "agent_id,state,started_at,ended_at\na1,busy,2024-05-01 10:00,2024-05-01 11:00\n"
            "a1,busy,2024-05-01 12:00,2024-05-01 11:00\na1,asleep,2024-05-01 13:00,\n",
            [(3, "ended_at", "bad_order"), (4, "state", "unknown_value")],
        ),
        (
            "costs.csv",
            "vendor,period_start,period_end,amount\nacme,2024-05-01,2024-06-01,100\n"
            "acme,2024-07-01,2024-06-01,100\nacme,2024-08-01,2024-09-01,lots\n",
            [(3, "period_end", "bad_order"), (4, "amount", "bad_number")],
        ),
        (
            "qa_reviews.csv",
            "review_id,conversation_id,score\nq1,c1,90\nq2,c1,120\nq3,c404,50\n",
            [(3, "score", "out_of_range"), (4, "conversation_id", "unknown_ref")],
        ),
        (
            "revenue_events.csv",
            "event_id,customer_id,occurred_at,amount,kind\nr1,u1,2024-05-01,10,purchase\n"
            "r2,u1,2024-05-01,10,refund\nr3,,2024-05-01,10,upsell\n",
            [(3, "kind", "unknown_value"), (4, "customer_id", "missing_value")],
        ),
    ],
)
def test_other_table_rules(store, write, name, text, expected):
    load(store, [write("conversations.csv", CONVERSATIONS), write(name, text)])
    assert quarantine(store) == expected
    assert store.counts()[name.split(".")[0]] == 1
