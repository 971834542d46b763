"""Events recorded once however they are serialised, token files that lose nothing under
concurrency, and exports that a spreadsheet cannot run as formulas."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

from supportkpi.load.ingest import load
from supportkpi.store.access import TokenStore, tokens_path
from supportkpi.store.store import Store
from tests.server import cli, make_token, serving
from tests.test_chatwoot import DELIVERIES


def _reserialised(delivery: dict) -> bytes:
    """The same event as other bytes: keys in reverse order, indented, non-ASCII escaped."""

    def reverse(value):
        if isinstance(value, dict):
            return {k: reverse(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reverse(v) for v in value]
        return value

    return json.dumps(reverse(delivery), indent=2, ensure_ascii=True).encode()


def test_the_same_event_serialised_otherwise_is_recorded_once(tmp_path):
    db = tmp_path / "hooks.duckdb"
    Store.open(db).close()
    token = make_token(db, "admin")
    url = f"/v1/webhooks/chatwoot?token={token}"
    columns = "conversation_id, resolved_at, reopens, first_response_at"
    with serving(db) as server, server.client() as client:
        for delivery in DELIVERIES:
            assert client.post(url, json=delivery).status_code == 200
    with Store.open(db, read_only=True) as store:
        first = store.execute(f"SELECT {columns} FROM conversations")
        messages = store.counts()["messages"]
    with serving(db) as server, server.client() as client:
        again = [
            client.post(url, content=_reserialised(d), headers={"Content-Type": "application/json"})
            for d in DELIVERIES
        ]
    assert all(a.status_code == 200 for a in again)
    assert all(a.json().get("duplicate") or a.json().get("skipped") for a in again)
    with Store.open(db, read_only=True) as store:
        assert store.execute(f"SELECT {columns} FROM conversations") == first
        assert first[0][2] == 1  # reopened once, not three times
        assert first[0][1] is not None  # and still resolved
        assert store.counts()["messages"] == messages


def test_parallel_token_commands_lose_nothing_and_revocation_wins(tmp_path):
    db = tmp_path / "tokens.duckdb"
    Store.open(db).close()

    def create(_: int) -> subprocess.CompletedProcess:
        return cli("token", "create", "--role", "viewer", "--db", str(db))

    with ThreadPoolExecutor(12) as pool:
        made = list(pool.map(create, range(12)))
    assert all(m.returncode == 0 for m in made)
    store = TokenStore(tokens_path(str(db)))
    assert len([r for r in store.records() if r.revoked_at is None]) == 12

    for trial in range(4):
        victim = store.records()[trial]

        def act(n: int, victim_id: str = victim.id) -> subprocess.CompletedProcess:
            if n == 3:
                return cli("token", "revoke", victim_id, "--db", str(db))
            return cli("token", "create", "--role", "viewer", "--db", str(db))

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(act, range(8)))
        assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
        fresh = {r.id: r for r in TokenStore(tokens_path(str(db))).records()}
        assert fresh[victim.id].revoked_at is not None, f"trial {trial}: the revocation was lost"
    assert len(fresh) == 12 + 4 * 7


def test_exports_neutralise_cells_a_spreadsheet_would_run(store, write, tmp_path):
    conversations = """
    conversation_id,channel,created_at,vendor,agent_id
    f1,chat,2024-05-06 09:00:00,"=HYPERLINK(""http://evil.example"",""click"")",a1
    f2,chat,2024-05-06 09:00:00,@SUM(A1:A9),a2
    f3,chat,2024-05-06 09:00:00,+cmd,a3
    f4,chat,2024-05-06 09:00:00,plain,-a4
    """
    load(store, [write("conversations.csv", conversations)])
    store.close()
    db = str(tmp_path / "test.duckdb")
    by_vendor = cli(
        "report", "--db", db, "--by", "vendor", "--kpi", "chat_volume", "--format", "csv"
    )
    by_agent = cli("report", "--db", db, "--by", "agent", "--kpi", "chat_volume", "--format", "csv")
    vendors = [r["vendor"] for r in csv.DictReader(io.StringIO(by_vendor.stdout))]
    agents = [r["agent"] for r in csv.DictReader(io.StringIO(by_agent.stdout))]
    assert sorted(vendors) == sorted(
        ['\'=HYPERLINK("http://evil.example","click")', "'@SUM(A1:A9)", "'+cmd", "plain"]
    )
    assert "'-a4" in agents and "a1" in agents


def test_the_api_description_is_for_token_holders_only(tmp_path):
    db = tmp_path / "docs.duckdb"
    Store.open(db).close()
    token = make_token(db, "vendor", "acme")
    paths = ("/openapi.json", "/docs", "/redoc")
    with serving(db) as server:
        with server.client() as anonymous:
            for path in paths:
                response = anonymous.get(path)
                assert response.status_code == 401, path
                assert response.headers["www-authenticate"] == "Bearer"
        with server.client(token) as client:
            spec = client.get("/openapi.json")
            assert spec.status_code == 200 and "/v1/report" in spec.json()["paths"]
            assert client.get("/docs").status_code == 200
            assert client.get("/redoc").status_code == 200
        with server.client() as browser:  # the dashboard's session cookie is enough
            signed = browser.post("/v1/session", json={"token": token})
            cookie = signed.cookies["supportkpi_session"]
            browser.cookies.set("supportkpi_session", cookie)
            assert browser.get("/openapi.json").status_code == 200
    with serving(db, "--no-auth") as server, server.client() as anonymous:
        assert anonymous.get("/openapi.json").status_code == 200
        assert anonymous.get("/docs").status_code == 200
