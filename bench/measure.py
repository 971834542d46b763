"""One benchmark measurement, run in its own process by bench/run.py; prints JSON with the
wall seconds, the CPU seconds (every thread of the process), the load average of the machine
when it began and the process's peak RSS.

    python -m bench.measure NAME DB FILES_DIR
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPEAT = 3


def _peak_mb() -> float:
    """This process's peak RSS. Not ru_maxrss: Linux carries it over from the parent across
    exec, so a child of a big parent would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file())


def _cpu() -> float:
    """CPU seconds of this process, every thread, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load(db: str, directory: str, fast: bool = True) -> dict[str, Any]:
    """Every file of a format into a fresh store, validation included."""
    from supportkpi.load.ingest import load as load_files
    from supportkpi.store.store import Store

    store = Store.open(db)
    start, cpu = time.perf_counter(), _cpu()
    summary = load_files(store, _files(Path(directory)), fast=fast)
    seconds, cpu = time.perf_counter() - start, _cpu() - cpu
    store.close()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "conversations": summary.tables["conversations"].new,
        "messages": summary.tables["messages"].new,
        "quarantined": sum(summary.quarantined.values()),
    }


def load_plain(db: str, directory: str) -> dict[str, Any]:
    """The same load streamed through Arrow and merged (``fast=False``)."""
    return load(db, directory, fast=False)


def load_floor(db: str, directory: str) -> dict[str, Any]:
    """The hand-written validated load with the kept facts (bench/load_floor.py)."""
    from bench.load_floor import load as floor

    start, cpu = time.perf_counter(), _cpu()
    floor(db, Path(directory))
    return {"seconds": time.perf_counter() - start, "cpu": _cpu() - cpu}


def _timed(run: Any) -> dict[str, Any]:
    times, cpus, result = [], [], None
    for _ in range(REPEAT):
        start, cpu = time.perf_counter(), time.process_time()
        result = run()
        times.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return {
        "seconds": statistics.median(times),
        "cpu": statistics.median(cpus),
        "first": times[0],
        "result": result,
    }


def _report(db: str, **kwargs: Any) -> dict[str, Any]:
    from supportkpi.analysis.query import report
    from supportkpi.store.store import Store

    store = Store.open(db, read_only=True)
    out = _timed(lambda: report(store, **kwargs).table.num_rows)
    store.close()
    return out


def scorecard(db: str, _: str) -> dict[str, Any]:
    """Every KPI by vendor."""
    return _report(db)


def agent_month(db: str, _: str) -> dict[str, Any]:
    """Every KPI by agent and month."""
    return _report(db, by=["agent", "month"])


def core_ours(db: str, _: str) -> dict[str, Any]:
    """The floor's KPIs through the registry."""
    from bench.floor import CORE_KPIS

    return _report(db, kpis=CORE_KPIS, by=["vendor"])


def core_floor(db: str, _: str) -> dict[str, Any]:
    """The same KPIs as one hand-written DuckDB statement deriving the facts from the raw
    messages, on the same store and settings."""
    from bench.floor import FLOOR_SQL

    return _sql(db, FLOOR_SQL)


def core_floor_kept(db: str, _: str) -> dict[str, Any]:
    """The same KPIs as one hand-written DuckDB statement over the kept facts, as ours reads."""
    from bench.floor import FLOOR_KEPT_SQL

    return _sql(db, FLOOR_KEPT_SQL)


def scorecard_covered_ours(db: str, _: str) -> dict[str, Any]:
    """The scorecard's KPIs the hand-written scorecard floor covers, by vendor, through the
    registry as ``supportkpi report --by vendor`` runs them."""
    from bench.scorecard_floor import COVERED

    return _report(db, kpis=COVERED, by=["vendor"])


def scorecard_floor(db: str, _: str) -> dict[str, Any]:
    """The same KPIs as one hand-written DuckDB statement over the same stored tables."""
    from bench.scorecard_floor import SCORECARD_FLOOR_SQL

    return _sql(db, SCORECARD_FLOOR_SQL)


