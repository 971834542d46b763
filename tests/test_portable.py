"""Every KPI compiles for the engines a company's data may live on, with each engine's
quantile strategy: exact everywhere an exact quantile exists, and said so where it does not.

Compiled, not run (no Snowflake, BigQuery or Databricks here): the whole report of every KPI,
as the query service builds it, through Ibis to each dialect's SQL. PostgreSQL and Spark also
run the KPIs in their own tests."""

from __future__ import annotations

from datetime import date
from functools import cache

import ibis
import pytest

from supportkpi.analysis.aggregate import aggregate, combine
from supportkpi.analysis.engines import APPROXIMATE_NOTE, approximates, portable
from supportkpi.config import BusinessHours, Calendars, Config
from supportkpi.facts import calendar
from supportkpi.kpis import all_kpis
from supportkpi.kpis.grains import Frame
from supportkpi.store import schema

DIALECTS = ("postgres", "snowflake", "bigquery", "databricks", "trino")
FIRST, LAST = date(2024, 1, 1), date(2024, 3, 1)
HOURS = BusinessHours(timezone="Europe/Berlin", mon="09:00-17:00", tue="22:00-06:00")
CONFIG = Config(business_hours=Calendars(default=HOURS, vendors={"acme": HOURS}))


def _frame(by: tuple[str, ...], period: str | None) -> Frame:
    tables = {name: ibis.table(spec.ibis_schema, name=name) for name, spec in schema.TABLES.items()}
    return Frame(
        tables,
        CONFIG,
        by,
        period,
        calendar.utc_offsets("Europe/Berlin", FIRST, LAST),
        spans=calendar.business_spans(CONFIG.business_hours, FIRST, LAST),
    )


@cache
def _parts() -> tuple[tuple[Frame, list, list], ...]:
    """Each frame's grains with the KPIs computable in it, built once: every KPI by vendor,
    and by month those that need a period and no dimension (retention)."""
    kpis = all_kpis()
    by_vendor = _frame(("vendor",), None)
    parts, missing = aggregate(by_vendor, kpis, kpis)
    rest = [k for k in kpis if k.name in missing]
    by_month = _frame((), "month")
    later, still = aggregate(by_month, rest, rest)
    assert not still, still
    return (by_vendor, parts, kpis), (by_month, later, rest)


def test_every_kpi_is_in_one_frame():
    (_, _, kpis), (_, _, rest) = _parts()
    assert rest and len(kpis) == len(all_kpis())


@cache
def _sql(dialect: str) -> tuple[str, ...]:
    """The report's SQL for ``dialect``, each engine's quantile strategy applied."""
    return tuple(
        ibis.to_sql(
            combine([portable(p, dialect) for p in parts], frame.group, kpis, frame),
            dialect=dialect,
        )
        for frame, parts, kpis in _parts()
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_kpi_compiles(dialect):
    for sql in _sql(dialect):
        assert "SELECT" in sql.upper()
        # no as-of join and no multi-quantile aggregate reaches another engine
        assert "ASOF" not in sql.upper()
        assert "0.5, 0.9]" not in sql


def test_quantiles_are_exact_or_said_to_be_approximate():
    assert "PERCENTILE_CONT(0.9)" in _sql("postgres")[0]
    assert "PERCENTILE(" in _sql("databricks")[0]
    assert "PERCENTILE_CONT(0.9)" in _sql("snowflake")[0]
    assert "APPROX" not in "".join(_sql("snowflake") + _sql("postgres")).upper()
    # BigQuery and Trino have no exact quantile aggregate: the approximate one, said so
    for dialect in ("bigquery", "trino"):
        assert approximates(dialect)
        assert "APPROX" in _sql(dialect)[0].upper()
    assert "approximate on bigquery" in APPROXIMATE_NOTE.format(engine="bigquery")
    assert not approximates("duckdb") and not approximates("postgres")
    assert not approximates("pyspark")
    # DuckDB keeps the one exact aggregate for both quantiles
    frame, parts, kpis = _parts()[0]
    duck = ibis.to_sql(combine(parts, frame.group, kpis, frame), dialect="duckdb")
    assert "QUANTILE_CONT" in duck and "0.5, 0.9]" in duck and "APPROX" not in duck.upper()


def test_booleans_are_never_cast_straight_to_a_number():
    """PostgreSQL refuses boolean → bigint and boolean → double; through integer it takes."""
    frame, parts, kpis = _parts()[0]
    expr = combine([portable(p, "postgres") for p in parts], frame.group, kpis, frame)
    for node in expr.op().find(ibis.expr.operations.Cast):
        if node.arg.dtype.is_boolean():
            assert node.to.is_integer() and node.to.nbytes == 4, node
    assert "AS INT)" in _sql("postgres")[0]
