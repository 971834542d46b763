"""PostgreSQL as the store, on a real server the tests start (tests/pgserver.py): the demo
loaded there gives the same report and SLA as on DuckDB, loads are idempotent and land
whole or not at all, no DuckDB-only SQL reaches the server, and ``serve`` answers requests
side by side."""

from __future__ import annotations

import math
import threading
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from bench.pg_reload import split, write
from supportkpi import demo
from supportkpi.analysis import views
from supportkpi.analysis.query import report, report_periods
from supportkpi.analysis.sla import sla
from supportkpi.config import load_config
from supportkpi.kpis import REGISTRY
from supportkpi.load.ingest import ForeignRecords, load, load_records
from supportkpi.store import generation, kept
from supportkpi.store.access import tokens_path
from supportkpi.store.postgres import PostgresStore
from supportkpi.store.store import Store, StoreError
from tests.conftest import demo_paths
from tests.server import cli, free_port
from tests.test_kept import derived, load_after_load, stored

# The KPIs are doubles computed by different engines in different orders: sums of the same
# doubles may differ in their last bits, never more than this relative difference.
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def pg_demo(pg_server, tmp_path_factory):
    """A two-week demo at 40 conversations a day, loaded into a DuckDB file and into its own
    PostgreSQL database: (duckdb store, postgres store, config path, files)."""
    directory = tmp_path_factory.mktemp("pg_demo")
    data = demo.generate(days=14, daily_volume=40)
    data.write(directory / "files")
    config = data.write_config(directory / "files")
    files = demo_paths(directory / "files")
    duck = Store.open(directory / "demo.duckdb")
    load(duck, files)
    pg = Store.open(pg_server.create_database("demo"))
    assert isinstance(pg, PostgresStore)
    load(pg, files)
    yield duck, pg, config, files
    duck.close()
    pg.close()


