"""Each revenue event's last contact, kept at load, stays equal to one found from scratch, and
equal to a plain-Python reading of the rule: the customer's last conversation created at or
before the event (the greatest id among conversations created at the same instant)."""

from __future__ import annotations

import json

from supportkpi.analysis.query import report, run, select_kpis
from supportkpi.config import Config
from supportkpi.facts.contacts import last_contacts
from supportkpi.load.ingest import load_records
from supportkpi.store import kept_contacts
from supportkpi.store.store import Store

MONEY = ["roi", "upsell_count", "cross_sell_count", "upsell_revenue", "customer_lifetime_value"]


def send(store: Store, label: str, **tables: list[dict]) -> None:
    batches = {name: json.dumps(rows).encode() for name, rows in tables.items()}
    summary = load_records(store, batches, label)
    assert not summary.quarantined, summary


def conv(cid: str, customer: str, created: str) -> dict:
    return {"conversation_id": cid, "channel": "chat", "created_at": created} | (
        {"customer_id": customer} if customer else {}
    )


def event(eid: str, customer: str, at: str, kind: str = "upsell", amount: float = 10.0) -> dict:
    return {"event_id": eid, "customer_id": customer, "occurred_at": at, "kind": kind} | {
        "amount": amount
    }


def kept(store: Store) -> dict[str, str | None]:
    table = kept_contacts.current(store)
    assert table is not None, "the kept last contacts are out of step with the data"
    return {r["event_id"]: r["last_conversation_id"] for r in table.to_pyarrow().to_pylist()}


def found(store: Store) -> dict[str, str | None]:
    expr = last_contacts(store.table("revenue_events"), store.table("conversations"))
    return {r["event_id"]: r["last_conversation_id"] for r in expr.to_pyarrow().to_pylist()}


def by_hand(store: Store) -> dict[str, str | None]:
    """The rule in plain Python over the stored rows."""
    conversations = store.execute(
        "SELECT conversation_id, customer_id, created_at FROM conversations"
    )
    events = store.execute("SELECT event_id, customer_id, occurred_at FROM revenue_events")
    out: dict[str, str | None] = {}
    for eid, customer, at in events:
        before = [
            (created, cid)
            for cid, who, created in conversations
            if who is not None and who == customer and created <= at
        ]
        out[eid] = max(before)[1] if before else None
    return out


def check(store: Store) -> dict[str, str | None]:
    now = kept(store)
    assert now == found(store) == by_hand(store)
    return now


def test_each_load_keeps_the_last_contacts(store):
    send(
        store,
        "base",
        conversations=[
            conv("a1", "c1", "2024-05-01T09:00:00Z"),
            conv("a2", "c1", "2024-05-03T09:00:00Z"),
            conv("b1", "c2", "2024-05-01T12:00:00Z"),
        ],
        revenue_events=[
            event("e1", "c1", "2024-05-02T00:00:00Z"),
            event("e2", "c1", "2024-05-03T09:00:00Z"),  # the same instant as a2: a2's
            event("e3", "c2", "2024-04-30T00:00:00Z"),  # before any contact
            event("e4", "c9", "2024-05-02T00:00:00Z", kind="purchase"),  # never in contact
        ],
    )
    assert check(store) == {"e1": "a1", "e2": "a2", "e3": None, "e4": None}

    # a conversation between a1 and a2 arrives: e1 is now its; a2 moves to another customer
    send(store, "between", conversations=[conv("a3", "c1", "2024-05-01T18:00:00Z")])
    assert check(store)["e1"] == "a3"
    send(store, "moved", conversations=[conv("a2", "c2", "2024-05-03T09:00:00Z")])
    assert check(store)["e2"] == "a3"

    # two conversations at one instant: the greater id is the last
    send(store, "tie", conversations=[conv("b0", "c2", "2024-05-01T12:00:00Z")])
    send(store, "late event", revenue_events=[event("e5", "c2", "2024-05-01T13:00:00Z")])
    assert check(store)["e5"] == "b1"

    # an event changes customer: the whole table is computed again
    send(store, "event moved", revenue_events=[event("e4", "c1", "2024-05-02T00:00:00Z")])
    assert check(store)["e4"] == "a3"

    # the same records again change nothing
    before = kept(store)
    send(store, "again", conversations=[conv("a3", "c1", "2024-05-01T18:00:00Z")])
    assert check(store) == before


def test_money_kpis_read_the_kept_contacts_and_equal_the_plain_path(store):
    send(
        store,
        "base",
        conversations=[
            conv("a1", "c1", "2024-05-01T09:00:00Z") | {"vendor": "acme"},
            conv("a2", "c1", "2024-05-20T09:00:00Z") | {"vendor": "in-house"},
            conv("b1", "c2", "2024-05-02T09:00:00Z") | {"vendor": "acme"},
        ],
        revenue_events=[
            event("e1", "c1", "2024-05-03T00:00:00Z", amount=100.0),  # a1, within 7 days
            event("e2", "c1", "2024-05-15T00:00:00Z", amount=50.0),  # a1, too late
            event("e3", "c1", "2024-05-21T00:00:00Z", "cross_sell", 30.0),  # a2
            event("e4", "c2", "2024-05-02T10:00:00Z", amount=20.0),  # b1
        ],
    )
    assert kept_contacts.current(store) is not None
    config = Config()
    kept_report = report(store, MONEY, by=["vendor"], config=config)
    rows = {r["vendor"]: r for r in kept_report.table.to_pylist()}
    assert rows["acme"]["upsell_revenue"] == 120.0 and rows["acme"]["upsell_count"] == 2
    assert rows["in-house"]["cross_sell_revenue"] == 30.0
    plain = run(
        store, select_kpis(MONEY), ("vendor",), None, None, None, None, None, config, share=False
    )
    assert plain.table.to_pylist() == kept_report.table.to_pylist()


def test_a_store_without_kept_contacts_finds_them(store):
    send(
        store,
        "base",
        conversations=[conv("a1", "c1", "2024-05-01T09:00:00Z")],
        revenue_events=[event("e1", "c1", "2024-05-02T00:00:00Z")],
    )
    with_kept = report(store, ["upsell_count"], by=["vendor"]).table.to_pylist()
    store.execute(f"DROP TABLE {kept_contacts.TABLE}")
    assert kept_contacts.current(store) is None
    # the open store remembers what it found until a load; a store opened on the file again
    # (the next command) finds the table gone and works the contacts out
    with Store.open(store.url) as again:
        assert report(again, ["upsell_count"], by=["vendor"]).table.to_pylist() == with_kept
    # the next load keeps them again
    send(store, "more", revenue_events=[event("e2", "c1", "2024-05-02T01:00:00Z")])
    assert check(store) == {"e1": "a1", "e2": "a1"}
