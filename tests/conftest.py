"""Shared fixtures: a fresh store per test, fixture files, and the real public data."""

from __future__ import annotations

import itertools
import os
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from supportkpi.store.store import Store

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _kept_sql_of_the_tests(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Compiled SQL is kept in a directory of the test session's own (each worker its own),
    never in the home directory of whoever runs the tests; servers started by the tests
    inherit it."""
    from supportkpi.analysis.kept_sql import ENV

    before = os.environ.get(ENV)
    os.environ[ENV] = str(tmp_path_factory.mktemp("kept-sql"))
    yield
    if before is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = before


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Terminal tables are as wide as the terminal: a test that reads them does not depend
    on the terminal it runs in (or on none, as in a worker process); wide unless the test sets
    COLUMNS itself for a command."""
    monkeypatch.setenv("COLUMNS", "200")
    from supportkpi.cli._common import err, out

    for console in (out, err):  # made at import, perhaps under another COLUMNS: follow the env
        monkeypatch.setattr(console, "_width", None)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A new, empty DuckDB file store."""
    s = Store.open(tmp_path / "test.duckdb")
    yield s
    s.close()


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a dedented text fixture file under the test's directory; return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


def shared_data(relative: str) -> Path:
    """A file of ../shared/data: in CI its absence fails the test, elsewhere it skips."""
    path = SHARED_DATA / relative
    if not path.exists():
        message = f"the public data file {path} is not here (../shared beside the checkout)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def quarantine(store: Store) -> list[tuple]:
    """(line, column_name, rule) of every quarantined row, in file order."""
    return store.execute("SELECT line, column_name, rule FROM quarantine ORDER BY source, line")


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory) -> Path:
    """The demo operation written once as files, with its supportkpi.toml beside them."""
    from supportkpi import demo

    directory = tmp_path_factory.mktemp("demo") / "files"
    data = demo.generate()
    data.write(directory)
    data.write_config(directory)
    return directory


def demo_paths(directory: Path) -> list[Path]:
    """The demo's data files in a folder made by ``demo_files``."""
    return sorted(p for p in directory.iterdir() if p.suffix in (".csv", ".parquet"))


@pytest.fixture(scope="session")
def demo_store(demo_files):
    """The demo operation, loaded once for every test that reads it: (store, summary)."""
    from supportkpi.load.ingest import load

    store = Store.open(demo_files.parent / "demo.duckdb")
    summary = load(store, demo_paths(demo_files))
    yield store, summary, demo_files / "supportkpi.toml"
    store.close()


@pytest.fixture(scope="session")
def demo_api(demo_files, tmp_path_factory):
    """(server, tokens by role, a copy of the served store to compute expected answers on)."""
    from supportkpi.config import load_config
    from supportkpi.load.ingest import load
    from tests.server import make_token, serving

    directory = tmp_path_factory.mktemp("api")
    db = directory / "served.duckdb"
    with Store.open(db) as store:
        load(store, demo_paths(demo_files))
    shutil.copy(db, directory / "reference.duckdb")

    tokens = {
        "admin": make_token(db, "admin"),
        "viewer": make_token(db, "viewer"),
        "vendor": make_token(db, "vendor", "atlas"),
    }
    config = demo_files / "supportkpi.toml"
    with serving(db, "--config", config, "--warm") as server:
        reference = Store.open(directory / "reference.duckdb", read_only=True)
        yield server, tokens, reference, load_config(config)
        reference.close()


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory):
    """A 70-day demo at 60 conversations a day (June 1 – August 9, 2026), loaded once:
    (db path, config path). Reviews and alerts read it; it is never written to."""
    from supportkpi import demo
    from supportkpi.load.ingest import load

    directory = tmp_path_factory.mktemp("small_demo")
    data = demo.generate(days=70, daily_volume=60)
    data.write(directory / "files")
    config = data.write_config(directory / "files")
    db = directory / "demo.duckdb"
    with Store.open(db) as store:
        load(store, demo_paths(directory / "files"))
    return db, config


@pytest.fixture(scope="module")
def demo(small_demo):
    """The small demo opened read-only, with its settings: (store, config)."""
    from supportkpi.config import load_config

    db, config = small_demo
    with Store.open(db, read_only=True) as store:
        yield store, load_config(config)


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL server of the tests' own (tests/pgserver.py), stopped at the end. Where
    it cannot start, the tests using it fail in CI and are skipped elsewhere."""
    from tests import pgserver

    reason = pgserver.missing_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    with pgserver.running() as server:
        yield server


@pytest.fixture(scope="session")
def spark_con(tmp_path_factory):
    """One local Spark session for the whole run, as an Ibis connection (Spark starts in
    seconds, each session again): two cores, UTC, tables it is asked to keep written under the
    run's temporary folder. Without PySpark the tests using it fail in CI, skip elsewhere."""
    try:
        import ibis
        from pyspark.sql import SparkSession
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("PySpark is not installed (pip install 'supportkpi[spark]')")
        pytest.skip("PySpark is not installed")
    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.warehouse.dir", str(warehouse))
        .getOrCreate()
    )
    yield ibis.pyspark.connect(session)
    session.stop()


@pytest.fixture(scope="session")
def parquet_demo(tmp_path_factory):
    """A two-week demo at 20 conversations a day in a DuckDB store, its tables written as
    Parquet and mapped by a settings file for Spark: (the DuckDB store, the settings file, the
    config). Never written to."""
    from supportkpi import demo
    from supportkpi.config import load_config
    from supportkpi.load.ingest import load
    from supportkpi.store import schema

    directory = tmp_path_factory.mktemp("spark")
    data = demo.generate(days=14, daily_volume=20)
    data.write(directory / "files")
    config_path = data.write_config(directory / "files")
    store = Store.open(directory / "demo.duckdb")
    load(store, demo_paths(directory / "files"))
    for name in schema.TABLES:
        store.execute(f"COPY {name} TO '{directory / name}.parquet' (FORMAT parquet)")
    settings = directory / "engine.toml"
    settings.write_text(
        '[engine]\nurl = "local[2]"\n[tables]\n'
        + "".join(f'{n} = {{ parquet = "{directory / n}.parquet" }}\n' for n in schema.TABLES)
    )
    yield store, settings, load_config(config_path)
    store.close()


@pytest.fixture(scope="session")
def spark_demo(spark_con, parquet_demo):
    """``parquet_demo`` with the run's Spark connection in front: (connection, DuckDB store,
    settings file, config)."""
    return (spark_con, *parquet_demo)


_ENGINE_DEMO_SETUPS = itertools.count(1)


@pytest.fixture(scope="session", params=["postgresql", "spark"])
def engine_demo(request, parquet_demo):
    """The ``parquet_demo`` operation on another engine, for tests run over every engine and
    checked against DuckDB: (engine name, its store, the DuckDB store, the config). The
    PostgreSQL one is loaded from the same files into the run's server; the Spark one reads
    the Parquet copies (facts derived in the engine, none built)."""
    duck, settings, config = parquet_demo
    if request.param == "spark":
        from supportkpi.store.engine import EngineStore

        con = request.getfixturevalue("spark_con")
        yield "spark", EngineStore.open(settings, con=con), duck, config
        return
    from supportkpi.load.ingest import load

    server = request.getfixturevalue("pg_server")
    # pytest may set a parametrised session fixture up again when the modules using it
    # interleave with those of its other value: each set-up gets its own database
    pg = Store.open(server.create_database(f"engine_demo_{next(_ENGINE_DEMO_SETUPS)}"))
    load(pg, demo_paths(settings.parent / "files"))
    yield "postgresql", pg, duck, config
    pg.close()
