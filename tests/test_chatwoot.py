"""Chatwoot: recorded webhook deliveries replayed against the real server, and the importer
run against a local HTTP server that serves recorded API pages. Both follow Chatwoot's own
serializers (see ``supportkpi.sources.chatwoot``), and both must give the same records.

The conversation (display id 105, internal id 9001, account 7): Lee writes at T0 =
2024-05-06 12:53:20 UTC; a bot template at +5 s; Ana is assigned with team Billing; a private
note at +30 s; Ana's first public reply at +90 s (edited later); Lee at +120 s, Ana at +150 s;
resolved at +1200.123 s after being reopened once (Lee wrote at +900 s), Ana at +960 s.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from supportkpi.analysis.query import report
from supportkpi.store.store import Store
from tests.server import cli, make_token, serving

DATA = Path(__file__).parent / "data" / "chatwoot"
DELIVERIES = json.loads((DATA / "webhooks.json").read_text())
PAGES = json.loads((DATA / "api_pages.json").read_text())
T0 = datetime(2024, 5, 6, 12, 53, 20, tzinfo=UTC)
MESSAGE_COLUMNS = "message_id, conversation_id, sent_at, author_role, author_id, private, text"


@pytest.fixture
def received(tmp_path):
    """The deliveries replayed, in order, against a fresh server: (store path, answers)."""
    db = tmp_path / "hooks.duckdb"
    Store.open(db).close()
    token = make_token(db, "admin")
    with serving(db) as server, server.client() as client:
        answers = [
            client.post(f"/v1/webhooks/chatwoot?token={token}", json=d).json() for d in DELIVERIES
        ]
        again = [
            client.post(
                "/v1/webhooks/chatwoot", json=d, headers={"Authorization": f"Bearer {token}"}
            )
            for d in DELIVERIES
        ]
    assert again[0].json()["skipped"] and all(a.json()["duplicate"] for a in again[1:])
    return db, answers


def test_webhooks_become_the_canonical_conversation(received):
    db, answers = received
    assert "no message yet" in answers[0]["skipped"]
    assert all(a.get("quarantined", 0) == 0 for a in answers)
    with Store.open(db, read_only=True) as store:
        row = store.execute(
            "SELECT conversation_id, channel, created_at, customer_id, team, agent_id, queue, "
            "first_response_at, resolved_at, reopens FROM conversations"
        )
        assert row == [
            (
                "cw7-105",
                "chat",
                T0,
                "cw7-c42",
                "Billing",
                "cw7-u11",
                "Website",
                T0 + timedelta(seconds=90),
                T0 + timedelta(seconds=1200.123),
                1,
            )
        ]
        roles = store.execute(
            "SELECT message_id, author_role, author_id, private, text FROM messages ORDER BY message_id"
        )
    assert roles == [
        ("cw7-m500", "bot", "Greeter", False, "We reply within minutes"),
        ("cw7-m501", "customer", "cw7-c42", False, "My invoice is wrong"),
        ("cw7-m502", "agent", "cw7-u11", True, "checking billing"),
        ("cw7-m503", "agent", "cw7-u11", False, "Sorry! Fixing it right now"),  # the edit
        ("cw7-m504", "customer", "cw7-c42", False, "Thanks, and the VAT?"),
        ("cw7-m505", "agent", "cw7-u11", False, "Fixed too."),
        ("cw7-m506", "system", None, False, "Conversation was marked resolved by Ana"),
        ("cw7-m507", "customer", "cw7-c42", False, "One more thing"),
        ("cw7-m508", "agent", "cw7-u11", False, "Sure"),
    ]


def test_webhook_kpis(received):
    db, _ = received
    with Store.open(db, read_only=True) as store:
        row = report(
            store,
            ["first_response_time", "resolution_time", "reopen_rate", "response_time"],
            ["team"],
        ).table.to_pylist()[0]
    assert row["first_response_time"] == 90  # Lee at T0, Ana's first public reply at +90 s
    assert row["resolution_time"] == pytest.approx(1200.123)
    assert row["reopen_rate"] == 1
    assert row["response_time"] == pytest.approx((90 + 30 + 60) / 3)  # 90, 150−120, 960−900


def test_webhook_access_and_errors(tmp_path):
    db = tmp_path / "hooks.duckdb"
    Store.open(db).close()
    admin, acme, viewer = (
        make_token(db, "admin"),
        make_token(db, "vendor", "acme"),
        make_token(db, "viewer"),
    )
    with serving(db) as server, server.client() as client:
        hook = "/v1/webhooks/chatwoot?token="
        assert client.post("/v1/webhooks/chatwoot", json=DELIVERIES[1]).status_code == 401
        assert client.post(hook + "skpi_wrong", json=DELIVERIES[1]).status_code == 401
        assert client.post(hook + viewer, json=DELIVERIES[1]).status_code == 403
        assert client.post(hook + admin, json={"event": "contact_created"}).status_code == 422
        assert client.post(hook + admin, content=b"{nope").status_code == 400
        assert client.post(hook + admin + "&vendor=zed", json=DELIVERIES[1]).status_code == 200
        refused = client.post(hook + acme, json=DELIVERIES[2])  # zed's conversation
        assert refused.status_code == 403 and "not one of your" in refused.json()["error"]
        assert client.get("/v1/me", params={"token": admin}).status_code == 401  # webhooks only
    with Store.open(db, read_only=True) as store:
        assert store.execute("SELECT vendor FROM conversations") == [("zed",)]


class FakeChatwoot(BaseHTTPRequestHandler):
    """Serves the recorded pages; 401 without the account's token, 404 for anything else."""

    pages: ClassVar[dict] = {}
    token = "cw-secret"

    def do_GET(self) -> None:
        if self.headers.get("api_access_token") != self.token:
            self._send(401, {"error": "Invalid Access Token"})
        elif self.path in self.pages:
            self._send(200, self.pages[self.path])
        else:
            self._send(404, {"error": f"no recorded page {self.path}"})

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def chatwoot_url():
    since = int(datetime(2024, 5, 5, tzinfo=UTC).timestamp())
    FakeChatwoot.pages = PAGES | {
        f"/api/v1/accounts/7/csat_survey_responses?page=1&since={since}": PAGES[
            "/api/v1/accounts/7/csat_survey_responses?page=1"
        ],
        f"/api/v1/accounts/7/csat_survey_responses?page=2&since={since}": [],
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeChatwoot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_importer_gives_the_records_the_webhooks_gave(chatwoot_url, received, tmp_path):
    db = tmp_path / "imported.duckdb"
    args = ["import", "chatwoot", "--url", chatwoot_url, "--account", "7", "--db", db]
    first = cli(*args, "--token", FakeChatwoot.token)
    assert "conversations" in first.stdout
    with (
        Store.open(db, read_only=True) as imported,
        Store.open(received[0], read_only=True) as hooks,
    ):
        assert imported.counts() | {"quarantine": 0} == hooks.counts() | {
            "conversations": 2,
            "messages": 10,
            "surveys": 1,
            "quarantine": 0,
        }
        sql = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = 'cw7-105' ORDER BY 1"
        assert imported.execute(sql) == hooks.execute(sql)
        same = "conversation_id, channel, created_at, customer_id, team, agent_id, queue, first_response_at"
        sql = f"SELECT {same} FROM conversations WHERE conversation_id = 'cw7-105'"
        assert imported.execute(sql) == hooks.execute(sql)
        assert imported.execute(
            "SELECT channel, queue, agent_id, first_response_at FROM conversations WHERE conversation_id = 'cw7-106'"
        ) == [("email", "Support mail", None, None)]
        assert imported.execute(
            "SELECT survey_id, conversation_id, score, scale_max, comment FROM surveys"
        ) == [("cw7-s31", "cw7-105", 4.0, 5.0, "quick")]
    again = cli(*args, "--token", FakeChatwoot.token)
    assert "new" in again.stdout
    with Store.open(db, read_only=True) as imported:
        assert imported.counts()["messages"] == 10


def test_the_importer_since_a_day_and_with_a_wrong_token(chatwoot_url, tmp_path):
    db = tmp_path / "recent.duckdb"
    args = ["import", "chatwoot", "--url", chatwoot_url, "--account", "7", "--db", db]
    cli(*args, "--token", FakeChatwoot.token, "--since", "2024-05-05", "--vendor", "acme")
    with Store.open(db, read_only=True) as store:
        assert store.execute("SELECT conversation_id, vendor FROM conversations") == [
            ("cw7-105", "acme")
        ]
    refused = cli(*args, "--token", "wrong", check=False)
    assert refused.returncode == 2 and "answered 401" in refused.stderr


def test_a_vendor_token_records_a_new_conversation_whole(received, tmp_path):
    """The first customer message and the bot greeting of a new conversation arrive before
    the conversation is stored: they are the vendor's own all the same."""
    admin_db, _ = received
    db = tmp_path / "vendor.duckdb"
    Store.open(db).close()
    token = make_token(db, "vendor", "acme")
    with serving(db) as server, server.client() as client:
        answers = [client.post(f"/v1/webhooks/chatwoot?token={token}", json=d) for d in DELIVERIES]
    assert [a.status_code for a in answers] == [200] * len(DELIVERIES), [
        a.text for a in answers if a.status_code != 200
    ]
    with Store.open(admin_db, read_only=True) as store:
        expected = store.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages ORDER BY message_id")
    with Store.open(db, read_only=True) as store:
        assert store.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages ORDER BY message_id") == (
            expected
        )
        assert store.execute("SELECT DISTINCT vendor FROM conversations") == [("acme",)]
