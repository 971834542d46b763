"""Plan against actual on the small demo: a plan published from the history up to 27 July
(Berlin), then the rest of the data loaded; the comparison's actual volume per interval and
day is recounted from the raw file with the csv module, its errors, MAPE and WAPE recomputed
here, the occupancy by its formula, the service level equals the report's; the CLI and a
real server give the same, a vendor token only its own vendor's groups, and the roster route
returns shifts that cover the plan."""

from __future__ import annotations

import csv
import json
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from supportkpi.analysis.query import report
from supportkpi.cli import app
from supportkpi.config import load_config
from supportkpi.load.ingest import load
from supportkpi.store.access import TokenStore, tokens_path
from supportkpi.store.store import Store
from supportkpi.workforce.actual import compare, describe, plans
from tests.server import serving

BERLIN = ZoneInfo("Europe/Berlin")
CUT = datetime(2026, 7, 27, tzinfo=BERLIN)


@pytest.fixture(scope="module")
def published(small_demo, tmp_path_factory):
    """A store holding conversations and messages before the cut, a plan published by
    vendor with its roster, then every conversation loaded: (db, config path, files)."""
    _, config = small_demo
    files = config.parent
    folder = tmp_path_factory.mktemp("plan_actual")
    conversations = pacsv.read_csv(files / "conversations.csv")
    before = pc.less(
        conversations["created_at"], pa.scalar(CUT.astimezone(UTC), pa.timestamp("s", "UTC"))
    )
    (folder / "before").mkdir()
    pacsv.write_csv(conversations.filter(before), folder / "before" / "conversations.csv")
    messages = pq.read_table(files / "messages.parquet")
    kept = pc.is_in(messages["conversation_id"], conversations.filter(before)["conversation_id"])
    pq.write_table(messages.filter(kept), folder / "before" / "messages.parquet")
    db = folder / "plan.duckdb"
    with Store.open(db) as store:
        load(
            store, [folder / "before" / "conversations.csv", folder / "before" / "messages.parquet"]
        )
    args = ["plan", "publish", "--db", str(db), "--config", str(config), "--by", "channel,vendor"]
    done = CliRunner().invoke(app, [*args, "--days", "7", "--name", "week 31", "--roster"])
    assert done.exit_code == 0, done.output
    assert "published plan" in done.output
    with Store.open(db) as store:
        load(store, [files / "conversations.csv", files / "messages.parquet"])
    return db, config, files


@pytest.fixture(scope="module")
def compared(published):
    db, config, _ = published
    with Store.open(db, read_only=True) as store:
        return compare(store, load_config(config))


