"""The Customer Support on Twitter slice: threads become conversations, as a plain walk finds."""

from __future__ import annotations

import csv
import statistics
from collections import defaultdict
from datetime import datetime

import pytest

from supportkpi.analysis.query import report
from supportkpi.load.ingest import load
from tests.conftest import shared_data

FORMAT = "%a %b %d %H:%M:%S %z %Y"


def walk(path) -> dict[str, list[float]]:
    """Per brand, the first-response seconds of its threads, found without the loader (see
    :func:`_threads`): the first response is the brand's first tweet − the root."""
    out: dict[str, list[float]] = defaultdict(list)
    for thread in _threads(path):
        replies = [when for when, is_brand, _ in thread["tweets"] if is_brand]
        if replies:
            out[thread["brand"]].append((replies[0] - thread["created"]).total_seconds())
        else:
            out[None].append(None)
    return out


def test_twcs_slice_matches_an_independent_walk(store):
    path = shared_data("twcs/twcs_first5000.csv")
    summary = load(store, [path], fmt="twcs")
    loaded = summary.tables["messages"].new + sum(summary.quarantined.values())
    assert loaded == 5001  # every record accounted for (one has a raw newline in its text)
    result = report(store, ["first_response_time", "chat_volume", "abandonment_rate"], by=["team"])
    rows = {r["team"]: r for r in result.table.to_pylist()}
    expected = walk(path)
    assert set(rows) == set(expected)
    for brand, times in expected.items():
        row = rows[brand]
        assert row["chat_volume"] == len(times), brand
        if brand is None:  # threads no brand answered
            assert row["abandonment_rate"] == 1.0
            continue
        assert row["first_response_time"] == pytest.approx(statistics.mean(times)), brand
        assert row["first_response_time_median"] == pytest.approx(statistics.median(times))
        assert row["abandonment_rate"] == 0.0


def test_quarantine_says_why_tweets_were_left_out(store):
    load(store, [shared_data("twcs/twcs_first5000.csv")], fmt="twcs")
    reasons = dict(store.execute("SELECT rule, count(*) FROM quarantine GROUP BY 1"))
    assert reasons["malformed_row"] == 2
    assert reasons["outside_thread"] > 100
    texts = [r[0] for r in store.execute("SELECT reason FROM quarantine")]
    assert any("which is not in the file" in t for t in texts)
    assert any("starts with a brand tweet" in t for t in texts)


def test_signatures_become_agents(store, write):
    path = write(
        "tweets.csv",
        """
        tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id
        1,555,True,Tue Oct 31 22:00:00 +0000 2017,@acme my order is late,2,
        2,acme,False,Tue Oct 31 22:05:00 +0000 2017,@555 Sorry! Can you DM us? ^JK,3,1.0
        3,555,True,Tue Oct 31 22:06:00 +0000 2017,@acme done,4,2.0
        4,acme,False,Tue Oct 31 22:10:00 +0000 2017,@555 Thanks -MR,,3.0
        5,777,True,Tue Oct 31 23:00:00 +0000 2017,@acme hello?,,
        6,acme,False,Tue Oct 31 23:30:00 +0000 2017,@888 about your ticket,,99.0
        """,
    )
    summary = load(store, [path], fmt="twcs")
    assert summary.tables["conversations"].new == 2
    assert store.execute(
        "SELECT conversation_id, vendor, team, agent_id, customer_id FROM conversations ORDER BY 1"
    ) == [("twcs-1", "acme", "acme", "MR", "555"), ("twcs-5", None, None, None, "777")]
    assert store.execute("SELECT message_id, author_role, author_id FROM messages ORDER BY 1") == [
        ("1", "customer", "555"),
        ("2", "agent", "JK"),
        ("3", "customer", "555"),
        ("4", "agent", "MR"),
        ("5", "customer", "777"),
    ]
    assert store.execute("SELECT line, rule FROM quarantine") == [(7, "outside_thread")]
    (row,) = report(
        store, ["first_response_time"], by=["team"], filters={"team": ["acme"]}
    ).table.to_pylist()
    assert row["first_response_time"] == 300


def _threads(path) -> list[dict]:
    """Every customer thread of the file, found without the loader: its brand (the first
    non-inbound author by time), its customer (the root's author), and its tweets as
    ``(time, is_brand, tweet_id)`` in time order, customers before brands at the same second."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = [
            r
            for r in csv.DictReader(f)
            if None not in r and None not in r.values() and r["inbound"] in ("True", "False")
        ]
    children = defaultdict(list)
    for r in rows:
        parent = (r["in_response_to_tweet_id"] or "").removesuffix(".0")
        if parent:
            children[parent].append(r)
    out = []
    for root in rows:
        if root["in_response_to_tweet_id"] or root["inbound"] != "True":
            continue
        thread, stack = [], [root]
        while stack:
            tweet = stack.pop()
            thread.append(tweet)
            stack += children.get(tweet["tweet_id"], [])
        tweets = sorted(
            (datetime.strptime(t["created_at"], FORMAT), t["inbound"] == "False", t["tweet_id"])
            for t in thread
        )
        brands = sorted(
            (when, t["author_id"])
            for t in thread
            if t["inbound"] == "False"
            for when in [datetime.strptime(t["created_at"], FORMAT)]
        )
        out.append(
            {
                "id": root["tweet_id"],
                "brand": brands[0][1] if brands else None,
                "customer": root["author_id"],
                "created": datetime.strptime(root["created_at"], FORMAT),
                "tweets": tweets,
            }
        )
    return out


def _p90(values: list[float]) -> float:
    """Linear interpolation between order statistics, position (n − 1) × 0.9."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def _waits(tweets: list[tuple]) -> list[float]:
    """Each brand reply that answers the customer: its time − the earliest customer tweet
    since the previous brand reply."""
    waits, asked = [], None
    for when, is_brand, _ in tweets:
        if not is_brand:
            asked = asked or when
        elif asked is not None:
            waits.append((when - asked).total_seconds())
            asked = None
    return waits


