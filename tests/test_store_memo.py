"""What the query service works out about a store's data (its days, whether the kept facts
are current, which columns hold values) is kept on the open store per generation: a load
in the same process moves the generation and every answer is worked out again."""

from __future__ import annotations

import json
import threading
from datetime import date

import pytest

from supportkpi.analysis import views
from supportkpi.analysis.query import report
from supportkpi.analysis.sla import vendors
from supportkpi.load.ingest import load_records
from supportkpi.store import generation
from supportkpi.store.memo import remembered
from supportkpi.store.store import Store


def _conversations(day: str, n: int, vendor: str) -> bytes:
    rows = [
        {
            "conversation_id": f"{vendor}-{day}-{i}",
            "channel": "chat",
            "created_at": f"{day}T{9 + i:02d}:00:00Z",
            "vendor": vendor,
        }
        for i in range(n)
    ]
    return json.dumps(rows).encode()


def test_an_answer_is_kept_until_the_generation_moves(tmp_path) -> None:
    with Store.open(tmp_path / "m.duckdb") as store:
        calls = []

        def compute() -> int:
            calls.append(1)
            return len(calls)

        assert remembered(store, "k", compute) == 1
        assert remembered(store, "k", compute) == 1
        with store.session() as session:  # a request's session shares the open store's
            assert remembered(session, "k", compute) == 1
        with store.transaction():
            generation.bump(store)
        assert remembered(store, "k", compute) == 2
    with Store.open(tmp_path / "m.duckdb") as again:  # opened again: nothing kept
        assert remembered(again, "k", compute) == 3


def test_a_large_answer_is_kept_at_the_latest_generation_only(tmp_path) -> None:
    """``latest=True``: the answer at a new generation replaces the one before it; other
    keys' answers stay."""
    with Store.open(tmp_path / "l.duckdb") as store:
        assert remembered(store, "big", lambda: "first", latest=True) == "first"
        assert remembered(store, "small", lambda: "kept") == "kept"
        with store.transaction():
            generation.bump(store)
        assert remembered(store, "big", lambda: "second", latest=True) == "second"
        keys = [k[0] for k in store.memo if len(k) == 2]
        assert keys.count("big") == 1 and keys.count("small") == 1


def test_requests_asking_the_same_thing_at_once_wait_for_one_answer(tmp_path) -> None:
    """A page's requests to a server just started ask the same things at once: one request
    works each out, the others wait for its answer instead of working it out too."""
    with Store.open(tmp_path / "w.duckdb") as store:
        inside, release = threading.Event(), threading.Event()
        others: list[str] = []
        answers: list[str] = []

        def first() -> str:
            inside.set()
            release.wait(30)
            return "worked out once"

        def asked(compute) -> None:
            with store.session() as session:  # each request has its own session
                answers.append(remembered(session, "k", compute))

        threads = [threading.Thread(target=asked, args=(first,))]
        threads[0].start()
        assert inside.wait(30)
        threads += [
            threading.Thread(target=asked, args=(lambda: others.append("again") or "again",))
            for _ in range(3)
        ]
        for thread in threads[1:]:
            thread.start()
        for thread in threads[1:]:
            thread.join(0.3)  # they wait for the first, rather than working it out again
        release.set()
        for thread in threads:
            thread.join(30)
        assert others == []
        assert answers == ["worked out once"] * 4
        assert remembered(store, "other key", lambda: "its own") == "its own"


def test_a_failed_answer_is_worked_out_again_by_the_next_request(tmp_path) -> None:
    """An error is not kept: the next request asking works it out anew."""
    with Store.open(tmp_path / "f.duckdb") as store:

        def broken() -> str:
            raise RuntimeError("the engine failed")

        with pytest.raises(RuntimeError, match="engine failed"):
            remembered(store, "k", broken)
        assert remembered(store, "k", lambda: "now") == "now"


def test_a_load_in_the_same_process_is_seen_by_the_next_report(tmp_path) -> None:
    """Days, counts and filled columns follow each load, in the same open store."""
    with Store.open(tmp_path / "s.duckdb") as store:
        load_records(store, {"conversations": _conversations("2026-05-04", 2, "acme")}, "one")
        assert views.data_days(store) == (date(2026, 5, 4), date(2026, 5, 4))
        assert vendors(store) == ["acme"]
        first = report(store, ["chat_volume"], ["vendor"]).table.to_pylist()
        assert [(r["vendor"], r["chat_volume"]) for r in first] == [("acme", 2)]
        load_records(store, {"conversations": _conversations("2026-05-09", 3, "zed")}, "two")
        assert views.data_days(store) == (date(2026, 5, 4), date(2026, 5, 9))
        assert vendors(store) == ["acme", "zed"]
        rows = report(store, ["chat_volume"], ["vendor"]).table.to_pylist()
        assert [(r["vendor"], r["chat_volume"]) for r in rows] == [("acme", 2), ("zed", 3)]
        late = report(store, ["chat_volume"], [], start=date(2026, 5, 9), end=date(2026, 5, 9))
        assert late.table.to_pylist()[0]["chat_volume"] == 3
        assert "vendor filter" in report(store, ["chat_volume"], filters={"vendor": ["zeb"]}).notes


def test_sessions_one_after_another_read_their_own_tables(tmp_path) -> None:
    """What is remembered outlives a request's session; nothing bound to it is kept."""
    with Store.open(tmp_path / "s.duckdb") as store:
        load_records(store, {"conversations": _conversations("2026-05-04", 2, "acme")}, "one")
        for _ in range(2):
            with store.session() as session:
                rows = report(session, ["chat_volume", "first_response_time"], ["vendor"])
                assert rows.table.to_pylist()[0]["chat_volume"] == 2


def test_a_session_binds_the_remembered_schemas_to_its_own_connection(tmp_path) -> None:
    """Each request's session reads a table's schema from what the open store remembers, not
    from the catalog again, and the table it gets runs on the session's own connection; a
    load that changes the data is seen through it."""
    with Store.open(tmp_path / "s.duckdb") as store:
        load_records(store, {"conversations": _conversations("2026-05-04", 2, "acme")}, "one")
        with store.session() as first:
            assert first.table("conversations").count().to_pyarrow().as_py() == 2
        assert any(key[0] == ("schema", "conversations") for key in store.memo)
        asked: list[str] = []
        with store.session() as second:
            get_schema = second.con.get_schema
            second.con.get_schema = lambda name, **kw: asked.append(name) or get_schema(name, **kw)
            table = second.table("conversations")
            assert table.op().source is second.con
            assert table.count().to_pyarrow().as_py() == 2
        assert asked == []
        load_records(store, {"conversations": _conversations("2026-05-09", 3, "zed")}, "two")
        with store.session() as third:
            assert third.table("conversations").count().to_pyarrow().as_py() == 5
