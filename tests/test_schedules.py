"""Scheduled delivery, on a small demo operation, with a clock the test sets: the monthly
review of each vendor and a daily summary, to a real SMTP server and a real webhook receiver
on loopback and to a folder; made once per due time, never sent twice (a second run, a
restart, another process), a failed delivery retried until it goes through; and ``serve
--schedules`` doing the same on its own."""

from __future__ import annotations

import base64
import shutil
import textwrap
import time
from datetime import UTC, date, datetime
from datetime import time as clock
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from supportkpi.cli import app
from supportkpi.config import ConfigError, Schedule, load_config
from supportkpi.reports.schedules import latest_due, period, run
from supportkpi.store.schedule_log import history
from supportkpi.store.store import Store
from tests.receivers import smtp_server, webhook_receiver
from tests.server import free_port, serving
from tests.test_review import external_references

BERLIN = ZoneInfo("Europe/Berlin")

# the loopback SMTP server takes a login without TLS (the TLS tests are in test_smtp_tls.py)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

REVIEWS = """
[[schedules]]
name = "monthly reviews"
report = "review"
day = 2
at = "08:00"
notify = ["hook", "mail"]
folder = "{folder}"
"""

SCHEDULES = """
[[schedules]]
name = "daily summary"
report = "summary"
at = "{summary_at}"
notify = ["mail"]

[notify]
retries = 1
retry_delay = 0

[notify.webhooks.hook]
url = "{hook}"
timeout = 5

[notify.email.mail]
host = "127.0.0.1"
port = {smtp}
sender = "reports@example.com"
to = ["vendor-manager@example.com"]
username = "alerts"
password_env = "TEST_SMTP_PASSWORD"
timeout = 5
"""


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


@pytest.fixture
def operation(small_demo, tmp_path, monkeypatch):
    """A copy of the small demo's store and a config writer adding the schedules."""
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    db, config = small_demo
    copy = tmp_path / "demo.duckdb"
    shutil.copy(db, copy)

    def configure(hook: str, smtp: int, summary_at: str = "07:30", reviews: bool = True):
        path = tmp_path / "supportkpi.toml"
        extra = (REVIEWS if reviews else "") + SCHEDULES
        extra = extra.format(folder=tmp_path / "out", hook=hook, smtp=smtp, summary_at=summary_at)
        path.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
        return path

    return copy, configure


def test_due_times_and_periods_by_hand():
    monthly = Schedule(name="m", report="review", day=2, at=clock(8), folder="x")
    weekly = Schedule(name="w", report="summary", every="week", day="mon", folder="x")
    daily = Schedule(name="d", report="summary", at=clock(8), folder="x")
    tz = "Europe/Berlin"
    now = berlin("2026-08-02T07:59")
    assert latest_due(monthly, now, tz) == berlin("2026-07-02T08:00")
    assert latest_due(monthly, berlin("2026-08-02T08:00"), tz) == berlin("2026-08-02T08:00")
    assert latest_due(daily, now, tz) == berlin("2026-08-01T08:00")
    assert latest_due(weekly, now, tz) == berlin("2026-07-27T08:00")  # a Monday
    # across the change to winter time the local hour holds: 08:00 is 07:00 UTC
    assert latest_due(daily, berlin("2026-10-26T09:00"), tz) == datetime(
        2026, 10, 26, 7, tzinfo=UTC
    )
    assert period(monthly, berlin("2026-08-02T08:00"), tz) == (date(2026, 7, 1), date(2026, 7, 31))
    assert period(monthly, berlin("2026-03-02T08:00"), tz) == (date(2026, 2, 1), date(2026, 2, 28))
    assert period(daily, berlin("2026-08-01T08:00"), tz) == (date(2026, 7, 31),) * 2
    assert period(weekly, berlin("2026-07-27T08:00"), tz) == (date(2026, 7, 20), date(2026, 7, 26))


def test_schedule_settings_are_checked(tmp_path):
    cases = {
        'report = "review"\nday = 31\nfolder = "x"': "day = 1 … 28",
        'report = "summary"\nevery = "week"\nday = "funday"\nfolder = "x"': "day = one of mon",
        'report = "review"': "say where it goes",
        'report = "review"\nnotify = ["nowhere"]': "nowhere",
    }
    for body, message in cases.items():
        path = tmp_path / "bad.toml"
        path.write_text(f'[[schedules]]\nname = "s"\n{body}\n', encoding="utf-8")
        with pytest.raises(ConfigError, match=message):
            load_config(path)


