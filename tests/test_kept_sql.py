"""Compiled SQL kept on disk (``analysis/kept_sql.py``): a later process reads the SQL an
earlier one compiled, under a name that does not depend on the process, and gets the same
numbers; a damaged file, a directory that cannot be written or ``off`` only mean compiling."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from supportkpi.analysis import compiled, kept_queries, kept_sql, query, shapes
from supportkpi.kpis import REGISTRY
from tests.test_demo import assert_same_rows

NAMES = ["chat_volume", "first_response_time", "average_handle_time", "csat", "nps"]
WINDOW = (date(2026, 7, 1), date(2026, 7, 28))  # small_demo: June 1 – August 9, 2026


@pytest.fixture
def kept(tmp_path, monkeypatch) -> Path:
    """An empty directory to keep SQL in, and no SQL compiled in this process."""
    where = tmp_path / "kept"
    monkeypatch.setenv(kept_sql.ENV, str(where))
    restart(where)
    yield where
    restart(where)


def restart(where: Path) -> None:
    """As in a process just started, with only the SQL kept in ``where``: the reports kept by
    shape (``analysis/kept_queries.py``, tested in ``test_kept_queries.py``) are read before
    the SQL is looked for, so they are taken away to test what lies beneath."""
    compiled._WINDOWED.clear()
    shapes.BUILT.clear()
    for path in where.glob(f"*{kept_queries.SUFFIX}"):
        path.unlink()


def report(store, config, names=NAMES, by=("vendor",), filters=None):
    kpis = [REGISTRY[n] for n in names]
    with store.session() as session:
        return query.run(session, kpis, list(by), None, *WINDOW, filters, "UTC", config)


def rows(result) -> list[dict]:
    return result.table.to_pylist()


def no_compiling(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("compiled, though its SQL was kept")

    monkeypatch.setattr(compiled.Compiled, "of", refuse)


def test_the_sql_kept_is_read_back_and_answers_the_same(demo, kept, monkeypatch):
    store, config = demo
    first = report(store, config)
    files = sorted(kept.glob("*.sql"))
    assert files, "nothing was kept"
    for path in files:
        assert path.read_text().startswith(f"-- supportkpi compiled query {path.stem} ")
    restart(kept)
    no_compiling(monkeypatch)
    again = report(store, config)
    assert_same_rows(rows(again), rows(first))
    assert again.missing == first.missing
    assert sorted(kept.glob("*.sql")) == files


def test_a_damaged_file_is_compiled_again_and_replaced(demo, kept):
    store, config = demo
    first = report(store, config)
    files = sorted(kept.glob("*.sql"))

    def cut(path: Path) -> None:  # its header whole, its SQL cut in half
        text = path.read_text()
        path.write_text(text[: len(text) // 2])

    damage = [
        cut,
        lambda p: p.write_text(p.read_text().partition("\n")[0] + "\n"),  # no SQL at all
        lambda p: p.write_text(p.read_text().replace("SELECT", "SELECT 1 AS x,", 1)),  # altered
        lambda p: p.write_text("SELECT 1 AS chat_volume"),  # not ours
        lambda p: p.write_bytes(b"\xff\xfe\x00"),  # not text
    ]
    for path, spoil in zip(files, damage * len(files), strict=False):
        spoil(path)
    restart(kept)
    again = report(store, config)
    assert_same_rows(rows(again), rows(first))
    for path in files:
        header, _, sql = path.read_text().partition("\n")
        assert header.startswith(f"-- supportkpi compiled query {path.stem} ")
        assert sql.startswith(("SELECT", "WITH")) and "chat_volume" in sql


def test_a_directory_others_can_write_to_is_not_used(demo, kept, monkeypatch, caplog):
    """The SQL kept is run on the store: a directory anyone else could put a file in is
    neither read nor written."""
    store, config = demo
    first = report(store, config)
    files = sorted(kept.glob("*.sql"))
    kept.chmod(0o777)
    restart(kept)
    made = []
    of = compiled.Compiled.of.__func__
    monkeypatch.setattr(
        compiled.Compiled, "of", classmethod(lambda c, *a, **k: made.append(1) or of(c, *a, **k))
    )
    again = report(store, config, by=("channel",))
    assert made, "SQL was read from a directory others can write to"
    assert sorted(kept.glob("*.sql")) == files  # nothing written there either
    assert first.table.num_rows and again.table.num_rows
    assert f"compiled SQL is not kept in {kept}" in caplog.text


@pytest.mark.parametrize("where", ["off", "a file"])
def test_nothing_kept_when_off_or_not_writable(demo, tmp_path, monkeypatch, where):
    store, config = demo
    expected = rows(report(store, config))
    if where == "off":
        monkeypatch.setenv(kept_sql.ENV, "off")
        assert kept_sql.directory() is None
    else:
        blocker = tmp_path / "blocker"
        blocker.write_text("a file where the directory would be")
        monkeypatch.setenv(kept_sql.ENV, str(blocker / "sql"))
    compiled._WINDOWED.clear()
    shapes.BUILT.clear()
    assert_same_rows(rows(report(store, config)), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == (["blocker"] if where != "off" else [])


def test_the_name_is_the_expression_and_the_compiler(demo, kept, monkeypatch):
    store, config = demo
    names: list[str | None] = []
    name = kept_sql.name_of

    def record(*args, **kwargs):
        names.append(name(*args, **kwargs))
        return names[-1]

    monkeypatch.setattr(kept_sql, "name_of", record)
    report(store, config, filters={"vendor": ["atlas"]})
    report(store, config, filters={"vendor": ["northwind"]})
    atlas, northwind = names
    assert atlas and northwind and atlas != northwind
    restart(kept)
    report(store, config, filters={"vendor": ["atlas"]})
    assert names[-1] == atlas  # the same expression built again: the same name
    monkeypatch.setattr(kept_sql, "code", lambda: b"another version of the code")
    restart(kept)
    report(store, config, filters={"vendor": ["atlas"]})
    assert names[-1] not in (atlas, northwind)
    assert len(list(kept.glob("*.sql"))) == 3


def test_the_name_says_which_compiler_and_code_made_it(demo):
    """The same expression compiled by another compiler, for another dialect, with its
    common table expressions materialized, or by other source gets another name."""
    from ibis.backends.sql.compilers.duckdb import DuckDBCompiler

    from supportkpi.store.duckdb_sql import StoreCompiler

    store, _ = demo
    expr = store.con.table("conversations").select("conversation_id", "vendor")
    ours = StoreCompiler()
    name = kept_sql.name_of(ours, "duckdb", expr, materialized=False)
    assert name == kept_sql.name_of(StoreCompiler(), "duckdb", expr, materialized=False)
    others = [
        kept_sql.name_of(DuckDBCompiler(), "duckdb", expr, materialized=False),
        kept_sql.name_of(ours, "postgres", expr, materialized=False),
        kept_sql.name_of(ours, "duckdb", expr, materialized=True),
        kept_sql.name_of(ours, "duckdb", expr.select("vendor"), materialized=False),
    ]
    assert None not in others and len({name, *others}) == 5
    for module in kept_sql.COMPILER_MODULES:  # each compiling module's source is in the name
        source = Path(__import__(module, fromlist=["_"]).__file__).read_bytes()
        assert hashlib.sha256(source).hexdigest().encode() in kept_sql.code()


def test_the_least_recently_used_are_removed(kept, monkeypatch):
    monkeypatch.setattr(kept_sql, "KEEP", 10)
    for i in range(10):
        kept_sql.write(f"{i:040x}", f"SELECT {i}")
        os.utime(kept / f"{i:040x}.sql", (1000 + i, 1000 + i))
    assert kept_sql.read(f"{0:040x}") == "SELECT 0"  # used now: the most recent
    kept_sql.write(f"{10:040x}", "SELECT 10")
    left = sorted(int(p.stem, 16) for p in kept.glob("*.sql"))
    assert left == [0, *range(3, 11)]  # past 10 files: the two least recently used removed
    assert not list(kept.glob(".*"))  # no half-written file left


CHILD = """
import json, sys
from datetime import date
from supportkpi.analysis import compiled, kept_sql, query
from supportkpi.config import load_config
from supportkpi.kpis import REGISTRY
from supportkpi.store.store import Store

