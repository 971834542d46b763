"""The dashboard's first view answered before anyone opens it: on a real server on loopback,
started as ``supportkpi serve`` starts, the views the dashboard asks for first are kept once
the warm-up says it is ready, for admins and viewers alike; a load makes the server answer
them again from the new data; a vendor's own view is never one warmed for everyone. (That
the list matches what the dashboard really asks is held in a browser: test_dashboard.py.)"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date

import pytest

from supportkpi.api import create_app
from supportkpi.api.warmup import default_window, first_view, get_in_process
from supportkpi.load.ingest import load_records
from supportkpi.store.access import TokenStore, tokens_path
from supportkpi.store.store import Store
from tests.server import serving
from tests.test_answer_cache import FIRST, conversation

DAY = "2026-05-04"


def health(running) -> dict:
    return running.client().get("/health").json()


def ready(running, generation: int | None = None) -> dict:
    """/health once the warm-up has answered ``generation`` (else the store's current one)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = health(running)
        warm = found["warm"]
        assert warm["state"] != "failed", warm
        wanted = found["generation"] if generation is None else generation
        if warm["state"] == "ready" and warm["generation"] == wanted == found["generation"]:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not warmed at generation {generation}: {health(running)}")


@pytest.fixture
def warm_server(tmp_path):
    db = tmp_path / "warm.duckdb"
    with Store.open(db) as store:
        load_records(store, {"conversations": json.dumps(FIRST).encode()}, "first")
    made = TokenStore(tokens_path(str(db)))
    tokens = {"admin": made.create("admin"), "acme": made.create("vendor", "acme")}
    with serving(db, "--warm") as running:
        yield running, tokens


def ask_first_view(running, token: str) -> list[bytes]:
    """The first view's answers, in first_view()'s order: headline, trend, vendors, …"""
    with running.client(token) as client:
        out = []
        for path, params in first_view(default_window(date(2026, 5, 4), date(2026, 5, 4))):
            answer = client.get(path, params=params)
            assert answer.status_code == 200, (path, answer.text)
            out.append(answer.content)
    return out


def test_the_first_view_is_kept_when_ready_and_answered_again_after_a_load(warm_server):
    running, tokens = warm_server
    before = ready(running, 1)["answers"]
    assert before["kept"] == len(first_view({"from": DAY, "to": DAY})) + 1  # and /v1/meta
    seen = ask_first_view(running, tokens["admin"])
    after = health(running)["answers"]
    assert after["misses"] == before["misses"]  # every view was a kept answer
    assert after["hits"] == before["hits"] + len(seen)
    assert b'"acme"' in seen[2] and b'"zed"' in seen[2]  # the vendor table

    # a vendor's own vendor table is not the one warmed for every vendor: computed, its own
    path, params = first_view(default_window(date(2026, 5, 4), date(2026, 5, 4)))[2]
    with running.client(tokens["acme"]) as client:
        own = client.get(path, params=params)
    assert own.status_code == 200 and b'"acme"' in own.content and b"zed" not in own.content
    assert health(running)["answers"]["misses"] == after["misses"] + 1

    with running.client(tokens["admin"]) as client:
        sent = [conversation("a-3", "acme", 12), conversation("q-1", "quill", 13)]
        assert client.post("/v1/records/conversations", json=sent).status_code == 200
    again = ready(running, 2)["answers"]
    seen_again = ask_first_view(running, tokens["admin"])
    assert health(running)["answers"]["misses"] == again["misses"]
    assert b'"quill"' in seen_again[2]  # answered from the new data, not kept from before
    assert seen_again[0] != seen[0]  # the headline counts the new conversations


def test_without_warm_up_nothing_is_answered_ahead(tmp_path):
    with Store.open(tmp_path / "cold.duckdb") as store:
        status, body = asyncio.run(get_in_process(create_app(store), "/health", {}))
    assert status == 200
    found = json.loads(body)
    assert found["warm"] == {"state": "off"} and found["generation"] == 0
    assert found["answers"] == {"kept": 0, "hits": 0, "misses": 0}


def test_the_default_window_is_the_last_four_weeks_of_data():
    assert default_window(None, None) == {}
    assert default_window(date(2026, 5, 1), date(2026, 5, 3)) == {
        "from": "2026-05-01",
        "to": "2026-05-03",
    }
    assert default_window(date(2026, 1, 1), date(2026, 5, 31)) == {
        "from": "2026-05-04",
        "to": "2026-05-31",
    }
