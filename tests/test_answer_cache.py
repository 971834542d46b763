"""Answers kept by the server between loads: on a real server on loopback, a repeated request
gets the same answer as the first, a load (records sent over HTTP) makes every route answer
from the new data, and a vendor token never gets an answer kept for another vendor. The
store's generation counts committed loads and is read the same by any process."""

from __future__ import annotations

import json
import threading
import time

import pytest
from starlette.requests import Request
from starlette.responses import Response

from supportkpi.api.cache import AnswerCache, request_key
from supportkpi.load.ingest import LoadError, load_records
from supportkpi.store import generation
from supportkpi.store.access import OPEN, Principal, Role
from supportkpi.store.store import Store
from tests.server import make_token, serving


def conversation(cid: str, vendor: str, hour: int) -> dict[str, str]:
    return {
        "conversation_id": cid,
        "channel": "chat",
        "created_at": f"2026-05-04T{hour:02d}:00:00Z",
        "vendor": vendor,
    }


FIRST = [conversation("a-1", "acme", 9), conversation("a-2", "acme", 10)]
FIRST += [conversation("z-1", "zed", 11)]
ROUTES = [  # the dashboard's reads, over the day of the records
    ("/v1/report", {"by": "vendor", "kpi": "chat_volume"}),
    ("/v1/headline", {"kpi": "chat_volume"}),
    ("/v1/conversations", {}),
    ("/v1/peaks", {}),
    ("/v1/escalations", {}),
    ("/v1/meta", {}),
    ("/v1/vendors", {}),
    ("/v1/sla", {}),
]
DAY = {"from": "2026-05-04", "to": "2026-05-04"}


@pytest.fixture
def server(tmp_path):
    db = tmp_path / "cached.duckdb"
    Store.open(db).close()
    tokens = {
        "admin": make_token(db, "admin"),
        "acme": make_token(db, "vendor", "acme"),
        "zed": make_token(db, "vendor", "zed"),
    }
    with serving(db) as running:
        yield running, tokens, db


def send(server, records: list[dict]) -> dict:
    running, tokens, _ = server
    with running.client(tokens["admin"]) as client:
        answer = client.post("/v1/records/conversations", json=records)
    assert answer.status_code == 200, answer.text
    return answer.json()


def get(server, role: str, path: str, **params: str):
    running, tokens, _ = server
    with running.client(tokens[role]) as client:
        answer = client.get(path, params={**DAY, **params})
    assert answer.status_code == 200, answer.text
    return answer


def volumes(server, role: str = "admin") -> dict[str, int]:
    rows = get(server, role, "/v1/report", by="vendor", kpi="chat_volume").json()
    return {r["vendor"]: r["chat_volume"] for r in rows}


def listed(server, role: str) -> list[str]:
    return [r["conversation_id"] for r in get(server, role, "/v1/conversations").json()["rows"]]


def test_a_load_makes_every_kept_answer_new(server):
    send(server, FIRST)
    assert volumes(server) == {"acme": 2, "zed": 1}
    assert volumes(server) == {"acme": 2, "zed": 1}  # the kept answer
    headline = get(server, "admin", "/v1/headline", kpi="chat_volume").json()
    assert headline["cards"][0]["value"] == 3
    assert listed(server, "admin") == ["a-1", "a-2", "z-1"]

    send(server, [conversation("a-3", "acme", 12), conversation("z-1", "zed", 8)])
    assert volumes(server) == {"acme": 3, "zed": 1}
    headline = get(server, "admin", "/v1/headline", kpi="chat_volume").json()
    assert headline["cards"][0]["value"] == 4
    # z-1 moved to 08:00 in the second load: the listing's order follows
    assert listed(server, "admin") == ["z-1", "a-1", "a-2", "a-3"]


def test_a_kept_answer_is_the_answer(server):
    send(server, FIRST)
    for path, params in ROUTES:
        first = get(server, "admin", path, **params)
        again = get(server, "admin", path, **params)
        assert again.content == first.content, path
        assert again.headers["content-type"] == first.headers["content-type"], path
    # the kept answers against the data, counted here
    assert volumes(server) == {"acme": 2, "zed": 1}
    page = get(server, "admin", "/v1/conversations").json()
    assert page["total"] == 3
    assert [r["vendor"] for r in page["rows"]] == ["acme", "acme", "zed"]


