"""The benchmark: load, reports, the hand-written SQL floors (over the kept facts, as ours
reads, and from the raw messages), the pandas baseline, a drill-down page, the dashboard's page
(cold, fresh and repeated, per route and per page: bench/page.py) and ingestion, at one size,
each measurement in its own process, with its CPU time and the machine's load average.

    python bench/run.py --size 1M            # make bench
    python bench/run.py --size 3M            # make bench SIZE=3M
    python bench/run.py --size 10M           # make bench SIZE=10M

Prints the results with the ratios (ours ÷ floor, pandas ÷ ours) and appends them, with the
date, the machine, the commit and the load average, to bench/RESULTS.md. The machine may be
shared: compare ratios within one run, and the CPU times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import page  # noqa: E402
from bench.generate import generate, size  # noqa: E402
from bench.machine import RESULTS, commit, machine  # noqa: E402
from supportkpi.api.warmup import default_window  # noqa: E402


def measure(name: str, db: Path, directory: Path) -> dict[str, Any]:
    """One measurement in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.measure", name, str(db), str(directory)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if proc.returncode:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(
        f"  {name}: {result['seconds']:.2f} s, CPU {result['cpu']:.2f} s, "
        f"peak {result['peak_mb']:,.0f} MB, load {_load(result)}",
        flush=True,
    )
    return result


def _hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return float("nan")