def attachments(message) -> dict[str, bytes]:
    return {
        part.get_filename(): part.get_payload(decode=True)
        for part in message.walk()
        if part.get_filename()
    }


def test_the_reviews_go_out_once_when_due_and_never_again(operation, tmp_path):
    db, configure = operation
    with webhook_receiver() as hook, smtp_server() as box:
        config = load_config(configure(hook.url, box.port))
        with Store.open(db) as store:
            early = run(store, config, berlin("2026-08-02T07:59"))
            assert {o.schedule: o.status for o in early} == {
                "monthly reviews": "missed",  # July 2 is over a day old: not caught up
                "daily summary": "made",
            }
            box.messages.clear()
            due = run(store, config, berlin("2026-08-02T08:00"))
            reviews = next(o for o in due if o.schedule == "monthly reviews")
            assert reviews.status == "made"
            assert reviews.items == ("atlas", "in-house", "northwind")
            again = run(store, config, berlin("2026-08-02T08:05"))
        assert {o.schedule: o.status for o in again} == {"monthly reviews": "done",
                                                          "daily summary": "done"}  # fmt: skip
        # another process, as after a restart, sends nothing again either
        done = CliRunner().invoke(
            app,
            ["schedule", "run", "--db", str(db), "--config", str(tmp_path / "supportkpi.toml"),
             "--at", "2026-08-02T10:00:00+02:00"],
        )  # fmt: skip
        assert done.exit_code == 0, done.output
    assert len(box.messages) == 3 and len(hook.received) == 3
    assert sorted(m["Subject"] for m in box.messages) == [
        f"[supportkpi] {v}: support review, July 2026" for v in ("atlas", "in-house", "northwind")
    ]
    for message in box.messages:
        files = attachments(message)
        (name,) = files
        vendor = name.removeprefix("review-").removesuffix("-2026-07.html")
        html = files[name].decode()
        assert f"{vendor}: support review, July 2026" in html
        assert external_references(html) == []
        assert (tmp_path / "out" / name).read_bytes() == files[name]  # the same file
        posted = next(p for p in hook.received if p["vendor"] == vendor)
        assert base64.b64decode(posted["files"][0]["data"]) == files[name]
        assert posted["period"] == {"from": "2026-07-01", "to": "2026-07-31"}
    with Store.open(db, read_only=True) as store:
        sent = history(store)
    assert {(d["schedule"], d["status"]) for d in sent} == {
        ("monthly reviews", "sent"),
        ("daily summary", "sent"),
    }
    assert len([d for d in sent if d["schedule"] == "monthly reviews"]) == 9  # 3 × 3 channels


def test_a_failed_delivery_is_retried_later_and_only_it(operation, tmp_path):
    db, configure = operation
    port = free_port()  # nothing listens there yet
    with smtp_server() as box:
        path = configure(f"http://127.0.0.1:{port}/hook", box.port)
        config = load_config(path)
        args = ["schedule", "run", "--db", str(db), "--config", str(path)]
        first = CliRunner().invoke(app, [*args, "--at", "2026-08-02T08:00:00+02:00"])
        assert first.exit_code == 1 and "not delivered: monthly reviews" in first.output
        assert len([m for m in box.messages if "review" in m["Subject"]]) == 3
        with webhook_receiver(port, fail_first=1) as hook:  # fails once more, then takes it
            second = CliRunner().invoke(app, [*args, "--at", "2026-08-02T08:10:00+02:00"])
        assert second.exit_code == 0, second.output
    assert sorted(p["vendor"] for p in hook.received) == ["atlas", "in-house", "northwind"]
    assert len([m for m in box.messages if "review" in m["Subject"]]) == 3  # not mailed again
    with Store.open(db, read_only=True) as store:
        hooks = [d for d in history(store) if d["channel"] == "hook"]
    assert {d["status"] for d in hooks} == {"sent"}
    # 2 attempts in the first run (no one listening); in the second the first one of the
    # three is refused once, so it takes 2 attempts, the others 1
    assert sorted(d["attempts"] for d in hooks) == [3, 3, 4]
    assert config.schedules[0].folder