def _rows(table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(
            a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE
        )
    return a == b


def _differences(left: list[dict], right: list[dict]) -> list[str]:
    assert len(left) == len(right)
    return [
        f"{row.get('vendor')} {row.get('month')} {k}: {row[k]!r} vs {other.get(k)!r}"
        for row, other in zip(left, right, strict=True)
        for k in row
        if not _same(row[k], other.get(k))
    ]


def test_every_kpi_equals_duckdb(pg_demo):
    duck, pg, config_path, _ = pg_demo
    config = load_config(config_path)
    names = list(REGISTRY)
    expected = report(duck, names, by=("vendor",), config=config)
    got = report(pg, names, by=("vendor",), config=config)
    assert got.table.column_names == expected.table.column_names
    assert got.missing == expected.missing
    assert _differences(_rows(got.table), _rows(expected.table)) == []
    assert len(expected.table) == 3


def test_report_by_month_and_sla_equal_duckdb(pg_demo):
    duck, pg, config_path, _ = pg_demo
    config = load_config(config_path)
    names = [
        "chat_volume",
        "first_response_time",
        "csat",
        "cost_per_contact",
        "revenue_per_contact",
    ]
    names = [n for n in names if n in REGISTRY]
    by = ("vendor", "channel")
    expected = report(duck, names, by=by, period="week", config=config)
    got = report(pg, names, by=by, period="week", config=config)
    assert _differences(_rows(got.table), _rows(expected.table)) == []
    assert _differences(_rows(sla(pg, config)), _rows(sla(duck, config))) == []


def test_headline_periods_equal_duckdb_and_a_report_per_period(pg_demo):
    """The headline's period and the one before it, in one pass grouped by period on the
    server: each equals DuckDB's and a plain report over that period on the server."""
    duck, pg, config_path, _ = pg_demo
    config = load_config(config_path)
    first, last = views.data_days(duck, None, config)
    assert first and last
    now = (last - timedelta(days=6), last)
    before = (last - timedelta(days=13), last - timedelta(days=7))
    names = ["chat_volume", "first_response_time", "csat", "nps", "cost_per_contact"]
    kw = {"config": config, "targets": True, "samples": True}
    got = report_periods(pg, names, [now, before], **kw)
    expected = report_periods(duck, names, [now, before], **kw)
    for mine, theirs, (start, end) in zip(got, expected, [now, before], strict=True):
        plain = report(pg, names, (), None, start, end, **kw)
        assert _differences(mine.table.to_pylist(), theirs.table.to_pylist()) == []
        assert _differences(mine.table.to_pylist(), plain.table.to_pylist()) == []
        assert mine.missing == plain.missing


def test_volume_counted_independently(pg_demo):
    _, pg, config_path, _ = pg_demo
    with psycopg.connect(pg.url) as con:
        counted = dict(con.execute("SELECT vendor, count(*) FROM conversations GROUP BY vendor"))
    got = report(pg, ["chat_volume"], by=("vendor",), config=load_config(config_path)).table
    assert {r["vendor"]: r["chat_volume"] for r in got.to_pylist()} == counted


def test_escalations_read_as_numbers(pg_demo):
    duck, pg, config_path, _ = pg_demo
    config = load_config(config_path)
    got = views.escalation_reasons(pg, ["vendor"], config=config)
    expected = views.escalation_reasons(duck, ["vendor"], config=config)
    assert got.schema.field("rate").type == expected.schema.field("rate").type
    assert _differences(_rows(got), _rows(expected)) == []


def test_kept_facts_and_indexes_on_the_server(pg_demo):
    _, pg, config_path, _ = pg_demo
    window = load_config(config_path).follow_up_days
    assert kept.kept_tables(pg, window) is not None
    indexes = {name for (name,) in pg.run("SELECT indexname FROM pg_indexes")}
    assert {"kept_facts__customer_id_created_at", "conversations__key"} <= indexes
    assert "revenue_events__customer_id_occurred_at" in indexes


def test_loading_again_changes_nothing(pg_demo):
    _, pg, _, files = pg_demo
    before = pg.counts()
    quarantined = pg.quarantined()[0]
    summary = load(pg, files)
    assert all(c.new == 0 and c.updated == 0 for c in summary.tables.values())
    assert sum(c.unchanged for c in summary.tables.values()) > 0
    assert pg.counts() == before
    assert pg.quarantined()[0] == quarantined


def _small_files(directory: Path, conversation: str, revenue: str) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "conversations.csv").write_text(
        "conversation_id,channel,created_at,customer_id,vendor\n"
        f"{conversation},chat,2026-03-02 10:00:00,cu1,atlas\n"
        "bad,chat,not a time,cu2,atlas\n"
    )
    (directory / "revenue_events.csv").write_text(
        "event_id,customer_id,occurred_at,amount,kind,conversation_id\n"
        f"{revenue},cu1,2026-03-02 11:00:00,10.5,purchase,{conversation}\n"
    )
    return [directory / "conversations.csv", directory / "revenue_events.csv"]


