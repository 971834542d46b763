"""Reports kept on disk by shape (``analysis/kept_queries.py``): a later process runs the SQL
an earlier one built for a report's shape, without building or compiling it, and gets the
numbers the report gives when built; anything that changes what a report computes changes
the name it is kept under; a file that is not whole, not ours or in a directory others can
write to is never run."""

from __future__ import annotations

import functools
import json
import os
import pickle
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from supportkpi.analysis import compiled, kept_queries, kept_sql, live, query, shapes, sla, views
from supportkpi.analysis.targets import Target
from supportkpi.config import Config, TargetSpec
from supportkpi.kpis import REGISTRY, all_kpis
from supportkpi.kpis.registry import register
from supportkpi.store.store import Store
from tests.test_demo import assert_same_rows
from tests.test_kept import conv, msg, send

WINDOW = (date(2026, 7, 1), date(2026, 7, 28))  # demo: June 1 – August 9, 2026
OTHER = (date(2026, 6, 9), date(2026, 7, 16))
CASES = [(["channel", "week"], None, None), (["vendor"], {"channel": ["chat"]}, "America/New_York")]


@pytest.fixture
def kept(tmp_path, monkeypatch) -> Path:
    """An empty directory to keep queries in, and nothing kept in this process."""
    where = tmp_path / "kept"
    monkeypatch.setenv(kept_sql.ENV, str(where))
    forget()
    yield where
    forget()


def forget() -> None:
    """As in a process just started: nothing built or compiled in memory."""
    compiled._WINDOWED.clear()
    shapes.BUILT.clear()
    live._COMPILED.clear()


