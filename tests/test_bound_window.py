"""A report's dates bound when its statement runs: the SQL compiled once for a report's shape
serves every window, and each window's numbers equal those of the same report with its dates
written into the SQL (``bind=False``, as every other engine runs it)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportkpi.analysis import compiled, query, shapes, sla, views
from supportkpi.kpis import REGISTRY, all_kpis
from tests.test_demo import assert_same_rows

FIRST_DAY = date(2026, 6, 1)  # small_demo: June 1 – August 9, 2026
DASHBOARD = ["chat_volume", "first_response_time", "average_handle_time", "csat", "nps"]


@pytest.fixture
def compiles(monkeypatch) -> list[int]:
    """How many times a bound report's SQL is compiled (one entry per compile)."""
    calls: list[int] = []
    made = compiled.Compiled.of

    def counted(store, expr, **kwargs):
        calls.append(1)
        return made(store, expr, **kwargs)

    monkeypatch.setattr(compiled.Compiled, "of", counted)
    return calls


def both(store, config, names, by, start, end, filters=None, tz=None) -> tuple:
    kpis = [REGISTRY[n] for n in names]
    args = (kpis, by, None, start, end, filters, tz, config)
    with store.session() as session:
        bound = query.run(session, *args)
        written = query.run(session, *args, bind=False)
    return bound, written


def assert_same_report(bound, written) -> None:
    assert bound.table.column_names == written.table.column_names
    assert_same_rows(bound.table.to_pylist(), written.table.to_pylist())
    assert bound.missing == written.missing
    assert bound.notes == written.notes


@pytest.fixture
def bound_runs(monkeypatch) -> list[int]:
    """How many statements ran with their dates bound (one entry each)."""
    calls: list[int] = []
    runner = compiled.Compiled.run_with  # every bound statement runs through it

    def counted(self, store, values):
        calls.append(1)
        return runner(self, store, values)

    monkeypatch.setattr(compiled.Compiled, "run_with", counted)
    return calls


def test_each_kpi_bound_equals_written_in(demo, bound_runs):
    """Every KPI of the registry, alone in its report (one statement, its dates bound), by a
    dimension and a period."""
    store, config = demo
    for kpi in all_kpis():
        before = len(bound_runs)
        bound, written = both(
            store, config, [kpi.name], ["channel", "week"], date(2026, 7, 1), date(2026, 7, 28)
        )
        assert len(bound_runs) == before + 1, kpi.name
        assert_same_report(bound, written)


def test_a_report_whose_grains_are_held_writes_its_dates_in(demo, bound_runs):
    """Two grains holding every value (medians of first responses and of each response) are
    held one at a time, each its own statement: the dates are written in, as before."""
    store, config = demo
    names = ["first_response_time", "response_time", "csat"]
    bound, written = both(store, config, names, ["vendor"], date(2026, 7, 1), date(2026, 7, 28))
    assert bound_runs == []
    assert_same_report(bound, written)


def test_a_second_window_reuses_the_sql_and_equals_written_in(demo, compiles):
    store, config = demo
    start = date(2026, 6, 20)
    for step in range(5):  # a window moved a week at a time, into another month
        first = start + timedelta(days=7 * step)
        bound, written = both(
            store, config, DASHBOARD, ["vendor"], first, first + timedelta(days=27), tz="UTC"
        )
        assert_same_report(bound, written)
        if step == 0:
            after_first = len(compiles)
            assert after_first <= 1
    assert len(compiles) == after_first  # the four later windows compiled nothing


def test_another_filter_or_zone_is_compiled_apart(demo, compiles):
    """A filter value or a zone is part of the statement: each compiles its own SQL."""
    store, config = demo
    window = (date(2026, 7, 1), date(2026, 7, 14))
    asked = [
        ({"vendor": ["atlas"]}, "UTC"),
        ({"vendor": ["northwind"]}, "UTC"),
        ({"vendor": ["northwind"]}, "Asia/Kolkata"),
    ]
    for filters, tz in asked:
        bound, written = both(store, config, DASHBOARD, ["channel"], *window, filters, tz)
        assert_same_report(bound, written)
    assert len(compiles) <= len(asked)
    again = len(compiles)
    for filters, tz in asked:
        both(
            store, config, DASHBOARD, ["channel"], date(2026, 7, 8), date(2026, 7, 21), filters, tz
        )
    assert len(compiles) == again


@pytest.mark.parametrize(
    ("start", "end", "filters"),
    [
        (date(2026, 7, 1), date(2026, 7, 28), None),
        (date(2026, 7, 10), date(2026, 8, 6), {"channel": ["chat"]}),
        (date(2026, 6, 5), date(2026, 6, 20), None),  # the period before starts before the data
    ],
)
def test_the_headline_periods_bound_equal_written_in(demo, start, end, filters):
    store, config = demo
    names = [*DASHBOARD, "first_contact_resolution", "abandonment_rate", "cost_per_contact"]
    kpis = [REGISTRY[n] for n in names]
    days = (end - start).days + 1
    before = (start - timedelta(days=days), start - timedelta(days=1))
    periods = [(start, end), before]
    with store.session() as session:
        bound = query._periods(session, kpis, periods, filters, None, config, True)
        written = query._periods(session, kpis, periods, filters, None, config, True, bind=False)
    for a, b in zip(bound, written, strict=True):
        assert_same_report(a, b)