def test_a_failed_load_leaves_the_store_as_it_was(pg_server, tmp_path):
    url = pg_server.create_database("rollback")
    with Store.open(url) as pg:
        summary = load(pg, _small_files(tmp_path / "one", "c1", "e1"))
        assert summary.tables["conversations"].new == 1
        assert summary.quarantined["bad_timestamp"] == 1
        before = pg.counts()
        # the server refuses the revenue row: the load's conversation must not land either
        pg.run(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
        )
        pg.run(
            "CREATE TRIGGER refuse BEFORE INSERT ON revenue_events "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
        with pytest.raises(psycopg.Error, match="refused by the test"):
            load(pg, _small_files(tmp_path / "two", "c2", "e2"))
        assert pg.counts() == before
        assert pg.execute("SELECT conversation_id FROM conversations") == [("c1",)]
        assert generation.current(pg) == 1  # raised by the first load only


def test_a_vendor_may_not_send_another_vendors_records(pg_demo):
    _, pg, _, _ = pg_demo
    (theirs,) = pg.execute("SELECT conversation_id FROM conversations WHERE vendor = 'northwind'")[
        0
    ]
    before = pg.counts()
    body = (
        '[{"message_id": "intruder", "conversation_id": "' + theirs + '", '
        '"sent_at": "2026-06-20 10:00:00", "author_role": "agent"}]'
    ).encode()
    with pytest.raises(ForeignRecords, match="not one of your conversations"):
        load_records(pg, {"messages": body}, "api", vendor="atlas")
    assert pg.counts() == before


def test_duckdb_only_sql_is_never_sent(pg_demo):
    _, pg, _, _ = pg_demo
    for sql in (
        "SELECT conversation_id FROM conversations SEMI JOIN messages USING (conversation_id)",
        "SELECT conversation_id FROM conversations ANTI JOIN messages USING (conversation_id)",
        "INSERT OR REPLACE INTO conversations (conversation_id) VALUES ('x')",
        "SELECT vendor, count(*) FROM conversations GROUP BY ALL",
        "SELECT count(*) FROM (SELECT 1 FROM conversations)",
    ):
        with pytest.raises(StoreError, match="PostgreSQL has no"):
            pg.execute(sql)
    # the same statements in DuckDB's dialect that PostgreSQL also has are rewritten
    assert pg.execute("SELECT count(*) FILTER (vendor = ?) >= 0 FROM conversations", ["atlas"])


def test_scheme_and_tokens_path(tmp_path):
    with pytest.raises(StoreError, match="scheme 'mysql' is not supported"):
        Store.open("mysql://localhost/db")
    config = tmp_path / "conf" / "supportkpi.toml"
    url = "postgresql://someone@db.example:5432/support"
    assert tokens_path(url, None, config) == tmp_path / "conf" / "supportkpi.tokens.json"


def test_demo_then_report_sla_and_serve(pg_server, tmp_path):
    """`supportkpi demo --db postgresql://…`, then `report`, `sla` and `serve`, whose
    requests run side by side."""
    url = pg_server.create_database("cli")
    out = tmp_path / "demo-data"
    cli("demo", "--db", url, "--out", out, "--days", "7", "--volume", "30")
    config = out / "supportkpi.toml"
    shown = cli(
        "report", "--db", url, "--config", config, "--kpi", "chat_volume,csat", "--format", "json"
    ).stdout
    assert '"vendor": "atlas"' in shown
    assert "atlas" in cli("sla", "--db", url, "--config", config).stdout
    token = cli("token", "create", "--role", "viewer", "--db", url, "--config", config).stdout
    assert (tmp_path / "demo-data" / "supportkpi.tokens.json").exists()
    _serve_side_by_side(url, config, token.strip())


def _serve_side_by_side(url: str, config: Path, token: str) -> None:
    import subprocess

    import httpx

    from tests.server import CLI, _wait

    port = free_port()
    log = config.parent / "serve.log"
    with open(log, "w") as f:
        process = subprocess.Popen(
            [str(CLI), "serve", "--db", url, "--port", str(port), "--config", str(config)],
            stdout=f,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait(base, process, log)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            alone = client.get("/v1/headline").json()
        answers: dict[str, httpx.Response] = {}

        def get(path: str) -> None:
            with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                answers[path] = client.get(path)

        paths = [
            "/v1/report?kpi=chat_volume,first_response_time,csat&by=vendor,channel&period=day",
            "/v1/headline",
            "/v1/escalations",
            "/v1/sla",
            "/v1/vendors",
        ]
        threads = [threading.Thread(target=get, args=(p,)) for p in paths]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {p: r.status_code for p, r in answers.items()} == dict.fromkeys(paths, 200)
        assert answers["/v1/headline"].json() == alone
        assert answers["/v1/vendors"].json() == ["atlas", "in-house", "northwind"]
    finally:
        process.terminate()
        process.wait(10)


def test_a_request_gets_its_own_pooled_connection_with_a_timeout(pg_demo, monkeypatch):
    _, pg, _, _ = pg_demo
    monkeypatch.setenv("SUPPORTKPI_STATEMENT_TIMEOUT", "2.5")
    server = PostgresStore.open(pg.url)
    try:
        with server.session() as one, server.session() as two:
            pids = {s.run("SELECT pg_backend_pid()")[0][0] for s in (one, two, server)}
            assert len(pids) == 3
            assert one.run("SHOW statement_timeout") == [("2500ms",)]
            with pytest.raises(psycopg.errors.QueryCanceled):
                one.run("SELECT pg_sleep(5)")
            assert two.execute("SELECT count(*) FROM conversations")[0][0] > 0
    finally:
        server.close()


def test_each_load_patches_the_kept_facts_as_on_duckdb(pg_server, monkeypatch):
    """The walk of tests/test_kept.py on PostgreSQL: each load computes again only the
    facts of the conversations it changed (a rebuild is refused), and they equal facts
    derived from scratch after every load."""
    monkeypatch.setattr(kept, "REBUILD_SHARE", 1.0)
    with Store.open(pg_server.create_database("walk")) as pg:
        real = kept.rebuild
        calls = []
        monkeypatch.setattr(kept, "rebuild", lambda *a, **k: (calls.append(a), real(*a, **k)))
        load_after_load(pg)
    assert len(calls) == 1  # the first load's


def test_loads_in_batches_keep_the_facts_of_one_whole_load(pg_server, tmp_path, monkeypatch):
    """The demo loaded in three batches by time (later batches bring new messages and
    surveys of conversations loaded before): after each, the kept facts equal facts derived
    from scratch, without a rebuild after the first; at the end they equal the facts of a
    DuckDB store that loaded everything at once. Loading the last batch again changes
    nothing."""
    data = demo.generate(days=14, daily_volume=20, broken_rows=False)
    start = min(data.tables["conversations"]["created_at"].to_pylist())
    cuts = [_last_reply_after(data.tables["messages"], start + timedelta(days=d)) for d in (4, 9)]
    batches = split(data.tables, cuts)
    paths = [write(batch, tmp_path / f"batch{i}") for i, batch in enumerate(batches)]
    earlier = set(batches[0]["conversations"]["conversation_id"].to_pylist())
    for table in ("messages", "surveys"):
        assert earlier & set(batches[1][table]["conversation_id"].to_pylist())

    monkeypatch.setattr(kept, "REBUILD_SHARE", 1.0)
    real, rebuilds = kept.rebuild, []
    monkeypatch.setattr(kept, "rebuild", lambda *a, **k: (rebuilds.append(a), real(*a, **k)))
    with Store.open(pg_server.create_database("batches")) as pg:
        for batch in paths:
            load(pg, batch)
            assert stored(pg) == derived(pg)
        assert len(rebuilds) == 1
        facts, before = _by_id(pg), pg.counts()
        again = load(pg, paths[-1])
        assert all(c.new == c.updated == 0 for c in again.tables.values())
        assert _by_id(pg) == facts and pg.counts() == before
        # a message written behind the store's back: the next load rebuilds the facts
        pg.run(
            "INSERT INTO messages (message_id, conversation_id, sent_at, author_role) "
            "SELECT 'behind', conversation_id, created_at, 'agent' FROM conversations LIMIT 1"
        )
        with pytest.warns(kept.KeptFactsRebuilt):
            load(pg, paths[-1])
        assert len(rebuilds) == 2 and stored(pg) == derived(pg)
        pg.run("DELETE FROM messages WHERE message_id = 'behind'")
        with pytest.warns(kept.KeptFactsRebuilt):
            load(pg, paths[-1])
        assert _by_id(pg) == facts
        with Store.open(tmp_path / "whole.duckdb") as duck:
            load(duck, [p for batch in paths for p in batch])
            assert duck.counts() == before
            whole = _by_id(duck)
    assert len(facts) == data.tables["conversations"].num_rows
    assert _differences(facts, whole) == []


def _last_reply_after(messages, moment):
    """The time of the last message of the first conversation with a message after
    ``moment`` and messages at more than one time: a cut there splits that conversation."""
    times: dict[str, list] = {}
    for row in messages.select(["conversation_id", "sent_at"]).to_pylist():
        times.setdefault(row["conversation_id"], []).append(row["sent_at"])
    return min(max(t) for t in times.values() if min(t) > moment and len(set(t)) > 1)


def _by_id(store: Store) -> list[dict]:
    rows = store.con.table(kept.FACTS).to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: r["conversation_id"])
