"""The store's DuckDB compiler: a millisecond duration on integers equals DuckDB's DATE_DIFF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from supportkpi.store import duckdb_sql
from supportkpi.store.store import Store

INSTANTS = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=12, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(INSTANTS, st.one_of(INSTANTS, st.integers(-(10**7), 10**7))),
        min_size=1,
        max_size=200,
    ),
    zone=st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]),
)
def test_a_duration_on_integers_is_date_diff(
    pairs: list[tuple[datetime, datetime | int]], zone: str
) -> None:
    """Instants before and after 1970, micro-seconds apart or centuries, in any session zone:
    the compiled duration equals DATE_DIFF('millisecond') on the same instants."""
    rows = [(a, b if isinstance(b, datetime) else a + timedelta(microseconds=b)) for a, b in pairs]
    con = duckdb_sql.use(ibis.duckdb.connect())
    con.raw_sql(f"SET TimeZone = '{zone}'")
    con.raw_sql("CREATE TABLE t (i INTEGER, a TIMESTAMPTZ, b TIMESTAMPTZ)")
    con.con.executemany(
        "INSERT INTO t VALUES (?, ?, ?)", [(i, a, b) for i, (a, b) in enumerate(rows)]
    )
    t = con.table("t")
    ours = t.select("i", d=t.b.delta(t.a, unit="millisecond")).order_by("i")
    sql = str(con.compile(ours))
    assert "DATE_DIFF" not in sql.upper()
    engine = con.raw_sql("SELECT date_diff('millisecond', a, b) FROM t ORDER BY i").fetchall()
    assert con.execute(ours)["d"].tolist() == [r[0] for r in engine]
    assert con.execute(ours)["d"].tolist() == _exact(rows)


def test_a_duration_across_1970_is_date_diff() -> None:
    """Instants a few µs either side of 1970 (where the compiled floor changes branch) and
    of whole milliseconds before it: each pair's duration equals DATE_DIFF and the exact
    floor difference."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    steps = [-2001, -1001, -1000, -999, -1, 0, 1, 999, 1000, 1001, 2001]
    instants = [epoch + timedelta(microseconds=s) for s in steps]
    rows = [(a, b) for a in instants for b in instants]
    con = duckdb_sql.use(ibis.duckdb.connect())
    con.raw_sql("CREATE TABLE t (i INTEGER, a TIMESTAMPTZ, b TIMESTAMPTZ)")
    con.con.executemany(
        "INSERT INTO t VALUES (?, ?, ?)", [(i, a, b) for i, (a, b) in enumerate(rows)]
    )
    t = con.table("t")
    ours = con.execute(t.select("i", d=t.b.delta(t.a, unit="millisecond")).order_by("i"))
    engine = con.raw_sql("SELECT date_diff('millisecond', a, b) FROM t ORDER BY i").fetchall()
    assert ours["d"].tolist() == [r[0] for r in engine] == _exact(rows)
    assert set(ours["d"]) >= {-3, -1, 0, 1, 3}


def _exact(rows: list[tuple[datetime, datetime]]) -> list[int]:
    """floor(µs ÷ 1000) differences, in integers (no float rounding)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)

    def ms(t: datetime) -> int:
        return ((t - epoch) // timedelta(microseconds=1)) // 1000

    return [ms(b) - ms(a) for a, b in rows]


def test_a_store_compiles_durations_on_integers(tmp_path) -> None:
    """Every store opened on DuckDB, and every request's session, uses the compiler."""
    with Store.open(tmp_path / "s.duckdb") as store:
        assert store.con.compiler is duckdb_sql.COMPILER
        with store.session() as session:
            assert session.con.compiler is duckdb_sql.COMPILER
        c = store.table("conversations")
        sql = str(
            store.con.compile(c.select(d=c.resolved_at.delta(c.created_at, unit="millisecond")))
        )
        assert "EPOCH_US" in sql.upper() and "DATE_DIFF" not in sql.upper()


