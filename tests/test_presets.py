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


def test_every_preset_has_a_fixture():
    assert presets.names() == ["freshdesk", "intercom", "livechat", "zendesk-support"]
    for name in presets.names():
        assert (FIXTURES / f"{name}.csv").exists()
        assert presets.describe(name)


@pytest.mark.parametrize("name", presets.names())
def test_preset_loads_its_fixture(store, name):
    summary = load(store, [FIXTURES / f"{name}.csv"], mapping=presets.load_preset(name))
    assert summary.quarantined == {}
    assert summary.tables["conversations"].new == 3


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
