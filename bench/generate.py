"""Benchmark data: the demo operation's model at N conversations (about 7 messages each,
surveys, QA reviews, revenue, agent activity, costs), as Parquet and CSV files.

Large sizes are drawn in chunks of at most 1M conversations, each with its own seed and its
ids prefixed with the chunk, so memory stays bounded and keys stay unique; every chunk covers
the same 90 days (more volume per day, as a larger operation has). Agent activity and costs
come from the first chunk only.

    python bench/generate.py --size 1M --out bench/data
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from supportkpi import demo

CHUNK = 1_000_000
DAYS = 90
IDS = ("conversation_id", "message_id", "survey_id", "review_id", "event_id", "follow_up_of",
       "customer_id")  # fmt: skip
ONCE = ("agent_activity", "costs")


def size(text: str) -> int:
    """``100k``, ``1M``, ``10M`` or a plain number."""
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1], 1)
    return int(float(text.rstrip("km")) * factor)


def _prefixed(table: pa.Table, chunk: int) -> pa.Table:
    for name in IDS:
        if name in table.column_names:
            column = table[name]
            prefixed = pc.binary_join_element_wise(f"k{chunk}", column, "-")
            table = table.set_column(table.schema.get_field_index(name), name, prefixed)
    return table


def generate(
    conversations: int, out: Path, formats: tuple[str, ...] = ("parquet", "csv")
) -> dict[str, dict[str, list[Path]]]:
    """Write the files in ``formats``; return {"parquet"|"csv": {table: [paths]}}."""
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, list[Path]]] = {f: {} for f in formats}
    chunks = max(1, -(-conversations // CHUNK))
    for chunk in range(chunks):
        n = min(CHUNK, conversations - chunk * CHUNK)
        data = demo.generate(
            days=DAYS, daily_volume=n / DAYS / 1.09, seed=7 + chunk, broken_rows=False
        )
        for name, table in data.tables.items():
            if chunk and name in ONCE:
                continue
            table = _prefixed(table, chunk) if chunks > 1 else table
            for kind in formats:
                path = out / kind / f"{name}.{chunk:03d}.{kind}"
                path.parent.mkdir(exist_ok=True)
                if kind == "parquet":
                    pq.write_table(table, path, row_group_size=256_000)
                else:
                    pacsv.write_csv(demo.with_iso_times(table), path)
                files[kind].setdefault(name, []).append(path)
        print(f"chunk {chunk + 1}/{chunks}: {n:,} conversations", flush=True)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1M", help="100k, 1M, 10M …")
    parser.add_argument("--out", type=Path, default=Path("bench/data"))
    args = parser.parse_args()
    start = time.perf_counter()
    generate(size(args.size), args.out / args.size)
    print(f"written to {args.out / args.size} in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
