"""A drill-down page as a client waits for it: ``GET /v1/conversations`` with 1,000 rows, on a
real server over a copy of a store.

    python -m bench.listing STORE.duckdb [--rounds 8] [--cold 2]

Per kind of page (the default listing, with a KPI, an outcome, a missed target, sorted by a
KPI's value, CSV):

- first: the first page of its kind a running server answers (its query compiled then);
- warm: further pages of that kind, each one new to the server (the next 1,000 rows), so
  every one is computed, none is a kept answer;
- cold: a server just started, its first request (the default listing), ``--cold`` times.

Each with the wall time (p50, p95) and the server's CPU seconds per request (user + system of
the ``supportkpi serve`` process, every engine thread included), and the load average.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.page import server_cpu  # noqa: E402

LIMIT = 1_000
KINDS: dict[str, dict[str, str]] = {
    "default": {},
    "kpi=first_response_time": {"kpi": "first_response_time"},
    "kpi=csat": {"kpi": "csat"},
    "kpi=abandonment_rate&outcome=yes": {"kpi": "abandonment_rate", "outcome": "yes"},
    "missed=first_response_time": {"missed": "first_response_time"},
    "sort=-first_response_seconds": {"sort": "-first_response_seconds"},
    "vendor=northwind": {"vendor": "northwind"},
    "csv": {"format": "csv"},
}


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _ask(client: Any, pid: int, params: dict[str, str]) -> tuple[float, float]:
    """One request: (wall seconds, server CPU seconds)."""
    before = server_cpu(pid)
    start = time.perf_counter()
    answer = client.get("/v1/conversations", params={"limit": str(LIMIT), **params})
    wall = time.perf_counter() - start
    if answer.status_code != 200:
        raise RuntimeError(f"{params}: {answer.status_code} {answer.text[:200]}")
    return wall, server_cpu(pid) - before


def _stats(samples: list[tuple[float, float]]) -> dict[str, float]:
    walls, cpus = [s[0] for s in samples], [s[1] for s in samples]
    return {
        "n": len(samples),
        "wall_p50": statistics.median(walls),
        "wall_p95": _p95(walls),
        "cpu_p50": statistics.median(cpus),
        "cpu_p95": _p95(cpus),
    }


def measure(db: Path, rounds: int, cold: int) -> dict[str, Any]:
    """First, warm and cold requests on ``db`` (see the module doc)."""
    import httpx

    from tests.server import make_token, serving

    headers = {"Authorization": f"Bearer {make_token(db, 'admin')}"}
    out: dict[str, Any] = {"load_average_before": os.getloadavg()}
    colds = []
    for _ in range(cold):
        with (
            serving(db) as server,
            httpx.Client(base_url=server.url, headers=headers, timeout=600) as client,
        ):
            colds.append(_ask(client, server.process.pid, {}))
    out["cold"] = _stats(colds) if colds else None
    with (
        serving(db) as server,
        httpx.Client(base_url=server.url, headers=headers, timeout=600) as client,
    ):
        pid = server.process.pid
        _ask(client, pid, {"offset": str(10 * LIMIT)})  # the server's own first request
        kinds: dict[str, Any] = {}
        for name, params in KINDS.items():
            first = _ask(client, pid, params)
            warm = [
                _ask(client, pid, {**params, "offset": str(i * LIMIT)})
                for i in range(1, rounds + 1)
            ]
            kinds[name] = {"first": _stats([first]), "warm": _stats(warm)}
        out["kinds"] = kinds
    out["load_average_after"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a loaded store (a copy is measured)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--cold", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.db.parent) as scratch:
        copy = Path(scratch) / "listing.duckdb"
        shutil.copy(args.db, copy)
        print(json.dumps(measure(copy, args.rounds, args.cold), indent=1))


if __name__ == "__main__":
    main()
