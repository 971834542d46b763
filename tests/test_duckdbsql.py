"""A DuckDB store works out the milliseconds between two instants with integer arithmetic,
not ``DATE_DIFF`` (ICU's calendar, slow on zoned timestamps), and gets the same numbers as
``DATE_DIFF``: checked against DuckDB itself on instants with sub-millisecond parts, before
and after 1970, in either order, and NULL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from supportkpi.facts.derive import seconds_between
from supportkpi.store.store import Store


def _instants(count: int) -> list[datetime | None]:
    rng = random.Random(7)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    out: list[datetime | None] = [None]
    for _ in range(count):
        out.append(epoch + timedelta(microseconds=rng.randint(-2 * 10**15, 2 * 10**15)))
    return out


def test_milliseconds_between_match_date_diff():
    starts = _instants(3000)
    # ends: far away, or within a few milliseconds (where flooring each instant matters)
    rng = random.Random(8)
    ends: list[datetime | None] = []
    for start in starts:
        scale = 1 if rng.random() < 0.5 else 10**9
        step = timedelta(microseconds=rng.randint(-5000, 5000) * scale)
        ends.append(None if start is None else start + step)
    ends[1] = None
    zoned = pa.timestamp("us", tz="UTC")
    data = pa.table(
        {"i": range(len(starts)), "a": pa.array(starts, zoned), "b": pa.array(ends, zoned)}
    )
    with Store.open(":memory:") as store:
        store.raw.register("pairs", data)
        t = store.con.table("pairs")
        expr = t.select(
            "i", ms=t.b.delta(t.a, unit="millisecond"), s=seconds_between(t.b, t.a)
        ).order_by("i")
        assert "DATE_DIFF" not in str(store.con.compile(expr)).upper()
        ours = expr.to_pyarrow()
        theirs = store.raw.execute(
            "SELECT date_diff('millisecond', a, b) AS ms, "
            "CAST(date_diff('millisecond', a, b) AS DOUBLE) / 1000.0 AS s FROM pairs ORDER BY i"
        ).to_arrow_table()
    assert ours.column("ms").to_pylist() == theirs.column("ms").to_pylist()
    assert ours.column("s").to_pylist() == theirs.column("s").to_pylist()
    assert ours.column("ms").null_count == 2


def test_an_instant_moved_by_fixed_intervals_matches_interval_arithmetic():
    """Local times are instants moved by a zone's offset (seconds); hours, minutes and
    sub-second steps are fixed too. A day stays DuckDB's own (a calendar step)."""
    import ibis

    starts = _instants(2000)
    zoned = pa.timestamp("us", tz="UTC")
    data = pa.table({"i": range(len(starts)), "a": pa.array(starts, zoned)})
    steps = {
        "east": ibis.interval(seconds=19800),
        "west": ibis.interval(seconds=-36000),
        "hour": ibis.interval(hours=2),
        "minute": ibis.interval(minutes=-45),
        "milli": ibis.interval(milliseconds=1500),
        "micro": ibis.interval(microseconds=-7),
    }
    sql_steps = {
        "east": "INTERVAL 19800 SECOND",
        "west": "INTERVAL (-36000) SECOND",
        "hour": "INTERVAL 2 HOUR",
        "minute": "INTERVAL (-45) MINUTE",
        "milli": "INTERVAL 1500 MILLISECOND",
        "micro": "INTERVAL (-7) MICROSECOND",
    }
    with Store.open(":memory:") as store:
        store.raw.register("instants", data)
        t = store.con.table("instants")
        expr = t.select("i", **{k: t.a + v for k, v in steps.items()}).order_by("i")
        compiled = str(store.con.compile(expr)).upper()
        assert "INTERVAL" not in compiled and "MAKE_TIMESTAMPTZ" in compiled
        ours = expr.to_pyarrow()
        moved = ", ".join(f"a + {v} AS {k}" for k, v in sql_steps.items())
        theirs = store.raw.execute(f"SELECT i, {moved} FROM instants ORDER BY i").to_arrow_table()
        day = t.select(d=t.a + ibis.interval(days=1))
        assert "INTERVAL" in str(store.con.compile(day)).upper()
    for name in steps:
        assert ours.column(name).to_pylist() == theirs.column(name).to_pylist(), name
    assert ours.column("east").null_count == 1
