"""The conversations listed for a report cell add up to the report's number.

For every KPI with a per-conversation value (its grain is conversations, survey answers or
QA reviews, and its measure is a mean or count of per-row values), the rows the drill-down
lists for the KPI are aggregated here in plain Python (mean, count, median and p90 by linear
interpolation) per group, and must equal the report's value for that group: on the demo
operation (business hours, contracts, Europe/Berlin) and on generated stores of 5,000
conversations in two data shapes, grouped by vendor, channel and agent, with and without a
period (day, week, month). Then single cells are asked for directly (a dimension's value, a
period, a group without a value), with outcomes (numerator) and missed targets.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from supportkpi.analysis.conversations import conversations, drillable
from supportkpi.analysis.frame import QueryError
from supportkpi.analysis.measured import NoPerRowValue
from supportkpi.analysis.query import report
from supportkpi.analysis.sla import sla
from supportkpi.config import Config, load_config
from supportkpi.kpis import REGISTRY, Unit
from supportkpi.load.ingest import load
from supportkpi.store.store import Store
from tests.generated import CONFIG, generate

# (dimensions, period) compared with the report; every one is worked out from one listing
GROUPINGS = [
    ((), None),
    (("vendor",), "month"),
    (("channel",), "week"),
    (("agent",), None),
    (("vendor", "channel"), "day"),
]
# the demo and the generated store share the groupings between them, to keep the time down
ON_DEMO = [GROUPINGS[0], GROUPINGS[1], GROUPINGS[3]]
ON_GENERATED = [GROUPINGS[0], GROUPINGS[2], GROUPINGS[4]]
# KPIs that must be covered on the demo: the test may not shrink silently
MUST_COVER = {
    "first_response_time",
    "first_response_time_bh",
    "resolution_time",
    "resolution_time_bh",
    "average_handle_time",
    "average_handle_time_bh",
    "time_to_abandon",
    "time_to_abandon_bh",
    "service_level",
    "chat_volume",
    "first_contact_resolution",
    "follow_up_rate",
    "resolution_rate",
    "escalation_rate",
    "transfer_rate",
    "reopen_rate",
    "abandonment_rate",
    "abandonment_after_contact_rate",
    "csat",
    "csat_mean",
    "nps",
    "ces",
    "qa_score",
    "survey_response_rate",
    "csat_by_response_bucket",
}
NO_PER_ROW = ("response_time_consistency", "response_time", "agent_utilization", "roi")


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _quantile(values: list[float], q: float) -> float:
    """Continuous quantile, linear interpolation (as the engines' exact one)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _period_start(moment: datetime, period: str) -> datetime:
    day = datetime(moment.year, moment.month, moment.day)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    assert period == "month"
    return day.replace(day=1)


def _key(row: dict[str, Any], dims: tuple[str, ...], period: str | None) -> tuple:
    key = tuple(row[d] for d in dims)
    if period:
        value = row[period] if period in row else _period_start(row["created"], period)
        key += (value.replace(tzinfo=None) if isinstance(value, datetime) else value,)
    return key


def per_row_kpis(store: Store, config: Config) -> list[str]:
    """Every KPI the drill-down lists rows for on this store."""
    return drillable(store, config)


def check_consistency(
    store: Store,
    config: Config,
    names: list[str],
    groupings: list = GROUPINGS,
    reference: Store | None = None,
) -> int:
    """Each KPI's listed rows, aggregated per group, equal the report; returns the number
    of (KPI, group) values compared. With a ``reference`` store (DuckDB, holding the same
    data), every report and every listing must also equal the reference's."""
    reports = {
        (dims, period): report(store, names, dims, period, config=config).table.to_pylist()
        for dims, period in groupings
    }
    if reference is not None:
        for (dims, period), table in reports.items():
            theirs = report(reference, names, dims, period, config=config).table.to_pylist()
            _same_rows(table, theirs, f"report by {dims} {period}")
    compared = 0
    for name in names:
        kpi = REGISTRY[name]
        listed = conversations(store, config, kpi=name, limit=None)
        assert listed.total == listed.table.num_rows
        if reference is not None:
            theirs = conversations(reference, config, kpi=name, limit=None)
            _same_rows(listed.table.to_pylist(), theirs.table.to_pylist(), f"{name} listed")
        rows = listed.table.select(["vendor", "channel", "agent", "created", "value"]).to_pylist()
        for (dims, period), table in reports.items():
            groups: dict[tuple, list[float]] = defaultdict(list)
            for row in rows:
                groups[_key(row, dims, period)].append(row["value"])
            assert set(groups) <= {_key(r, dims, period) for r in table}, (name, dims)
            for expected in table:
                values = groups.get(_key(expected, dims, period), [])
                where = f"{name} by {dims} {period}: {_key(expected, dims, period)}"
                compared += _compare(kpi.unit, listed, values, expected, where)
    return compared


def _same_rows(got: list[dict], expected: list[dict], where: str) -> None:
    """The same rows in any order, doubles to 1e-9 (engines add them in their own order)."""

    def key(row: dict) -> tuple[str, ...]:
        return tuple(str(v) for k, v in sorted(row.items()) if not isinstance(v, float))

    assert len(got) == len(expected), where
    for left, right in zip(sorted(got, key=key), sorted(expected, key=key), strict=True):
        assert left.keys() == right.keys(), where
        for column, value in left.items():
            other = right[column]
            if isinstance(value, float) and isinstance(other, float):
                assert _close(value, other), f"{where} {column}: {value} vs {other}"
            elif isinstance(value, datetime) and isinstance(other, datetime):
                assert value.replace(tzinfo=None) == other.replace(tzinfo=None), where
            else:
                assert value == other, f"{where} {column}: {value!r} vs {other!r}"


def _compare(unit: Unit, listed: Any, values: list[float], expected: dict, where: str) -> int:
    name = listed.column
    want = expected[name]
    if listed.how == "count":
        assert (want or 0) == len(values), where
        return 1
    if want is None:
        assert not values or listed.guarded, f"{where}: {len(values)} rows, report empty"
        return 1
    assert values, f"{where}: the report says {want}, no rows listed"
    assert _close(sum(values) / len(values), want), f"{where}: {want} vs listed mean"
    if unit is Unit.SECONDS and f"{name}_median" in expected:
        assert _close(_quantile(values, 0.5), expected[f"{name}_median"]), where
        assert _close(_quantile(values, 0.9), expected[f"{name}_p90"]), where
    return 1


@pytest.fixture(scope="module")
def demo(demo_store):
    store, _, config_path = demo_store
    return store, load_config(config_path)


def test_every_per_conversation_kpi_adds_up_to_the_report_on_the_demo(small_demo):
    """On the demo operation at 60 conversations a day: every conversation of every KPI is
    listed and aggregated in Python, so the size of the data is what this test costs."""
    db, config_path = small_demo
    config = load_config(config_path)
    with Store.open(db, read_only=True) as store:
        names = per_row_kpis(store, config)
        assert set(names) >= MUST_COVER, sorted(MUST_COVER - set(names))
        assert not set(NO_PER_ROW) & set(names)
        assert check_consistency(store, config, names, ON_DEMO) > 1000


@pytest.mark.parametrize("shape", ["chat"])
def test_every_per_conversation_kpi_adds_up_to_the_report_on_a_generated_store(
    tmp_path: Path, shape: str
):
    generated = generate(tmp_path / "files", shape, seed=16)
    (tmp_path / "supportkpi.toml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "supportkpi.toml")
    with Store.open(tmp_path / "store.duckdb") as store:
        load(store, generated.files)
        names = per_row_kpis(store, config)
        assert {"first_response_time_bh", "chat_volume", "abandonment_rate"} <= set(names)
        assert check_consistency(store, config, names, ON_GENERATED) > 300


# on the other engines, a sample covering every kind of per-row value (mean and quantiles of
# seconds, business hours, counts, rates, survey and review grains): each listing is a query
ON_ENGINES = [
    "first_response_time_bh",
    "chat_volume",
    "abandonment_rate",
    "follow_up_rate",
    "csat",
    "qa_score",
]


@pytest.mark.engines
def test_every_per_conversation_kpi_adds_up_on_every_engine(engine_demo):
    """PostgreSQL and Spark (conftest ``engine_demo``): the listed rows add up to each
    engine's report, and reports and listings equal DuckDB's on the same data."""
    _, store, duck, config = engine_demo
    names = per_row_kpis(duck, config)
    assert per_row_kpis(store, config) == names
    assert set(ON_ENGINES) <= set(names)
    assert check_consistency(store, config, ON_ENGINES, ON_DEMO[:2], reference=duck) >= 20


@pytest.mark.parametrize("name", NO_PER_ROW)
def test_a_kpi_without_per_conversation_values_is_refused_plainly(demo, name):
    store, config = demo
    with pytest.raises(NoPerRowValue, match=name):
        conversations(store, config, kpi=name)


def test_one_cell_is_the_report_row(demo):
    store, config = demo
    rows = report(
        store, ["first_response_time_bh", "csat"], ["vendor"], "month", config=config
    ).table.to_pylist()
    cell = rows[len(rows) // 2]
    for name in ("first_response_time_bh", "csat"):
        listed = conversations(
            store,
            config,
            kpi=name,
            by=["vendor", "month"],
            at=cell["month"].date() + timedelta(days=9),
            filters={"vendor": [cell["vendor"]]},
            limit=None,
        )
        values = listed.table.column("value").to_pylist()
        assert values and _close(sum(values) / len(values), cell[name])
        assert set(listed.table.column("vendor").to_pylist()) == {cell["vendor"]}
        assert set(listed.table.column("month").to_pylist()) == {cell["month"]}


def test_a_group_without_a_value_is_a_cell_too(demo):
    store, config = demo
    rows = report(store, ["abandonment_rate"], ["agent"], config=config).table.to_pylist()
    (nobody,) = [r for r in rows if r["agent"] is None]
    listed = conversations(
        store, config, kpi="abandonment_rate", filters={"agent": [None]}, limit=None
    )
    assert listed.total and set(listed.table.column("agent").to_pylist()) == {None}
    abandoned = conversations(
        store, config, kpi="abandonment_rate", outcome=True, filters={"agent": [None]}, limit=0
    )
    assert _close(abandoned.total / listed.total, nobody["abandonment_rate"])


def test_outcome_splits_the_denominator(demo):
    store, config = demo
    value = report(store, ["first_contact_resolution"], [], config=config).table.to_pylist()
    fcr = value[0]["first_contact_resolution"]
    yes = conversations(store, config, kpi="first_contact_resolution", outcome=True, limit=5)
    no = conversations(store, config, kpi="first_contact_resolution", outcome=False, limit=5)
    assert _close(yes.total / (yes.total + no.total), fcr)
    assert all(r["resolved"] and r["first_contact_resolved"] for r in yes.table.to_pylist())
    assert all(r["resolved"] and not r["first_contact_resolved"] for r in no.table.to_pylist())
    with pytest.raises(QueryError, match="not a rate"):
        conversations(store, config, kpi="first_response_time", outcome=True)


def test_missed_targets_match_the_sla_attainment(demo):
    store, config = demo
    (line,) = [
        r for r in sla(store, config, "northwind").to_pylist() if r["kpi"] == "first_response_time"
    ]
    chat = {"vendor": ["northwind"], "channel": ["chat"]}
    missed = conversations(
        store, config, missed="first_response_time", filters=chat, sort="-first_response_seconds"
    )
    judged = conversations(store, config, kpi="first_response_time", filters=chat, limit=0)
    assert missed.total and _close(1 - missed.total / judged.total, line["attainment"])
    seconds = missed.table.column("first_response_seconds").to_pylist()
    assert all(s > 60 for s in seconds) and seconds == sorted(seconds, reverse=True)
    assert set(missed.table.column("first_response_time_target").to_pylist()) == {"≤ 1m 00s"}


def test_paging_and_sorting(demo):
    store, config = demo
    first = conversations(store, config, sort="-replies", limit=7)
    second = conversations(store, config, sort="-replies", limit=7, offset=7)
    both = conversations(store, config, sort="-replies", limit=14)
    assert first.total == second.total == both.total > 14
    ids = [*first.table.column("conversation_id").to_pylist()]
    ids += second.table.column("conversation_id").to_pylist()
    assert ids == both.table.column("conversation_id").to_pylist()
    replies = both.table.column("replies").to_pylist()
    assert replies == sorted(replies, reverse=True)
    with pytest.raises(QueryError, match="cannot sort by"):
        conversations(store, config, sort="nonsense")
    one_day = conversations(store, config, at=date(2026, 6, 3), limit=None)
    assert one_day.total and {d.date() for d in one_day.table.column("day").to_pylist()} == {
        date(2026, 6, 3)
    }


def test_the_python_api(tmp_path: Path):
    import supportkpi
    from supportkpi.analysis.timeline import NotFound
    from tests.drilldown_data import FORMULA, two_vendor_store

    db = two_vendor_store(tmp_path / "two.duckdb")
    with supportkpi.connect(db, config=Config(), read_only=True) as con:
        listed = con.conversations("csat", filters={"vendor": ["acme"]})
        assert isinstance(listed, supportkpi.Conversations)
        frame = listed.to_pandas()
        assert list(frame["conversation_id"]) == ["a-1"] and list(frame["value"]) == [0.0]
        assert con.conversation("a-1")["surveys"][0]["comment"] == FORMULA
        with pytest.raises(NotFound):
            con.conversation("nope")
        assert con.comments(by=["agent"]).table.num_rows == 3
        assert set(con.sla_breaches("zed").table.column("conversation_id").to_pylist()) == {
            "z-1",
            "z-2",
        }


def test_without_kept_facts_the_rows_still_add_up(tmp_path: Path):
    """Another follow-up window than the kept facts': the facts are derived, as reports do."""
    from supportkpi.store.kept import kept_tables
    from tests.drilldown_data import two_vendor_store

    config = Config(follow_up_days=1)
    with Store.open(two_vendor_store(tmp_path / "two.duckdb")) as store:
        assert kept_tables(store, config.follow_up_days) is None
        names = per_row_kpis(store, config)
        assert {"first_response_time", "csat", "follow_up_rate"} <= set(names)
        assert check_consistency(store, config, names) > 50
