"""Every KPI against values worked out by hand on a small operation.

Two vendors. in-house: c1–c4 on Monday 2024-05-06; acme: c5–c7 on 7–8 May. Times are UTC.

c1  chat   u1 agent a1  customer 09:00:10, bot 09:00:11, private note 09:00:20, agent 09:00:40,
                        customer 09:01:00 and 09:01:30 (twice before the reply), agent 09:02:00,
                        agent 09:03:00 (no question pending), customer 09:04:00, agent 09:04:30;
                        resolved 09:10:00
c2  chat   u2 agent a1  created 09:01:00; customer 09:01:05, agent 09:03:05, customer 09:04:00;
                        ended by the customer unresolved; transferred once (overlaps c1)
c3  chat   u3 -         customer 11:00:05 and 11:01:05, never answered; closed 11:02:00
c4  email  u1 agent a2  created 12:00; customer 12:00, agent 13:00; resolved next day 12:00;
                        escalated (billing), reopened, handle 300 + hold 60 + wrap 40
c5  email  u4 agent b1  7 May 08:00; no messages; first_response_at 09:00; resolved 10:00;
                        handle 600, wrap 0
c6  chat   u5 agent b1  7 May 23:30 (8 May 01:30 in Berlin); customer 23:30:00, agent 23:31:30,
                        customer 23:33:00; resolved 23:45
c7  chat   u6 agent b2  8 May 10:00; customer 10:00:00 and 10:00:45; timed out
"""

from __future__ import annotations

import math

import pytest

from supportkpi.analysis.query import report
from supportkpi.config import Config
from supportkpi.load.ingest import load

CONVERSATIONS = """
conversation_id,channel,created_at,customer_id,vendor,team,agent_id,first_response_at,resolved_at,closed_at,ended_by,escalated,escalation_reason,transfers,reopens,handle_seconds,hold_seconds,wrap_seconds
c1,chat,2024-05-06 09:00:00,u1,in-house,T1,a1,,2024-05-06 09:10:00,,agent,false,,0,0,,,
c2,chat,2024-05-06 09:01:00,u2,in-house,T1,a1,,,,customer,,,1,,,,
c3,chat,2024-05-06 11:00:00,u3,in-house,T1,,,,2024-05-06 11:02:00,,,,,,,,
c4,email,2024-05-06 12:00:00,u1,in-house,T2,a2,,2024-05-07 12:00:00,,agent,true,billing,0,1,300,60,40
c5,email,2024-05-07 08:00:00,u4,acme,T3,b1,2024-05-07 09:00:00,2024-05-07 10:00:00,,agent,false,,0,0,600,,0
c6,chat,2024-05-07 23:30:00,u5,acme,T3,b1,,2024-05-07 23:45:00,,agent,false,,0,0,,,
c7,chat,2024-05-08 10:00:00,u6,acme,T3,b2,,,,timeout,false,,0,0,,,
"""
MESSAGES = """
message_id,conversation_id,sent_at,author_role,author_id,private
m01,c1,2024-05-06 09:00:10,customer,u1,
m02,c1,2024-05-06 09:00:11,bot,greeter,
m03,c1,2024-05-06 09:00:20,agent,a1,true
m04,c1,2024-05-06 09:00:40,agent,a1,false
m05,c1,2024-05-06 09:01:00,customer,u1,
m06,c1,2024-05-06 09:01:30,customer,u1,
m07,c1,2024-05-06 09:02:00,agent,a1,
m08,c1,2024-05-06 09:03:00,agent,a1,
m09,c1,2024-05-06 09:04:00,customer,u1,
m10,c1,2024-05-06 09:04:30,agent,a1,
m11,c2,2024-05-06 09:01:05,customer,u2,
m12,c2,2024-05-06 09:03:05,agent,a1,
m13,c2,2024-05-06 09:04:00,customer,u2,
m14,c3,2024-05-06 11:00:05,customer,u3,
m15,c3,2024-05-06 11:01:05,customer,u3,
m16,c4,2024-05-06 12:00:00,customer,u1,
m17,c4,2024-05-06 13:00:00,agent,a2,
m18,c6,2024-05-07 23:30:00,customer,u5,
m19,c6,2024-05-07 23:31:30,agent,b1,
m20,c6,2024-05-07 23:33:00,customer,u5,
m21,c7,2024-05-08 10:00:00,customer,u6,
m22,c7,2024-05-08 10:00:45,customer,u6,
"""
SURVEYS = """
survey_id,conversation_id,kind,score,scale_min,scale_max
s1,c1,csat,5,,
s2,c2,csat,3,,
s3,c4,csat,8,1,10
s4,c1,nps,10,,
s5,c2,nps,7,,
s6,c4,nps,6,,
s7,c5,csat,4,,
s9,c5,nps,9,,
s11,c1,ces,2,,
s12,c5,ces,5,1,5
"""
QA = """
review_id,conversation_id,score
q1,c1,90
q2,c2,70
"""
ACTIVITY = """
agent_id,vendor,team,state,started_at,ended_at
a1,in-house,T1,available,2024-05-06 08:00:00,2024-05-06 09:00:00
a1,in-house,T1,busy,2024-05-06 09:00:00,2024-05-06 11:00:00
a1,in-house,T1,break,2024-05-06 11:00:00,2024-05-06 11:30:00
a1,in-house,T1,offline,2024-05-06 11:30:00,2024-05-06 12:00:00
a2,in-house,T2,busy,2024-05-06 12:00:00,2024-05-06 13:00:00
a2,in-house,T2,available,2024-05-06 13:00:00,2024-05-06 14:00:00
b1,acme,T3,available,2024-05-07 07:00:00,2024-05-07 08:00:00
b1,acme,T3,busy,2024-05-07 08:00:00,2024-05-07 10:00:00
b1,acme,T3,busy,2024-05-07 23:00:00,2024-05-08 00:30:00
"""


