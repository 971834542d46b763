"""Load throughput: N demo conversations from CSV and from Parquet into a fresh store.

Each measurement runs in its own process (a fresh interpreter and store), with validation,
and reports wall time, rows/s and peak RSS. Results are appended to bench/RESULTS.md with the
date, the machine and the commit.

    python bench/load_throughput.py --conversations 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from supportkpi import demo

RESULTS = Path(__file__).with_name("RESULTS.md")
_CHILD = """
import json, sys, time
from supportkpi.store import Store
from supportkpi.ingest import load
store = Store.open(sys.argv[1])
start = time.perf_counter()
summary = load(store, [sys.argv[2]])
seconds = time.perf_counter() - start
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({"seconds": seconds, "rows": summary.tables["conversations"].new,
                  "peak_mb": int(hwm) / 1024}))
"""


def _files(conversations: int, directory: Path) -> dict[str, Path]:
    """The demo's conversations table, about ``conversations`` rows, as CSV and Parquet."""
    days = 90
    # follow-up contacts add about 9 % to the drawn daily volume
    data = demo.generate(
        days=days, daily_volume=conversations / days / 1.09, include={"conversations"}
    )
    (csv,) = data.write(directory)
    parquet = directory / "conversations.parquet"
    pq.write_table(data.tables["conversations"], parquet)
    return {"csv": csv, "parquet": parquet}


def _measure(path: Path, directory: Path) -> dict[str, float]:
    db = directory / f"{path.suffix.lstrip('.')}-{time.time_ns()}.duckdb"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(db), str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


def _machine() -> str:
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    return f"{os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, {platform.machine()}"


def _commit() -> str:
    proc = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
    )
    return proc.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        files = _files(args.conversations, directory)
        rows = []
        for fmt in ("csv", "parquet"):
            result = _measure(files[fmt], directory)
            size = files[fmt].stat().st_size / 1e6
            rows.append(
                f"| {fmt} | {result['rows']:,} | {size:,.0f} MB | "
                f"{result['seconds']:.2f} s | {result['rows'] / result['seconds']:,.0f} "
                f"| {result['peak_mb']:,.0f} MB |"
            )
            print(rows[-1], flush=True)
    header = (
        f"\n## Load throughput, {datetime.now(UTC):%Y-%m-%d}, commit {_commit()}\n\n"
        f"Machine: {_machine()}; Python {platform.python_version()}; one process per "
        "measurement, validation included, fresh store.\n\n"
        "| format | conversations | file | time | rows/s | peak RSS |\n"
        "|---|---|---|---|---|---|\n"
    )
    with RESULTS.open("a") as f:
        if f.tell() == 0:
            f.write("# Benchmark results\n")
        f.write(header + "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
