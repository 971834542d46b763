"""The dashboard's page as a person waits for it: the nine requests its first view makes
(the eight views of web/static/app.js, as :func:`supportkpi.api.warmup.first_view` mirrors
them, and the live strip), fired together as a browser does (six at a time), on a real server.

    python -m bench.page STORE.duckdb [--rounds 5] [--cold 3]

Four ways, each per route (p50, p95) and per page (the time until the last answer):

- first: a server just started without its warm-up (``--no-warm``: nothing kept, the
  engine's caches empty) on a machine where no process has compiled the page's SQL yet (an
  empty ``SUPPORTKPI_SQL_CACHE``), the page at once; ``--cold`` times, a new server each time;
- cold: the same after an earlier process kept the SQL it compiled (a restart, or a
  command run before: the usual case);
- started: a server started as ``supportkpi serve`` starts by default, the page once its
  warm-up of the first view is done (GET /health; its seconds are recorded), as for the
  first person after a start or a load; ``--cold`` times;
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
import shutil
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from supportkpi.analysis.kept_sql import ENV  # noqa: E402
from supportkpi.api.warmup import default_window, first_view  # noqa: E402


def requests_of(window: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """What the dashboard asks for on each view over ``window``: its eight views (as
    web/static/app.js builds them) and the live strip."""
    return [*first_view(window), ("/v1/live", dict(window))]


LABELS = [  # by route and what is asked, without the window
    f"{p}?{'&'.join(f'{k}={v}' for k, v in q.items() if k not in ('from', 'to') and v)}".rstrip("?")
    for p, q in requests_of({})
]
BROWSER_CONNECTIONS = 6


def server_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def page(client: Any, window: dict[str, str]) -> tuple[float, list[float], list[str]]:
    """The page's nine requests together: (page seconds, each request's seconds, failures)."""
    asked = requests_of(window)

    def one(item: tuple[str, dict[str, str]]) -> tuple[float, str | None]:
        path, params = item
        start = time.perf_counter()
        answer = client.get(path, params=params)
        seconds = time.perf_counter() - start
        failed = None if answer.status_code == 200 else f"{path}: {answer.status_code}"
        return seconds, failed

    start = time.perf_counter()
    with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
        done = list(pool.map(one, asked))
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


def _ready(client: Any, deadline: float = 1800) -> float:
    """Wait for the server's warm-up of the first view (GET /health); its seconds."""
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        warm = client.get("/health").json()["warm"]
        if warm["state"] == "ready":
            return float(warm["seconds"])
        if warm["state"] == "failed":
            raise RuntimeError(f"the warm-up failed: {warm}")
        time.sleep(0.1)
    raise RuntimeError("the warm-up did not finish")


def measure(db: Path, rounds: int, cold: int) -> dict[str, Any]:
    """First, cold, started, fresh and repeat pages on ``db`` (see the module doc)."""
    import httpx

    from supportkpi.config import Config
    from supportkpi.store.store import Store
    from tests.server import make_token, serving

    token = make_token(db, "admin")
    with Store.open(db, read_only=True) as store:
        from supportkpi.analysis.views import data_days

        first, last = data_days(store, None, Config())

    def window(back: int) -> dict[str, str]:
        end = last - timedelta(days=back) if last else None
        return default_window(first, end)

    out: dict[str, Any] = {"load_average_before": os.getloadavg()[0]}
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {token}"}
    kept_sql = db.parent / "kept-sql"  # what the servers after the first ones read
    os.environ[ENV] = str(kept_sql)
    for way, flags in (
        ("first", ("--no-warm",)),
        ("cold", ("--no-warm",)),
        ("started", ("--warm",)),
    ):
        pages, requests, cpu, warm_up = [], [], 0.0, []
        for _ in range(cold):
            if way == "first":  # nothing compiled before, by any process
                shutil.rmtree(kept_sql, ignore_errors=True)
            with (
                serving(db, *flags) as server,
                httpx.Client(base_url=server.url, headers=headers, timeout=600) as client,
            ):
                if way == "started":
                    warm_up.append(_ready(client))
                before = server_cpu(server.process.pid)
                took, times, failed = page(client, window(0))
                cpu += server_cpu(server.process.pid) - before
                pages.append(took)
                requests.append(times)
                failures += failed
        out[way] = summary(pages, requests, cpu)
        if warm_up:
            out[way]["warm_up_seconds"] = warm_up
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
    import tempfile

    with tempfile.TemporaryDirectory(dir=args.db.parent) as scratch:
        copy = Path(scratch) / "page.duckdb"
        shutil.copy(args.db, copy)
        print(json.dumps(measure(copy, args.rounds, args.cold), indent=1))


if __name__ == "__main__":
    main()