def test_twcs_every_kpi_the_data_holds_reconciles_with_an_independent_walk(store):
    """Every KPI the Twitter sample can give, per brand, against plain Python over the raw
    file; every KPI it cannot give is missing with the reason, never shown as 0."""
    path = shared_data("twcs/twcs_first5000.csv")
    load(store, [path], fmt="twcs")
    threads = _threads(path)
    by_brand: dict[str | None, list[dict]] = defaultdict(list)
    for t in threads:
        first_brand = next(w for w, b, _ in t["tweets"] if b) if t["brand"] else None
        t["frt"] = (first_brand - t["created"]).total_seconds() if first_brand else None
        t["aht"] = (t["tweets"][-1][0] - first_brand).total_seconds() if first_brand else None
        by_brand[t["brand"]].append(t)
    # follow-ups: the same customer's next thread starting within 7 days of this one
    by_customer: dict[str, list[dict]] = defaultdict(list)
    for t in threads:
        by_customer[t["customer"]].append(t)
    for own in by_customer.values():
        own.sort(key=lambda t: (t["created"], "twcs-" + t["id"]))
        for before, after in zip([None, *own], own, strict=False):
            close = before is not None and (after["created"] - before["created"]).days < 7
            after["follow_up_of"] = before["id"] if close else None
        for now, nxt in zip(own, [*own[1:], None], strict=True):
            now["followed_up"] = nxt is not None and (nxt["created"] - now["created"]).days < 7

    kpis = [
        "first_response_time",
        "response_time",
        "response_time_consistency",
        "service_level",
        "average_handle_time",
        "chat_volume",
        "follow_up_rate",
        "abandonment_rate",
    ]
    result = report(store, kpis, by=["team"])
    rows = {r["team"]: r for r in result.table.to_pylist()}
    assert set(rows) == set(by_brand)
    assert not result.missing
    for brand, own in by_brand.items():
        row = rows[brand]
        frt = [t["frt"] for t in own if t["frt"] is not None]
        waits = [w for t in own for w in _waits(t["tweets"])]
        aht = [t["aht"] for t in own if t["aht"] is not None]
        assert row["chat_volume"] == len(own), brand
        assert row["chat_volume_handled"] == len(frt), brand
        assert row["chat_volume_resolved"] == 0
        if not frt:
            assert row["first_response_time"] is None and row["service_level"] is None
            continue
        assert row["first_response_time"] == pytest.approx(statistics.fmean(frt)), brand
        assert row["first_response_time_median"] == pytest.approx(statistics.median(frt))
        assert row["first_response_time_p90"] == pytest.approx(_p90(frt)), brand
        assert row["response_time"] == pytest.approx(statistics.fmean(waits)), brand
        assert row["response_time_median"] == pytest.approx(statistics.median(waits)), brand
        assert row["response_time_p90"] == pytest.approx(_p90(waits)), brand
        sd = statistics.pstdev(frt)
        mean = statistics.fmean(frt)
        assert row["response_time_consistency_sd"] == pytest.approx(sd, abs=1e-6), brand
        if mean:
            assert row["response_time_consistency"] == pytest.approx(sd / mean, abs=1e-9)
        # social media's default threshold is an hour
        within = sum(s <= 3600 for s in frt) / len(frt)
        assert row["service_level"] == pytest.approx(within), brand
        assert row["average_handle_time"] == pytest.approx(statistics.fmean(aht)), brand
        assert row["average_handle_time_median"] == pytest.approx(statistics.median(aht))
        assert row["average_handle_time_p90"] == pytest.approx(_p90(aht)), brand
        followed = sum(t["followed_up"] for t in own)
        assert row["follow_up_rate"] == pytest.approx(followed / len(own)), brand
        follow_ups = sum(t["follow_up_of"] is not None for t in own)
        issues = len(own) - follow_ups
        expected = follow_ups / issues if issues else None
        assert row["follow_up_contacts_per_issue"] == pytest.approx(expected), brand
        assert row["abandonment_rate"] == pytest.approx(1 - len(frt) / len(own)), brand

    # what a Twitter sample cannot give says why, and is never a 0
    total = report(store, None, by=())
    reasons = total.missing
    for kpi, why in {
        "resolution_rate": "resolved_at",
        "first_contact_resolution": "resolved_at",
        "escalation_rate": "escalated",
        "csat": "no surveys",
        "cost_per_contact": "no costs",
        "agent_utilization": "no agent activity",
        "resolution_time": "no resolved conversations",
    }.items():
        assert why in reasons[kpi], kpi
    (row,) = total.table.to_pylist()
    for kpi in reasons:
        if kpi in row:
            assert row[kpi] is None, kpi
    assert row["chat_volume"] == len(threads)
