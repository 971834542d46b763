"""The SLA view and the dashboard's reports by day, vendor and agent, in one process, each
for a window the process has not answered yet (the store open and its per-generation facts
known, as in a running server).

    python -m bench.sla_reports STORE.duckdb [--rounds 3] [--profile OUT.prof]

Each computation runs in a session of its own (``Store.session``), as a server's request
does. A first, untimed round over a window far back opens the store and learns what it
remembers per generation; then each round moves the 28-day window back by a day and times every
computation (wall and this process's CPU). Prints one line per computation and round, and
the medians, with the machine's load average.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

VENDOR_KPIS = ["first_response_time", "csat", "first_contact_resolution", "abandonment_rate"]
AGENT_KPIS = [
    "chat_volume",
    "first_response_time",
    "average_handle_time",
    "csat",
    "first_contact_resolution",
]
DAY_KPIS = ["chat_volume", "first_response_time", "csat"]


def cpu() -> float:
    """This process's user + system CPU seconds."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    from supportkpi.analysis import views
    from supportkpi.analysis.query import report
    from supportkpi.analysis.sla import sla
    from supportkpi.config import Config
    from supportkpi.store.store import Store

    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile")
    args = parser.parse_args()
    cfg = Config()
    with Store.open(args.store, read_only=True) as store:
        _, last = views.data_days(store, None, cfg)

        def calls(end: date) -> list[tuple[str, Callable[[], object]]]:
            start = end - timedelta(days=27)

            def by(kpis: list[str], group: str) -> Callable[[], object]:
                def one() -> object:
                    with store.session() as s:
                        return report(s, kpis, [group], None, start, end, {}, None, cfg)

                return one

            def judged() -> object:
                with store.session() as s:
                    return sla(s, cfg, None, None, start, end, None, {})

            return [
                ("day", by(DAY_KPIS, "day")),
                ("vendor", by(VENDOR_KPIS, "vendor")),
                ("agent", by(AGENT_KPIS, "agent")),
                ("sla", judged),
            ]

        for _, f in calls(last - timedelta(days=60)):
            f()
        prof = cProfile.Profile() if args.profile else None
        times: dict[str, list[tuple[float, float]]] = {}
        print(f"load average before: {os.getloadavg()}")
        for r in range(1, args.rounds + 1):
            for name, f in calls(last - timedelta(days=r)):
                c0, w0 = cpu(), time.perf_counter()
                if prof:
                    prof.enable()
                f()
                if prof:
                    prof.disable()
                c, w = cpu() - c0, time.perf_counter() - w0
                times.setdefault(name, []).append((w, c))
                print(f"round {r} {name:7s} wall {w:.3f} cpu {c:.3f}")
        print(f"load average after: {os.getloadavg()}")
        for name, got in times.items():
            wall = statistics.median(w for w, _ in got)
            cpus = statistics.median(c for _, c in got)
            print(f"median {name:7s} wall {wall:.3f} cpu {cpus:.3f}")
        if prof:
            prof.dump_stats(args.profile)


if __name__ == "__main__":
    main()