def p90(values: list[float]) -> float:
    """Continuous p90 with linear interpolation, written out: position (n − 1) × 0.9."""
    v = sorted(values)
    pos = (len(v) - 1) * 0.9
    low = math.floor(pos)
    return v[low] + (pos - low) * (v[min(low + 1, len(v) - 1)] - v[low])


@pytest.fixture
def loaded(store, write):
    summary = load(
        store,
        [
            write("conversations.csv", CONVERSATIONS),
            write("messages.csv", MESSAGES),
            write("surveys.csv", SURVEYS),
            write("qa_reviews.csv", QA),
            write("agent_activity.csv", ACTIVITY),
        ],
    )
    assert not summary.quarantined
    return store


def by_vendor(store, kpis, **kw):
    result = report(store, kpis, by=["vendor"], **kw)
    rows = {r["vendor"]: r for r in result.table.to_pylist()}
    return rows["in-house"], rows["acme"], result


def test_first_response_time(loaded):
    # in-house: c1 09:00:40 − 09:00:10 = 30 (the private note and the bot do not count);
    # c2 09:03:05 − 09:01:05 = 120; c4 13:00 − 12:00 = 3600. c3 was never answered.
    # acme: c5 09:00 − 08:00 = 3600 (no customer message: from created_at); c6 = 90.
    ih, ac, _ = by_vendor(loaded, ["first_response_time"])
    assert ih["first_response_time"] == pytest.approx((30 + 120 + 3600) / 3)
    assert ih["first_response_time_median"] == 120
    assert ih["first_response_time_p90"] == pytest.approx(120 + 0.8 * (3600 - 120))  # 2904
    assert ac["first_response_time"] == pytest.approx((3600 + 90) / 2)
    assert ac["first_response_time_median"] == pytest.approx(1845)
    assert ac["first_response_time_p90"] == pytest.approx(90 + 0.9 * (3600 - 90))  # 3249


def test_response_time(loaded):
    # c1: 09:00:40 − 09:00:10 = 30; 09:02:00 − 09:01:00 (the earlier of two questions) = 60;
    # 09:03:00 answers nothing; 09:04:30 − 09:04:00 = 30. c2: 120. c4: 3600. acme: c6 90 only.
    ih, ac, _ = by_vendor(loaded, ["response_time"])
    values = [30, 60, 30, 120, 3600]
    assert ih["response_time"] == pytest.approx(sum(values) / 5)  # 768
    assert ih["response_time_median"] == 60
    assert ih["response_time_p90"] == pytest.approx(p90(values))  # 2208
    assert (ac["response_time"], ac["response_time_median"]) == (90, 90)


def test_response_time_consistency(loaded):
    ih, ac, _ = by_vendor(loaded, ["response_time_consistency"])
    values, mean = [30, 120, 3600], 1250
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)  # population: √2,762,600
    assert ih["response_time_consistency_sd"] == pytest.approx(sd)
    assert ih["response_time_consistency"] == pytest.approx(sd / mean)
    assert ih["response_time_consistency_p90_median"] == pytest.approx(2904 / 120)
    assert ac["response_time_consistency_sd"] == pytest.approx(1755)  # |3600 − 1845|