def test_the_daily_summary_counts_the_days_conversations(operation, small_demo, tmp_path):
    db, configure = operation
    with smtp_server() as box:
        config = load_config(configure("http://127.0.0.1:9/none", box.port))
        with Store.open(db) as store:
            made = run(store, config, berlin("2026-07-15T07:30"))
            berlin_day = store.execute(
                "SELECT vendor, count(*) FROM conversations WHERE "
                "timezone('Europe/Berlin', created_at)::DATE = DATE '2026-07-14' GROUP BY 1"
            )
    assert {o.schedule: o.status for o in made}["daily summary"] == "made"
    (mail,) = [m for m in box.messages if "summary" in m["Subject"]]
    assert mail["Subject"] == "[supportkpi] Support summary, 2026-07-14"
    body = next(
        p.get_payload(decode=True).decode().replace("\r\n", "\n")
        for p in mail.walk()
        if p.get_content_type() == "text/plain" and not p.get_filename()
    )
    expected = dict(berlin_day)
    assert len(expected) == 3 and sum(expected.values()) > 0
    for vendor, count in expected.items():
        block = body.split(f"{vendor}:\n", 1)[1]
        assert block.splitlines()[0].strip() == f"Volume: {count:,}", block[:80]


def test_serve_runs_the_schedules_and_a_restart_sends_nothing_twice(operation, tmp_path):
    db, configure = operation
    with smtp_server() as box:
        path = configure("http://127.0.0.1:9/none", box.port, "00:00", reviews=False)
        args = ("--config", path, "--no-auth", "--schedules", "--schedule-interval", "1")
        for _ in range(2):  # the second server is the restart
            with serving(db, *args):
                deadline = time.monotonic() + 30
                while not box.messages and time.monotonic() < deadline:
                    time.sleep(0.2)
                time.sleep(2.5)  # more runs: nothing more is made or sent
    assert [m["Subject"].split(",")[0] for m in box.messages] == ["[supportkpi] Support summary"]
    with Store.open(db, read_only=True) as store:
        sent = history(store)
    assert [(d["schedule"], d["status"]) for d in sent] == [("daily summary", "sent")]


def test_the_python_api_runs_the_schedules(operation):
    import supportkpi

    db, configure = operation
    with smtp_server() as box:
        path = configure("http://127.0.0.1:9/none", box.port, reviews=False)
        with supportkpi.connect(db, config=path) as con:
            first = con.run_schedules(berlin("2026-07-15T07:30"))
            again = con.run_schedules(berlin("2026-07-15T09:00"))
    assert [o.status for o in first] == ["made"] and [o.status for o in again] == ["done"]
    assert [m["Subject"] for m in box.messages] == ["[supportkpi] Support summary, 2026-07-14"]


def test_a_review_schedule_can_attach_the_pdf(small_demo, tmp_path):
    from tests.browser import require_chromium
    from tests.test_review import render_pages

    require_chromium()
    db, config = small_demo
    copy = tmp_path / "demo.duckdb"
    shutil.copy(db, copy)
    path = tmp_path / "supportkpi.toml"
    extra = (
        '\n[[schedules]]\nname = "atlas review"\nreport = "review"\nday = 2\n'
        f'vendors = ["atlas"]\npdf = true\nfolder = "{tmp_path / "out"}"\n'
    )
    path.write_text(config.read_text(encoding="utf-8") + extra, encoding="utf-8")
    with Store.open(copy) as store:
        (made,) = run(store, load_config(path), berlin("2026-08-02T08:00"))
    assert made.items == ("atlas",)
    pdf = tmp_path / "out" / "review-atlas-2026-07.pdf"
    pages = render_pages(pdf)
    assert "atlas: support review, July 2026" in pages[0][0]
    assert (tmp_path / "out" / "review-atlas-2026-07.html").exists()


def test_the_readme_examples_are_valid_configs(tmp_path):
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")

    def first_toml(heading: str) -> str:
        section = readme[readme.index(heading) :]
        return re.findall(r"```toml\n(.*?)```", section, re.S)[0]

    alerts = first_toml("### Alerts")  # its [notify] channels are the schedules' too
    example = tmp_path / "supportkpi.toml"
    example.write_text(alerts + first_toml("### Scheduled reports"), encoding="utf-8")
    config = load_config(example)
    assert [(s.name, s.every, s.day) for s in config.schedules] == [
        ("monthly reviews", "month", 2),
        ("daily summary", "day", None),
    ]
    roster = re.findall(
        r"```toml\n(.*?)```", readme[readme.index("**Breaks and days off**") :], re.S
    )
    example.write_text(textwrap.dedent(roster[0]), encoding="utf-8")
    rules = load_config(example).workforce.roster
    assert (rules.max_days, rules.min_days_off, rules.breaks[0].minutes) == (5, 2, 30)
