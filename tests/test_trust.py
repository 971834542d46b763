"""The numbers that were wrong on real data shapes, each against values worked by hand.

Business-hours clocks of a missing instant, conversations per shift, ticket exports without
messages, inputs absent shown as 0, the source system's own SLA verdict, and a file whose
header lacks the table's columns.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from supportkpi.analysis.query import report
from supportkpi.analysis.sla import sla
from supportkpi.config import BusinessHours, Calendars, Config
from supportkpi.load.ingest import LoadError, load
from supportkpi.store.store import Store


def _row(store, kpis, config=None, **kw):
    result = report(store, kpis, by=(), config=config or Config(), **kw)
    return result.table.to_pylist()[0], result


# ---------------------------------------------------------------- business hours at size

ALWAYS = BusinessHours(
    timezone="UTC", **{d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
)
OFFICE = BusinessHours(
    timezone="Europe/Berlin", **{d: "09:00-17:00" for d in ("mon", "tue", "wed", "thu", "fri")}
)


def _many(write, n: int = 6_000):
    """``n`` email conversations over 60 days, every other one unresolved; every third has
    neither messages nor handle time but a first_response_at (handled, no handle time)."""
    start = datetime(2024, 4, 1, tzinfo=UTC)
    conv = ["conversation_id,channel,created_at,first_response_at,resolved_at"]
    msgs = ["message_id,conversation_id,sent_at,author_role"]
    for i in range(n):
        created = start + timedelta(minutes=14 * i)
        first = created + timedelta(minutes=30)
        resolved = (created + timedelta(hours=5)).isoformat() if i % 2 == 0 else ""
        if i % 3 == 0:
            conv.append(f"c{i},email,{created.isoformat()},{first.isoformat()},{resolved}")
            continue
        conv.append(f"c{i},email,{created.isoformat()},,{resolved}")
        msgs.append(f"a{i},c{i},{created.isoformat()},customer")
        msgs.append(f"b{i},c{i},{first.isoformat()},agent")
        msgs.append(f"d{i},c{i},{(first + timedelta(minutes=10)).isoformat()},customer")
    return [write("conversations.csv", "\n".join(conv)), write("messages.csv", "\n".join(msgs))]


@pytest.mark.parametrize("hours", [ALWAYS, OFFICE], ids=["24/7", "office"])
def test_a_missing_instant_has_no_business_hours_clock_at_realistic_size(store, write, hours):
    load(store, _many(write))
    config = Config(business_hours=Calendars(default=hours))
    kpis = [
        "resolution_time",
        "resolution_time_bh",
        "average_handle_time",
        "average_handle_time_bh",
    ]
    row, _ = _row(store, kpis, config)
    # resolved ones take 5 h: at most 5 h of business time, never negative
    assert row["resolution_time"] == pytest.approx(5 * 3600)
    assert 0 <= row["resolution_time_bh"] <= row["resolution_time"]
    if hours is ALWAYS:
        assert row["resolution_time_bh"] == pytest.approx(5 * 3600)
    # handle time: first agent message → last message, 10 min, only where messages say so
    assert row["average_handle_time"] == pytest.approx(600)
    assert 0 <= row["average_handle_time_bh"] <= 600
    if hours is ALWAYS:
        assert row["average_handle_time_bh"] == pytest.approx(600)
        assert row["average_handle_time_bh_median"] == pytest.approx(600)  # no 0 s among them


# ---------------------------------------------------------------- conversations per shift

SHIFT_CONVERSATIONS = """
conversation_id,channel,created_at,vendor,agent_id,first_response_at
k1,chat,2024-05-06 09:00:00,acme,b1,2024-05-06 09:01:00
k2,chat,2024-05-06 10:00:00,acme,b1,2024-05-06 10:01:00
k3,chat,2024-05-07 10:00:00,acme,b1,2024-05-07 10:01:00
k4,chat,2024-05-06 11:00:00,acme,b2,2024-05-06 11:01:00
k5,chat,2024-05-06 12:00:00,acme,b2,
"""
SHIFT_ACTIVITY = """
agent_id,vendor,team,state,started_at,ended_at
b1,acme,T,busy,2024-05-06 08:00:00,2024-05-06 16:00:00
b2,acme,T,available,2024-05-07 08:00:00,2024-05-07 16:00:00
"""


def test_every_handled_conversation_counts_per_shift(store, write):
    load(
        store,
        [
            write("conversations.csv", SHIFT_CONVERSATIONS),
            write("agent_activity.csv", SHIFT_ACTIVITY),
        ],
    )
    row, _ = _row(store, ["chats_per_agent_shift"])
    # handled: k1–k4 (k5 unanswered); shifts: b1 on the 6th, b2 on the 7th → 4 ÷ 2.
    # k3 (b1, 7th) and k4 (b2, 6th) fell on days their agent logged no activity: 2 of 4.
    assert row["chats_per_agent_shift"] == pytest.approx(4 / 2)
    assert row["chats_per_agent_shift_outside"] == pytest.approx(2 / 4)


# ---------------------------------------------------------------- tickets without messages

TICKETS = """
conversation_id,channel,created_at,customer_id,agent_id,first_response_at,resolved_at,closed_at,transfers,reopens
t1,email,2024-05-06 09:00:00,u1,a1,2024-05-06 10:00:00,2024-05-06 12:00:00,2024-05-08 12:00:00,0,0
t2,email,2024-05-06 09:00:00,u2,a1,,2024-05-07 09:00:00,2024-05-09 09:00:00,2,0
t3,email,2024-05-06 09:00:00,u3,,,2024-05-06 09:30:00,,0,0
t4,email,2024-05-06 09:00:00,u4,a2,,,2024-05-10 09:00:00,1,0
t5,email,2024-05-06 09:00:00,u5,,,,,0,0
"""


def test_ticket_exports_without_messages(store, write):
    load(store, [write("conversations.csv", TICKETS)])
    kpis = [
        "chat_volume",
        "abandonment_rate",
        "time_to_abandon",
        "transfer_rate",
        "resolution_time",
        "first_response_time",
        "service_level",
    ]
    row, result = _row(store, kpis)
    # handled: t1 (first response), t2 (agent + resolution); t3 resolved without an agent is
    # not handled but never abandoned; t4 assigned, unresolved: no sign of an answer.
    assert row["chat_volume_handled"] == 2
    assert row["abandonment_rate"] == pytest.approx(2 / 5)  # t4, t5
    # t4 left when closed (4 days); t5's leaving time is unknown: not counted as 0 s
    assert row["time_to_abandon"] == pytest.approx(4 * 86400)
    assert row["transfer_rate"] == pytest.approx(1 / 2)  # t2 of t1, t2
    assert row["resolution_time"] == pytest.approx((3 * 3600 + 86400 + 1800) / 3)
    # first response is known for t1 only; service level is over it alone (1 h ≤ 1 h)
    assert row["first_response_time"] == pytest.approx(3600)
    assert row["service_level"] == 1.0
    assert "response_time" not in result.missing  # not asked


def test_resolution_rate_needs_a_sign_of_an_answer_besides_the_resolution(store, write):
    tickets = "\n".join(
        line.replace(",2024-05-06 10:00:00,", ",,") for line in TICKETS.strip().splitlines()
    )
    load(store, [write("conversations.csv", tickets)])
    row, result = _row(store, ["resolution_rate"])
    assert row["resolution_rate"] is None
    assert "first_response_at or messages" in result.missing["resolution_rate"]


# ---------------------------------------------------------------- absent inputs are missing

BARE = """
conversation_id,channel,created_at,agent_id,first_response_at,resolved_at,ended_by
b1,chat,2024-05-06 09:00:00,a1,2024-05-06 09:01:00,2024-05-06 09:10:00,agent
b2,chat,2024-05-06 09:05:00,a1,2024-05-06 09:06:00,,customer
b3,chat,2024-05-06 09:10:00,,,,customer
"""


def test_absent_inputs_are_missing_with_a_reason_never_0(store, write):
    load(store, [write("conversations.csv", BARE)])
    kpis = [
        "follow_up_rate",
        "escalation_rate",
        "transfer_rate",
        "reopen_rate",
        "first_contact_resolution",
        "time_to_abandon",
        "abandonment_rate",
    ]
    row, result = _row(store, kpis)
    for name, column in [
        ("follow_up_rate", "customer_id or follow_up_of"),
        ("escalation_rate", "escalated"),
        ("transfer_rate", "transfers"),
        ("reopen_rate", "reopens"),
    ]:
        assert row[name] is None
        assert column in result.missing[name], result.missing[name]
    assert row["follow_up_contacts_per_issue"] is None
    # FCR: b1 is resolved; nothing says it was escalated, reopened or followed up
    assert row["first_contact_resolution"] == 1.0
    note = result.notes["first_contact_resolution"]
    assert "escalations" in note and "reopens" in note and "follow-ups" in note
    # b3 abandoned with no closing time and no messages: when it left is unknown
    assert row["abandonment_rate"] == pytest.approx(1 / 3)
    assert row["time_to_abandon"] is None


def test_a_group_whose_column_says_nothing_is_missing_there(store, write):
    conversations = """
    conversation_id,channel,created_at,vendor,agent_id,first_response_at,escalated
    e1,chat,2024-05-06 09:00:00,acme,a1,2024-05-06 09:01:00,true
    e2,chat,2024-05-06 09:00:00,acme,a1,2024-05-06 09:01:00,
    e3,chat,2024-05-06 09:00:00,beacon,a2,2024-05-06 09:01:00,
    """
    load(store, [write("conversations.csv", conversations)])
    result = report(store, ["escalation_rate"], by=["vendor"])
    rows = {r["vendor"]: r["escalation_rate"] for r in result.table.to_pylist()}
    assert rows == {"acme": 0.5, "beacon": None}


# A queue where nobody who was answered is identified: its follow-ups cannot be seen there,
# though the store holds customer ids elsewhere. billing: a1 (u1) is followed up by a2 the
# next day, a3 is escalated, a2 alone is resolved first time: 1 of 3. sales: b1 and b2 are
# resolved with no customer named (b3, unresolved, names u9): 2 of 2, follow-ups unchecked.
TWO_QUEUES = """
conversation_id,channel,created_at,resolved_at,customer_id,queue,escalated,reopens
a1,chat,2024-05-01T09:00:00Z,2024-05-01T09:10:00Z,u1,billing,false,0
a2,chat,2024-05-02T09:00:00Z,2024-05-02T09:10:00Z,u1,billing,false,0
a3,chat,2024-05-03T09:00:00Z,2024-05-03T09:10:00Z,u2,billing,true,0
a4,chat,2024-05-20T09:00:00Z,,u3,billing,false,0
b1,chat,2024-05-01T10:00:00Z,2024-05-01T10:10:00Z,,sales,false,0
b2,chat,2024-05-01T11:00:00Z,2024-05-01T11:10:00Z,,sales,false,
b3,chat,2024-05-02T11:00:00Z,,u9,sales,false,0
"""
FOLLOW_UPS = "follow-ups (no customer_id or follow_up_of)"


def test_a_group_that_cannot_check_follow_ups_says_so_row_by_row(store, write, tmp_path):
    from typer.testing import CliRunner

    from supportkpi.cli import app

    load(store, [write("conversations.csv", TWO_QUEUES)])
    result = report(store, ["first_contact_resolution"], by=["queue"], targets=True)
    rows = {r["queue"]: r for r in result.table.to_pylist()}
    assert rows["billing"]["first_contact_resolution"] == pytest.approx(1 / 3)
    assert rows["billing"]["first_contact_resolution_unchecked"] is None
    assert rows["sales"]["first_contact_resolution"] == 1.0
    assert rows["sales"]["first_contact_resolution_unchecked"] == FOLLOW_UPS
    assert result.notes == {}  # the store as a whole can tell follow-ups
    assert [(g, k) for _, g, k, _ in result.unchecked()] == [
        ({"queue": "sales"}, "first_contact_resolution")
    ]
    # overall, the rows that can be checked are: no note
    row, overall = _row(store, ["first_contact_resolution"])
    assert row["first_contact_resolution"] == pytest.approx(3 / 5)
    assert row["first_contact_resolution_unchecked"] is None and overall.unchecked() == []
    # the terminal marks the value and says why under the table; JSON carries the column
    path = str(tmp_path / "test.duckdb")
    store.close()
    runner = CliRunner()
    args = ["report", "--db", path, "--kpi", "first_contact_resolution", "--by", "queue"]
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert "100.0 % *" in shown.output and "33.3 % *" not in shown.output
    assert "* first_contact_resolution for queue sales: computed without checking" in " ".join(
        shown.output.split()
    )
    data = runner.invoke(app, [*args, "--format", "json"])
    by_queue = {r["queue"]: r for r in json.loads(data.stdout)}
    assert by_queue["sales"]["first_contact_resolution_unchecked"] == FOLLOW_UPS


# ---------------------------------------------------------------- the source's SLA verdict

VERDICTS = """
conversation_id,channel,created_at,vendor,sla_breached
v1,email,2024-05-06 09:00:00,acme,false
v2,email,2024-05-06 09:00:00,acme,true
v3,email,2024-05-06 09:00:00,acme,false
v4,email,2024-05-06 09:00:00,acme,
v5,email,2024-05-06 09:00:00,beacon,
"""


def test_source_sla_attainment_beside_our_own(store, write):
    load(store, [write("conversations.csv", VERDICTS)])
    result = report(store, ["source_sla_attainment"], by=["vendor"])
    rows = {r["vendor"]: r["source_sla_attainment"] for r in result.table.to_pylist()}
    assert rows == {"acme": pytest.approx(2 / 3), "beacon": None}
    listed = [r for r in sla(store, Config()).to_pylist() if r["kpi"] == "source_sla_attainment"]
    assert {r["vendor"]: r["achieved"] for r in listed} == {
        "acme": pytest.approx(2 / 3),
        "beacon": None,
    }
    assert {r["status"] for r in listed} == {"reported"}


def test_without_a_source_verdict_it_is_missing_and_sla_lists_none(store, write):
    load(store, [write("conversations.csv", BARE)])
    _, result = _row(store, ["source_sla_attainment"])
    assert "sla_breached" in result.missing["source_sla_attainment"]
    assert not [r for r in sla(store, Config()).to_pylist() if r["kpi"] == "source_sla_attainment"]


def test_a_store_from_before_the_column_gets_it(tmp_path):
    path = tmp_path / "old.duckdb"
    Store.open(path).close()
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE conversations DROP COLUMN sla_breached")
    con.close()
    with Store.open(path, read_only=True) as old:  # read as it is: the column reads empty
        assert "sla_breached" in old.table("conversations").columns
        assert "sla_breached" not in old.columns("conversations")
    with Store.open(path) as opened:  # opened for writing: the column is added
        assert "sla_breached" in opened.columns("conversations")


# ---------------------------------------------------------------- the header comes first


def test_a_header_without_the_required_columns_is_refused_whatever_the_rows(store, tmp_path):
    path = tmp_path / "broken.csv"
    path.write_bytes(b"not,a\x00real\ncsv")
    with pytest.raises(LoadError, match="no column 'conversation_id'"):
        load(store, [path], table="conversations")
    assert store.execute("SELECT count(*) FROM quarantine") == [(0,)]