def test_service_level(loaded):
    # thresholds chat 60, email 3600: c1 30 ✓, c2 120 ✗, c4 3600 ✓ (≤); c5 3600 ✓, c6 90 ✗
    ih, ac, _ = by_vendor(loaded, ["service_level"])
    assert ih["service_level"] == pytest.approx(2 / 3)
    assert ac["service_level"] == pytest.approx(1 / 2)
    stricter = Config(service_level={"email": 1800})
    ih, ac, _ = by_vendor(loaded, ["service_level"], config=stricter)
    assert (ih["service_level"], ac["service_level"]) == (pytest.approx(1 / 3), 0.0)


def test_resolution_time(loaded):
    # c1 600, c4 86400; c5 7200, c6 900
    ih, ac, _ = by_vendor(loaded, ["resolution_time"])
    assert ih["resolution_time"] == pytest.approx((600 + 86400) / 2)
    assert ih["resolution_time_p90"] == pytest.approx(600 + 0.9 * 85800)  # 77820
    assert ac["resolution_time"] == pytest.approx((7200 + 900) / 2)
    assert ac["resolution_time_median"] == pytest.approx(4050)


def test_average_handle_time(loaded):
    # c1 derived: last message 09:04:30 − first agent message 09:00:40 = 230 (no wrap);
    # c2 09:04:00 − 09:03:05 = 55; c4 supplied 300 + hold 60 + wrap 40 = 400.
    # c5 600 + 0; c6 23:33:00 − 23:31:30 = 90.
    ih, ac, _ = by_vendor(loaded, ["average_handle_time"])
    assert ih["average_handle_time"] == pytest.approx((230 + 55 + 400) / 3)
    assert ih["average_handle_time_median"] == 230
    assert ih["average_handle_time_p90"] == pytest.approx(230 + 0.8 * 170)  # 366
    assert ac["average_handle_time"] == pytest.approx((600 + 90) / 2)


def test_volume(loaded):
    ih, ac, _ = by_vendor(loaded, ["chat_volume"])
    assert (ih["chat_volume"], ih["chat_volume_handled"], ih["chat_volume_resolved"]) == (4, 3, 2)
    assert (ac["chat_volume"], ac["chat_volume_handled"], ac["chat_volume_resolved"]) == (3, 2, 2)


def test_agent_activity_kpis(loaded):
    # a1 logged in (not offline) 08:00–11:30 = 12600 s, busy 7200; a2 7200, busy 3600;
    # b1 3600 + 7200 + 5400 = 16200, busy 12600.
    ih, ac, _ = by_vendor(loaded, ["agent_utilization", "idle_time", "chats_per_agent_shift"])
    assert ih["agent_utilization"] == pytest.approx((7200 + 3600) / (12600 + 7200))
    assert ac["agent_utilization"] == pytest.approx(12600 / 16200)
    # idle per agent: a1 5400, a2 3600; b1 3600
    assert ih["idle_time"] == pytest.approx(4500)
    assert ih["idle_time_p90"] == pytest.approx(3600 + 0.9 * 1800)
    assert ac["idle_time"] == pytest.approx(3600)
    # shifts (UTC days): a1 and a2 on 6 May; b1 on 7 May (its 23:00 state starts on the 7th).
    # handled that day by that agent: a1 c1, c2; a2 c4; b1 c5, c6.
    assert ih["chats_per_agent_shift"] == pytest.approx(3 / 2)
    assert ac["chats_per_agent_shift"] == pytest.approx(2 / 1)


def test_shifts_are_local_days(loaded):
    # In Berlin (UTC+2) b1's 23:00 state begins on 8 May: two shifts; c6 (01:30 on 8 May) is
    # handled on the second, c5 on the first.
    _, ac, _ = by_vendor(loaded, ["chats_per_agent_shift"], tz="Europe/Berlin")
    assert ac["chats_per_agent_shift"] == pytest.approx(2 / 2)


def test_agent_concurrency(loaded):
    # a1's chats: c1 09:00:40–09:04:30 (230 s) and c2 09:03:05–09:04:00 (55 s) inside it:
    # 285 s of chat in 230 s with at least one open. b1: c6 alone (c5 is email).
    ih, ac, _ = by_vendor(loaded, ["agent_concurrency"])
    assert ih["agent_concurrency"] == pytest.approx(285 / 230)
    assert ac["agent_concurrency"] == pytest.approx(1.0)