@settings(max_examples=10, deadline=None)
@given(
    instants=st.lists(INSTANTS, min_size=1, max_size=200),
    shift=st.integers(-(10**6), 10**6),
    unit=st.sampled_from(["s", "m", "h", "ms"]),
)
def test_local_time_on_integers_is_the_calendar(
    instants: list[datetime], shift: int, unit: str
) -> None:
    """A zoned instant shifted by a fixed interval, truncated to every unit a report groups
    by, its hour, minute, weekday and date: the store's compiler and Ibis's agree (UTC)."""
    con = duckdb_sql.use(ibis.duckdb.connect())
    plain = ibis.duckdb.connect()
    for c in (con, plain):
        c.raw_sql("SET TimeZone = 'UTC'")
        c.raw_sql("CREATE TABLE t (i INTEGER, a TIMESTAMPTZ)")
        c.con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(instants)))
    t = con.table("t")
    local = t.a + ibis.interval(shift, unit=unit)
    columns = {
        "shifted": local,
        "hour": local.hour(),
        "minute": local.minute(),
        "weekday": local.day_of_week.index(),
        "day": local.date(),
        **{f"trunc_{u}": local.truncate(u) for u in ("Y", "Q", "M", "W", "D", "h", "m", "s")},
    }
    expr = t.select("i", **columns).order_by("i")
    ours = con.compile(expr)
    assert "INTERVAL" not in ours.upper() and "MAKE_TIMESTAMP(EPOCH_US" in ours.upper()
    theirs = ibis.to_sql(expr, dialect="duckdb")
    assert "INTERVAL" in theirs.upper()
    assert con.raw_sql(ours).fetchall() == plain.raw_sql(str(theirs)).fetchall()


def test_not_null_and_a_duration_compile_as_written_before_without_copies() -> None:
    """``IS NOT NULL`` and the integer duration, built without sqlglot's copies, read as
    they did with them: the same SQL text as Ibis's own ``IS NOT NULL`` and the operator
    form of the duration (parentheses where sqlglot's operators put them)."""
    t = ibis.table({"a": "timestamp('UTC')", "b": "timestamp('UTC')"}, name="t")
    seconds = t.a.delta(t.b, unit="millisecond")
    expr = t.select(known=seconds.notnull(), d=seconds)
    ours = duckdb_sql.COMPILER.to_sqlglot(expr).sql("duckdb")
    plain = ibis.to_sql(t.select(known=t.a.notnull()), dialect="duckdb")
    assert '"t0"."a" IS NOT NULL' in plain
    micros = 'EPOCH_US("t0"."{c}")'
    floor = (
        "CASE WHEN {m} >= 0 THEN {m} // 1000 "
        "ELSE ({m} - ((({m} % 1000) + 1000) % 1000)) // 1000 END"
    )
    duration = f"({floor.format(m=micros.format(c='a'))} - {floor.format(m=micros.format(c='b'))})"
    assert f'{duration} IS NOT NULL AS "known"' in " ".join(ours.split())
    assert f'{duration} AS "d"' in " ".join(ours.split())


def test_utc_wall_clock_is_the_instant_itself() -> None:
    """In UTC no shift is written for the engine to compute; a zone with an offset shifts."""
    from supportkpi.facts import calendar

    t = ibis.table({"a": "timestamp('UTC')"}, name="t")
    assert calendar.local_time(t.a, [(datetime(1970, 1, 1), 0)]).equals(t.a)
    shifted = calendar.local_time(t.a, [(datetime(1970, 1, 1), 19800)])
    assert not shifted.equals(t.a)
    assert shifted.type() == t.a.type()


def test_is_not_null_of_and_or_not_keeps_its_operand_whole():
    """IS binds tighter than AND, OR and NOT: the store's compiler keeps their parentheses."""
    con = duckdb_sql.use(ibis.duckdb.connect())
    rows = [(True, None), (False, None), (None, True), (None, None), (True, True)]
    t = ibis.memtable({"a": [r[0] for r in rows], "b": [r[1] for r in rows]})
    query = t.select(
        both=(t.a & t.b).notnull(), either=(t.a | t.b).notnull(), neither=(~t.a).notnull()
    )
    got = con.to_pyarrow(query).to_pylist()
    with duckdb.connect() as plain:  # the same truth in SQL written here
        want = plain.execute(
            "SELECT (a AND b) IS NOT NULL, (a OR b) IS NOT NULL, (NOT a) IS NOT NULL "
            "FROM (VALUES (true, NULL), (false, NULL), (NULL, true), (NULL, NULL), (true, true))"
            " AS v(a, b)"
        ).fetchall()
    assert [(r["both"], r["either"], r["neither"]) for r in got] == want
