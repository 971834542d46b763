"""Load and the scorecard on DuckDB, PostgreSQL and Spark, on the same data, in one run.

    python bench/engines.py --size 1M             # bench/generate.py's data, as Parquet
    python bench/engines.py                       # the demo (90 days at 450 a day)
    python bench/engines.py --days 14 --volume 40 # a small demo, to try the bench out
    python bench/engines.py --postgres postgresql://user@host:5432/empty_database
    python bench/engines.py --no-spark

Loads the files (validation included) into a fresh DuckDB file and into a PostgreSQL database
(a throwaway server of Debian's PostgreSQL unless ``--postgres`` names one), then writes the
DuckDB store's tables as Parquet for Spark's read-only mode (local[2], a settings file as
``--db spark.toml`` takes). Computes the scorecard (every KPI by vendor) ``--runs`` times on
each engine, checks that the three scorecards are equal (to 1e-9, relative), prints every
difference, and appends the wall times, the CPU times (this process, and the server's or the
JVM's where it runs on this machine), the ratios to DuckDB and the load average, with the
date, the machine and the commit, to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import RESULTS, commit, machine  # noqa: E402
from bench.proc import own_cpu, parent, tree_cpu  # noqa: E402

# The KPIs are doubles summed in different orders by different engines: equal means within
# this relative (or absolute, near zero) difference, as tests/test_postgres.py has it.
TOLERANCE = 1e-9
SPARK_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "6g",
    "spark.ui.enabled": "false",
}
SPARK_TABLES = (
    "conversations",
    "messages",
    "surveys",
    "agent_activity",
    "qa_reviews",
    "costs",
    "revenue_events",
)


class Clock:
    """Wall time, this process's CPU and another process tree's CPU (``server``: its root
    pid, or None) from the moment it is made; ``stop()`` gives the three."""

    def __init__(self, server: int | None = None) -> None:
        self.server = server
        self.wall, self.cpu = time.perf_counter(), own_cpu()
        self.server_cpu = tree_cpu(server) if server else None

    def stop(self) -> dict[str, float | None]:
        server = None
        if self.server and self.server_cpu is not None:
            now = tree_cpu(self.server)
            server = None if now is None else now - self.server_cpu
        return {
            "seconds": time.perf_counter() - self.wall,
            "cpu": own_cpu() - self.cpu,
            "server_cpu": server,
        }


def scorecards(store: Any, runs: int, server: int | None) -> dict[str, Any]:
    """The scorecard ``runs`` times: each run's clock, and the last run's table."""
    from supportkpi.analysis.query import report

    clocks, table = [], None
    for _ in range(runs):
        clock = Clock(server)
        table = report(store).table
        clocks.append(clock.stop())
    return {"runs": clocks, "table": table}


def loaded(url: str, files: list[Path], server: Callable[[Any], int | None]) -> dict[str, Any]:
    """Open the store at ``url``, load ``files`` into it, then the scorecards."""
    from supportkpi.load.ingest import load
    from supportkpi.store.store import Store

    with Store.open(url) as store:
        pid = server(store)
        before = os.getloadavg()[0]
        clock = Clock(pid)
        load(store, files)
        result = {"load": clock.stop(), "server_pid": pid}
        result |= scorecards(store, RUNS, pid)
        result["loadavg"] = (before, os.getloadavg()[0])
    return result


def postmaster(store: Any) -> int | None:
    """The PostgreSQL server's main process, when it runs on this machine."""
    (backend,) = store.run("SELECT pg_backend_pid()")[0]
    pid = parent(int(backend))
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return pid if b"postgres" in command else None


