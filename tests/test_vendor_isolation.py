"""A vendor's token can never change another vendor's records, whatever the bytes look like.

Ownership is judged on the rows exactly as the loader will store them (after trimming, typing
and validation), in the load itself, so a record cannot look like one thing to the check and
another to the store. Each attack below once got through; each runs against a real server.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportkpi.load.ingest import ForeignRecords, load_records
from supportkpi.store.store import Store
from tests.server import make_token, serving

CONVERSATIONS = [
    {"conversation_id": "a-1", "channel": "chat", "created_at": "2026-05-04T09:00:00Z",
     "vendor": "acme", "agent_id": "ac-01", "customer_id": "u1"},
    {"conversation_id": "z-1", "channel": "chat", "created_at": "2026-05-04T09:00:00Z",
     "vendor": "zed", "agent_id": "ze-01", "customer_id": "u2"},
]  # fmt: skip
MESSAGES = [
    {"message_id": "am1", "conversation_id": "a-1", "sent_at": "2026-05-04T09:00:10Z",
     "author_role": "customer"},
    {"message_id": "zm1", "conversation_id": "z-1", "sent_at": "2026-05-04T09:00:10Z",
     "author_role": "customer"},
]  # fmt: skip
ACTIVITY = [
    {"agent_id": "ze-01", "vendor": "zed", "state": "busy",
     "started_at": "2026-05-04T08:00:00Z", "ended_at": "2026-05-04T10:00:00Z"},
]  # fmt: skip
COSTS = [
    {"vendor": "zed", "period_start": "2026-05-01", "period_end": "2026-06-01", "amount": 900},
]


def _seed(store: Store) -> None:
    for table, records in [
        ("conversations", CONVERSATIONS),
        ("messages", MESSAGES),
        ("agent_activity", ACTIVITY),
        ("costs", COSTS),
    ]:
        load_records(store, {table: json.dumps(records).encode()}, f"seed:{table}")


def _zed(store: Store) -> list:
    """Everything of zed's, to compare before and after an attack."""
    return [
        store.execute("SELECT * FROM conversations WHERE vendor = 'zed' ORDER BY ALL"),
        store.execute(
            "SELECT m.* FROM messages m JOIN conversations c USING (conversation_id) "
            "WHERE c.vendor = 'zed' ORDER BY ALL"
        ),
        store.execute("SELECT * FROM agent_activity WHERE vendor = 'zed' ORDER BY ALL"),
        store.execute("SELECT * FROM costs WHERE vendor = 'zed' ORDER BY ALL"),
        # the facts of zed's conversations; a customer who also writes to acme links the two
        # by follow-up, a fact of the customer, not a record acme wrote
        store.execute(
            "SELECT * EXCLUDE (follow_up_of, followed_up) FROM kept_facts "
            "WHERE vendor = 'zed' ORDER BY ALL"
        ),
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("isolation") / "live.duckdb"
    with Store.open(db) as store:
        _seed(store)
    tokens = {"admin": make_token(db, "admin"), "acme": make_token(db, "vendor", "acme")}
    with serving(db) as running:
        yield running, tokens, db


def _post(server, table: str, body: bytes, content_type: str = "application/json"):
    running, tokens, _ = server
    with running.client(tokens["acme"]) as client:
        return client.post(
            f"/v1/records/{table}", content=body, headers={"Content-Type": content_type}
        )


def _lines(*records: dict) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()


ATTACKS = [
    # 1. keys padded with spaces: trimmed by validation, they name zed's rows
    ("conversations", _lines(CONVERSATIONS[1] | {"conversation_id": " z-1", "vendor": "acme"})),
    ("conversations", _lines(CONVERSATIONS[1] | {"conversation_id": "z-1 ", "vendor": "acme"})),
    ("messages", _lines(MESSAGES[1] | {"message_id": "zm1 ", "conversation_id": "a-1"})),
    ("messages", _lines(MESSAGES[0] | {"conversation_id": " z-1"})),
    ("agent_activity", _lines(ACTIVITY[0] | {"agent_id": " ze-01", "vendor": "acme"})),
    # 2. a byte-order mark before the first JSON Lines record
    ("conversations", b"\xef\xbb\xbf" + _lines(CONVERSATIONS[1] | {"vendor": "acme"})),
    ("costs", b"\xef\xbb\xbf" + _lines(COSTS[0])),
    # 3. raw line separators inside a string, then a foreign record
    *[
        (
            "messages",
            _lines(MESSAGES[0] | {"message_id": "am2", "text": f"one{sep}two"}, MESSAGES[1]),
        )
        for sep in ("\u2028", "\u2029", "\u0085")
    ],
    # 4. a follow-up naming another vendor's conversation
    (
        "conversations",
        _lines(
            CONVERSATIONS[0] | {"conversation_id": "a-9", "follow_up_of": "z-1"},
            CONVERSATIONS[0] | {"conversation_id": "a-8", "follow_up_of": " z-1 "},
        ),
    ),
    # and the plain ones
    ("conversations", _lines(CONVERSATIONS[1] | {"vendor": "ACME"})),
    ("surveys", _lines({"survey_id": "s1", "conversation_id": "z-1", "kind": "csat", "score": 1})),
]


@pytest.mark.parametrize(("table", "body"), ATTACKS)
def test_no_attack_touches_another_vendors_records(server, table, body):
    running, tokens, _ = server
    with running.client(tokens["admin"]) as client:
        before = client.get("/v1/report", params={"by": "vendor", "kpi": "chat_volume"}).json()
    answer = _post(server, table, body)
    assert answer.status_code == 403, answer.text
    assert "nothing was loaded" in answer.json()["error"]
    with running.client(tokens["admin"]) as client:
        after = client.get("/v1/report", params={"by": "vendor", "kpi": "chat_volume"}).json()
    assert after == before


def test_refusals_do_not_tell_whether_an_id_exists_elsewhere(server):
    taken = _post(server, "messages", _lines(MESSAGES[0] | {"conversation_id": "z-1"}))
    unknown = _post(server, "messages", _lines(MESSAGES[0] | {"conversation_id": "q-404"}))
    assert taken.status_code == unknown.status_code == 403
    assert taken.json()["error"].replace("z-1", "X") == unknown.json()["error"].replace(
        "q-404", "X"
    )


def test_a_vendors_own_records_still_load(server):
    own = _post(
        server,
        "conversations",
        _lines(CONVERSATIONS[0] | {"conversation_id": "a-5", "follow_up_of": "a-1"}),
    )
    assert own.status_code == 200 and own.json()["new"] == 1
    # a message of a conversation sent in the same batch's table earlier is its own too
    moved = _post(server, "messages", _lines(MESSAGES[0] | {"message_id": "am7"}))
    assert moved.status_code == 200 and moved.json()["new"] == 1


# ------------------------------------------------------------ hostile batches, generated

pad = st.sampled_from(["", " ", "\t", "\u00a0", "\ufeff", "\u2028", "\u3000"])
casing = st.sampled_from([str, str.upper, str.title])
foreign_id = st.builds(lambda a, b, f: a + f("z-1") + b, pad, pad, casing)


@st.composite
def hostile(draw):
    """A batch mixing the vendor's own records with foreign ones written to slip through."""
    table = draw(st.sampled_from(["conversations", "messages", "surveys", "agent_activity"]))
    target = draw(foreign_id)
    records = {
        "conversations": [
            CONVERSATIONS[0] | {"conversation_id": "a-3"},
            CONVERSATIONS[1] | {"conversation_id": target, "vendor": draw(pad) + "acme"},
            CONVERSATIONS[0] | {"conversation_id": "a-4", "follow_up_of": target},
        ],
        "messages": [
            MESSAGES[0] | {"message_id": "am3"},
            MESSAGES[1] | {"conversation_id": target},
            MESSAGES[0] | {"message_id": draw(pad) + "zm1" + draw(pad)},
        ],
        "surveys": [
            {"survey_id": "s9", "conversation_id": target, "kind": "csat", "score": 5},
        ],
        "agent_activity": [
            ACTIVITY[0] | {"agent_id": draw(pad) + "ze-01" + draw(pad), "vendor": "acme"},
        ],
    }[table]
    chosen = draw(st.lists(st.sampled_from(records), min_size=1, max_size=4))
    lead = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    if draw(st.booleans()):
        body = lead + json.dumps(chosen, ensure_ascii=draw(st.booleans())).encode()
    else:
        body = lead + _lines(*chosen)
    return table, body


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=hostile())
def test_hostile_batches_never_change_another_vendors_rows(tmp_path_factory, batch):
    table, body = batch
    with Store.open(tmp_path_factory.mktemp("hostile") / "s.duckdb") as store:
        _seed(store)
        before = _zed(store)
        try:
            load_records(store, {table: body}, "attack", vendor="acme")
        except ForeignRecords:
            pass
        except Exception as exc:  # a clear refusal of the batch is fine; a change is not
            assert "nothing was" in str(exc).lower() or "no column" in str(exc), exc
        assert _zed(store) == before
