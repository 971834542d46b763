"""Time of the default scorecard (every KPI by vendor) on demo data of a given size.

Generates the demo operation (all tables) at about N conversations, loads it into a fresh
store, then times the scorecard three times in the same process and records the median, with
the load time and peak RSS, in bench/RESULTS.md.

    python bench/scorecard.py --conversations 1000000
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from load_throughput import RESULTS, _commit, _machine

from supportkpi import demo
from supportkpi.ingest import load
from supportkpi.query import report
from supportkpi.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=45_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = demo.generate(days=90, daily_volume=args.conversations / 90 / 1.09)
        paths = data.write(Path(tmp) / "files")
        rows = {name: table.num_rows for name, table in data.tables.items()}
        del data
        store = Store.open(Path(tmp) / "bench.duckdb")
        start = time.perf_counter()
        load(store, paths)
        loading = time.perf_counter() - start
        times = []
        for _ in range(3):
            start = time.perf_counter()
            report(store)
            times.append(time.perf_counter() - start)
        store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = (
        f"| {rows['conversations']:,} | {rows['messages']:,} | {loading:.1f} s | "
        f"{statistics.median(times):.2f} s | {min(times):.2f}–{max(times):.2f} s | "
        f"{peak:,.0f} MB |"
    )
    print(line)
    with RESULTS.open("a") as f:
        f.write(
            f"\n## Default scorecard, {datetime.now(UTC):%Y-%m-%d}, commit {_commit()}\n\n"
            f"Machine: {_machine()}. Demo data, all tables; load of every file into a fresh "
            "store, then the scorecard (every KPI by vendor) three times in one process. "
            "Peak RSS includes generating the data.\n\n"
            "| conversations | messages | load | scorecard (median) | range | peak RSS |\n"
            "|---|---|---|---|---|---|\n" + line + "\n"
        )


if __name__ == "__main__":
    main()