def test_agent_concurrency_cuts_an_agents_day_into_islands(store, write):
    """One agent's chats (first agent reply → last message, minutes after 09:00): 0–10 and
    5–20 overlap; 30–40 holds 35–36; 50–60 stands alone; a 60–70 chat starts as the last one
    ends (not after it: the same island). Islands 0–20, 30–40 and 50–70: 25 + 11 + 20 = 56
    minutes of chat in 20 + 10 + 20 = 50 minutes with a chat open. Read as one island, it
    would be 56 in 70."""
    chats = [(0, 10), (5, 20), (30, 40), (35, 36), (50, 60), (60, 70)]
    conversations = ["conversation_id,channel,created_at,vendor,agent_id,resolved_at"]
    messages = ["message_id,conversation_id,sent_at,author_role,author_id"]
    for n, (start, end) in enumerate(chats):
        cid = f"k{n}"
        conversations.append(f"{cid},chat,2024-05-06 08:59:00,in-house,a1,2024-05-06 10:00:00")
        messages.append(f"{cid}q,{cid},2024-05-06 08:59:00,customer,u{n}")
        for suffix, minute in (("a", start), ("z", end)):
            at = f"2024-05-06 {9 + minute // 60:02d}:{minute % 60:02d}:00"
            messages.append(f"{cid}{suffix},{cid},{at},agent,a1")
    summary = load(
        store,
        [
            write("conversations.csv", "\n".join(conversations) + "\n"),
            write("messages.csv", "\n".join(messages) + "\n"),
        ],
    )
    assert not summary.quarantined
    row = report(store, ["agent_concurrency"], by=["vendor"]).table.to_pylist()[0]
    assert row["agent_concurrency"] == pytest.approx(56 / 50)


def test_effectiveness(loaded):
    kpis = [
        "first_contact_resolution",
        "follow_up_rate",
        "resolution_rate",
        "escalation_rate",
        "transfer_rate",
        "reopen_rate",
        "abandonment_rate",
        "abandonment_after_contact_rate",
        "time_to_abandon",
    ]
    ih, ac, _ = by_vendor(loaded, kpis)
    # c1 resolved but u1 came back with c4 the same day; c4 escalated and reopened: 0 of 2.
    assert ih["first_contact_resolution"] == 0.0
    assert ac["first_contact_resolution"] == 1.0
    assert ih["follow_up_rate"] == pytest.approx(1 / 4)  # c1 followed by c4
    assert ih["follow_up_contacts_per_issue"] == pytest.approx(1 / 3)  # c4 ÷ (c1, c2, c3)
    assert (ac["follow_up_rate"], ac["follow_up_contacts_per_issue"]) == (0.0, 0.0)
    assert ih["resolution_rate"] == pytest.approx(2 / 3)
    assert ac["resolution_rate"] == 1.0
    assert ih["escalation_rate"] == pytest.approx(1 / 3)
    assert ih["escalation_rate_slow_first_response"] == 0.0  # c4: 3600 is not above 3600
    assert ac["escalation_rate"] == 0.0
    assert ac["escalation_rate_slow_first_response"] is None  # no escalations to judge
    assert ih["transfer_rate"] == pytest.approx(1 / 3)
    assert ih["reopen_rate"] == pytest.approx(1 / 2)
    assert ac["reopen_rate"] == 0.0  # c5's empty reopens counts as none
    assert ih["abandonment_rate"] == pytest.approx(1 / 4)  # c3
    assert ac["abandonment_rate"] == pytest.approx(1 / 3)  # c7
    assert ih["abandonment_after_contact_rate"] == pytest.approx(1 / 3)  # c2
    assert ac["abandonment_after_contact_rate"] == 0.0
    assert ih["time_to_abandon"] == 120  # closed 11:02:00 − 11:00:00
    assert ac["time_to_abandon"] == 45  # last message 10:00:45 − 10:00:00


