"""Loading through a mapping against loading canonical columns, at the same size.

    python bench/mapping.py --rows 1000000

Builds a call-centre log of ``--rows`` calls from the public August file (its rows repeated on
renamed lines, so every key is new) and, from what the ``anonymous-bank-calls`` preset makes of
it, the same conversations as a canonical CSV with the same columns. Then loads each into a
fresh store, in turn, each load in its own process, and prints the median wall and CPU times
and their ratio (mapped ÷ canonical); appends them, with the machine and commit, to
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import RESULTS, commit, machine  # noqa: E402

AUGUST = ROOT.parent / "shared" / "data" / "callcenter" / "august_calls.csv.gz"
CLI = Path(sys.executable).with_name("supportkpi")


def prepare(rows: int, folder: Path) -> tuple[Path, Path]:
    """The raw log of ``rows`` calls and the canonical CSV of its conversations."""
    import duckdb

    raw, canonical = folder / "calls.csv", folder / "conversations.csv"
    con = duckdb.connect()
    con.execute(f"CREATE TABLE aug AS SELECT * FROM read_csv('{AUGUST}', all_varchar = true)")
    (n,) = con.execute("SELECT count(*) FROM aug").fetchone()
    copies = -(-rows // n)
    con.execute(
        f"COPY (SELECT * REPLACE (lpad(CAST(k AS VARCHAR), 3, '0') || \"vru+line\" AS "
        f"\"vru+line\") FROM aug, range({copies}) r(k) LIMIT {rows}) TO '{raw}' (HEADER)"
    )
    store = folder / "mapped.duckdb"
    _load(store, ["--preset", "anonymous-bank-calls", str(raw)])
    con.execute(f"ATTACH '{store}' AS s (READ_ONLY)")
    columns = (
        "conversation_id, channel, created_at, customer_id, vendor, agent_id, queue, "
        "first_response_at, resolved_at, closed_at, ended_by, handle_seconds, topic"
    )
    con.execute(f"COPY (SELECT {columns} FROM s.conversations) TO '{canonical}' (HEADER)")
    return raw, canonical


def _load(store: Path, args: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one load into a fresh store, in its own process."""
    for path in (store, store.with_suffix(".duckdb.wal")):
        path.unlink(missing_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [str(CLI), "load", "--db", str(store), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "100"},
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="supportkpi-bench-"))
    try:
        raw, canonical = prepare(args.rows, folder)
        store = folder / "timed.duckdb"
        mapped, plain = [], []
        for _ in range(args.runs):  # in turn, so drift in the machine's speed hits both
            mapped.append(_load(store, ["--preset", "anonymous-bank-calls", str(raw)]))
            plain.append(_load(store, [str(canonical)]))
        report(args.rows, raw, canonical, mapped, plain)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def report(
    rows: int,
    raw: Path,
    canonical: Path,
    mapped: list[tuple[float, float]],
    plain: list[tuple[float, float]],
) -> None:
    def med(values: list[tuple[float, float]], i: int) -> float:
        return statistics.median(v[i] for v in values)

    ratios = [m[0] / p[0] for m, p in zip(mapped, plain, strict=True)]
    load = os.getloadavg()[0]
    lines = [
        f"## Mapped load vs canonical load, {datetime.now(UTC):%Y-%m-%d}, commit {commit()}",
        "",
        f"Machine: {machine()}; load average {load:.2f}. {rows:,} calls of the bank's call "
        f"centre (raw log {raw.stat().st_size / 1e6:.0f} MB, loaded with the "
        f"anonymous-bank-calls preset: computed times, composite key, rows left out) against "
        f"the same conversations as canonical CSV ({canonical.stat().st_size / 1e6:.0f} MB, no "
        f"mapping); fresh store, one process per load, {len(mapped)} runs each in turn; medians.",
        "",
        "| load | wall | CPU |",
        "|---|---|---|",
        f"| mapped raw log | {med(mapped, 0):.2f} s | {med(mapped, 1):.2f} s |",
        f"| canonical CSV | {med(plain, 0):.2f} s | {med(plain, 1):.2f} s |",
        f"| ratio (median of pairs) | {statistics.median(ratios):.2f}× | "
        f"{med(mapped, 1) / med(plain, 1):.2f}× |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    with RESULTS.open("a", encoding="utf-8") as out:
        out.write("\n" + text)


if __name__ == "__main__":
    main()
