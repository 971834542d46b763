"""The kept conversation facts stay equal to facts derived from scratch, load after load."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from supportkpi.analysis.query import build_frame, report, run, select_kpis
from supportkpi.config import Config
from supportkpi.facts.derive import reply_pairs
from supportkpi.load.ingest import load_records
from supportkpi.store import kept
from supportkpi.store.kept import FACTS, REPLIES, SURVEYS, base_facts, survey_rows
from supportkpi.store.store import Store


def send(store: Store, label: str, **tables: list[dict]) -> None:
    batches = {name: json.dumps(rows).encode() for name, rows in tables.items()}
    summary = load_records(store, batches, label)
    assert not summary.quarantined, summary


def derived(store: Store) -> list[tuple]:
    return _rows(_derived_facts(store))


def stored(store: Store) -> list[tuple]:
    table = store.con.table(FACTS)
    columns = sorted(table.columns)
    rows = sorted(table.select(*columns).to_pyarrow().to_pylist(), key=str)
    # the reply pairs are kept in step with the facts
    pairs = store.con.table(REPLIES).to_pyarrow().to_pylist()
    assert sorted(pairs, key=str) == sorted(
        reply_pairs(store.table("messages")).to_pyarrow().to_pylist(), key=str
    )
    # and so is each survey answer with its conversation's facts
    assert _rows(store.con.table(SURVEYS)) == _rows(
        survey_rows(_derived_facts(store), store.table("surveys"))
    )
    return rows


def _derived_facts(store: Store):
    return base_facts(
        store.table("conversations"),
        store.table("messages"),
        store.table("surveys"),
        timedelta(days=7),
    )


def _rows(table) -> list[dict]:
    columns = sorted(table.columns)
    return sorted(table.select(*columns).to_pyarrow().to_pylist(), key=str)


def conv(cid: str, customer: str | None, created: str, **extra: object) -> dict:
    return (
        {"conversation_id": cid, "channel": "chat", "created_at": created}
        | ({"customer_id": customer} if customer else {})
        | extra
    )


def msg(mid: str, cid: str, at: str, role: str) -> dict:
    return {"message_id": mid, "conversation_id": cid, "sent_at": at, "author_role": role}


@pytest.fixture
def incremental(monkeypatch):
    """Refresh customer by customer whatever the share of conversations a load changes."""
    monkeypatch.setattr(kept, "REBUILD_SHARE", 1.0)


def test_each_load_keeps_the_facts_equal_to_derived_ones(store, incremental):
    load_after_load(store)


def load_after_load(store: Store) -> None:
    """Loads that each move the facts of a few conversations (a reply, a later resolution,
    a customer changed, a follow-up named, a message moved, a survey), each followed by the
    kept facts compared with facts derived from scratch; then a load changing nothing. Also
    run on PostgreSQL (tests/test_postgres.py)."""
    send(
        store,
        "base",
        conversations=[
            conv("a1", "c1", "2024-05-01T09:00:00Z", resolved_at="2024-05-01T10:00:00Z"),
            conv("a2", "c1", "2024-05-03T09:00:00Z"),
            conv("b1", "c2", "2024-05-01T12:00:00Z", resolved_at="2024-05-01T12:30:00Z"),
            conv("d1", "c3", "2024-05-02T08:00:00Z"),
            conv("x1", None, "2024-05-02T08:00:00Z", ended_by="customer"),
        ],
        messages=[
            msg("m1", "a1", "2024-05-01T09:00:05Z", "customer"),
            msg("m2", "a1", "2024-05-01T09:01:00Z", "agent"),
            msg("m3", "a2", "2024-05-03T09:00:10Z", "customer"),
            msg("m4", "b1", "2024-05-01T12:00:00Z", "customer"),
        ],
    )
    assert stored(store) == derived(store)
    facts = {r["conversation_id"]: r for r in stored(store)}
    assert facts["a1"]["followed_up"] and facts["a2"]["follow_up_of"] == "a1"

    # a reply arrives for a2; a1 is resolved a week later than first said
    send(store, "reply", messages=[msg("m5", "a2", "2024-05-03T09:05:00Z", "agent")])
    assert stored(store) == derived(store)
    late = conv("a1", "c1", "2024-05-01T09:00:00Z", resolved_at="2024-05-08T10:00:00Z")
    send(store, "late", conversations=[late])
    assert stored(store) == derived(store)

    # c4's first conversation e1 is followed up by e2; e1 turns out to be c5's, so e2 (still
    # c4's, and named by nothing that changed) no longer follows anything up
    send(
        store,
        "c4",
        conversations=[
            conv("e1", "c4", "2024-05-04T09:00:00Z"),
            conv("e2", "c4", "2024-05-05T09:00:00Z"),
        ],
    )
    assert {r["conversation_id"]: r for r in stored(store)}["e2"]["follow_up_of"] == "e1"
    send(store, "customer", conversations=[conv("e1", "c5", "2024-05-04T09:00:00Z")])
    assert stored(store) == derived(store)
    assert {r["conversation_id"]: r for r in stored(store)}["e2"]["follow_up_of"] is None

    # d1 (customer c3) names b1 as what it follows up; later b1 changes on its own, and stays
    # followed up although d1 is not among the conversations computed again
    send(
        store,
        "named",
        conversations=[conv("d1", "c3", "2024-05-02T08:00:00Z", follow_up_of="b1")],
    )
    assert stored(store) == derived(store)
    send(store, "moved", messages=[msg("m2", "b1", "2024-05-01T12:02:00Z", "agent")])
    assert stored(store) == derived(store)
    facts = {r["conversation_id"]: r for r in stored(store)}
    assert facts["a1"]["agent_messages"] == 0 and facts["b1"]["agent_messages"] == 1
    assert facts["b1"]["followed_up"]

    survey = {
        "survey_id": "s1",
        "conversation_id": "d1",
        "kind": "csat",
        "score": 5,
        "scale_min": 1,
        "scale_max": 5,
        "answered_at": "2024-05-02T09:00:00Z",
    }
    send(store, "survey", surveys=[survey])
    assert stored(store) == derived(store)
    assert {r["conversation_id"]: r for r in stored(store)}["d1"]["surveys_answered"] == 1

    # sending the same records again changes nothing
    before = stored(store)
    send(store, "again", messages=[msg("m2", "b1", "2024-05-01T12:02:00Z", "agent")])
    assert stored(store) == before


def test_a_load_that_changes_much_rebuilds(store, monkeypatch):
    calls = []
    real = kept.rebuild
    monkeypatch.setattr(kept, "rebuild", lambda *a: calls.append(a) or real(*a))
    send(store, "first", conversations=[conv("a1", "c1", "2024-05-01T09:00:00Z")])
    send(store, "second", conversations=[conv("a2", "c1", "2024-05-02T09:00:00Z")])
    assert len(calls) == 2  # no facts yet, then half of the store changed
    send(store, "none", conversations=[conv("a2", "c1", "2024-05-02T09:00:00Z")])
    assert len(calls) == 2  # nothing changed, nothing computed
    assert stored(store) == derived(store)


def test_reports_read_kept_facts_only_when_they_fit(store, incremental):
    send(
        store,
        "base",
        conversations=[
            conv("a1", "c1", "2024-05-01T09:00:00Z", vendor="atlas"),
            conv("a2", "c1", "2024-05-10T09:00:00Z", vendor="atlas"),
        ],
        messages=[
            msg("m1", "a1", "2024-05-01T09:00:00Z", "customer"),
            msg("m2", "a1", "2024-05-01T09:02:00Z", "agent"),
        ],
    )
    frame = build_frame(store, Config(), ["vendor"], None, None, None, None, None, False)
    assert frame.kept is not None
    # a ten-day window is not what the facts were kept with: they are derived instead
    wide = Config(follow_up_days=10)
    frame = build_frame(store, wide, ["vendor"], None, None, None, None, None, False)
    assert frame.kept is None
    kpis = ["chat_volume", "first_response_time", "follow_up_rate"]
    for config, repeat in ((Config(), 0.0), (wide, 0.5)):
        fast = report(store, kpis, config=config).table.to_pylist()
        plain = run(store, select_kpis(kpis), ["vendor"], None, None, None, None, None, config)
        assert fast == plain.table.to_pylist()
        plain = run(
            store, select_kpis(kpis), ["vendor"], None, None, None, None, None, config, share=False
        )
        assert fast == plain.table.to_pylist()
        assert fast[0]["first_response_time"] == 120.0
        assert fast[0]["follow_up_rate"] == repeat


def one_answered_conversation(**more: list[dict]) -> dict[str, list[dict]]:
    """Conversation a1 of customer c1 (vendor atlas), answered 90 seconds after it began."""
    return {
        "conversations": [conv("a1", "c1", "2024-05-01T09:00:00Z", vendor="atlas")],
        "messages": [
            msg("m1", "a1", "2024-05-01T09:00:00Z", "customer"),
            msg("m2", "a1", "2024-05-01T09:01:30Z", "agent"),
        ],
    } | more


def test_a_store_without_kept_facts_still_reports(store):
    send(store, "base", **one_answered_conversation())
    store.execute(f"DROP TABLE {FACTS}")
    frame = build_frame(store, Config(), ["vendor"], None, None, None, None, None, False)
    assert frame.kept is None
    rows = report(store, ["first_response_time"]).table.to_pylist()
    assert rows[0]["first_response_time"] == 90.0
    # the next load puts them back
    send(store, "more", conversations=[conv("a2", "c2", "2024-05-02T09:00:00Z", vendor="atlas")])
    assert stored(store) == derived(store)


SURVEY_KPIS = ["csat", "csat_mean", "nps", "ces", "survey_response_rate"]


@pytest.mark.parametrize(
    ("by", "period", "dates", "filters", "tz"),
    [
        (["vendor"], None, (None, None), None, None),
        (["agent"], "week", (date(2026, 7, 6), date(2026, 8, 2)), None, "Pacific/Kiritimati"),
        (["channel", "team"], None, (date(2026, 7, 1), None), {"vendor": ["atlas"]}, None),
        ([], "day", (None, date(2026, 7, 31)), {"channel": ["email"]}, "America/Anchorage"),
    ],
)
def test_survey_kpis_read_the_kept_survey_rows_as_the_plain_path_joins(
    demo_store, by, period, dates, filters, tz
):
    """Each survey answer is kept with its conversation's facts: the survey KPIs read those
    rows, joining nothing, and give what the plain path gives by joining every survey to the
    report's conversations derived from the messages, in every grouping, filter and zone."""
    from tests.test_demo import assert_same_rows

    store, _, _ = demo_store
    kpis = select_kpis(SURVEY_KPIS, None, False)
    args = (by, period, *dates, filters, tz, Config())
    kept_path = run(store, kpis, *args, explain=True)
    assert '"kept_surveys"' in kept_path.sql and '"surveys"' not in kept_path.sql
    plain = run(store, kpis, *args, share=False).table.to_pylist()
    rows = kept_path.table.to_pylist()
    assert len(rows) == len(plain) > 0
    assert any(row["csat"] is not None for row in rows)
    assert_same_rows(rows, plain)


