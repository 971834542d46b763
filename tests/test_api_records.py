"""Sending records over HTTP: validation and quarantine as for files, idempotence, durability,
the size limit, and vendor tokens limited to their own records. Also the token commands."""

from __future__ import annotations

import json
import signal

import pytest

from supportkpi.store.store import Store
from tests.server import cli, make_token, serving

CONVERSATIONS = [
    {
        "conversation_id": "a-1",
        "channel": "chat",
        "created_at": "2026-05-04T09:00:00Z",
        "vendor": "acme",
    },
    {
        "conversation_id": "a-2",
        "channel": "chat",
        "created_at": "2026-05-04T09:05:00Z",
        "vendor": "acme",
    },
    {
        "conversation_id": "z-1",
        "channel": "email",
        "created_at": "2026-05-04T10:00:00Z",
        "vendor": "zed",
    },
]
MESSAGES = [
    {
        "message_id": "m1",
        "conversation_id": "a-1",
        "sent_at": "2026-05-04T09:00:00Z",
        "author_role": "customer",
    },
    {
        "message_id": "m2",
        "conversation_id": "a-1",
        "sent_at": "2026-05-04T09:01:30Z",
        "author_role": "agent",
        "author_id": "ann",
    },
    {"message_id": "m3", "conversation_id": "a-1", "sent_at": "yesterday", "author_role": "agent"},
    {
        "message_id": "m4",
        "conversation_id": "nope",
        "sent_at": "2026-05-04T09:02:00Z",
        "author_role": "customer",
    },
]


@pytest.fixture
def server(tmp_path):
    db = tmp_path / "live.duckdb"
    Store.open(db).close()
    tokens = {
        "admin": make_token(db, "admin"),
        "acme": make_token(db, "vendor", "acme"),
        "viewer": make_token(db, "viewer"),
    }
    with serving(db, "--max-body-mb", "0.05") as running:
        yield running, tokens, db


def post(server, role, table, body: bytes | list, content_type="application/json"):
    running, tokens, _ = server
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    with running.client(tokens[role]) as client:
        return client.post(
            f"/v1/records/{table}", content=data, headers={"Content-Type": content_type}
        )


def test_records_load_with_the_file_rules_and_say_what_was_wrong(server):
    first = post(server, "admin", "conversations", CONVERSATIONS).json()
    assert (first["records"], first["new"], first["quarantined"]) == (3, 3, 0)
    sent = post(server, "admin", "messages", MESSAGES)
    assert sent.status_code == 200
    body = sent.json()
    assert (body["records"], body["new"], body["quarantined"]) == (4, 2, 2)
    errors = {(e["record"], e["column"], e["rule"]) for e in body["errors"]}
    assert errors == {(3, "sent_at", "bad_timestamp"), (4, "conversation_id", "unknown_ref")}
    assert all(e["reason"] for e in body["errors"])


def test_the_same_batch_again_changes_nothing(server):
    post(server, "admin", "conversations", CONVERSATIONS)
    once = post(server, "admin", "messages", MESSAGES).json()
    twice = post(server, "admin", "messages", MESSAGES).json()
    assert (twice["new"], twice["updated"], twice["unchanged"]) == (0, 0, 2)
    assert twice["errors"] == once["errors"]
    running, _, db = server
    running.process.send_signal(signal.SIGKILL)  # acknowledged means durable: no clean shutdown
    running.process.wait()
    with Store.open(db, read_only=True) as store:
        assert store.counts()["messages"] == 2
        assert store.quarantined()[0] == 2  # replaced, not doubled


def test_json_lines_are_accepted(server):
    lines = "\n".join(json.dumps(c) for c in CONVERSATIONS) + "\n{not json\n"
    body = post(server, "admin", "conversations", lines.encode(), "application/x-ndjson").json()
    assert (body["new"], body["quarantined"]) == (3, 1)
    assert body["errors"][0]["record"] == 4


def test_bodies_over_the_limit_are_413_and_bad_requests_400(server):
    big = [CONVERSATIONS[0] | {"conversation_id": f"c{i}"} for i in range(1000)]
    response = post(server, "admin", "conversations", big)
    assert response.status_code == 413 and "limit" in response.json()["error"]
    assert post(server, "admin", "nonsense", CONVERSATIONS).status_code == 404
    assert post(server, "admin", "conversations", b"[{oops").status_code == 400
    assert post(server, "admin", "conversations", b"").status_code == 400
    assert post(server, "viewer", "conversations", CONVERSATIONS).status_code == 403


def test_a_vendor_sends_only_its_own_records(server):
    post(server, "admin", "conversations", CONVERSATIONS)
    own = post(server, "acme", "conversations", CONVERSATIONS[:2])
    assert own.status_code == 200 and own.json()["unchanged"] == 2
    for table, records, why in [
        ("conversations", CONVERSATIONS, "vendor is 'zed'"),
        # another vendor's ids read like unknown ones: nothing tells whether they exist
        ("conversations", [CONVERSATIONS[2] | {"vendor": "acme"}], "not one of your"),
        ("messages", [MESSAGES[0] | {"conversation_id": "z-1"}], "not one of your"),
        ("messages", [MESSAGES[3]], "not one of your conversations"),
        ("revenue_events", [{"event_id": "e"}], "only an admin"),
    ]:
        refused = post(server, "acme", table, records)
        assert refused.status_code == 403, (table, refused.text)
        assert why in refused.json()["error"]
    mine = post(server, "acme", "messages", MESSAGES[:2]).json()
    assert mine["new"] == 2
    steal = post(server, "acme", "messages", [MESSAGES[0] | {"conversation_id": "a-2"}])
    assert steal.status_code == 200  # its own message moved between its own conversations
    stored = post(
        server,
        "admin",
        "messages",
        [
            MESSAGES[1]
            | {"message_id": "zm", "conversation_id": "z-1", "sent_at": "2026-05-04T10:01:00Z"}
        ],
    )
    assert stored.json()["new"] == 1
    taken = post(server, "acme", "messages", [MESSAGES[1] | {"message_id": "zm"}])
    assert taken.status_code == 403 and "message zm is not one of yours" in taken.json()["error"]


def test_token_commands_and_revocation(server):
    running, tokens, db = server
    listed = cli("token", "list", "--db", db).stdout
    assert "acme" in listed and tokens["acme"] not in listed
    stored = (db.with_suffix(".tokens.json")).read_text()
    assert tokens["acme"] not in stored  # only digests are kept
    token_id = json.loads(stored)["tokens"][1]["id"]
    with running.client(tokens["acme"]) as client:
        assert client.get("/v1/me").status_code == 200
        cli("token", "revoke", token_id, "--db", db)
        assert client.get("/v1/me").status_code == 401  # the running server sees it at once
    bad = cli("token", "create", "--role", "vendor", "--db", db, check=False)
    assert bad.returncode == 2 and "needs --vendor" in bad.stderr


def test_no_auth_serves_everyone_and_says_so(tmp_path):
    db = tmp_path / "open.duckdb"
    Store.open(db).close()
    with serving(db, "--no-auth") as running:
        assert running.client().get("/v1/me").json()["auth"] is False
        assert "NO AUTHENTICATION" in running.log.read_text()