def spark(duck_path: Path, directory: Path) -> dict[str, Any]:
    """The DuckDB store's tables as Parquet, read by Spark local[2] through a settings file;
    the export, the session's start and the scorecards."""
    from supportkpi.store.engine import EngineStore
    from supportkpi.store.store import Store

    before = os.getloadavg()[0]
    clock = Clock()
    with Store.open(duck_path, read_only=True) as store:
        for name in SPARK_TABLES:
            store.execute(f"COPY {name} TO '{directory / name}.parquet' (FORMAT parquet)")
    result: dict[str, Any] = {"export": clock.stop()}
    settings = directory / "spark.toml"
    conf = "".join(f'"{k}" = "{v}"\n' for k, v in SPARK_CONF.items())
    settings.write_text(
        f'[engine]\nurl = "local[2]"\n[engine.conf]\n{conf}[tables]\n'
        + "".join(f'{n} = {{ parquet = "{directory / n}.parquet" }}\n' for n in SPARK_TABLES)
    )
    clock = Clock()
    engine = EngineStore.open(settings)
    session = engine.con._session
    pid = session.sparkContext._gateway.proc.pid
    result["start"] = clock.stop()
    try:
        result |= scorecards(engine, RUNS, pid)
    finally:
        session.stop()
    result["loadavg"] = (before, os.getloadavg()[0])
    return result


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    """``url``, or a throwaway server's fresh database."""
    if url:
        yield url
        return
    from tests import pgserver

    reason = pgserver.missing_reason()
    if reason:
        raise SystemExit(f"no --postgres URL and {reason}")
    with pgserver.running() as server:
        yield server.create_database("bench")


def differences(expected: Any, got: Any) -> list[str]:
    """Where two scorecards (Arrow tables) differ beyond :data:`TOLERANCE`."""
    if expected.column_names != got.column_names:
        return [f"columns {expected.column_names} vs {got.column_names}"]
    key = expected.column_names[0]
    left = sorted(expected.to_pylist(), key=lambda r: str(r[key]))
    right = sorted(got.to_pylist(), key=lambda r: str(r[key]))
    if len(left) != len(right):
        return [f"{len(left)} rows vs {len(right)}"]
    return [
        f"{a[key]} {name}: {a[name]!r} vs {b[name]!r}"
        for a, b in zip(left, right, strict=True)
        for name in a
        if not _same(a[name], b[name])
    ]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(
            a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE
        )
    return a == b


RUNS = 3


def main() -> None:
    global RUNS
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", help="bench/generate.py's data at this size: 100k, 1M …")
    parser.add_argument("--data", type=Path, help="Reuse this directory of generated Parquet.")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--volume", type=float, default=450)
    parser.add_argument("--postgres", help="An empty PostgreSQL database's URL.")
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--runs", type=int, default=RUNS)
    args = parser.parse_args()
    RUNS = args.runs
    warnings.filterwarnings("ignore", category=FutureWarning)  # PySpark on pandas 3
    revision = commit()

    with tempfile.TemporaryDirectory(prefix="supportkpi-bench-") as scratch:
        work = Path(scratch)
        files, label = _files(args, work)
        results: dict[str, dict[str, Any]] = {}
        duck_path = work / "bench.duckdb"
        results["DuckDB"] = loaded(str(duck_path), files, lambda store: None)
        _print("DuckDB", results["DuckDB"])
        with postgres(args.postgres) as url:
            results["PostgreSQL"] = loaded(url, files, postmaster)
        _print("PostgreSQL", results["PostgreSQL"])
        if not args.no_spark:
            (work / "spark").mkdir()
            results["Spark local[2]"] = spark(duck_path, work / "spark")
            _print("Spark local[2]", results["Spark local[2]"])
        sizes = _sizes(duck_path)
    mismatches = {
        engine: differences(results["DuckDB"]["table"], r["table"])
        for engine, r in results.items()
        if engine != "DuckDB"
    }
    for engine, found in mismatches.items():
        print(f"{engine} vs DuckDB: {len(found)} differences")
        for line in found:
            print(f"  {line}")
    _record(results, mismatches, sizes, label, revision)


def _files(args: argparse.Namespace, work: Path) -> tuple[list[Path], str]:
    if args.data or args.size:
        from bench.generate import generate, size

        directory = args.data
        if directory is None:
            directory = work / "data"
            start = time.perf_counter()
            generate(size(args.size), directory, formats=("parquet",))
            print(f"generated in {time.perf_counter() - start:.0f} s", flush=True)
        paths = sorted((directory / "parquet").iterdir())
        return paths, f"`bench/generate.py --size {args.size or directory.name}` (Parquet)"
    from supportkpi import demo

    data = demo.generate(days=args.days, daily_volume=args.volume)
    return data.write(work / "files"), f"the demo ({args.days} days at {args.volume:g} a day)"


