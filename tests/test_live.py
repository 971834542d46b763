"""The live view and the dashboard's breakdowns, against values worked out by hand.

The moment is 2024-05-06 22:30 UTC, which is already 7 May, 00:30, in Europe/Berlin.

w1  V1 chat  a1  created 22:00; customer 22:00, agent 22:05, customer 22:10  → waiting 1200 s
w2  V1 chat  -   created 22:20; customer 22:20                               → waiting  600 s
w3  V2 email b1  created 21:00; no messages, no first response yet            → waiting 5400 s
p1  V1 chat  a2  created 22:15; customer 22:15, private agent note 22:16      → waiting  900 s
o1  V1 chat  a1  created 21:30; customer 21:30, agent 21:31, customer 22:40 (after the moment)
r1  V1 chat  a1  created 21:00, resolved 21:20                                 → not open
f1  V2 chat  b1  created 23:00                                                  → not yet
Activity: a1 V1 available 20:00–; a2 V1 busy 22:00–23:00; b1 V2 offline 21:00–;
b2 V2 break 22:25–22:35; a3 V1 available 18:00–22:00 (over).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import ibis
import pyarrow as pa
import pytest

from supportkpi.analysis import live, views
from supportkpi.analysis.query import report
from supportkpi.analysis.samples import THIN_BELOW, mark_thin
from supportkpi.config import Config
from supportkpi.kpis import REGISTRY
from supportkpi.load.ingest import load

AT = datetime(2024, 5, 6, 22, 30, tzinfo=UTC)
BERLIN = Config(timezone="Europe/Berlin")


@pytest.fixture
def live_store(store, write):
    load(
        store,
        [
            write(
                "conversations.csv",
                """
                conversation_id,channel,created_at,vendor,team,agent_id,resolved_at
                w1,chat,2024-05-06 22:00:00,V1,T1,a1,
                w2,chat,2024-05-06 22:20:00,V1,T1,,
                w3,email,2024-05-06 21:00:00,V2,T2,b1,
                p1,chat,2024-05-06 22:15:00,V1,T1,a2,
                o1,chat,2024-05-06 21:30:00,V1,T1,a1,
                r1,chat,2024-05-06 21:00:00,V1,T1,a1,2024-05-06 21:20:00
                f1,chat,2024-05-06 23:00:00,V2,T2,b1,
                """,
            ),
            write(
                "messages.csv",
                """
                message_id,conversation_id,sent_at,author_role,author_id,private
                m1,w1,2024-05-06 22:00:00,customer,u1,
                m2,w1,2024-05-06 22:05:00,agent,a1,
                m3,w1,2024-05-06 22:10:00,customer,u1,
                m4,w2,2024-05-06 22:20:00,customer,u2,
                m5,p1,2024-05-06 22:15:00,customer,u3,
                m6,p1,2024-05-06 22:16:00,agent,a2,true
                m7,o1,2024-05-06 21:30:00,customer,u4,
                m8,o1,2024-05-06 21:31:00,agent,a1,
                m9,o1,2024-05-06 22:40:00,customer,u4,
                m10,r1,2024-05-06 21:00:00,customer,u5,
                m11,f1,2024-05-06 23:00:00,customer,u6,
                """,
            ),
            write(
                "agent_activity.csv",
                """
                agent_id,vendor,team,state,started_at,ended_at
                a1,V1,T1,available,2024-05-06 20:00:00,
                a2,V1,T1,busy,2024-05-06 22:00:00,2024-05-06 23:00:00
                b1,V2,T2,offline,2024-05-06 21:00:00,
                b2,V2,T2,break,2024-05-06 22:25:00,2024-05-06 22:35:00
                a3,V1,T1,available,2024-05-06 18:00:00,2024-05-06 22:00:00
                """,
            ),
        ],
    )
    return store


def test_waiting_and_the_longest_wait(live_store):
    now = live.snapshot(live_store, None, BERLIN, at=AT)
    assert now["waiting"] == 4  # w1, w2, w3, p1
    assert now["longest_wait_seconds"] == 5400  # w3, silent since 21:00
    v1 = live.snapshot(live_store, {"vendor": ["V1"]}, BERLIN, at=AT)
    assert (v1["waiting"], v1["longest_wait_seconds"]) == (3, 1200)  # w1 waits since 22:10


def test_open_conversations_per_agent(live_store):
    now = live.snapshot(live_store, None, BERLIN, at=AT)
    assert now["open_per_agent"] == [
        {"agent_id": "a1", "vendor": "V1", "open": 2},  # w1, o1 (r1 is resolved)
        {"agent_id": "a2", "vendor": "V1", "open": 1},
        {"agent_id": "b1", "vendor": "V2", "open": 1},  # w3; f1 is not created yet
    ]


def test_agents_online(live_store):
    now = live.snapshot(live_store, None, BERLIN, at=AT)
    assert now["agents_online"] == {
        "total": 3,
        "by_state": {"available": 1, "busy": 1, "break": 1},
    }
    assert (
        live.snapshot(live_store, {"vendor": ["V1"]}, BERLIN, at=AT)["agents_online"]["total"] == 2
    )


def test_today_is_the_local_day(live_store):
    berlin = live.snapshot(live_store, None, BERLIN, at=AT)
    assert berlin["today"] == "2024-05-07"
    assert berlin["today_kpis"]["chat_volume"] == 4  # w1 (00:00 local), w2, p1, f1
    utc = live.snapshot(live_store, None, Config(), at=AT)
    assert utc["today"] == "2024-05-06"
    assert utc["today_kpis"]["chat_volume"] == 7
    assert utc["today_kpis"]["abandonment_rate_status"] in ("met", "missed", "missing")


def test_nothing_stored_is_calm(store):
    now = live.snapshot(store, None, BERLIN, at=AT)
    assert (now["waiting"], now["longest_wait_seconds"], now["open_per_agent"]) == (0, None, [])
    assert now["agents_online"]["total"] == 0


def test_weekday_hour_volume_in_the_report_zone(live_store):
    berlin = views.weekday_hour_volume(live_store, config=BERLIN).to_pylist()
    assert berlin == [
        {"weekday": 0, "hour": 23, "conversations": 3},  # w3, r1 (23:00), o1 (23:30) Monday
        {"weekday": 1, "hour": 0, "conversations": 3},  # w1, p1, w2 Tuesday
        {"weekday": 1, "hour": 1, "conversations": 1},  # f1
    ]
    utc = views.weekday_hour_volume(live_store, filters={"vendor": ["V2"]}).to_pylist()
    assert utc == [
        {"weekday": 0, "hour": 21, "conversations": 1},
        {"weekday": 0, "hour": 23, "conversations": 1},
    ]
    total = report(live_store, ["chat_volume"], [], config=BERLIN).table["chat_volume"][0]
    assert sum(r["conversations"] for r in berlin) == total.as_py()


@pytest.mark.parametrize(
    ("kpi", "now", "before", "verdict"),
    [
        ("csat", 0.9, 0.8, "improved"),
        ("first_response_time", 90.0, 60.0, "worsened"),
        ("first_response_time", 60.0, 60.0, "unchanged"),
        ("csat", None, 0.8, None),
        ("agent_utilization", 0.80, 0.95, "improved"),  # back into the 70–85 % band
        ("agent_utilization", 0.60, 0.75, "worsened"),
        ("csat_by_response_bucket", 0.9, 0.5, None),
    ],
)
def test_trend_verdict(kpi, now, before, verdict):
    assert views.trend_verdict(REGISTRY[kpi], now, before) == verdict


def test_filter_values_and_data_days(live_store):
    assert views.filter_values(live_store, ["vendor", "team"], {"vendor": ["V2"]}) == {
        "vendor": ["V2"],
        "team": ["T2"],
    }
    first, last = views.data_days(live_store, config=BERLIN)
    assert (str(first), str(last)) == ("2024-05-06", "2024-05-07")


def test_a_past_day_replayed_as_it_closed():
    assert live.day_end(date(2024, 5, 6), None, BERLIN) == datetime(
        2024, 5, 6, 21, 59, 59, tzinfo=UTC
    )
    assert live.day_end(date(2024, 1, 15), None, BERLIN) == datetime(
        2024, 1, 15, 22, 59, 59, tzinfo=UTC
    )
    assert live.day_end(date(2024, 1, 15), "UTC", BERLIN).hour == 23


def test_sample_sizes_and_thin_values(live_store):
    # first responses: V1 has w1 (22:05) and o1 (21:31); p1's note is private, r1 and w2
    # have none; V2 has none at all
    result = report(
        live_store, ["chat_volume", "first_response_time"], ["vendor"], config=BERLIN, samples=True
    )
    rows = {r["vendor"]: r for r in result.table.to_pylist()}
    assert rows["V1"]["first_response_time__sample"] == 2
    assert rows["V2"]["first_response_time__sample"] == 0
    assert rows["V1"]["first_response_time__thin"] and rows["V2"]["first_response_time__thin"]
    assert "chat_volume__thin" not in result.table.column_names  # a count is its own sample
    counts = pa.table({"csat__sample": pa.array([19, 20, None], pa.int64())})
    marked = mark_thin(counts, [REGISTRY["csat"]])["csat__thin"].to_pylist()
    assert marked == [True, False, True] and THIN_BELOW == 20


# --- the live figures against a plain computation over the raw tables ----------------------

ONLINE = {"available", "busy", "away", "break"}  # written out here, not imported


def _plain_figures(rows, at, filters):
    """Waiting, longest wait, open per agent and agents online at ``at``, in plain Python
    over the stored rows (``rows``: the raw tables as lists of dicts)."""

    def chosen(c):
        got = {**c, "agent": c["agent_id"]}
        return all(got[dim] in values for dim, values in filters.items())

    def before(t):
        return t is not None and t <= at

    open_now = [
        c
        for c in rows["conversations"]
        if c["created_at"] <= at
        and not before(c["resolved_at"])
        and not before(c["closed_at"])
        and chosen(c)
    ]
    public = {}
    for m in rows["messages"]:
        if m["sent_at"] <= at and not m["private"]:
            public.setdefault(m["conversation_id"], []).append(m)
    since = []
    for c in open_now:
        said = public.get(c["conversation_id"], [])
        replies = [m["sent_at"] for m in said if m["author_role"] == "agent"]
        last_reply = max(replies) if replies else None
        asks = [
            m["sent_at"]
            for m in said
            if m["author_role"] == "customer" and (last_reply is None or m["sent_at"] > last_reply)
        ]
        if asks:
            since.append(min(asks))
        elif not said and (c["first_response_at"] is None or c["first_response_at"] > at):
            since.append(c["created_at"])
    per_agent = {}
    for c in open_now:
        if c["agent_id"] is not None:
            key = (c["agent_id"], c["vendor"])
            per_agent[key] = per_agent.get(key, 0) + 1
    people = {"vendor": "vendor", "team": "team", "agent": "agent_id"}
    online = {
        (a["state"], a["agent_id"])
        for a in rows["agent_activity"]
        if a["started_at"] <= at
        and (a["ended_at"] is None or a["ended_at"] > at)
        and a["state"] in ONLINE
        and all(a[people[d]] in v for d, v in filters.items() if d in people)
    }
    by_state = {}
    for state, _ in online:
        by_state[state] = by_state.get(state, 0) + 1
    return {
        "waiting": len(since),
        "longest_wait_seconds": (at - min(since)).total_seconds() if since else None,
        "open_per_agent": [
            {"agent_id": a, "vendor": v, "open": n}
            for (a, v), n in sorted(per_agent.items(), key=lambda kv: (-kv[1], kv[0][0]))
        ],
        "agents_online": {"total": len({a for _, a in online}), "by_state": by_state},
    }


def _raw_rows(store):
    columns = {
        "conversations": "conversation_id, created_at, resolved_at, closed_at, "
        "first_response_at, agent_id, vendor, team, channel, queue, topic",
        "messages": "conversation_id, sent_at, author_role, private",
        "agent_activity": "agent_id, vendor, team, state, started_at, ended_at",
    }
    rows = {}
    for table, names in columns.items():
        cursor = store.raw.execute(f"SELECT {names} FROM {table}")
        keys = [d[0] for d in cursor.description]
        rows[table] = [dict(zip(keys, r, strict=True)) for r in cursor.fetchall()]
    return rows


def test_live_figures_equal_a_plain_computation(small_demo):
    """At instants across the demo's 70 days (the last two days read from the rows kept for
    recent instants, the earlier ones from the whole tables), with and without filters: the
    same figures as plain Python over the raw rows. The instants are chosen so that open
    conversations with no message yet, with a private note as their last word, and with an
    agent's reply after the customer's last message all occur."""
    from supportkpi.store.store import Store

    db, _ = small_demo
    with Store.open(db, read_only=True) as store:
        rows = _raw_rows(store)
        said_in = {}
        for m in rows["messages"]:
            said_in.setdefault(m["conversation_id"], []).append(
                (m["sent_at"], m["author_role"], bool(m["private"]))
            )
        first_message = {cid: min(said)[0] for cid, said in said_in.items()}
        ordered = sorted(rows["conversations"], key=lambda c: c["created_at"])
        last = ordered[-1]["created_at"]
        # a second after a conversation began, before its first message (demo: ~2 s later)
        silent = [c for c in ordered if first_message[c["conversation_id"]] > c["created_at"]]
        quiet = [
            c["created_at"] + timedelta(seconds=1) for c in (silent[-5], silent[len(silent) // 2])
        ]
        notes = sorted(m["sent_at"] for m in rows["messages"] if m["private"])
        instants = [
            *quiet,
            notes[-1],  # a private note, the last one in the data
            notes[len(notes) // 3],
            last - timedelta(hours=5),
            last + timedelta(days=30),  # after everything: nothing open
            ordered[0]["created_at"] - timedelta(hours=1),  # before anything
        ]
        seen = {"silent": 0, "note last": 0, "answered": 0}
        narrowed = ({}, {"vendor": [ordered[-1]["vendor"]], "channel": ["chat"]})
        for n, at in enumerate(instants):
            for filters in narrowed if n in (0, 2) else ({},):
                got = live.snapshot(store, filters, Config(), at=at)
                expected = _plain_figures(rows, at, filters)
                assert {k: got[k] for k in expected} == expected, (at, filters)
            if n < 3:  # the path of stores that run no compiled SQL (PostgreSQL, Spark)
                wait, per_agent, online = live._figures(
                    store, {}, Config(), None, ibis.timestamp(at)
                )
                expected = _plain_figures(rows, at, {})
                assert wait["n"] == expected["waiting"]
                assert (per_agent, online) == (
                    expected["open_per_agent"],
                    expected["agents_online"],
                )
            for c in rows["conversations"]:
                ended = [t for t in (c["resolved_at"], c["closed_at"]) if t is not None]
                if c["created_at"] <= at and all(t > at for t in ended):
                    said = sorted(m for m in said_in.get(c["conversation_id"], []) if m[0] <= at)
                    seen["silent"] += not said
                    seen["note last"] += bool(said) and said[-1][2]
                    seen["answered"] += bool(said) and said[-1][1:] == ("agent", False)
        assert all(seen.values()), seen


def test_a_load_moves_the_live_figures(live_store, write):
    """What the live strip keeps between requests (today's KPIs, the recent rows) is
    worked out again once a load changed the data."""
    before = live.snapshot(live_store, None, BERLIN, at=AT)
    assert live.snapshot(live_store, None, BERLIN, at=AT) == before
    load(
        live_store,
        [
            write(
                "conversations.csv",
                """
                conversation_id,channel,created_at,vendor,team,agent_id
                n1,chat,2024-05-06 22:25:00,V1,T1,a2
                """,
            )
        ],
    )
    after = live.snapshot(live_store, None, BERLIN, at=AT)
    assert after["waiting"] == before["waiting"] + 1  # n1: no message yet, since 22:25
    assert after["today_kpis"]["chat_volume"] == before["today_kpis"]["chat_volume"] + 1
    per_agent = {r["agent_id"]: r["open"] for r in after["open_per_agent"]}
    assert per_agent["a2"] == 2  # p1 and n1


def test_too_many_conversations_not_ended_are_read_from_the_tables(live_store, monkeypatch):
    """Data whose conversations rarely end keeps nothing for recent instants: the figures
    come from the whole tables, the same."""
    kept = live.snapshot(live_store, None, BERLIN, at=AT)
    assert live._recent(live_store)[0] is not None
    monkeypatch.setattr(live, "RECENT_LIMIT", 3)
    assert live._recent(live_store) == (None, {})
    live_store.memo.clear()
    assert live.snapshot(live_store, None, BERLIN, at=AT) == kept
