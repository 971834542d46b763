"""The dashboard's page as a person waits for it: the nine requests one view makes (see
web/static/app.js), fired together as a browser does (six at a time), on a real server.

    python -m bench.page STORE.duckdb [--rounds 5] [--cold 3]

Three ways, each per route (p50, p95) and per page (the time until the last answer):

- cold: a server just started (nothing kept, the engine's caches empty), the page once;
  ``--cold`` times, a new server each time;
- fresh: a running server asked for a window it has not answered yet (each round moves the
  window back by a day): the work of answering, with the engine warm;
- repeat: the same page again (a reload, or a second person looking).

Beside the wall times: the server's CPU seconds over each way and the machine's load average.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VENDOR_KPIS = "first_response_time,csat,first_contact_resolution,abandonment_rate"
AGENT_KPIS = "chat_volume,first_response_time,average_handle_time,csat,first_contact_resolution"
PAGE = [  # what the dashboard asks for on each view (see web/static/app.js)
    ("/v1/headline", {}),
    ("/v1/report", {"by": "day", "kpi": "chat_volume,first_response_time,csat"}),
    ("/v1/report", {"by": "vendor", "kpi": VENDOR_KPIS}),
    ("/v1/peaks", {}),
    ("/v1/report", {"by": "", "kpi": "csat_by_response_bucket"}),
    ("/v1/escalations", {}),
    ("/v1/report", {"by": "agent", "kpi": AGENT_KPIS}),
    ("/v1/sla", {}),
    ("/v1/live", {}),
]
LABELS = [f"{p}?{'&'.join(f'{k}={v}' for k, v in q.items())}".rstrip("?") for p, q in PAGE]
BROWSER_CONNECTIONS = 6


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def page(client: Any, window: dict[str, str]) -> tuple[float, list[float], list[str]]:
    """The page's nine requests together: (page seconds, each request's seconds, failures)."""

    def one(item: tuple[str, dict[str, str]]) -> tuple[float, str | None]:
        path, params = item
        start = time.perf_counter()
        answer = client.get(path, params={**window, **params})
        seconds = time.perf_counter() - start
        failed = None if answer.status_code == 200 else f"{path}: {answer.status_code}"
        return seconds, failed

    start = time.perf_counter()
    with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
        done = list(pool.map(one, PAGE))
    took = time.perf_counter() - start
    return took, [d[0] for d in done], [d[1] for d in done if d[1]]


def summary(pages: list[float], requests: list[list[float]], cpu: float) -> dict[str, Any]:
    """p50/p95 per route and per page, and the server's CPU seconds per page."""

    def p(values: list[float], q: float) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    routes = {
        label: {"p50": statistics.median(times), "p95": p(times, 0.95)}
        for label, times in zip(LABELS, zip(*requests, strict=True), strict=True)
    }
    return {
        "pages": len(pages),
        "page_p50": statistics.median(pages),
        "page_p95": p(pages, 0.95),
        "request_p95": p([t for r in requests for t in r], 0.95),
        "server_cpu_per_page": cpu / len(pages),
        "routes": routes,
    }


def measure(db: Path, rounds: int, cold: int) -> dict[str, Any]:
    """Cold, fresh and repeat pages on ``db`` (see the module doc)."""
    import httpx

    from supportkpi.store.store import Store
    from tests.server import make_token, serving

    token = make_token(db, "admin")
    with Store.open(db, read_only=True) as store:
        last = store.execute("SELECT max(created_at) FROM conversations")[0][0].date()

    def window(back: int) -> dict[str, str]:
        end = last - timedelta(days=back)
        return {"from": str(end - timedelta(days=27)), "to": str(end)}

    out: dict[str, Any] = {"load_average_before": os.getloadavg()[0]}
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    cold_pages, cold_requests, cold_cpu = [], [], 0.0
    for _ in range(cold):
        with (
            serving(db) as server,
            httpx.Client(base_url=server.url, headers=headers, timeout=600) as client,
        ):
            before = server_cpu(server.process.pid)
            took, times, failed = page(client, window(0))
            cold_cpu += server_cpu(server.process.pid) - before
            cold_pages.append(took)
            cold_requests.append(times)
            failures += failed
    out["cold"] = summary(cold_pages, cold_requests, cold_cpu)
    with (
        serving(db) as server,
        httpx.Client(base_url=server.url, headers=headers, timeout=600) as client,
    ):
        page(client, window(0))  # the engine warm, the first window kept
        for name, windows in (
            ("fresh", [window(1 + i) for i in range(rounds)]),
            ("repeat", [window(0)] * rounds),
        ):
            pages, requests = [], []
            before = server_cpu(server.process.pid)
            for w in windows:
                took, times, failed = page(client, w)
                pages.append(took)
                requests.append(times)
                failures += failed
            out[name] = summary(pages, requests, server_cpu(server.process.pid) - before)
    out["load_average_after"] = os.getloadavg()[0]
    out["failures"] = failures
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a loaded store (a copy is measured)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cold", type=int, default=3)
    args = parser.parse_args()
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory(dir=args.db.parent) as scratch:
        copy = Path(scratch) / "page.duckdb"
        shutil.copy(args.db, copy)
        print(json.dumps(measure(copy, args.rounds, args.cold), indent=1))


if __name__ == "__main__":
    main()
