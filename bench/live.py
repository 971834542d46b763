"""The dashboard's live strip (``GET /v1/live``) on a real server, warm.

    python bench/live.py STORE.duckdb [--requests 20]

On a copy of the store, one server started without its warm-up (``--no-warm``, as the
tests' servers start, so the first request pays what the warm-up would otherwise pay): the
first request of each kind (the process cold) timed apart, then ``--requests`` requests one
after the other of each kind:

- ``now``: ``/v1/live``, as of the current time (never kept: the answer moves with the clock);
- ``day``: ``/v1/live?day=<the data's last day>``, a replay of that day as it closed (the
  answer cache keeps it after the first);
- ``at``: ``/v1/live?at=<a second before the last day's close, another each time>``, the busy
  replay's work on every request (no two requests alike, so nothing kept answers it).

Per kind: p50 and p95 wall, and the server's CPU seconds per request; the machine's load
average before and after. Prints JSON.
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
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.page import server_cpu  # noqa: E402


def _settled(client: Any, deadline: float = 1800) -> dict[str, Any]:
    """Wait until the server's own warm-up of the dashboard's first view (GET /health), if
    it runs one, is over, so that it does not share the CPU with the requests measured."""
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        warm = client.get("/health").json().get("warm", {"state": "off"})
        if warm["state"] != "warming":
            return warm
        time.sleep(0.1)
    raise RuntimeError("the warm-up did not finish")


def measure(db: Path, requests: int) -> dict[str, Any]:
    """The three kinds of request on ``db`` (see the module doc)."""
    import httpx

    from supportkpi.analysis import live, views
    from supportkpi.config import Config
    from supportkpi.store.store import Store
    from tests.server import make_token, serving

    token = make_token(db, "admin")
    with Store.open(db, read_only=True) as store:
        last = views.data_days(store, None, Config())[1]
    close = live.day_end(last, None, Config())

    def kind(name: str, i: int) -> dict[str, str]:
        if name == "day":
            return {"day": str(last)}
        if name == "at":
            return {"at": (close - timedelta(seconds=i)).isoformat()}
        return {}

    out: dict[str, Any] = {"last_day": str(last), "load_average_before": os.getloadavg()[0]}
    headers = {"Authorization": f"Bearer {token}"}
    with (
        serving(db) as server,
        httpx.Client(base_url=server.url, headers=headers, timeout=600) as client,
    ):
        pid = server.process.pid
        out["warm_up"] = _settled(client)
        for name in ("now", "day", "at"):
            before, start = server_cpu(pid), time.perf_counter()
            answer = client.get("/v1/live", params=kind(name, 10_000))
            answer.raise_for_status()
            out[f"first_{name}"] = {
                "wall": time.perf_counter() - start,
                "cpu": server_cpu(pid) - before,
                "waiting": answer.json()["waiting"],
            }
        for name in ("now", "day", "at"):
            times = []
            before = server_cpu(pid)
            for i in range(requests):
                start = time.perf_counter()
                client.get("/v1/live", params=kind(name, i)).raise_for_status()
                times.append(time.perf_counter() - start)
            ordered = sorted(times)
            out[name] = {
                "p50": statistics.median(times),
                "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
                "cpu_per_request": (server_cpu(pid) - before) / requests,
            }
    out["load_average_after"] = os.getloadavg()[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="a loaded store (a copy is measured)")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "live.duckdb"
        shutil.copy(args.db, copy)
        print(json.dumps(measure(copy, args.requests), indent=1))


if __name__ == "__main__":
    main()
