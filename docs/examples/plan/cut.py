"""Cut the demo at 17 August 2026 (Berlin): its conversations and messages before then,
loaded into cut.duckdb, to publish a plan from (see docs/plan-against-actual.md). Run it in
the folder where `supportkpi demo --out files` wrote the demo's files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from supportkpi.load.ingest import load
from supportkpi.store.store import Store

CUT = datetime(2026, 8, 17, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)


def main() -> None:
    """Write before/ (the files cut) and load them into a new cut.duckdb."""
    conversations = pacsv.read_csv("files/conversations.csv")
    kept = conversations.filter(
        pc.less(conversations["created_at"], pa.scalar(CUT, pa.timestamp("s", "UTC")))
    )
    Path("before").mkdir(exist_ok=True)
    pacsv.write_csv(kept, "before/conversations.csv")
    messages = pq.read_table("files/messages.parquet")
    ours = pc.is_in(messages["conversation_id"], kept["conversation_id"])
    pq.write_table(messages.filter(ours), "before/messages.parquet")
    Path("cut.duckdb").unlink(missing_ok=True)
    with Store.open("cut.duckdb") as store:
        load(store, ["before/conversations.csv", "before/messages.parquet"])


if __name__ == "__main__":
    main()