def nothing_built(monkeypatch) -> None:
    """Building or compiling a report from here on fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("built or compiled, though it was kept")

    monkeypatch.setattr(query, "aggregate", refuse)
    monkeypatch.setattr(compiled.Compiled, "of", refuse)
    monkeypatch.setattr(live, "_queries", refuse)


def run(store, config, kpis, by, window, filters=None, tz=None, **kw):
    with store.session() as session:
        return query.run(session, kpis, by, None, *window, filters, tz, config, **kw)


def assert_same_report(got, expected) -> None:
    assert got.table.column_names == expected.table.column_names
    assert_same_rows(got.table.to_pylist(), expected.table.to_pylist())
    assert got.missing == expected.missing
    assert got.notes == expected.notes


def test_every_kpi_is_answered_by_a_later_process_without_building(demo, kept, monkeypatch):
    """Each KPI's report is built and kept over one window; a process after it answers
    another window from what was kept, neither building nor compiling, with the numbers of
    the same report with its dates written into the SQL (built from nothing)."""
    store, config = demo
    expected = {}
    for kpi in all_kpis():
        for i, (by, filters, tz) in enumerate(CASES):
            expected[kpi.name, i] = run(store, config, [kpi], by, OTHER, filters, tz, bind=False)
            run(store, config, [kpi], by, WINDOW, filters, tz)
    assert list(kept.glob(f"*{kept_queries.SUFFIX}"))
    forget()
    nothing_built(monkeypatch)
    for kpi in all_kpis():
        if kpi.business_hours:
            continue  # rows made for each report: built every time, never kept
        for i, (by, filters, tz) in enumerate(CASES):
            got = run(store, config, [kpi], by, OTHER, filters, tz)
            assert_same_report(got, expected[kpi.name, i])


def test_the_dashboard_views_are_answered_by_a_later_process(demo, kept, monkeypatch):
    """The SLA view (KPI records made for its targets), the headline's two periods and the
    live strip: kept by one process, answered by the next without building."""
    store, config = demo
    names = ["chat_volume", "first_response_time", "csat", "first_contact_resolution"]
    at = datetime(2026, 8, 9, 15, 0, tzinfo=UTC)
    before = (
        sla.sla(store, config, None, None, *WINDOW),
        views.headline(store, names, *WINDOW, None, None, config),
        live.snapshot(store, None, config, None, at),
    )
    forget()
    nothing_built(monkeypatch)
    after = (
        sla.sla(store, config, None, None, *WINDOW),
        views.headline(store, names, *WINDOW, None, None, config),
        live.snapshot(store, None, config, None, at),
    )
    assert before[0].num_rows
    assert_close(after, (before[0], *before[1:]))


def assert_close(got: object, expected: object) -> None:
    """The same values, up to the order in which floating-point sums are taken."""
    if hasattr(got, "to_pylist"):
        got, expected = got.to_pylist(), expected.to_pylist()
    if isinstance(got, float) and isinstance(expected, float):
        assert got == pytest.approx(expected, rel=1e-9)
    elif isinstance(got, dict) and isinstance(expected, dict):
        assert got.keys() == expected.keys()
        for key in got:
            assert_close(got[key], expected[key])
    elif isinstance(got, list | tuple) and isinstance(expected, list | tuple):
        assert len(got) == len(expected)
        for a, b in zip(got, expected, strict=True):
            assert_close(a, b)
    else:
        assert got == expected


def test_a_load_that_adds_a_day_finds_every_report_kept(store, kept, monkeypatch):
    """The shape of a report does not hold the days the data spans: after a load that adds a
    later day, a new process answers from what the one before kept, with the new rows."""
    config = Config()

    def answered(cid: str, day: int) -> tuple[dict, list[dict]]:
        at = f"2026-03-{day:02d}T10:00:00Z"
        replied = f"2026-03-{day:02d}T10:05:00Z"
        messages = [msg(f"{cid}a", cid, at, "customer"), msg(f"{cid}b", cid, replied, "agent")]
        return conv(cid, f"u{cid}", at, vendor="atlas", agent_id="a1"), messages

    first = [answered(f"c{day}", day) for day in range(2, 7)]
    send(
        store,
        "first",
        conversations=[c for c, _ in first],
        messages=[m for _, ms in first for m in ms],
    )
    kpis = [REGISTRY[n] for n in ["chat_volume", "first_response_time", "average_handle_time"]]
    window = (date(2026, 3, 1), date(2026, 3, 31))
    run(store, config, kpis, ["vendor"], window)
    files = sorted(kept.glob(f"*{kept_queries.SUFFIX}"))
    assert files
    later, messages = answered("c20", 20)
    send(store, "later", conversations=[later], messages=messages)
    expected = run(store, config, kpis, ["vendor"], window, bind=False)
    forget()
    nothing_built(monkeypatch)
    got = run(store, config, kpis, ["vendor"], window)
    assert_same_report(got, expected)
    assert got.table.to_pylist()[0]["chat_volume"] == 6
    assert sorted(kept.glob(f"*{kept_queries.SUFFIX}")) == files


def test_anything_a_report_computes_from_changes_its_name(demo, kept):
    """Reports differing in one thing each (a KPI, a filter value, the zone, a target's
    threshold, a setting, the grouping): each is kept under its own name, and the same
    report again finds its own."""
    store, config = demo
    kpis = [REGISTRY[n] for n in ["first_response_time", "csat"]]
    target = TargetSpec(kpi="first_response_time", op="<=", value=120)
    tighter = target.model_copy(update={"value": 60})
    variants = [
        dict(),
        dict(kpis=kpis[:1]),
        dict(filters={"channel": ["chat"]}),
        dict(filters={"channel": ["email"]}),
        dict(tz="America/New_York"),
        dict(by=["channel"]),
        dict(config=replace_config(config, targets=(target,)), targets=True),
        dict(config=replace_config(config, targets=(tighter,)), targets=True),
        dict(config=replace_config(config, follow_up_days=3)),
    ]
    for v in variants:
        args = {"kpis": kpis, "by": ["vendor"], "filters": None, "tz": None, "config": config}
        args |= {k: v[k] for k in args if k in v}
        run(store, args["config"], args["kpis"], args["by"], WINDOW, args["filters"],
            args["tz"], targets=v.get("targets", False))  # fmt: skip
    files = list(kept.glob(f"*{kept_queries.SUFFIX}"))
    assert len(files) == len(variants)
    forget()
    for v in variants[:3]:  # found again under the same names: nothing new written
        args = {"kpis": kpis, "by": ["vendor"], "filters": None}
        args |= {k: v[k] for k in args if k in v}
        run(store, config, args["kpis"], args["by"], WINDOW, args["filters"])
    assert len(list(kept.glob(f"*{kept_queries.SUFFIX}"))) == len(variants)


def replace_config(config, **changes):
    return config.model_copy(update=changes)


def test_a_function_stands_for_its_code_and_what_it_closes_over():
    """Two measures made by the same code over other values get other names; the same
    values, the same name; a function from outside supportkpi cannot be named."""

    def made(kpi: str, value: float) -> object:
        return sla._attainment(Target(kpi=kpi, op="<=", value=value), 0)

    a, b = made("first_response_time", 60), made("first_response_time", 90)
    c = sla._value_only(REGISTRY["first_response_time"])
    names = [kept_queries.name_of(("report", (k,))) for k in (a, b, c)]
    assert None not in names and len(set(names)) == 3
    same = sla._attainment.__wrapped__(Target(kpi="first_response_time", op="<=", value=60), 0)
    assert same is not a and kept_queries.name_of(("report", (same,))) == names[0]
    ours = replace(REGISTRY["csat"], measure=lambda t: {"csat": t.count()})
    assert kept_queries.name_of(("report", (ours,))) is None


def test_a_kpi_registered_by_other_code_keeps_nothing(demo, kept):
    """A KPI whose code is not supportkpi's is not in the digest: while it is registered,
    nothing is kept (its reports, and every other, are built as before)."""
    store, config = demo
    before = kept_queries.name_of(("report",))
    volume = REGISTRY["chat_volume"]
    outputs = (replace(volume.outputs[0], column="our_volume"),)
    ours = replace(volume, name="our_volume", measure=_our_volume, outputs=outputs)
    register(ours)
    try:
        assert kept_queries.name_of(("report",)) is None
        result = run(store, config, [ours, REGISTRY["csat"]], ["vendor"], WINDOW)
        assert result.table.num_rows
        assert not list(kept.glob(f"*{kept_queries.SUFFIX}"))
    finally:
        REGISTRY.pop("our_volume")
    assert kept_queries.name_of(("report",)) == before


def _our_volume(t):
    return {"our_volume": t.count()}


_our_volume.__module__ = "their_package.kpis"


def test_a_damaged_or_foreign_file_is_built_again_and_replaced(demo, kept):
    store, config = demo
    kpis = [REGISTRY[n] for n in ["chat_volume", "csat"]]
    first = run(store, config, kpis, ["vendor"], WINDOW)
    (path,) = kept.glob(f"*{kept_queries.SUFFIX}")
    whole = path.read_bytes()
    header = whole.partition(b"\n")[0] + b"\n"

    damage = [  # each read as nothing
        whole[: len(whole) // 2],  # cut
        header,  # no content
        header + pickle.dumps(("SELECT 1", "not a schema"), protocol=5),  # not ours
        b"\x80\x05not a pickle at all",
    ]
    for spoiled in damage:
        path.write_bytes(spoiled)
        forget()
        assert_same_report(run(store, config, kpis, ["vendor"], WINDOW), first)
        assert path.read_bytes() == whole  # built again and kept again


def test_a_directory_others_can_write_to_is_neither_read_nor_written(demo, kept, monkeypatch):
    store, config = demo
    kpis = [REGISTRY[n] for n in ["chat_volume", "csat"]]
    first = run(store, config, kpis, ["vendor"], WINDOW)
    files = sorted(kept.glob(f"*{kept_queries.SUFFIX}"))
    kept.chmod(0o777)
    forget()
    built = []
    aggregate = query.aggregate
    monkeypatch.setattr(query, "aggregate", lambda *a, **k: built.append(1) or aggregate(*a, **k))
    assert_same_report(run(store, config, kpis, ["vendor"], WINDOW), first)
    run(store, config, kpis, ["channel"], WINDOW)
    assert len(built) == 2  # read from nowhere
    assert sorted(kept.glob(f"*{kept_queries.SUFFIX}")) == files  # and nothing written


CHILD = """
import json, sys
from datetime import UTC, date, datetime
from supportkpi.analysis import compiled, live, query, sla, views
from supportkpi.config import load_config
from supportkpi.store.store import Store