def test_quality(loaded):
    kpis = [
        "csat",
        "csat_mean",
        "nps",
        "ces",
        "qa_score",
        "survey_response_rate",
        "csat_by_response_bucket",
    ]
    ih, ac, result = by_vendor(loaded, kpis)
    # CSAT: 5 ✓, 3 ✗, 8 on 1–10 → 1 + 7 × 4/9 = 4.11 ✓
    assert ih["csat"] == pytest.approx(2 / 3)
    assert ih["csat_mean"] == pytest.approx((5 + 3 + (1 + 7 * 4 / 9)) / 3)
    # NPS: 10 promoter, 7 passive, 6 detractor → 0
    assert ih["nps"] == pytest.approx(0)
    assert ih["nps_promoters"] == ih["nps_passives"] == ih["nps_detractors"] == pytest.approx(1 / 3)
    assert ih["ces"] == 2
    assert ih["qa_score"] == 80
    assert ih["survey_response_rate"] == 1.0
    assert ih["csat_by_response_bucket_under_1m"] == 1.0  # c1, 30 s
    assert ih["csat_by_response_bucket_1_3m"] == 0.0  # c2, 120 s
    assert ih["csat_by_response_bucket_3_10m"] is None  # nobody
    assert ih["csat_by_response_bucket_over_10m"] == 1.0  # c4, 3600 s
    # acme: CSAT 4 ✓; NPS 9 → 100; CES 5 on 1–5 → 7 on 1–7; c6 answered nothing
    assert (ac["csat"], ac["csat_mean"], ac["nps"], ac["ces"]) == (1.0, 4.0, 100.0, 7.0)
    assert ac["survey_response_rate"] == 0.5
    assert ac["qa_score"] is None  # no reviews for acme: empty, not 0
    assert "qa_score" not in result.missing


def test_days_in_the_report_zone(loaded):
    utc = report(loaded, ["chat_volume"], by=["day"])
    assert [(r["day"].isoformat(), r["chat_volume"]) for r in utc.table.to_pylist()] == [
        ("2024-05-06T00:00:00", 4),
        ("2024-05-07T00:00:00", 2),
        ("2024-05-08T00:00:00", 1),
    ]
    berlin = report(loaded, ["chat_volume"], by=["day"], tz="Europe/Berlin")
    assert [r["chat_volume"] for r in berlin.table.to_pylist()] == [4, 1, 2]  # c6 moves
    only_8th = report(
        loaded,
        ["chat_volume"],
        by=[],
        tz="Europe/Berlin",
        start=utc.table["day"][2].as_py().date(),
        end=utc.table["day"][2].as_py().date(),
    )
    # c6 (handled, resolved) and c7 (abandoned)
    assert only_8th.table.to_pylist() == [
        {"chat_volume": 2, "chat_volume_handled": 1, "chat_volume_resolved": 1}
    ]


def test_filters_and_empty_groups(loaded):
    result = report(
        loaded, ["chat_volume", "csat"], by=["vendor", "team"], filters={"vendor": ["in-house"]}
    )
    rows = result.table.to_pylist()
    assert [(r["team"], r["chat_volume"]) for r in rows] == [("T1", 3), ("T2", 1)]
    assert rows[1]["csat"] == 1.0  # c4's 8 of 10
    nothing = report(
        loaded, ["chat_volume", "csat"], by=["vendor"], filters={"vendor": ["acme"], "team": ["T1"]}
    )
    assert nothing.table.num_rows == 0
    assert nothing.missing["csat"] == "no conversations match the report's filters"


def test_missing_inputs_are_null_with_a_reason(store, write):
    load(store, [write("conversations.csv", CONVERSATIONS)])
    result = report(
        store,
        [
            "csat",
            "agent_utilization",
            "chat_volume",
            "first_response_time",
            "resolution_rate",
            "response_time",
        ],
    )
    rows = result.table.to_pylist()
    assert all(r["csat"] is None and r["agent_utilization"] is None for r in rows)
    assert result.missing["csat"] == "no surveys loaded"
    assert result.missing["agent_utilization"] == "no agent activity loaded"
    assert result.missing["response_time"] == "no messages loaded"
    # Without messages only c5 (first_response_at given) is handled; FRT still computes.
    acme = next(r for r in rows if r["vendor"] == "acme")
    assert acme["first_response_time"] == 3600
    assert acme["chat_volume"] == 3
    assert "first_response_time" not in result.missing


def test_activity_kpis_cannot_be_split_by_channel(loaded):
    result = report(loaded, ["agent_utilization", "chat_volume"], by=["channel"])
    assert result.missing == {"agent_utilization": "agent activity is not split by channel"}
    assert [r["chat_volume"] for r in result.table.to_pylist()] == [5, 2]
