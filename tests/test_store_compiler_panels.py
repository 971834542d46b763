"""Every dashboard panel answers the same through the store's compiler (time arithmetic on
integers, :mod:`supportkpi.store.duckdb_sql`) as through Ibis's own DuckDB compiler, on the
70-day demo (Europe/Berlin with its clock changes, business hours per vendor, every table)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

from ibis.backends.sql.compilers.duckdb import compiler as stock

from supportkpi.analysis import live, views
from supportkpi.analysis.query import HEADLINE, report
from supportkpi.analysis.sla import sla
from supportkpi.config import load_config
from supportkpi.store import duckdb_sql
from supportkpi.store.store import Store

START, END = date(2026, 7, 6), date(2026, 8, 2)
# every clock (and its business-hours twin), the day and shift grains, agent activity
TIMED = [
    "first_response_time",
    "first_response_time_bh",
    "response_time",
    "resolution_time_bh",
    "average_handle_time",
    "time_to_abandon",
    "volume_spike",
    "chats_per_agent_shift",
    "agent_utilization",
]
COUNTED = ["chat_volume", "first_response_time", "csat", "cost_per_contact"]


def _panels(store: Store, config: Any) -> dict[str, Any]:
    window = {"start": START, "end": END, "config": config}
    return {
        "headline": views.headline(store, HEADLINE, START, END, None, None, config),
        "by day": report(store, TIMED, ["day"], **window).table.to_pylist(),
        "by vendor, week": report(store, COUNTED, ["vendor", "week"], **window).table.to_pylist(),
        "hour of day": report(
            store, COUNTED, ["hour_of_day", "weekday"], **window
        ).table.to_pylist(),
        "peaks": views.weekday_hour_volume(store, START, END, None, None, config).to_pylist(),
        "escalations": views.escalation_reasons(
            store, ["vendor"], None, START, END, None, None, config
        ).to_pylist(),
        "sla": sla(store, config, None, None, START, END).to_pylist(),
        "live": live.snapshot(store, None, config, None, datetime(2026, 8, 3, 14, tzinfo=UTC)),
        "days": views.data_days(store, None, config),
    }


def test_every_panel_is_the_same_through_either_compiler(small_demo) -> None:
    db, config_path = small_demo
    config = load_config(config_path)
    with Store.open(db, read_only=True) as store:
        assert store.con.compiler is duckdb_sql.COMPILER
        ours = _panels(store, config)
    with Store.open(db, read_only=True) as store:
        store.con.compiler = stock
        theirs = _panels(store, config)
    for name, panel in ours.items():
        assert _same(panel, theirs[name]), name
    assert ours["by day"] and any(r["first_response_time_bh"] for r in ours["by day"])


def _same(a: Any, b: Any) -> bool:
    """Equal, floats to 12 digits: a sum over threads may add in another order run to run."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b