built = []
aggregate = query.aggregate
query.aggregate = lambda *a, **kw: built.append("report") or aggregate(*a, **kw)
queries = live._queries
live._queries = lambda *a, **kw: built.append("live") or queries(*a, **kw)
config = load_config(sys.argv[2])
window = (date(2026, 7, 1), date(2026, 7, 28))
names = ["chat_volume", "first_response_time", "csat", "first_contact_resolution"]
with Store.open(sys.argv[1], read_only=True) as store:
    out = {
        "sla": sla.sla(store, config, None, None, *window).to_pylist(),
        "headline": views.headline(store, names, *window, None, None, config),
        "live": live.snapshot(store, None, config, None, datetime(2026, 8, 9, 15, tzinfo=UTC)),
    }
print(json.dumps({"built": built, "out": out}, default=str))
"""


def test_a_new_process_answers_the_dashboard_views_without_building(small_demo, tmp_path):
    """Two processes with different hash seeds: the second builds nothing (the SLA view's
    target records, the headline, the live strip) and answers the same."""
    db, config = small_demo

    def child(seed: str) -> dict:
        env = {**os.environ, kept_sql.ENV: str(tmp_path / "kept"), "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(db), str(config)],
            capture_output=True, text=True, env=env, check=True, timeout=300,
        )  # fmt: skip
        return json.loads(done.stdout)

    first, second = child("1"), child("2")
    assert "report" in first["built"] and "live" in first["built"]
    assert second["built"] == []
    assert_close(second["out"], first["out"])
    assert first["out"]["sla"]


def test_the_live_strip_of_an_older_layout_is_kept_apart(tmp_path, kept):
    """A store of an older layout (without the optional ``queue`` column, opened read-only:
    the column is read as nulls) has the same column types as a current one once read, but
    other SQL: the live strip's queries are kept apart, and each store gets its own answer,
    whichever was asked first."""
    at = datetime(2026, 3, 3, tzinfo=UTC)  # before the recent rows: the tables are read

    def made(name: str, older: bool) -> Path:
        path = tmp_path / f"{name}.duckdb"
        with Store.open(path) as store:
            send(
                store,
                "b",
                conversations=[
                    conv("c1", "u1", "2026-03-02T10:00:00Z", queue="billing", vendor="atlas"),
                    conv("c2", "u2", "2026-03-10T10:00:00Z", queue="billing", vendor="atlas"),
                ],
                messages=[
                    msg("m1", "c1", "2026-03-02T10:00:00Z", "customer"),
                    msg("m2", "c2", "2026-03-10T10:00:00Z", "customer"),
                ],
            )
            if older:
                store.raw.execute("ALTER TABLE conversations DROP COLUMN queue")
        return path

    def waiting(path: Path) -> int:
        forget()
        with Store.open(path, read_only=True) as store:
            return live.snapshot(store, {"queue": ["billing"]}, Config(), None, at)["waiting"]

    older, current = made("older", True), made("current", False)
    assert (waiting(older), waiting(current)) == (0, 1)
    assert (waiting(current), waiting(older)) == (1, 0)
    # each store's live queries, and each store's report of today's KPIs
    assert len(list(kept.glob(f"*{kept_queries.SUFFIX}"))) == 4


class _Measure:
    """A measure of a program's own: a callable object."""

    def __call__(self, t):
        return {"chat_volume": t.count()}

    def method(self, t):
        return {"chat_volume": t.count()}