def _sql(db: str, sql: str) -> dict[str, Any]:
    from supportkpi.store.store import Store

    store = Store.open(db, read_only=True)
    out = _timed(lambda: len(store.execute(sql)))
    store.close()
    return out


def listing(db: str, _: str) -> dict[str, Any]:
    """A drill-down page of 1,000 conversations (``supportkpi conversations --limit 1000``)."""
    from supportkpi.analysis.conversations import conversations
    from supportkpi.store.store import Store

    store = Store.open(db, read_only=True)
    out = _timed(lambda: conversations(store, limit=1000).table.num_rows)
    store.close()
    return out


def core_pandas(_: str, directory: str) -> dict[str, Any]:
    """The same KPIs as the pandas code a user would write over the Parquet files."""
    return _timed(lambda: len(pandas_core(Path(directory))))


def pandas_core(directory: Path) -> Any:
    """Volume, FRT mean/median/p90, abandonment, resolution and CSAT by vendor, in pandas."""
    import pandas as pd
    import pyarrow.parquet as pq

    def read(table: str, columns: list[str]) -> pd.DataFrame:
        paths = sorted(directory.glob(f"{table}.*.parquet"))
        have = pq.read_schema(paths[0]).names
        frame = pq.read_table(paths, columns=[c for c in columns if c in have]).to_pandas()
        for missing in (c for c in columns if c not in have):
            frame[missing] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")
        return frame

    conv = read(
        "conversations",
        [
            "conversation_id",
            "vendor",
            "agent_id",
            "created_at",
            "first_response_at",
            "resolved_at",
            "ended_by",
        ],
    )
    msgs = read("messages", ["conversation_id", "sent_at", "author_role", "private"])
    first_customer = msgs[msgs.author_role == "customer"].groupby("conversation_id").sent_at.min()
    public = (msgs.author_role == "agent") & ~msgs.private.fillna(False).astype(bool)
    first_agent = msgs[public].groupby("conversation_id").sent_at.min()
    c = conv.join(first_customer.rename("first_customer"), on="conversation_id")
    c = c.join(first_agent.rename("first_agent"), on="conversation_id")
    c["responded"] = c.first_response_at.fillna(c.first_agent)
    began = c.first_customer.where(c.first_customer <= c.responded, c.created_at)
    c["frt"] = (c.responded - began).dt.total_seconds()
    handled = c.responded.notna() | (c.agent_id.notna() & c.resolved_at.notna())
    c["abandoned"] = (
        ~handled
        & c.resolved_at.isna()
        & c.ended_by.fillna("customer").isin(["customer", "timeout"])
    )
    c["resolved"] = c.resolved_at.notna().where(handled)
    surveys = read("surveys", ["conversation_id", "kind", "score", "scale_min", "scale_max"])
    s = surveys[surveys.kind == "csat"].merge(conv[["conversation_id", "vendor"]])
    s["good"] = 1 + (s.score - s.scale_min) * 4 / (s.scale_max - s.scale_min) >= 4
    g = c.groupby("vendor")
    return pd.DataFrame(
        {
            "chat_volume": g.size(),
            "first_response_time": g.frt.mean(),
            "frt_median": g.frt.median(),
            "frt_p90": g.frt.quantile(0.9),
            "abandonment_rate": g.abandoned.mean(),
            "resolution_rate": g.resolved.mean(),
            "csat": s.groupby("vendor").good.mean(),
        }
    )


MEASURES = {
    f.__name__: f
    for f in (
        load,
        load_plain,
        load_floor,
        scorecard,
        agent_month,
        core_ours,
        core_floor,
        core_floor_kept,
        scorecard_covered_ours,
        scorecard_floor,
        core_pandas,
        listing,
    )
}


if __name__ == "__main__":
    name, db, directory = sys.argv[1:4]
    before = os.getloadavg()[0]
    result = MEASURES[name](db, directory)
    result["peak_mb"] = _peak_mb()
    result["load_average"] = (before, os.getloadavg()[0])
    print(json.dumps(result))
