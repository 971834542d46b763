"""The dashboard's headline cards (``GET /v1/headline``: the KPIs over 28 days and the 28 days
before, and first response per channel) computed in this process, as the server does.

    python -m bench.headline STORE.duckdb [--rounds 3]

First the call a process makes first (cold: nothing remembered, the engine's caches empty),
then ``--rounds`` fresh windows (each a day further back, so nothing is answered twice): per
call the wall time, the process's CPU (every engine thread), the CPU of the calling thread
alone (building the queries, compiling them to SQL, and its share of running them) and the
part of it spent compiling the SQL. Prints JSON with the machine, commit and load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Time the headline on a store; return (and print) the measurements."""
    import ibis.backends.sql as sql_backend

    from bench.machine import commit, machine
    from supportkpi.analysis import views
    from supportkpi.api.reads import HEADLINE
    from supportkpi.config import Config
    from supportkpi.store.store import Store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    compiling = [0.0]
    compile_sql = sql_backend.SQLBackend.compile

    def timed_compile(self: Any, *a: Any, **k: Any) -> Any:
        began = time.thread_time()
        try:
            return compile_sql(self, *a, **k)
        finally:
            compiling[0] += time.thread_time() - began

    sql_backend.SQLBackend.compile = timed_compile  # type: ignore[method-assign]
    config = Config()
    calls = []
    load_before = os.getloadavg()
    with Store.open(args.store, read_only=True) as store:
        _, last = views.data_days(store, None, config)
        for back in range(args.rounds + 1):
            end = last - timedelta(days=back)
            start = end - timedelta(days=27)
            compiling[0] = 0.0
            cpu, wall, thread = _cpu(), time.perf_counter(), time.thread_time()
            views.headline(store, HEADLINE, start, end, {}, None, config)
            calls.append(
                {
                    "window": f"{start}..{end}",
                    "wall": round(time.perf_counter() - wall, 3),
                    "cpu": round(_cpu() - cpu, 3),
                    "thread_cpu": round(time.thread_time() - thread, 3),
                    "compile_cpu": round(compiling[0], 3),
                }
            )
    fresh = calls[1:]
    out = {
        "machine": machine(),
        "commit": commit(),
        "load_average": [round(x, 2) for x in (*load_before, *os.getloadavg())],
        "cold": calls[0],
        "fresh": fresh,
        "fresh_median": {
            k: round(statistics.median(c[k] for c in fresh), 3)
            for k in ("wall", "cpu", "thread_cpu", "compile_cpu")
        }
        if fresh
        else {},
    }
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