def _sizes(duck_path: Path) -> tuple[int, int]:
    from supportkpi.store.store import Store

    with Store.open(duck_path, read_only=True) as store:
        counts = store.counts()
    return counts["conversations"], counts["messages"]


def _cpu(clock: dict[str, float | None]) -> str:
    server = clock.get("server_cpu")
    return f"{clock['cpu']:.1f} s" + (f" + {server:.1f} s" if server is not None else "")


def _total_cpu(clock: dict[str, float | None]) -> float:
    return float(clock["cpu"] or 0) + float(clock.get("server_cpu") or 0)


def _median(r: dict[str, Any], field: str) -> float:
    return statistics.median(float(c[field] or 0) for c in r["runs"])


def _print(engine: str, r: dict[str, Any]) -> None:
    first = r["runs"][0]["seconds"]
    before = r.get("load") or r.get("export")
    print(
        f"{engine}: load/export {before['seconds']:.1f} s (CPU {_cpu(before)}), scorecard "
        f"median {_median(r, 'seconds'):.2f} s (first {first:.2f} s), "
        f"load average {r['loadavg'][0]:.1f}–{r['loadavg'][1]:.1f}",
        flush=True,
    )


def _record(
    results: dict[str, dict[str, Any]],
    mismatches: dict[str, list[str]],
    sizes: tuple[int, int],
    label: str,
    revision: str,
) -> None:
    duck = results["DuckDB"]
    duck_wall = _median(duck, "seconds")
    duck_cpu = statistics.median(_total_cpu(c) for c in duck["runs"])
    duck_load = duck["load"]
    loadavg = [v for r in results.values() for v in r["loadavg"]]
    lines = [
        "",
        f"## Load and scorecard on DuckDB, PostgreSQL and Spark, "
        f"{datetime.now(UTC):%Y-%m-%d}, commit {revision}",
        "",
        f"Machine: {machine()}; load average {min(loadavg):.1f}–{max(loadavg):.1f} during the "
        f"run (other work on the machine). Data: {label}, {sizes[0]:,} conversations, "
        f"{sizes[1]:,} messages; `python bench/engines.py`, all in one process: loaded "
        "(validation included) into a fresh DuckDB file and a PostgreSQL database on the same "
        "machine (over loopback); Spark local[2] reads the DuckDB store's tables written as "
        f"Parquet (read-only mode). The scorecard (every KPI by vendor) {RUNS} times on each. "
        "CPU is this process's, + the server's (PostgreSQL's processes, Spark's JVM).",
        "",
        "| engine | load | load CPU | ÷ DuckDB | scorecard (median) | first run | CPU per "
        "scorecard | ÷ DuckDB wall | ÷ DuckDB CPU | equal to DuckDB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for engine, r in results.items():
        cpu = statistics.median(_total_cpu(c) for c in r["runs"])
        wall = _median(r, "seconds")
        if "load" in r:
            load = r["load"]
            load_cells = (
                f"{load['seconds']:.1f} s | {_cpu(load)} | "
                f"{load['seconds'] / duck_load['seconds']:.1f}×"
            )
        else:
            export, start = r["export"], r["start"]
            load_cells = (
                f"none (Parquet export {export['seconds']:.1f} s, session start "
                f"{start['seconds']:.1f} s) | | "
            )
        found = mismatches.get(engine)
        equal = "reference" if found is None else ("yes" if not found else f"{len(found)} differ")
        servers = [c["server_cpu"] for c in r["runs"] if c.get("server_cpu") is not None]
        server = statistics.median(servers) if servers else None
        median_cpu = _cpu({"cpu": _median(r, "cpu"), "server_cpu": server})
        lines.append(
            f"| {engine} | {load_cells} | {wall:.2f} s | {r['runs'][0]['seconds']:.2f} s | "
            f"{median_cpu} | {wall / duck_wall:.1f}× | {cpu / duck_cpu:.1f}× | {equal} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with open(RESULTS, "a", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