@settings(max_examples=15, deadline=None)
@given(
    offset=st.integers(0, 75),
    days=st.integers(1, 40),
    tz=st.sampled_from([None, "UTC", "America/New_York", "Asia/Kolkata", "Pacific/Kiritimati"]),
    by=st.sampled_from([["vendor"], ["agent"], ["day"], ["channel", "week"], []]),
)
def test_any_window_bound_equals_written_in(demo, offset, days, tz, by):
    """Windows anywhere over the data (and past its ends), any length, in zones a day apart:
    the bound statement's numbers are the written one's."""
    store, config = demo
    start = FIRST_DAY - timedelta(days=5) + timedelta(days=offset)
    bound, written = both(
        store, config, DASHBOARD, by, start, start + timedelta(days=days - 1), tz=tz
    )
    assert_same_report(bound, written)


@pytest.mark.parametrize(
    ("start", "end", "by", "filters", "tz"),
    [
        (date(2026, 7, 1), date(2026, 7, 28), ["vendor"], None, None),
        (date(2026, 6, 20), date(2026, 7, 3), [], {"channel": ["chat"]}, "America/New_York"),
        (date(2026, 8, 1), date(2026, 8, 20), ["team", "week"], None, "Asia/Kolkata"),
    ],
)
def test_the_escalation_and_peak_views_bound_equal_written_in(
    demo, bound_runs, monkeypatch, start, end, by, filters, tz
):
    store, config = demo
    with store.session() as session:
        reasons = views.escalation_reasons(session, by, None, start, end, filters, tz, config)
        peaks = views.weekday_hour_volume(session, start, end, filters, tz, config)
        assert len(bound_runs) == 2
        monkeypatch.setattr(views, "windowed", lambda store, frame: frame)
        assert reasons.num_rows > 0 and peaks.num_rows > 0
        plain = views.escalation_reasons(session, by, None, start, end, filters, tz, config)
        assert_same_rows(reasons.to_pylist(), plain.to_pylist())
        assert peaks.equals(views.weekday_hour_volume(session, start, end, filters, tz, config))
        assert len(bound_runs) == 2


def test_business_hours_reports_are_compiled_for_each_run_not_kept(demo, compiles):
    """Business-hour spans are rows made for each report, named anew: such a statement's SQL
    is compiled for its run and not kept (it would never be asked again), and its numbers
    are the written-in report's."""
    store, config = demo
    assert config.business_hours.configured
    kept = len(compiled._WINDOWED._kept)
    for day in (1, 8):
        bound, written = both(
            store,
            config,
            ["first_response_time_bh"],
            ["vendor"],
            date(2026, 7, day),
            date(2026, 7, day + 13),
        )
        assert_same_report(bound, written)
    assert len(compiles) == 2
    assert len(compiled._WINDOWED._kept) == kept