@functools.cache
def _cached_measure(t):
    return {"chat_volume": t.count()}


_Measure.__module__ = _cached_measure.__module__ = "their_package.kpis"
_cached_measure.__wrapped__.__module__ = "their_package.kpis"


def test_code_that_is_not_supportkpis_cannot_be_named():
    """A callable object, a bound method, a cached function of a program's own, a wrapper of
    its own around a measure of ours, or a grain it registers: their code is not in the
    digest, so nothing is named after them; nor after a key holding a cycle."""
    volume = REGISTRY["chat_volume"]

    @functools.wraps(volume.measure)  # says it is of the module of the measure it wraps
    def wrapped(t):
        return volume.measure(t)

    assert wrapped.__module__.startswith("supportkpi.")
    for measure in (_Measure(), _Measure().method, _cached_measure, wrapped):
        assert kept_queries.name_of(("report", (replace(volume, measure=measure),))) is None
    looped: list = []
    looped.append(looped)  # a cycle: a key written in full cannot hold it
    assert kept_queries.name_of(("report", looped)) is None
    assert kept_queries.find(("report", looped)) is None
    assert kept_queries.name_of(("report", (volume,)))
    from supportkpi.kpis.grains import GRAINS

    GRAINS["their_grain"] = _our_volume
    try:
        assert kept_queries.name_of(("report", (volume,))) is None
    finally:
        GRAINS.pop("their_grain")
    assert kept_queries.name_of(("report", (volume,)))


def test_equal_keys_have_one_name_whichever_objects_hold_them():
    """The same key built from strings read from JSON (other objects, equal) and from the
    code's own has the same name."""
    ours = ("report", ("vendor", "channel"), (("channel", ("chat", "chat")),), "vendor")
    read = json.loads(json.dumps(ours))
    theirs = (read[0], tuple(read[1]), ((read[2][0][0], tuple(read[2][0][1])),), read[3])
    assert theirs == ours and kept_queries.name_of(theirs) == kept_queries.name_of(ours)


def test_a_file_is_read_only_when_it_is_the_users_own_plain_file(demo, kept, monkeypatch):
    """The SQL in a file is run on the store: a file others can write to, or a link to a
    file elsewhere, is not read (the report is built again)."""
    store, config = demo
    kpis = [REGISTRY[n] for n in ["chat_volume", "csat"]]
    first = run(store, config, kpis, ["vendor"], WINDOW)
    (path,) = kept.glob(f"*{kept_queries.SUFFIX}")
    body = path.read_bytes().partition(b"\n")[2]
    kept_as = json.loads(body)  # written as JSON: reading it runs no code
    assert kept_as["queries"][0]["sql"] and kept_as["queries"][0]["schema"]
    built = []
    aggregate = query.aggregate
    monkeypatch.setattr(query, "aggregate", lambda *a, **k: built.append(1) or aggregate(*a, **k))
    path.chmod(0o666)
    forget()
    assert_same_report(run(store, config, kpis, ["vendor"], WINDOW), first)
    assert len(built) == 1
    elsewhere = kept.parent / "elsewhere.queries"
    path.rename(elsewhere)
    elsewhere.chmod(0o600)
    path.symlink_to(elsewhere)
    forget()
    assert_same_report(run(store, config, kpis, ["vendor"], WINDOW), first)
    assert len(built) == 2