def test_business_hours_and_narrowed_windows_join_the_surveys_as_before(demo_store):
    """The kept rows carry no business-hour clocks, nor the records as they stood at an
    earlier instant: those reports join the surveys to their conversations, as before."""
    store, _, config = demo_store
    from supportkpi.config import load_config

    settings = load_config(config)
    assert settings.business_hours.configured
    kpis = select_kpis(["csat", "first_response_time_bh"], None, False)
    frame = build_frame(store, settings, ["vendor"], None, None, None, None, None, True)
    assert frame.kept_surveys is not None and frame.spans is not None
    hours = run(store, kpis, ["vendor"], None, None, None, None, None, settings, explain=True)
    assert '"surveys"' in hours.sql
    plain = run(store, kpis, ["vendor"], None, None, None, None, None, settings, share=False)
    assert hours.table.to_pylist() == plain.table.to_pylist()


def test_facts_of_an_older_layout_are_rebuilt_once_when_the_store_is_opened_to_write(
    tmp_path,
):
    """A store written by the version before keeps no survey rows, and reports would derive
    every fact from the messages until its next load. Opened to write (a load, ``serve``),
    its facts are rebuilt once for this version, in their own follow-up window, and it says
    so; read-only, it is left as it is."""
    db = tmp_path / "older.duckdb"
    with Store.open(db) as store:
        answer = {"survey_id": "s1", "conversation_id": "a1", "kind": "csat", "score": 5.0}
        send(store, "base", **one_answered_conversation(surveys=[answer]))
        kept.rebuild(store, 10.0)

        def older() -> None:  # the layout of version 3: no survey rows, the state says 3
            store.execute(f"DROP TABLE {SURVEYS}")
            store.execute("UPDATE kept_state SET version = 3")
            assert kept.kept_tables(store, 10.0) is None

        older()  # a load rebuilds them too, in their own window
        send(store, "more", conversations=[conv("a2", "c2", "2024-05-02T09:00:00Z")])
        assert store.execute("SELECT version, follow_up_days FROM kept_state") == [(4, 10.0)]
        assert kept.kept_tables(store, 10.0) is not None
        older()
        assert kept.repair(store) == kept.UPGRADED
        assert kept.kept_tables(store, 10.0) is not None
        assert store.con.table(SURVEYS).count().to_pyarrow().as_py() == 1
        assert kept.repair(store) is None  # once
    with Store.open(db) as store:
        store.execute("UPDATE kept_state SET version = 3")
    with Store.open(db, read_only=True) as store:
        assert kept.kept_tables(store, 10.0) is None
    from supportkpi import client

    with pytest.warns(kept.KeptFactsRebuilt, match="older version's layout"):
        connection = client.connect(db)
    connection.close()


