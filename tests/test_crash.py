"""A load killed at any moment leaves the store as it was or as the load made it, and the
conversation facts kept beside the data always match the data.

A real ``supportkpi load`` of 5,000 conversations and their messages into a store holding the
first half is killed with SIGKILL at points spread over its whole run, the last ones inside its
final commit. After each kill the store is opened as a user would: the data is either all old
or all new, and the kept facts agree with facts derived from the data (or, had a crash ever
left them out of step, are rebuilt on opening, and say so).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from supportkpi.analysis.query import run, select_kpis
from supportkpi.config import Config
from supportkpi.load.ingest import load
from supportkpi.store import kept
from supportkpi.store.store import Store
from tests.generated import generate

KPIS = ["chat_volume", "first_response_time", "response_time", "resolution_rate", "follow_up_rate"]
SUPPORTKPI = str(Path(sys.executable).with_name("supportkpi"))


def _half(files: list[Path], directory: Path) -> list[Path]:
    """The first half of the conversations and only their messages."""
    directory.mkdir()
    conversations = pq.read_table(files[0])
    kept_ids = set(conversations["conversation_id"].to_pylist()[: conversations.num_rows // 2])
    out = []
    for path in files:
        table = pq.read_table(path)
        if "conversation_id" in table.column_names:
            mask = [c in kept_ids for c in table["conversation_id"].to_pylist()]
            table = table.filter(mask)
        pq.write_table(table, directory / path.name)
        out.append(directory / path.name)
    return out


def _numbers(store: Store, share: bool) -> list[dict]:
    kpis = select_kpis(KPIS, None, False)
    result = run(store, kpis, ["vendor"], None, None, None, None, None, Config(), share=share)
    return result.table.to_pylist()


def _same(fast: list[dict], plain: list[dict]) -> None:
    """The same numbers, up to the order in which floating-point sums were taken."""
    assert len(fast) == len(plain)
    for mine, derived in zip(fast, plain, strict=True):
        for key, value in mine.items():
            if isinstance(value, float):
                assert value == pytest.approx(derived[key], rel=1e-9), key
            else:
                assert value == derived[key], key


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    base = tmp_path_factory.mktemp("crash")
    files = generate(base / "full", "chat", seed=11).files
    with Store.open(base / "before.duckdb") as store:
        load(store, _half(files, base / "half"))
        before = store.counts()["messages"]
    started = time.monotonic()
    shutil.copy(base / "before.duckdb", base / "whole.duckdb")
    subprocess.run([SUPPORTKPI, "load", *map(str, files), "--db", str(base / "whole.duckdb")],
                   check=True, capture_output=True)  # fmt: skip
    whole = time.monotonic() - started
    with Store.open(base / "whole.duckdb", read_only=True) as store:
        after = store.counts()["messages"]
    assert after > before
    return base, files, before, after, whole


def _killed(db: Path, files: list[Path], when: float, in_commit: bool) -> None:
    """Run the load and kill it ``when`` seconds after it starts or, ``in_commit``, after
    it begins writing its commit to the write-ahead log."""
    wal = db.with_name(db.name + ".wal")
    process = subprocess.Popen(
        [SUPPORTKPI, "load", *map(str, files), "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if in_commit:
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if wal.exists() and wal.stat().st_size > 0:
                break
            time.sleep(0.0005)
    time.sleep(when)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("when", "in_commit"),
    [(0.5, False), (1.0, False), (1.5, False)]
    + [(d, True) for d in (0.0, 0.001, 0.003, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3)],
)
def test_a_load_killed_at_any_moment_leaves_data_and_facts_in_step(prepared, when, in_commit):
    base, files, before, after, _ = prepared
    db = base / f"killed-{when}-{in_commit}.duckdb"
    shutil.copy(base / "before.duckdb", db)
    _killed(db, files, when, in_commit)
    moment = f"{when:.3f} s after {'the commit began' if in_commit else 'the start'}"
    with Store.open(db) as store:
        messages = store.counts()["messages"]
        assert messages in (before, after), f"half a load: {messages} messages"
        print(f"killed {moment}: {'new' if messages == after else 'old'} data")
        if kept.repair(store):  # said loudly by every interface that opens a store to write
            print(f"killed {moment}: {kept.REBUILT}")
        assert not kept.stale(store)
        assert kept.kept_tables(store, 7) is not None
        _same(_numbers(store, share=True), _numbers(store, share=False))


def test_facts_out_of_step_with_the_data_are_found_and_rebuilt(prepared, tmp_path):
    """What a crash between data and facts would leave (never seen since both commit
    together): found on opening, rebuilt, and reports never read the stale facts."""
    base, _, _, _, _ = prepared
    db = tmp_path / "stale.duckdb"
    shutil.copy(base / "before.duckdb", db)
    with Store.open(db) as store:
        right = _numbers(store, share=False)
        store.execute("DELETE FROM messages WHERE conversation_id IN ('c1', 'c2', 'c3')")
        assert kept.stale(store)
        assert kept.kept_tables(store, 7) is None  # reports derive the facts meanwhile
        now = _numbers(store, share=False)
        _same(_numbers(store, share=True), now)
        assert [r["response_time"] for r in now] != [r["response_time"] for r in right]
        assert kept.repair(store)
        assert not kept.stale(store) and kept.kept_tables(store, 7) is not None
    warned = subprocess.run(
        [SUPPORTKPI, "report", "--db", str(db), "--kpi", "chat_volume"],
        capture_output=True,
        text=True,
    )
    assert "rebuilt" not in warned.stderr  # repaired once, quiet after
    with Store.open(db) as store:
        store.execute("DELETE FROM messages WHERE conversation_id = 'c4'")
    loud = subprocess.run(
        [SUPPORTKPI, "load", str(base / "half" / "surveys.parquet"), "--db", str(db)],
        capture_output=True,
        text=True,
    )
    assert loud.returncode == 0, loud.stderr
    assert "did not match its data" in loud.stderr
