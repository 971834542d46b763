"""Invariants of every report, on generated stores of 5,000 conversations in every data shape.

At this size the engine runs the plans users get (a NULL instant once got a business-hours
clock only on large inputs). Hypothesis draws the seed of each store, so every run looks at
new data; a failure prints the seed that reproduces it. Each store is reported on six
groupings that together cover every dimension and every period, in zones across the spring
DST changes, plus the overall report, and every report must hold:

- no negative duration; each ``_bh`` value ≤ its calendar twin, per conversation and per
  aggregate, and measured over the same conversations;
- rates in [0, 1]; median ≤ p90; handled and resolved ≤ volume;
- the groups' volumes add up to the overall volume;
- a KPI whose inputs are absent is missing with a reason in every group, never 0.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from supportkpi.analysis.query import Report, build_frame, report
from supportkpi.config import Config, load_config
from supportkpi.kpis import REGISTRY, Unit
from supportkpi.kpis.grains import CLOCKS, conversations
from supportkpi.load.ingest import load
from supportkpi.store.store import Store
from tests.generated import CONFIG, SHAPES, generate

# (dimensions, period, zone): every dimension and every period, across DST changes
GROUPINGS = [
    ((), None, "UTC"),
    (("vendor",), "day", "Europe/Berlin"),
    (("team",), "week", "America/New_York"),
    (("agent",), "month", "Europe/Berlin"),
    (("channel",), "hour", "America/New_York"),
    (("queue",), "quarter", "UTC"),
    (("topic",), "year", "Asia/Manila"),
    (("vendor", "hour_of_day"), None, "America/New_York"),
]
# KPIs that each shape cannot compute, and must report missing rather than as 0
MUST_BE_MISSING = {
    "chat": {"source_sla_attainment"},
    "tickets": {
        "response_time",
        "agent_concurrency",
        "escalation_rate",
        "abandonment_after_contact_rate",
        "chats_per_agent_shift",
        "csat",
    },
    "calls": {
        "follow_up_rate",
        "escalation_rate",
        "reopen_rate",
        "response_time",
        "csat",
        "source_sla_attainment",
    },
    "bare": {
        "follow_up_rate",
        "escalation_rate",
        "transfer_rate",
        "reopen_rate",
        "abandonment_after_contact_rate",
        "resolution_rate",
        "chats_per_agent_shift",
        "response_time",
        "source_sla_attainment",
    },
}
# FCR is computed from what is known, with a note naming what it could not check
FCR_UNCHECKED = {"chat": None, "tickets": "escalations", "calls": "follow-ups", "bare": "reopens"}
EPSILON = 1e-6


def _config(directory: Path) -> Config:
    path = directory / "supportkpi.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return load_config(path)


def _store(directory: Path, shape: str, seed: int) -> Store:
    generated = generate(directory / "files", shape, seed)
    store = Store.open(directory / "store.duckdb")
    summary = load(store, generated.files)
    assert summary.tables["conversations"].new == generated.conversations
    return store


def _check_report(result: Report, shape: str, where: str) -> None:
    _check_rows(result, where)
    rows = result.table.to_pylist()
    for name in MUST_BE_MISSING[shape]:
        assert name in result.missing, f"{where}: {name} should be missing"
    for name, why in result.missing.items():
        assert why, f"{where}: {name} missing without a reason"
        for column in REGISTRY[name].columns if name in REGISTRY else ():
            assert all(r.get(column) is None for r in rows), f"{where}: {name} shown though missing"
    unchecked = FCR_UNCHECKED[shape]
    note = result.notes.get("first_contact_resolution")
    if unchecked is None:
        assert note is None, f"{where}: {note}"
    else:
        assert note and unchecked in note, f"{where}: FCR note {note!r}"


def _check_rows(result: Report, where: str) -> None:
    """What holds of every report row: no NaN, no negative duration, rates in [0, 1], median
    ≤ p90, business hours ≤ calendar time, handled and resolved ≤ volume."""
    rows = result.table.to_pylist()
    assert rows, where
    units = result.units()
    for row in rows:
        group = {g: row[g] for g in result.group}
        at = f"{where} {group}"
        for column, unit in units.items():
            value = row.get(column)
            if value is None:
                continue
            assert not (isinstance(value, float) and math.isnan(value)), f"{at}: {column} NaN"
            if unit is Unit.SECONDS:
                assert value >= -EPSILON, f"{at}: {column} = {value} is negative"
            if unit is Unit.RATE and not column.startswith(("roi", "nps")):
                assert -EPSILON <= value <= 1 + EPSILON, f"{at}: {column} = {value}"
        for kpi in result.kpis:
            if kpi.unit is not Unit.SECONDS or f"{kpi.name}_p90" not in row:
                continue
            median, p90 = row[f"{kpi.name}_median"], row[f"{kpi.name}_p90"]
            if median is not None:
                assert median <= p90 + EPSILON, f"{at}: {kpi.name} median {median} > p90 {p90}"
            if kpi.business_hours:
                twin = kpi.name.removesuffix("_bh")
                for suffix in ("", "_median", "_p90"):
                    bh, calendar = row[kpi.name + suffix], row[twin + suffix]
                    assert (bh is None) == (calendar is None), f"{at}: {kpi.name}{suffix}"
                    if bh is not None:
                        assert bh <= calendar + EPSILON, (
                            f"{at}: {kpi.name}{suffix} {bh} > {twin}{suffix} {calendar}"
                        )
        if row.get("chat_volume") is not None:
            assert row["chat_volume_handled"] <= row["chat_volume"], at
            assert row["chat_volume_resolved"] <= row["chat_volume"], at


def _check_conversations(store: Store, config: Config, where: str) -> None:
    """Every conversation's business-hours clocks: NULL exactly where the calendar clock is
    NULL, never negative, never longer than the calendar time."""
    frame = build_frame(store, config, (), None, None, None, None, "UTC", True)
    names = [name for name, _, _ in CLOCKS if name != "active"] + ["aht"]
    columns = [c for n in names for c in (f"{n}_seconds", f"{n}_bh_seconds")]
    rows = conversations(frame).select("conversation_id", *columns).to_pyarrow().to_pylist()
    assert len(rows) >= 5_000
    for row in rows:
        for name in names:
            calendar, bh = row[f"{name}_seconds"], row[f"{name}_bh_seconds"]
            at = f"{where} {row['conversation_id']} {name}"
            assert (calendar is None) == (bh is None), f"{at}: calendar {calendar}, bh {bh}"
            if calendar is not None:
                assert calendar >= -EPSILON, f"{at}: {calendar}"
                assert -EPSILON <= bh <= calendar + EPSILON, f"{at}: bh {bh} > {calendar}"


def _check_sums(store: Store, config: Config, where: str) -> None:
    overall = report(store, ["chat_volume"], by=(), config=config).table.to_pylist()[0]
    for dimension in ("vendor", "team", "agent", "channel", "queue", "topic"):
        parts = report(store, ["chat_volume"], by=[dimension], config=config).table.to_pylist()
        for column in ("chat_volume", "chat_volume_handled", "chat_volume_resolved"):
            total = sum(r[column] or 0 for r in parts)
            assert total == overall[column], f"{where} by {dimension}: {column}"
    weekly = report(store, ["chat_volume"], by=[], period="week", config=config, tz="Europe/Berlin")
    assert sum(r["chat_volume"] for r in weekly.table.to_pylist()) == overall["chat_volume"]
    # the profiles, against each conversation's local hour and weekday worked out in Python
    zone = ZoneInfo("America/New_York")
    local = [t.astimezone(zone) for (t,) in store.execute("SELECT created_at FROM conversations")]
    for profile, of in (("hour_of_day", lambda t: t.hour), ("weekday", lambda t: t.weekday())):
        rows = report(
            store, ["chat_volume"], by=[profile], config=config, tz="America/New_York"
        ).table.to_pylist()
        assert {r[profile]: r["chat_volume"] for r in rows} == Counter(of(t) for t in local), (
            f"{where} by {profile}"
        )


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
@settings(
    max_examples=1,
    deadline=None,
    # a seed is not made simpler by shrinking it: report the failing one at once
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(seed=st.integers(min_value=0, max_value=2**31 - 1))
def test_every_report_holds_its_invariants(tmp_path_factory, shape, seed):
    directory = tmp_path_factory.mktemp(f"{shape}-{seed}")
    config = _config(directory)
    store = _store(directory, shape, seed)
    try:
        where = f"[{shape}, seed {seed}]"
        _check_conversations(store, config, where)
        _check_sums(store, config, where)
        for dims, period, zone in GROUPINGS:
            result = report(store, by=list(dims), period=period, tz=zone, config=config)
            _check_report(result, shape, f"{where} by {dims} {period} in {zone}")
    finally:
        store.close()


# on the other engines: the overall report and one grouped by vendor and day across a DST
# change (each report is a query on the engine)
ON_ENGINES = [GROUPINGS[0], GROUPINGS[1]]


@pytest.mark.engines
def test_every_report_holds_its_invariants_on_every_engine(engine_demo):
    """PostgreSQL and Spark (conftest ``engine_demo``): the reports hold the invariants and
    equal DuckDB's on the same data, KPI for KPI, missing ones for the same reason."""
    engine, store, duck, config = engine_demo
    for dims, period, zone in ON_ENGINES:
        where = f"[{engine}] by {dims} {period} in {zone}"
        got = report(store, by=list(dims), period=period, tz=zone, config=config)
        _check_rows(got, where)
        expected = report(duck, by=list(dims), period=period, tz=zone, config=config)
        assert got.missing == expected.missing, where
        assert got.notes == expected.notes, where
        assert got.table.column_names == expected.table.column_names, where
        rows, wanted = got.table.to_pylist(), expected.table.to_pylist()
        assert len(rows) == len(wanted), where
        for row, other in zip(rows, wanted, strict=True):
            for column, value in row.items():
                _same(value, other[column], f"{where} {column}")


def _same(value: object, other: object, where: str) -> None:
    if isinstance(value, float) and isinstance(other, float):
        assert math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9), f"{where}: {value}"
    elif isinstance(value, datetime) and isinstance(other, datetime):  # zones named apart
        assert value.replace(tzinfo=None) == other.replace(tzinfo=None), where
    else:
        assert value == other, f"{where}: {value!r} vs {other!r}"
