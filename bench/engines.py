"""The scorecard on DuckDB and on PostgreSQL, on the same demo data, in one run.

    python bench/engines.py                       # a throwaway server of Debian's PostgreSQL
    python bench/engines.py --postgres postgresql://user@host:5432/empty_database
    python bench/engines.py --days 90 --volume 450  # the demo's default size

Generates the demo, loads its files into a fresh DuckDB file and into the PostgreSQL
database (validation included), then computes the scorecard (every KPI by vendor) three times
on each. Prints the results with the ratio (PostgreSQL ÷ DuckDB) and appends them, with the
date, the machine, the commit and the load average, to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import RESULTS, commit, machine  # noqa: E402

RUNS = 3


def measure(url: str, files: list[Path]) -> dict[str, Any]:
    """Load ``files`` into the store at ``url``, then the scorecard :data:`RUNS` times."""
    from supportkpi.analysis.query import report
    from supportkpi.load.ingest import load
    from supportkpi.store.store import Store

    with Store.open(url) as store:
        start = time.perf_counter()
        load(store, files)
        loaded = time.perf_counter() - start
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            rows = report(store).table.num_rows
            times.append(time.perf_counter() - start)
    return {"load": loaded, "times": times, "rows": rows}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", help="An empty PostgreSQL database's URL.")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--volume", type=float, default=450)
    args = parser.parse_args()

    from supportkpi import demo

    with tempfile.TemporaryDirectory(prefix="supportkpi-bench-") as scratch:
        data = demo.generate(days=args.days, daily_volume=args.volume)
        files = data.write(Path(scratch) / "files")
        conversations = data.tables["conversations"].num_rows
        messages = data.tables["messages"].num_rows
        load_before = os.getloadavg()
        results = {"DuckDB": measure(str(Path(scratch) / "bench.duckdb"), files)}
        print(f"DuckDB: {_line(results['DuckDB'])}", flush=True)
        with postgres(args.postgres) as url:
            results["PostgreSQL"] = measure(url, files)
        print(f"PostgreSQL: {_line(results['PostgreSQL'])}", flush=True)
        load_after = os.getloadavg()
    _record(results, conversations, messages, load_before, load_after)


def _line(r: dict[str, Any]) -> str:
    times = r["times"]
    return (
        f"load {r['load']:.1f} s, scorecard median {statistics.median(times):.2f} s "
        f"(first {times[0]:.2f} s)"
    )


def _record(
    results: dict[str, dict[str, Any]],
    conversations: int,
    messages: int,
    before: tuple[float, float, float],
    after: tuple[float, float, float],
) -> None:
    duck = statistics.median(results["DuckDB"]["times"])
    lines = [
        "",
        f"## Scorecard on DuckDB and PostgreSQL, {datetime.now(UTC):%Y-%m-%d}, commit {commit()}",
        "",
        f"Machine: {machine()}; load average {before[0]:.1f} before, {after[0]:.1f} after "
        "(other work on the machine). Demo data, loaded (validation included) into a fresh "
        f"store of each engine, then the scorecard (every KPI by vendor) {RUNS} times in one "
        "process; PostgreSQL 15 on the same machine, reached over loopback.",
        "",
        "| engine | conversations | messages | load | scorecard (median) | first run | ÷ DuckDB |",
        "|---|---|---|---|---|---|---|",
    ]
    for engine, r in results.items():
        median = statistics.median(r["times"])
        lines.append(
            f"| {engine} | {conversations:,} | {messages:,} | {r['load']:.1f} s | "
            f"{median:.2f} s | {r['times'][0]:.2f} s | {median / duck:.1f}× |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with open(RESULTS, "a", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
