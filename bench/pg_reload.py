"""A second load into a PostgreSQL store: the demo loaded up to its last day, then the last
day (new conversations, and new messages and surveys of earlier ones), timed.

    python bench/pg_reload.py                      # the demo's default size, a throwaway server
    python bench/pg_reload.py --days 14 --volume 40
    python bench/pg_reload.py --postgres postgresql://user@host:5432/empty_database

Prints the second load's wall time and CPU time (this process + the server's processes), and
whether the kept facts after it equal the facts derived from scratch; appends them, with the
date, the machine, the commit and the load average, to bench/RESULTS.md when ``--record``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.engines import Clock, postgres, postmaster  # noqa: E402
from bench.machine import RESULTS, commit, machine  # noqa: E402

# The time that places each row in a batch.
WHEN = {
    "conversations": "created_at",
    "messages": "sent_at",
    "surveys": "answered_at",
    "qa_reviews": "reviewed_at",
    "revenue_events": "occurred_at",
    "agent_activity": "started_at",
    "costs": "period_start",
}


def split(tables: dict[str, pa.Table], cuts: list[datetime]) -> list[dict[str, pa.Table]]:
    """The rows of ``tables`` in ``len(cuts) + 1`` batches by their time: before the first
    cut, between cuts, from the last cut on (rows without a time in the first batch). A
    conversation begun before a cut gets its later messages and surveys in a later batch."""
    bounds: list[datetime | None] = [None, *cuts, None]
    batches = []
    for low, high in itertools.pairwise(bounds):
        batch = {}
        for name, table in tables.items():
            when = table[WHEN[name]]
            keep = pc.is_null(when) if low is None else pc.greater_equal(when, _at(low, when))
            if high is not None:
                before = pc.less(when, _at(high, when))
                keep = pc.or_kleene(keep, before) if low is None else pc.and_kleene(keep, before)
            batch[name] = table.filter(pc.fill_null(keep, False))
        batches.append(batch)
    return batches


def _at(moment: datetime, column: pa.ChunkedArray) -> pa.Scalar:
    return pa.scalar(moment, column.type)


def write(batch: dict[str, pa.Table], directory: Path) -> list[Path]:
    """Each table of ``batch`` as ``<table>.parquet`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, table in batch.items():
        if table.num_rows:
            paths.append(directory / f"{name}.parquet")
            pq.write_table(table, paths[-1])
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--volume", type=float, default=450)
    parser.add_argument("--postgres", help="An empty PostgreSQL database's URL.")
    parser.add_argument("--record", action="store_true", help="Append to bench/RESULTS.md.")
    args = parser.parse_args()

    from supportkpi import demo
    from supportkpi.load.ingest import load
    from supportkpi.store import kept
    from supportkpi.store.store import Store

    data = demo.generate(days=args.days, daily_volume=args.volume, broken_rows=False)
    last = pc.max(data.tables["conversations"]["created_at"]).as_py()
    cut = last.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    with tempfile.TemporaryDirectory(prefix="supportkpi-reload-") as scratch:
        first, second = (
            write(b, Path(scratch) / str(i)) for i, b in enumerate(split(data.tables, [cut]))
        )
        with postgres(args.postgres) as url, Store.open(url) as store:
            load(store, first)
            pid = postmaster(store)
            loadavg = os.getloadavg()[0]
            clock = Clock(pid)
            summary = load(store, second)
            took = clock.stop()
            facts = store.con.table(kept.FACTS).count().execute()
            equal = _facts_equal(store)
    touched = {t: (c.new, c.updated) for t, c in summary.tables.items()}
    server = took["server_cpu"]
    line = (
        f"second load {took['seconds']:.2f} s, CPU {took['cpu']:.2f} s"
        + (f" + server {server:.2f} s" if server is not None else "")
        + f"; {touched}; {facts:,} kept facts, equal to derived: {equal}; "
        f"load average {loadavg:.1f}"
    )
    print(line)
    if args.record:
        with open(RESULTS, "a", encoding="utf-8") as f:
            f.write(
                f"\n- PostgreSQL second load ({args.days} days at {args.volume:g} a day, then "
                f"the last day), {datetime.now():%Y-%m-%d}, commit {commit()}, {machine()}: "
                f"{line}\n"
            )


def _facts_equal(store: object) -> bool:
    from supportkpi.store import kept

    kept_rows = _sorted(store.con.table(kept.FACTS))  # type: ignore[attr-defined]
    expr = kept.base_facts(
        store.table("conversations"),  # type: ignore[attr-defined]
        store.table("messages"),  # type: ignore[attr-defined]
        store.table("surveys"),  # type: ignore[attr-defined]
        timedelta(days=kept.DEFAULT_WINDOW_DAYS),
    )
    return kept_rows == _sorted(expr)


def _sorted(table: object) -> list[dict]:
    columns = sorted(table.columns)  # type: ignore[attr-defined]
    rows = table.select(*columns).to_pyarrow().to_pylist()  # type: ignore[attr-defined]
    return sorted(rows, key=str)


if __name__ == "__main__":
    main()
