"""Every shipped preset loads a fixture with its export's real headers, nothing quarantined."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from supportkpi.cli import app
from supportkpi.load.ingest import LoadError, load
from supportkpi.sources import presets

FIXTURES = Path(__file__).parent / "data" / "presets"


# conversations each preset's fixture holds
EXPECTED = {
    "anonymous-bank-calls": 5,
    "freshdesk": 3,
    "intercom": 3,
    "livechat": 3,
    "servicenow-incidents": 3,
    "zendesk-support": 3,
}


def test_every_preset_has_a_fixture():
    assert presets.names() == sorted(EXPECTED)
    for name in presets.names():
        assert (FIXTURES / f"{name}.csv").exists()
        assert presets.describe(name)


@pytest.mark.parametrize("name", presets.names())
def test_preset_loads_its_fixture(store, name):
    summary = load(store, [FIXTURES / f"{name}.csv"], mapping=presets.load_preset(name))
    assert summary.quarantined == {}
    assert summary.tables["conversations"].new == EXPECTED[name]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_bank_calls_by_hand(store):
    """Each call of the fixture, worked out by hand from its row."""
    summary = load(
        store,
        [FIXTURES / "anonymous-bank-calls.csv"],
        mapping=presets.load_preset("anonymous-bank-calls"),
    )
    assert summary.files[0].left_out == {
        "ended in the voice menu: never asked for an agent": 1,
        "phantom call: the switch has no trace of it": 1,
    }
    rows = store.execute(
        "SELECT conversation_id, channel, created_at, first_response_at, resolved_at, "
        "closed_at, ended_by, handle_seconds, customer_id, agent_id, queue, topic "
        "FROM conversations ORDER BY created_at"
    )
    assert rows == [
        # queued 90 s, then served 140 s by DORIT
        (
            "AA0101/2",
            "voice",
            _at("2010-08-01 10:00:10"),
            _at("2010-08-01 10:01:40"),
            _at("2010-08-01 10:04:00"),
            _at("2010-08-01 10:04:00"),
            "agent",
            140.0,
            "17702523",
            "DORIT",
            "regular",
            "high priority",
        ),
        # same call id on another line: another call; hung up after 120 s in the queue;
        # customer 0 is no customer
        (
            "AA0102/2",
            "voice",
            _at("2010-08-01 11:00:05"),
            None,
            None,
            _at("2010-08-01 11:02:05"),
            "customer",
            None,
            None,
            None,
            "prospective customer",
            "unidentified",
        ),
        # served at once, on leaving the menu; served with no agent named
        (
            "AA0103/3",
            "voice",
            _at("2010-08-01 12:00:09"),
            _at("2010-08-01 12:00:09"),
            _at("2010-08-01 12:03:09"),
            _at("2010-08-01 12:03:09"),
            "agent",
            180.0,
            "23317894",
            None,
            "internet support",
            "regular",
        ),
        # queued at 23:59:29, answered 88 s later, past midnight: on the next day
        (
            "AA0208/7582",
            "voice",
            _at("2010-08-02 23:59:29"),
            _at("2010-08-03 00:00:57"),
            _at("2010-08-03 00:01:16"),
            _at("2010-08-03 00:01:16"),
            "agent",
            19.0,
            "25534546",
            "GELBER",
            "regular",
            "regular",
        ),
        # the menu's clock ran 87 s backwards: the queue start stays on the same day
        (
            "AA0207/7039",
            "voice",
            _at("2010-08-04 12:03:15"),
            _at("2010-08-04 12:04:56"),
            _at("2010-08-04 12:05:57"),
            _at("2010-08-04 12:05:57"),
            "agent",
            61.0,
            "17702523",
            "VICKY",
            "regular",
            "regular",
        ),
    ]


def test_servicenow_incidents_keeps_each_incidents_last_row(store):
    load(
        store,
        [FIXTURES / "servicenow-incidents.csv"],
        mapping=presets.load_preset("servicenow-incidents"),
    )
    assert store.execute(
        "SELECT conversation_id, channel, created_at, resolved_at, agent_id, team, transfers, "
        "customer_id, sla_breached FROM conversations ORDER BY 1"
    ) == [
        (
            "0000045",
            "voice",
            _at("2016-02-29 01:16"),
            _at("2016-02-29 11:29"),
            None,
            "56",
            0,
            "2403",
            False,
        ),
        (
            "0000047",
            "voice",
            _at("2016-02-29 04:40"),
            _at("2016-03-01 09:52"),
            "89",
            "24",
            1,
            "2403",
            False,
        ),
        (
            "0000057",
            "voice",
            _at("2016-02-29 06:10"),
            _at("2016-03-01 02:55"),
            "6",
            "70",
            0,
            "4416",
            False,
        ),
    ]


def test_zendesk_first_reply_from_minutes(store):
    load(store, [FIXTURES / "zendesk-support.csv"], mapping=presets.load_preset("zendesk-support"))
    assert store.execute(
        "SELECT conversation_id, channel, created_at, first_response_at, resolved_at, "
        "agent_id, team, reopens FROM conversations ORDER BY 1"
    ) == [
        (
            "101",
            "email",
            datetime(2024, 5, 6, 7, 0, tzinfo=UTC),
            datetime(2024, 5, 6, 7, 42, tzinfo=UTC),
            datetime(2024, 5, 6, 8, 30, tzinfo=UTC),
            "Kim Park",
            "Billing",
            0,
        ),
        (
            "102",
            "chat",
            datetime(2024, 5, 6, 10, 0, tzinfo=UTC),
            datetime(2024, 5, 6, 10, 1, 30, tzinfo=UTC),
            None,
            "Raj Iyer",
            "Tier 2",
            1,
        ),
        ("103", "web", datetime(2024, 5, 7, 6, 0, tzinfo=UTC), None, None, None, None, 0),
    ]


def test_freshdesk_times(store):
    load(store, [FIXTURES / "freshdesk.csv"], mapping=presets.load_preset("freshdesk"))
    assert store.execute(
        "SELECT conversation_id, channel, first_response_at, resolved_at, "
        "closed_at FROM conversations ORDER BY 1"
    )[0] == (
        "4001",
        "email",
        datetime(2024, 5, 6, 9, 45, tzinfo=UTC),
        datetime(2024, 5, 6, 15, 0, tzinfo=UTC),
        datetime(2024, 5, 7, 9, 0, tzinfo=UTC),
    )


def test_intercom_reads_the_zone_from_its_headers(store):
    load(store, [FIXTURES / "intercom.csv"], mapping=presets.load_preset("intercom"))
    rows = store.execute(
        "SELECT conversation_id, channel, created_at, customer_id, agent_id, team, "
        "first_response_at, resolved_at, closed_at FROM conversations ORDER BY 1"
    )
    # The headers say Europe/Berlin: UTC+2 in May, UTC+1 before the switch on 31 March.
    assert rows == [
        (
            "215470001",
            "chat",
            datetime(2024, 5, 6, 7, 0, tzinfo=UTC),
            "u-9001",
            "Kim Park",
            "Billing",
            datetime(2024, 5, 6, 7, 2, 30, tzinfo=UTC),
            datetime(2024, 5, 6, 7, 20, tzinfo=UTC),
            datetime(2024, 5, 7, 8, 0, tzinfo=UTC),
        ),
        (
            "215470002",
            "email",
            datetime(2024, 5, 6, 21, 30, tzinfo=UTC),
            "u-9002",
            "Raj Iyer",
            "Tier 2",
            datetime(2024, 5, 7, 6, 0, tzinfo=UTC),
            None,
            None,
        ),
        (
            "215470003",
            "social",
            datetime(2024, 3, 31, 0, 30, tzinfo=UTC),
            None,
            None,
            None,
            None,
            None,
            None,
        ),
    ]


def test_livechat_times_are_seconds_after_the_start(store):
    load(store, [FIXTURES / "livechat.csv"], mapping=presets.load_preset("livechat"))
    rows = store.execute(
        "SELECT conversation_id, channel, created_at, agent_id, queue, first_response_at, "
        "closed_at FROM conversations ORDER BY 1"
    )
    # America/New_York: UTC-4 in May; UTC-5 after the clocks went back on 3 November.
    assert rows == [
        (
            "QX5R2T9K1A",
            "chat",
            datetime(2024, 5, 6, 14, 0, tzinfo=UTC),
            "kim@example.com",
            "Sales",
            datetime(2024, 5, 6, 14, 0, 45, tzinfo=UTC),
            datetime(2024, 5, 6, 14, 10, tzinfo=UTC),
        ),
        (
            "QX5R2T9K1B",
            "chat",
            datetime(2024, 11, 3, 8, 30, tzinfo=UTC),
            "raj@example.com",
            "Support",
            None,
            datetime(2024, 11, 3, 8, 31, 30, tzinfo=UTC),
        ),
        (
            "QX5R2T9K1C",
            "chat",
            datetime(2024, 5, 7, 3, 59, 30, tzinfo=UTC),
            "raj@example.com",
            "Support",
            datetime(2024, 5, 7, 4, 1, 30, tzinfo=UTC),
            datetime(2024, 5, 7, 4, 14, 30, tzinfo=UTC),
        ),
    ]


def test_a_zone_header_that_names_no_zone_stops_the_load(store, write):
    text = (FIXTURES / "livechat.csv").read_text()
    renamed = text.replace("chat start date America/New_York", "chat start date EST5")
    bad = write("chats.csv", renamed)
    with pytest.raises(LoadError, match="names the time zone 'EST5'"):
        load(store, [bad], mapping=presets.load_preset("livechat"))
    assert store.execute("SELECT count(*) FROM conversations") == [(0,)]


def test_headers_in_two_zones_stop_the_load(store, write):
    text = (FIXTURES / "intercom.csv").read_text()
    mixed = text.replace("first replied at (Europe/Berlin)", "first replied at (UTC)")
    with pytest.raises(LoadError, match="name different time zones"):
        load(store, [write("c.csv", mixed)], mapping=presets.load_preset("intercom"))


def test_a_missing_zone_header_is_named_with_its_pattern(store, write):
    text = (FIXTURES / "livechat.csv").read_text()
    path = write("chats.csv", text.replace("chat start date", "chat begin"))
    with pytest.raises(LoadError, match=r"no column 'chat start date \{zone\}'"):
        load(store, [path], mapping=presets.load_preset("livechat"))


def test_delay_that_is_not_a_number_is_quarantined(store, write):
    header = (FIXTURES / "zendesk-support.csv").read_text().splitlines()[0]
    bad = (
        "1,201,A,1,,a@x,x,A,K,G,S,,Open,Normal,Email,,2024-05-06 09:00:00,,,,,,,,,0,0,0,0,"
        "soon,,,,,,,,,,,"
    )
    path = write("tickets.csv", f"{header}\n{bad}\n")
    load(store, [path], mapping=presets.load_preset("zendesk-support"))
    assert store.execute("SELECT line, column_name, reason FROM quarantine") == [
        (2, "First reply time in minutes", '"soon" is not a number of minutes')
    ]


def test_cli_presets_and_load_with_one(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(app, ["presets"], env={"COLUMNS": "200"})
    assert "zendesk-support" in listed.output and "freshdesk" in listed.output
    db = str(tmp_path / "p.duckdb")
    loaded = runner.invoke(
        app, ["load", "--preset", "freshdesk", "--db", db, str(FIXTURES / "freshdesk.csv")]
    )
    assert loaded.exit_code == 0 and "Quarantined: none" in loaded.output
    unknown = runner.invoke(
        app,
        ["load", "--preset", "kayako", "--db", db, str(FIXTURES / "freshdesk.csv")],
        env={"COLUMNS": "200"},
    )
    assert unknown.exit_code == 2 and "no preset 'kayako'" in unknown.output