names = []
name_of = kept_sql.name_of
kept_sql.name_of = lambda *a, **kw: names.append(name_of(*a, **kw)) or names[-1]
made = []
of = compiled.Compiled.of.__func__
compiled.Compiled.of = classmethod(lambda cls, *a, **kw: made.append(1) or of(cls, *a, **kw))
built = []
aggregate = query.aggregate
query.aggregate = lambda *a, **kw: built.append(1) or aggregate(*a, **kw)
with Store.open(sys.argv[1], read_only=True) as store, store.session() as session:
    kpis = [REGISTRY[n] for n in json.loads(sys.argv[3])]
    result = query.run(session, kpis, ["vendor", "week"], None, date(2026, 7, 1),
                       date(2026, 7, 28), None, "UTC", load_config(sys.argv[2]))
print(json.dumps({"names": names, "compiled": len(made), "built": len(built),
                  "rows": result.table.to_pylist()}, default=str))
"""


def test_a_new_process_reads_what_an_earlier_one_kept(small_demo, tmp_path):
    """Processes with different hash seeds: the second neither builds nor compiles and
    answers the same; with only the SQL kept, a third looks it up under the same names and
    compiles nothing."""
    db, config = small_demo
    names = json.dumps([*NAMES, "first_contact_resolution", "cost_per_contact"])
    where = tmp_path / "kept"

    def child(seed: str) -> dict:
        env = {**os.environ, kept_sql.ENV: str(where), "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(db), str(config), names],
            capture_output=True, text=True, env=env, check=True, timeout=300,
        )  # fmt: skip
        return json.loads(done.stdout)

    first, second = child("1"), child("2")
    assert first["compiled"] >= 1 and first["names"] and first["built"] == 1
    assert second["compiled"] == 0 and second["built"] == 0
    assert_same_rows(second["rows"], first["rows"])
    for path in where.glob(f"*{kept_queries.SUFFIX}"):
        path.unlink()
    third = child("3")
    assert third["names"] == first["names"]
    assert third["compiled"] == 0 and third["built"] == 1
    assert_same_rows(third["rows"], first["rows"])