class _Recorded(compiled.CompiledCache):
    """A cache of built reports that keeps nothing and records what it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.given: list[tuple] = []

    def find(self, key):
        return None

    def put(self, key, value) -> None:
        self.given.append((key, value))


@pytest.fixture
def recorded(monkeypatch) -> _Recorded:
    cache = _Recorded()
    monkeypatch.setattr(shapes, "BUILT", cache)
    return cache


def test_every_kpi_has_one_expression_for_every_window_of_its_shape(demo, recorded):
    """The guard of building a report once per shape: built again from nothing, every KPI's
    report over two windows (of other lengths, across months, in a zone with summer time)
    has the same shape key and the same expression, and a filter or a zone changes both."""
    store, config = demo
    windows = [(date(2026, 6, 3), date(2026, 6, 30)), (date(2026, 7, 9), date(2026, 8, 4))]
    for kpi in all_kpis():
        for by, filters, tz in [
            (["channel", "week"], None, None),
            (["vendor"], {"channel": ["chat"]}, "America/New_York"),
        ]:
            before = len(recorded.given)
            for start, end in windows:
                with store.session() as session:
                    query.run(session, [kpi], by, None, start, end, filters, tz, config)
            made = recorded.given[before:]
            if kpi.business_hours:
                assert made == [], kpi.name  # rows made for each report: never kept
                continue
            assert len(made) == 2, kpi.name
            (key_a, built_a), (key_b, built_b) = made
            assert key_a == key_b, kpi.name
            assert built_a.expr.equals(built_b.expr), kpi.name
            assert built_a.missing == built_b.missing
    keys = {key for key, _ in recorded.given}
    assert len(keys) == 2 * len([k for k in all_kpis() if not k.business_hours])


def test_the_days_the_data_spans_are_in_no_expression(demo, recorded, monkeypatch):
    """The shape key leaves out the days the store's data spans (and the instant its zone's
    first offset is given from), so that a load moving them keeps every shape: built again
    over data said to span other days, every KPI's report has the same key and the same
    expression."""
    from supportkpi.analysis import frame as frames

    store, config = demo
    window = (date(2026, 7, 1), date(2026, 7, 28))
    spans = [frames._data_range(store)]
    spans.append((spans[0][0] - timedelta(days=40), spans[0][1] + timedelta(days=40)))
    made = {}
    for first, last in spans:
        store.memo.clear()
        monkeypatch.setattr(frames, "_data_range", lambda store, span=(first, last): span)
        for kpi in all_kpis():
            before = len(recorded.given)
            with store.session() as session:
                query.run(session, [kpi], ["vendor", "week"], None, *window, None, "UTC", config)
            made.setdefault(kpi.name, []).extend(recorded.given[before:])
    store.memo.clear()
    for kpi in all_kpis():
        if kpi.business_hours:
            continue
        (key_a, built_a), (key_b, built_b) = made[kpi.name]
        assert key_a == key_b, kpi.name
        assert built_a.expr.equals(built_b.expr), kpi.name


def test_the_headline_periods_have_one_expression_for_every_window(demo, recorded):
    store, config = demo
    kpis = [REGISTRY[n] for n in [*DASHBOARD, "cost_per_contact"]]
    for start, end in [
        (date(2026, 7, 1), date(2026, 7, 28)),
        (date(2026, 7, 20), date(2026, 8, 5)),
    ]:
        days = (end - start).days + 1
        periods = [(start, end), (start - timedelta(days=days), start - timedelta(days=1))]
        with store.session() as session:
            query._periods(session, kpis, periods, None, None, config, True)
    (key_a, built_a), (key_b, built_b) = recorded.given
    assert key_a == key_b
    assert built_a.expr.equals(built_b.expr)


def test_anything_but_the_dates_is_another_shape(demo, recorded):
    """One window, reports differing in one thing each (a filter value, the zone alone,
    targets, the plain path, the grouping; two ranges with a gap or without): each has its
    own key."""
    store, config = demo
    kpis = [REGISTRY[n] for n in DASHBOARD]
    window = (date(2026, 7, 1), date(2026, 7, 28))
    variants = [
        dict(by=["vendor"]),
        dict(by=["vendor"], filters={"channel": ["chat"]}),
        dict(by=["vendor"], filters={"channel": ["email"]}),
        dict(by=["vendor"], tz="America/New_York"),
        dict(by=["vendor"], targets=True),
        dict(by=["vendor"], share=False),
        dict(by=["channel"]),
    ]
    with store.session() as session:
        for v in variants:
            query.run(
                session,
                kpis,
                v["by"],
                None,
                *window,
                v.get("filters"),
                v.get("tz"),
                config,
                targets=v.get("targets", False),
                share=v.get("share", True),
            )
        for before in [
            (date(2026, 6, 3), date(2026, 6, 30)),
            (date(2026, 6, 1), date(2026, 6, 28)),
        ]:
            query._periods(session, kpis, [window, before], None, None, config, False)
    keys = [key for key, _ in recorded.given]
    assert len(keys) == len(variants) + 2
    assert len(set(keys)) == len(keys)


@pytest.fixture
def builds(monkeypatch) -> tuple[list[int], compiled.CompiledCache]:
    """A fresh cache of built reports, and how many times a report's grains were built (one
    entry each)."""
    cache = compiled.CompiledCache()
    monkeypatch.setattr(shapes, "BUILT", cache)
    built: list[int] = []
    aggregate = query.aggregate

    def counted(*args, **kwargs):
        built.append(1)
        return aggregate(*args, **kwargs)

    monkeypatch.setattr(query, "aggregate", counted)
    return built, cache


def test_a_vendors_targets_are_judged_with_one_shape_per_window(demo, builds):
    """The SLA view makes KPI records for its targets (attainment, the value alone): the same
    records each time, so a second window builds nothing and adds no shape."""
    store, config = demo
    built, cache = builds
    with store.session() as session:
        sla.sla(session, config, start=date(2026, 7, 1), end=date(2026, 7, 28))
        first, kept = len(built), len(cache._kept)
        assert first > 0 and kept > 0
        sla.sla(session, config, start=date(2026, 7, 9), end=date(2026, 8, 5))
    assert len(built) == first
    assert len(cache._kept) == kept


def test_a_later_window_of_a_shape_builds_nothing(demo, builds):
    """The first window of a shape builds its report; the next ones only bind their dates,
    and their numbers are the written-in report's."""
    store, config = demo
    built, _ = builds
    kpis = [REGISTRY[n] for n in DASHBOARD]
    for step in range(4):
        first = date(2026, 6, 10) + timedelta(days=9 * step)
        args = (kpis, ["vendor"], None, first, first + timedelta(days=20), None, None, config)
        with store.session() as session:
            built.clear()
            bound = query.run(session, *args)
            builds = len(built)
            written = query.run(session, *args, bind=False)
        assert_same_report(bound, written)
        assert builds == (1 if step == 0 else 0), step