def raw_counts(files) -> Counter:
    """Conversations per (channel, vendor, Berlin half-hour), read with the csv module."""
    counts: Counter = Counter()
    with open(files / "conversations.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            local = datetime.fromisoformat(row["created_at"]).astimezone(BERLIN)
            slot = local.replace(minute=local.minute // 30 * 30, second=0, microsecond=0)
            counts[(row["channel"], row["vendor"], slot.replace(tzinfo=None))] += 1
    return counts


def test_actual_volume_equals_the_raw_file_and_the_errors_add_up(published, compared):
    _, _, files = published
    counts = raw_counts(files)
    rows = compared.intervals.to_pylist()
    assert rows and compared.notes == ()  # the whole week has happened
    assert min(r["interval_start"] for r in rows) == CUT.replace(tzinfo=None)
    for r in rows:
        came = counts.get((r["channel"], r["vendor"], r["interval_start"]), 0)
        assert r["actual"] == came
        assert r["error"] == pytest.approx(r["forecast"] - came)
    days: dict = {}
    for r in rows:
        key = (r["channel"], r["vendor"], r["interval_start"].date())
        f, a = days.get(key, (0.0, 0))
        days[key] = (f + r["forecast"], a + r["actual"])
    shown = {(d["channel"], d["vendor"], d["day"]): d for d in compared.days.to_pylist()}
    assert set(shown) == set(days) and len({k[2] for k in days}) == 7
    for key, (f, a) in days.items():
        assert shown[key]["forecast"] == pytest.approx(f) and shown[key]["actual"] == a
        assert shown[key]["error_share"] == pytest.approx((f - a) / a)
    for s in compared.summary.to_pylist():
        mine = [r for r in rows if (r["channel"], r["vendor"]) == (s["channel"], s["vendor"])]
        came = sum(r["actual"] for r in mine)
        wape = sum(abs(r["forecast"] - r["actual"]) for r in mine) / came
        daily = [
            abs(f - a) / a for k, (f, a) in days.items() if k[:2] == (s["channel"], s["vendor"])
        ]
        assert s["actual"] == came and s["interval_wape"] == pytest.approx(wape)
        assert s["daily_mape"] == pytest.approx(sum(daily) / len(daily))
        assert s["bias"] == pytest.approx((sum(r["forecast"] for r in mine) - came) / came)


def test_service_level_and_occupancy_against_the_report(published, compared):
    db, config, _ = published
    settings = load_config(config)
    rows = compared.intervals.to_pylist()
    first, last = rows[0]["interval_start"].date(), rows[-1]["interval_start"].date()
    with Store.open(db, read_only=True) as store:
        hours = report(
            store, ["service_level", "average_handle_time"], ["channel", "vendor", "hour"],
            None, first, last, config=settings,
        ).table.to_pylist()  # fmt: skip
        planned = {
            (c, v, t): (aht, pa_)
            for c, v, t, aht, pa_ in store.execute(
                "SELECT channel, vendor, interval_start, aht, planned_aht FROM published_intervals"
            )
        }
    by_hour = {(h["channel"], h["vendor"], h["hour"]): h for h in hours}
    checked = 0
    for r in rows:
        hour = by_hour.get((r["channel"], r["vendor"], r["interval_start"].replace(minute=0)))
        assert r["service_level_of_hour"] == (hour or {}).get("service_level")
        if r["agents"] and r["actual"] == 0:
            assert r["actual_occupancy"] == 0.0
        elif r["agents"] and hour and hour["average_handle_time"] is not None:
            measured_aht, _ = planned[(r["channel"], r["vendor"], r["interval_start"])]
            load_ratio = r["actual"] * hour["average_handle_time"] / (r["forecast"] * measured_aht)
            assert r["actual_occupancy"] == pytest.approx(
                min(1.0, r["planned_occupancy"] * load_ratio)
            )
            checked += 1
        assert r["rostered"] is None or r["rostered"] >= 0
    assert checked > 50
    assert any(r["rostered"] for r in rows)  # published with its roster


def test_the_cli_lists_and_compares(published, compared):
    db, config, _ = published
    listed = CliRunner().invoke(app, ["plan", "list", "--db", str(db), "--format", "json"])
    assert listed.exit_code == 0 and json.loads(listed.output)[0]["name"] == "week 31"
    args = ["plan", "actual", "--db", str(db), "--config", str(config)]
    shown = CliRunner().invoke(app, [*args, "--format", "json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["summary"] == describe(compared)["summary"]
    for view in ("summary", "days", "intervals"):
        table = CliRunner().invoke(app, [*args, "--show", view], env={"COLUMNS": "80"})
        assert table.exit_code == 0, table.output
        assert all(len(line) <= 80 for line in table.output.splitlines())
        assert "…" not in table.output
    unknown = CliRunner().invoke(app, [*args, "--plan", "nope"])
    assert unknown.exit_code != 0 and "no published plan 'nope'" in unknown.output


def test_the_api_compares_and_rosters_and_a_vendor_sees_its_own(published, compared, tmp_path):
    db, config, _ = published
    issued = TokenStore(tokens_path(str(db)))
    tokens = {"viewer": issued.create("viewer"), "atlas": issued.create("vendor", "atlas")}
    with serving(db, "--config", config) as server:
        with server.client(tokens["viewer"]) as client:
            got = client.get("/v1/plans/actual").json()
            assert got["summary"] == json.loads(json.dumps(describe(compared)["summary"]))
            assert client.get("/v1/plans").json()[0]["name"] == "week 31"
            roster = client.get("/v1/roster", params={"days": 1, "by": "channel"})
            assert roster.status_code == 200, roster.text
            for group in roster.json():
                cover = group["coverage"]
                assert cover and all(
                    c["short"] == max(c["required"] - c["on_duty"], 0) for c in cover
                )
                assert group["cost"] == pytest.approx(sum(s["cost"] for s in group["shifts"]))
        with server.client(tokens["atlas"]) as client:
            own = client.get("/v1/plans/actual").json()
            assert {r["vendor"] for r in own["intervals"]} == {"atlas"}
            assert {r["vendor"] for r in own["summary"]} == {"atlas"}
            mine = client.get("/v1/roster", params={"days": 1}).json()
            assert mine and {g["vendor"] for g in mine} == {"atlas"}
        assert server.client().get("/v1/plans").status_code == 401
    assert plans  # the Python API names the same function


def test_the_python_api_gives_the_same(published, compared):
    import supportkpi

    db, config, _ = published
    with supportkpi.connect(db, config=config, read_only=True) as con:
        again = con.plan_actual()
    assert again.summary.equals(compared.summary) and again.days.equals(compared.days)