def api(db: Path, rounds: int, ingest_seconds: float, batch: int) -> dict[str, Any]:
    """p50/p95 of the dashboard's requests one after another, then ingestion of messages in
    batches; the server is then killed and the acknowledged messages counted in the store."""
    import httpx

    from supportkpi.store.store import Store
    from tests.server import make_token, serving

    token = make_token(db, "admin")
    with Store.open(db, read_only=True) as store:
        last = store.execute("SELECT max(created_at) FROM conversations")[0][0]
        ids = [r[0] for r in store.execute("SELECT conversation_id FROM conversations LIMIT 5000")]
    window = default_window(None, last.date())
    out: dict[str, Any] = {}
    with (
        serving(db) as server,
        httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=600
        ) as client,
    ):
        times: list[float] = []
        failures: list[str] = []
        for _ in range(rounds):
            for path, params in page.requests_of(window):
                start = time.perf_counter()
                answer = client.get(path, params=params)
                times.append(time.perf_counter() - start)
                if answer.status_code != 200:
                    failures.append(f"{path} {params}: {answer.status_code} {answer.text[:200]}")
        q = statistics.quantiles(times, n=20)
        out |= {"p50": statistics.median(times), "p95": q[18], "requests": len(times)}
        out |= {"failures": failures, "slowest": max(times)}
        if failures:
            shutil.copy(server.log, ROOT / "bench" / "data" / "last-serve.log")
        acknowledged, n, start = 0, 0, time.perf_counter()
        while time.perf_counter() - start < ingest_seconds:
            records = [
                {
                    "message_id": f"bench-{n + i}",
                    "conversation_id": ids[(n + i) % len(ids)],
                    "sent_at": str(last),
                    "author_role": "customer",
                    "text": "benchmark",
                }
                for i in range(batch)
            ]
            answer = client.post("/v1/records/messages", json=records)
            answer.raise_for_status()
            acknowledged += answer.json()["new"]
            n += batch
        elapsed = time.perf_counter() - start
        out |= {
            "ingest_per_s": acknowledged / elapsed,
            "server_peak_mb": _hwm_mb(server.process.pid),
        }
        server.process.send_signal(signal.SIGKILL)  # durable means durable without a clean stop
        server.process.wait()
    with Store.open(db, read_only=True) as store:
        stored = store.execute("SELECT count(*) FROM messages WHERE message_id LIKE 'bench-%'")
    out |= {"acknowledged": acknowledged, "durable": stored[0][0]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1M", help="100k, 1M, 3M, 10M …")
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "data")
    parser.add_argument("--rounds", type=int, default=5, help="dashboard rounds for latency")
    parser.add_argument("--cold", type=int, default=3, help="cold pages, a new server each")
    parser.add_argument("--ingest-seconds", type=float, default=60)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--api-only", type=Path, help="only the API, on this loaded store")
    parser.add_argument(
        "--load-only", action="store_true", help="only first loads: ours, plain, hand floor"
    )
    parser.add_argument("--load-rounds", type=int, default=1)
    parser.add_argument(
        "--loads", default=",".join(LOADS), help="which loads (the floor is always one)"
    )
    args = parser.parse_args()
    if args.api_only:
        api_only(args.api_only, args)
        return
    n = size(args.size)
    data = args.data / args.size
    if not (data / "parquet").is_dir():
        print(f"generating {n:,} conversations in {data} …", flush=True)
        generate(n, data)
    scratch = Path(tempfile.mkdtemp(prefix="supportkpi-bench-", dir=args.data))
    try:
        if args.load_only:
            names = tuple(dict.fromkeys(["load_floor", *args.loads.split(",")]))
            record_loads(n, loads(data, scratch, args.load_rounds, names), names)
            return
        results = run(data, scratch, args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    record(n, results)


LOADS = ("load", "load_floor", "load_plain")


def loads(
    data: Path, scratch: Path, rounds: int, names: tuple[str, ...] = LOADS
) -> dict[str, list[dict[str, Any]]]:
    """First loads of each format into fresh stores, ours, the hand floor and the plain
    path in turn, ``rounds`` times: ratios are taken within a round, under the same load."""
    out: dict[str, list[dict[str, Any]]] = {}
    for _ in range(rounds):
        for fmt in ("csv", "parquet"):
            for name in names:
                db = scratch / f"{name}-{fmt}.duckdb"
                db.unlink(missing_ok=True)
                out.setdefault(f"{name}_{fmt}", []).append(measure(name, db, data / fmt))
                db.unlink(missing_ok=True)
    return out


def record_loads(
    n: int, r: dict[str, list[dict[str, Any]]], names: tuple[str, ...] = LOADS
) -> None:
    """Append the first-load table to bench/RESULTS.md."""
    rows = []
    shown = {"load": "ours", "load_floor": "hand floor", "load_plain": "plain path"}
    for fmt in ("csv", "parquet"):
        floor = r[f"load_floor_{fmt}"]
        for name in sorted(names, key=list(shown).index):
            runs = r[f"{name}_{fmt}"]
            wall = statistics.median(x["seconds"] for x in runs)
            cpu = statistics.median(x["cpu"] for x in runs)
            ratio = statistics.median(
                x["seconds"] / f["seconds"] for x, f in zip(runs, floor, strict=True)
            )
            cpu_ratio = statistics.median(
                x["cpu"] / f["cpu"] for x, f in zip(runs, floor, strict=True)
            )
            loads_seen = ", ".join(f"{x['load_average'][0]:.1f}" for x in runs)
            rows.append(
                f"| {fmt} | {shown[name]} | {wall:.1f} s | {cpu:.1f} s | {ratio:.2f} | "
                f"{cpu_ratio:.2f} | {max(x['peak_mb'] for x in runs):,.0f} MB | {loads_seen} |"
            )
    text = (
        f"\n## First load at {n:,} conversations, {datetime.now(UTC):%Y-%m-%d}, commit "
        f"{commit()}\n\nMachine: {machine()}; Python {platform.python_version()}; "
        f"{os.cpu_count()} cores shared. `python bench/run.py --load-only`: every file of a "
        "format into a fresh store, one process each, in turn: "
        + ", ".join(shown[name] for name in names)
        + " (hand floor: bench/load_floor.py, the same row, key and reference checks in hand "
        "SQL and our kept-facts rebuild; plain path: `fast=False`); ratios are medians of "
        "the ratios within a round. CPU is user + system time of every thread.\n\n"
        "| format | load | wall | CPU | wall ÷ floor | CPU ÷ floor | peak RSS | load average "
        "at start |\n|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    print(text)
    with RESULTS.open("a") as f:
        f.write(text)


def run(data: Path, scratch: Path, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    print("load", flush=True)
    for fmt in ("csv", "parquet"):
        results[f"load_{fmt}"] = measure("load", scratch / f"{fmt}.duckdb", data / fmt)
    db = scratch / "parquet.duckdb"
    print("queries", flush=True)
    queries = ("scorecard", "agent_month", "core_ours", "core_floor_kept", "core_floor")
    for name in (*queries, "core_pandas", "listing"):
        results[name] = measure(name, db, data / "parquet")
    print("dashboard page", flush=True)
    shutil.copy(db, scratch / "page.duckdb")
    results["page"] = page.measure(scratch / "page.duckdb", args.rounds, args.cold)
    print(json.dumps(results["page"]), flush=True)
    print("API", flush=True)
    shutil.copy(db, scratch / "api.duckdb")
    results["api"] = api(scratch / "api.duckdb", args.rounds, args.ingest_seconds, args.batch)
    print(json.dumps(results["api"]), flush=True)
    return results


def api_only(db: Path, args: argparse.Namespace) -> None:
    """Only the API measurements, on a copy of an already loaded store."""
    with tempfile.TemporaryDirectory(dir=db.parent) as scratch:
        copy = Path(scratch) / "api.duckdb"
        shutil.copy(db, copy)
        print(json.dumps(api(copy, args.rounds, args.ingest_seconds, args.batch), indent=1))


def _load(m: dict[str, Any]) -> str:
    before, after = m["load_average"]
    return f"{before:.1f}–{after:.1f}"


def _cpu(m: dict[str, Any]) -> str:
    return f"CPU {m['cpu']:.2f} s, load {_load(m)}"


def page_lines(p: dict[str, Any]) -> list[str]:
    """The dashboard page's rows: per way, the page and the slowest route."""
    out = []
    for way in ("cold", "started", "fresh", "repeat"):
        w = p[way]
        slowest = max(w["routes"].items(), key=lambda item: item[1]["p95"])
        out.append(
            f"| dashboard page, {way} ({w['pages']} pages of 9 requests) | "
            f"p50 {w['page_p50'] * 1000:,.0f} ms, p95 {w['page_p95'] * 1000:,.0f} ms | "
            f"request p95 {w['request_p95'] * 1000:,.0f} ms; slowest route {slowest[0]} "
            f"p95 {slowest[1]['p95'] * 1000:,.0f} ms | server CPU "
            f"{w['server_cpu_per_page']:.2f} s/page | page ≤ 1 s cold, request p95 ≤ 200 ms |"
        )
    return out


def record(n: int, r: dict[str, Any]) -> None:
    csv, parquet, a = r["load_csv"], r["load_parquet"], r["api"]
    ours, floor, pandas = (r[k]["seconds"] for k in ("core_ours", "core_floor", "core_pandas"))
    kept = r["core_floor_kept"]["seconds"]
    cpu_ours, cpu_kept = r["core_ours"]["cpu"], r["core_floor_kept"]["cpu"]
    lines = [
        f"| load CSV (validated) | {csv['seconds']:.1f} s ({_cpu(csv)}) | "
        f"{csv['conversations'] / csv['seconds']:,.0f} conversations/s "
        f"({(csv['conversations'] + csv['messages']) / csv['seconds']:,.0f} rows/s) | "
        f"{csv['peak_mb']:,.0f} MB | ≥ 250,000/s |",
        f"| load Parquet (validated) | {parquet['seconds']:.1f} s ({_cpu(parquet)}) | "
        f"{parquet['conversations'] / parquet['seconds']:,.0f} conversations/s "
        f"({(parquet['conversations'] + parquet['messages']) / parquet['seconds']:,.0f} rows/s) "
        f"| {parquet['peak_mb']:,.0f} MB | ≥ 1,000,000/s |",
        f"| scorecard, every KPI by vendor | {r['scorecard']['seconds']:.2f} s | "
        f"first run {r['scorecard']['first']:.2f} s | {r['scorecard']['peak_mb']:,.0f} MB | |",
        f"| every KPI by agent × month | {r['agent_month']['seconds']:.2f} s | "
        f"first run {r['agent_month']['first']:.2f} s | {r['agent_month']['peak_mb']:,.0f} MB | |",
        f"| core KPIs, ours | {ours:.2f} s ({_cpu(r['core_ours'])}) | ours ÷ kept-facts floor "
        f"= {ours / kept:.2f} (CPU {cpu_ours / cpu_kept:.2f}) | "
        f"{r['core_ours']['peak_mb']:,.0f} MB | ≤ 1.5 |",
        f"| core KPIs, hand SQL over the kept facts (the same work) | {kept:.2f} s "
        f"({_cpu(r['core_floor_kept'])}) | | {r['core_floor_kept']['peak_mb']:,.0f} MB | |",
        f"| core KPIs, hand SQL from the raw messages | {floor:.2f} s ({_cpu(r['core_floor'])}) | "
        f"ours ÷ raw floor = {ours / floor:.2f} | {r['core_floor']['peak_mb']:,.0f} MB | |",
        f"| core KPIs, pandas (baseline) | {pandas:.2f} s | pandas ÷ ours = {pandas / ours:.1f} | "
        f"{r['core_pandas']['peak_mb']:,.0f} MB | ≥ 5 |",
        f"| drill-down page, 1,000 conversations | {r['listing']['seconds'] * 1000:,.0f} ms "
        f"({_cpu(r['listing'])}) | | {r['listing']['peak_mb']:,.0f} MB | ≤ 300 ms |",
        *page_lines(r["page"]),
        f"| dashboard requests one by one ({a['requests']}) | p50 {a['p50'] * 1000:,.0f} ms | "
        f"p95 {a['p95'] * 1000:,.0f} ms | server {a['server_peak_mb']:,.0f} MB | p95 ≤ 200 ms |",
        *(f"| dashboard request failed | {f} | | | |" for f in a["failures"]),
        f"| ingestion, POST /v1/records/messages | {a['ingest_per_s']:,.0f} messages/s | "
        f"{a['durable']:,} of {a['acknowledged']:,} acknowledged found after a kill -9 | | "
        "≥ 2,000/s |",
    ]
    header = (
        f"\n## Benchmark at {n:,} conversations, {datetime.now(UTC):%Y-%m-%d}, commit "
        f"{commit()}\n\nMachine: {machine()}; Python {platform.python_version()}; "
        f"{os.cpu_count()} cores shared; load average {os.getloadavg()[0]:.1f} at the end. "
        "One process per measurement; queries are the median of 3 runs in that process, wall "
        "and CPU (every thread). Core KPIs: volume, first response time (mean, median, p90), "
        "abandonment, resolution, CSAT by vendor (bench/floor.py).\n\n"
        "| measurement | time | rate or ratio | peak RSS | target |\n|---|---|---|---|---|\n"
    )
    text = header + "\n".join(lines) + "\n"
    print(text)
    with RESULTS.open("a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
