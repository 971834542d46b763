"""Load semantics: idempotent upserts, one transaction per call, bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from supportkpi.load.ingest import load
from supportkpi.store.store import Store, StoreError
from tests.conftest import quarantine

CONVERSATIONS = """
    conversation_id,channel,created_at,topic,transfers
    c1,chat,2024-05-01 10:00:00,billing,0
    c2,email,2024-05-01 11:00:00,returns,1
    c3,chat,2024-05-01 12:00:00,billing,
    """
MESSAGES = """
    message_id,conversation_id,sent_at,author_role
    m1,c1,2024-05-01 10:00:05,customer
    m2,c1,2024-05-01 10:00:40,agent
    m3,c404,2024-05-01 10:00:40,agent
    """


def _snapshot(store: Store) -> dict[str, list[tuple]]:
    return {
        t: store.execute(f"SELECT * EXCLUDE (quarantined_at) FROM {t} ORDER BY ALL")
        if t == "quarantine"
        else store.execute(f"SELECT * FROM {t} ORDER BY ALL")
        for t in store.counts()
    }


def test_loading_twice_changes_nothing(store, write):
    files = [write("conversations.csv", CONVERSATIONS), write("messages.csv", MESSAGES)]
    first = load(store, files)
    before = _snapshot(store)
    second = load(store, files)
    assert _snapshot(store) == before
    assert (first.tables["conversations"].new, second.tables["conversations"].new) == (3, 0)
    assert second.tables["conversations"].unchanged == 3
    assert second.tables["messages"].unchanged == 2
    assert store.counts()["quarantine"] == 1


def test_keys_with_an_empty_part_still_match(store, write):
    costs = write(
        "costs.csv",
        """
        vendor,period_start,period_end,amount,kind
        acme,2024-05-01,2024-06-01,100,
        acme,2024-05-01,2024-06-01,40,tooling
        """,
    )
    load(store, [costs])
    summary = load(store, [costs])
    assert summary.tables["costs"].unchanged == 2
    assert store.counts()["costs"] == 2


def test_changed_rows_are_updated_and_counted(store, write):
    load(store, [write("conversations.csv", CONVERSATIONS)])
    changed = CONVERSATIONS.replace(
        "c2,email,2024-05-01 11:00:00,returns,1", "c2,email,2024-05-01 11:00:00,refund,1"
    )
    summary = load(store, [write("conversations.csv", changed + "    c4,chat,2024-05-02,,\n")])
    counts = summary.tables["conversations"]
    assert (counts.new, counts.updated, counts.unchanged) == (1, 1, 2)
    assert store.execute("SELECT topic FROM conversations WHERE conversation_id = 'c2'") == [
        ("refund",)
    ]


def test_a_file_with_some_columns_updates_only_those(store, write):
    load(store, [write("conversations.csv", CONVERSATIONS)])
    partial = write(
        "conversations_resolutions.csv",
        """
        conversation_id,channel,created_at,resolved_at
        c1,chat,2024-05-01 10:00:00,2024-05-01 10:30:00
        """,
    )
    summary = load(store, [partial])
    assert summary.tables["conversations"].updated == 1
    assert store.execute(
        "SELECT topic, transfers, resolved_at IS NOT NULL FROM conversations "
        "WHERE conversation_id = 'c1'"
    ) == [("billing", 0, True)]


def test_an_empty_value_clears_a_stored_one(store, write):
    load(store, [write("conversations.csv", CONVERSATIONS)])
    load(store, [write("conversations.csv", CONVERSATIONS.replace("billing,0", ",0"))])
    assert store.execute("SELECT topic FROM conversations WHERE conversation_id = 'c1'") == [
        (None,)
    ]


def test_a_later_file_in_the_same_load_wins(store, write, tmp_path):
    (tmp_path / "b").mkdir()
    first = write("conversations.csv", CONVERSATIONS)
    second = write(
        "b/conversations.csv",
        """
        conversation_id,channel,created_at,topic
        c1,chat,2024-05-01 10:00:00,delivery
        """,
    )
    summary = load(store, [first, second])
    assert summary.tables["conversations"].new == 3
    assert store.execute("SELECT topic FROM conversations WHERE conversation_id = 'c1'") == [
        ("delivery",)
    ]


def test_reloading_a_fixed_file_clears_its_quarantine(store, write):
    path = write("messages.csv", MESSAGES)
    load(store, [write("conversations.csv", CONVERSATIONS), path])
    assert quarantine(store) == [(4, "conversation_id", "unknown_ref")]
    write("messages.csv", MESSAGES.replace("c404", "c1"))
    load(store, [path])
    assert quarantine(store) == []
    assert store.counts()["messages"] == 3


def test_an_error_during_the_merge_leaves_the_store_unchanged(store, write, monkeypatch):
    load(store, [write("conversations.csv", CONVERSATIONS)])
    before = _snapshot(store)
    real_merge = Store.merge

    def merge_then_fail(self, table, staged, provided, touched=None, **how):
        counts = real_merge(self, table, staged, provided, touched, **how)
        if table == "messages":
            raise RuntimeError("disk on fire")
        return counts

    monkeypatch.setattr(Store, "merge", merge_then_fail)
    changed = write(
        "conversations.csv",
        CONVERSATIONS.replace("returns", "refund") + "    c9,chat,2024-05-03,,\n",
    )
    kept_before = store.execute("SELECT * FROM kept_facts ORDER BY conversation_id")
    with pytest.raises(RuntimeError, match="disk on fire"):
        load(store, [changed, write("messages.csv", MESSAGES)])
    assert _snapshot(store) == before
    assert store.execute("SELECT * FROM kept_facts ORDER BY conversation_id") == kept_before


def test_a_killed_process_mid_commit_leaves_the_store_unchanged(tmp_path, write):
    db = tmp_path / "killed.duckdb"
    conv = write("conversations.csv", CONVERSATIONS)
    with Store.open(db) as store:
        load(store, [conv])
        before = _snapshot(store)
    more = write(
        "more/conversations.csv",
        """
        conversation_id,channel,created_at,topic
        c1,chat,2024-05-01 10:00:00,changed
        k1,chat,2024-05-02 10:00:00,new
        """,
    )
    msgs = write("messages.csv", MESSAGES)
    script = textwrap.dedent(f"""
        import os, signal
        from supportkpi.store.store import Store
        from supportkpi.load.ingest import load
        real = Store.merge
        def merge(self, table, staged, provided, touched=None, **how):
            counts = real(self, table, staged, provided, touched, **how)
            if table == "messages":  # conversations are merged, the commit has not come
                os.kill(os.getpid(), signal.SIGKILL)
            return counts
        Store.merge = merge
        load(Store.open({str(db)!r}), [{str(more)!r}, {str(msgs)!r}])
        """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    with Store.open(db) as store:
        assert _snapshot(store) == before


def test_store_urls(tmp_path):
    for url in (f"duckdb:///{tmp_path}/a.duckdb", str(tmp_path / "b.duckdb"), ":memory:"):
        with Store.open(url) as store:
            assert store.counts()["conversations"] == 0
    with pytest.raises(StoreError, match="scheme 'mysql' is not supported"):
        Store.open("mysql://localhost/db")
    with pytest.raises(StoreError, match="no store at"):
        Store.open(tmp_path / "missing.duckdb", read_only=True)


def _big_csv(path, n: int) -> None:
    rng = np.random.default_rng(3)
    table = pa.table(
        {
            "conversation_id": np.char.add("c", np.arange(n).astype(str)),
            "channel": np.where(rng.random(n) < 0.6, "chat", "email"),
            "created_at": pa.array(
                1_700_000_000_000_000 + np.arange(n) * 1_000_000, pa.timestamp("us", tz="UTC")
            ),
            "customer_id": np.char.add("u", rng.integers(0, n // 3, n).astype(str)),
            "vendor": np.where(rng.random(n) < 0.5, "in-house", "acme"),
            "agent_id": np.char.add("a", rng.integers(0, 60, n).astype(str)),
            "transfers": rng.integers(0, 3, n),
            "escalated": rng.random(n) < 0.1,
            "handle_seconds": np.round(rng.random(n) * 600, 1),
            "topic": np.where(rng.random(n) < 0.5, "billing", "delivery"),
        }
    )
    pacsv.write_csv(table, path)


@pytest.mark.slow
def test_a_million_row_csv_loads_in_bounded_memory(tmp_path):
    """Unbounded, this load peaked at 1.5 GB; with the engine capped it stays under 1 GB."""
    path = tmp_path / "conversations.csv"
    _big_csv(path, 1_000_000)
    script = textwrap.dedent(f"""
        from supportkpi.store.store import Store
        from supportkpi.load.ingest import load
        store = Store.open({str(tmp_path / "big.duckdb")!r})
        summary = load(store, [{str(path)!r}])
        print(summary.tables["conversations"].new, store.counts()["conversations"])
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec
        status = open("/proc/self/status").read()
        print(next(line.split()[1] for line in status.splitlines()
                   if line.startswith("VmHWM:")))
        """)
    env = {**os.environ, "SUPPORTKPI_MEMORY_LIMIT": "256MB"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    counts, peak_kb = proc.stdout.split("\n")[:2]
    assert counts == "1000000 1000000"
    assert int(peak_kb) < 1_000_000, f"peak RSS {int(peak_kb) / 1e3:.0f} MB"