def test_a_vendor_never_gets_another_vendors_kept_answer(server):
    send(server, FIRST)
    # the same request, word for word, from one vendor and then the other, and an admin
    assert listed(server, "acme") == ["a-1", "a-2"]
    assert listed(server, "zed") == ["z-1"]
    assert listed(server, "admin") == ["a-1", "a-2", "z-1"]
    assert listed(server, "acme") == ["a-1", "a-2"]
    assert volumes(server, "zed") == {"zed": 1}
    assert volumes(server, "acme") == {"acme": 2}
    for role, own in (("acme", "acme"), ("zed", "zed")):
        for path, params in ROUTES:
            text = get(server, role, path, **params).text
            other = "zed" if own == "acme" else "acme"
            assert other not in text, (role, path, text[:300])


def test_the_generation_counts_committed_loads_in_the_store(tmp_path):
    db = tmp_path / "g.duckdb"
    with Store.open(db) as store:
        assert generation.current(store) == 0
        load_records(store, {"conversations": json.dumps(FIRST[:1]).encode()}, "one")
        load_records(store, {"conversations": json.dumps(FIRST[1:]).encode()}, "two")
        assert generation.current(store) == 2
    with Store.open(db, read_only=True) as again:  # another opening reads the same
        assert generation.current(again) == 2
    with Store.open(db) as store:
        with pytest.raises(LoadError):  # refused whole: nothing committed
            load_records(store, {"conversations": b'[{"conversation_id": "x"}]'}, "bad")
        assert generation.current(store) == 2
        quarantined = b'[{"conversation_id": "x", "channel": "chat", "created_at": "soon"}]'
        load_records(store, {"conversations": quarantined}, "three")  # committed: quarantine
        assert generation.current(store) == 3


def _request(path: str, query: str = "") -> Request:
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode()}
    return Request(scope | {"headers": [], "server": ("127.0.0.1", 80), "scheme": "http"})


def test_the_cache_keys_on_route_parameters_and_what_the_caller_may_see():
    acme = Principal("a", "acme", Role.VENDOR, "acme")
    zed = Principal("z", "zed", Role.VENDOR, "zed")
    viewer = Principal("v", "viewer", Role.VIEWER, None)
    every = request_key(_request("/v1/report", "by=vendor&kpi=csat"), OPEN)
    assert every == request_key(_request("/v1/report", "by=vendor&kpi=csat"), viewer)
    key = request_key(_request("/v1/report", "by=vendor&kpi=csat"), acme)
    assert key == request_key(_request("/v1/report", "kpi=csat&by=vendor"), acme)
    assert key != request_key(_request("/v1/report", "by=vendor&kpi=csat"), zed)
    assert key != request_key(_request("/v1/report", "by=vendor&kpi=csat"), OPEN)
    assert key != request_key(_request("/v1/report", "by=agent&kpi=csat"), acme)
    assert key != request_key(_request("/v1/sla", "by=vendor&kpi=csat"), acme)


def test_the_cache_drops_older_generations_and_computes_once_for_concurrent_requests():
    cache = AnswerCache()
    calls: list[int] = []

    def slow() -> Response:
        calls.append(1)
        time.sleep(0.3)
        return Response(f"answer {len(calls)}".encode(), media_type="text/plain")

    answers: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: answers.append(cache.answer(("k",), 1, slow).body))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [b"answer 1"] * 4 and len(calls) == 1
    assert cache.answer(("k",), 1, slow).body == b"answer 1"
    assert cache.answer(("k",), 2, slow).body == b"answer 2"  # the data moved on
    failed = Response(b"no", status_code=400)
    assert cache.answer(("bad",), 2, lambda: failed).status_code == 400
    assert len(cache) == 1  # an error is not kept


def test_at_most_slots_answers_are_computed_at_once():
    cache = AnswerCache(slots=2)
    running, most = 0, 0
    lock = threading.Lock()

    def slow() -> Response:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return Response(b"answer")

    threads = [threading.Thread(target=lambda k=k: cache.answer((k,), 1, slow)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2 and len(cache) == 6