def test_a_page_of_conversations_reads_only_its_own_kept_survey_rows(demo_store):
    """The drill-down and the timeline narrow the frame to their conversations before
    anything is computed: the kept survey rows with it, not only the facts."""
    from supportkpi.analysis.conversations import _only
    from supportkpi.kpis.grains import GRAINS

    store, _, _ = demo_store
    frame = build_frame(store, Config(), [], None, None, None, None, None, False)
    assert frame.kept_surveys is not None
    everyone = GRAINS["surveys"](frame).conversation_id.to_pyarrow().to_pylist()
    few = sorted(set(everyone))[:3]
    narrowed = GRAINS["surveys"](_only(frame, few)).to_pyarrow().to_pylist()
    assert sorted({row["conversation_id"] for row in narrowed}) == few
    assert len(narrowed) == sum(c in few for c in everyone)


def test_kept_facts_without_their_survey_rows_are_not_read_and_the_next_load_rebuilds(store):
    send(
        store,
        "base",
        conversations=[conv("a1", "c1", "2024-05-01T09:00:00Z", vendor="atlas")],
        surveys=[{"survey_id": "s1", "conversation_id": "a1", "kind": "csat", "score": 4.0}],
    )
    store.execute(f"DROP TABLE {SURVEYS}")
    assert kept.kept_tables(store, 7) is None and kept.rebuilds(store)
    assert report(store, ["csat"]).table.to_pylist()[0]["csat"] == 1.0
    send(store, "more", conversations=[conv("a2", "c2", "2024-05-02T09:00:00Z", vendor="atlas")])
    assert kept.kept_tables(store, 7) is not None
    assert stored(store) == derived(store)
