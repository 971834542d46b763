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
    """Per brand, the first-response seconds of its threads, found without the loader:
    threads start at a customer tweet answering nothing; the brand is the first non-inbound
    author in the thread; the first response is that author's first tweet − the root."""
    with open(path, newline="", encoding="utf-8") as f:
        # a record with too few or too many fields (a raw newline in a tweet) is broken
        rows = [
            r
            for r in csv.DictReader(f)
            if None not in r and None not in r.values() and r["inbound"] in ("True", "False")
        ]
    by_id = {r["tweet_id"]: r for r in rows}
    children = defaultdict(list)
    for r in rows:
        parent = (r["in_response_to_tweet_id"] or "").removesuffix(".0")
        if parent:
            children[parent].append(r)
    out: dict[str, list[float]] = defaultdict(list)
    for root in rows:
        if root["in_response_to_tweet_id"] or root["inbound"] != "True":
            continue
        thread, stack = [], [root]
        while stack:
            tweet = stack.pop()
            thread.append(tweet)
            stack += children.get(tweet["tweet_id"], [])
        replies = sorted(
            (datetime.strptime(t["created_at"], FORMAT), t["author_id"])
            for t in thread
            if t["inbound"] == "False"
        )
        if replies:
            start = datetime.strptime(root["created_at"], FORMAT)
            out[replies[0][1]].append((replies[0][0] - start).total_seconds())
        else:
            out[None].append(None)
    assert all(r["tweet_id"] in by_id for r in rows)
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
