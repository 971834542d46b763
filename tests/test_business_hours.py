"""Business-hours durations (the _bh KPIs) across weekends, holidays, midnight and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from supportkpi.analysis.query import report
from supportkpi.config import BusinessHours, Calendars, Config, ConfigError, load_config
from supportkpi.facts.calendar import spans, utc_offsets
from supportkpi.load.ingest import load

OFFICE = BusinessHours(
    timezone="Europe/Berlin",
    mon="09:00-17:00",
    tue="09:00-17:00",
    wed="09:00-17:00",
    thu="09:00-17:00",
    fri="09:00-17:00",
    holidays=(date(2024, 5, 9),),
)  # Ascension Day, a Thursday
NIGHTS = BusinessHours(
    timezone="Europe/Berlin",
    **{d: "22:00-06:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
)
CONFIG = Config(business_hours=Calendars(default=OFFICE, vendors={"night": NIGHTS}))

# Times are UTC; Berlin is UTC+2 in May, UTC+1 until 31 March 2024 01:00 UTC.
CONVERSATIONS = """
conversation_id,channel,created_at,vendor,resolved_at
h1,email,2024-05-03 14:00:00,in-house,2024-05-06 09:00:00
h2,email,2024-05-08 14:30:00,in-house,
h3,email,2024-05-04 10:00:00,in-house,
h4,email,2024-05-06 06:00:00,in-house,
n1,email,2024-03-30 20:00:00,night,
"""
MESSAGES = """
message_id,conversation_id,sent_at,author_role
a,h1,2024-05-03 14:00:00,customer
b,h1,2024-05-06 08:00:00,agent
c,h2,2024-05-08 14:30:00,customer
d,h2,2024-05-10 07:30:00,agent
e,h3,2024-05-04 10:00:00,customer
f,h3,2024-05-04 11:00:00,agent
g,h4,2024-05-06 06:00:00,customer
h,h4,2024-05-06 07:15:00,agent
i,n1,2024-03-30 20:00:00,customer
j,n1,2024-03-31 05:00:00,agent
"""


@pytest.fixture
def loaded(store, write):
    load(store, [write("conversations.csv", CONVERSATIONS), write("messages.csv", MESSAGES)])
    return store


def _frt(store, **kw):
    result = report(
        store,
        ["first_response_time", "first_response_time_bh", "resolution_time_bh", "response_time_bh"],
        by=["vendor"],
        config=CONFIG,
        **kw,
    )
    return {r["vendor"]: r for r in result.table.to_pylist()}, result


def test_each_case_by_hand(loaded):
    cases = {
        # Fri 16:00–17:00 local, then Mon 09:00–10:00: 2 h of a 66 h wait
        "h1": 3600 + 3600,
        # Wed 16:30–17:00, Thursday a holiday, Fri 09:00–09:30
        "h2": 1800 + 1800,
        # Saturday noon to 1 pm: closed
        "h3": 0,
        # Mon 08:00 local, before opening, answered 09:15
        "h4": 900,
    }
    for conversation, expected in cases.items():
        assert _one(loaded, conversation) == expected, conversation


def _one(store, conversation):
    """first_response_time_bh of one conversation: a report over just its local day."""
    created = store.execute(
        "SELECT created_at FROM conversations WHERE conversation_id = ?", [conversation]
    )[0][0]
    day = created.astimezone(UTC).date()
    result = report(
        store,
        ["first_response_time_bh"],
        by=[],
        config=CONFIG,
        start=day,
        end=day,
        filters={"vendor": ["in-house"]},
    )
    return result.table.to_pylist()[0]["first_response_time_bh"]


def test_night_shift_across_the_spring_dst_change(loaded):
    # 21:00 CET Saturday to 07:00 CEST Sunday; the 22:00–06:00 night is one hour short:
    # 22:00 CET = 21:00 UTC to 06:00 CEST = 04:00 UTC, 7 h, though 9 h passed.
    rows, _ = _frt(loaded)
    assert rows["night"]["first_response_time_bh"] == 7 * 3600
    assert rows["night"]["first_response_time"] == 9 * 3600


def test_resolution_and_response_use_the_same_clock(loaded):
    rows, result = _frt(loaded, start=date(2024, 5, 3), end=date(2024, 5, 3))
    # h1 resolved Mon 11:00 local: Fri 16–17 and Mon 09–11
    assert rows["in-house"]["resolution_time_bh"] == 3600 + 7200
    assert rows["in-house"]["response_time_bh"] == 7200
    assert not result.missing


def test_without_business_hours_the_bh_kpis_say_why(loaded):
    result = report(loaded, ["first_response_time_bh", "chat_volume"], by=["vendor"])
    assert result.missing == {
        "first_response_time_bh": "no business hours configured "
        "([business_hours] in supportkpi.toml)"
    }
    assert "first_response_time_bh" not in [k.name for k in report(loaded, by=["vendor"]).kpis]


def test_spans_merge_cross_midnight_and_skip_holidays():
    assert spans(OFFICE, date(2024, 5, 8), date(2024, 5, 10)) == [
        (datetime(2024, 5, 8, 7, tzinfo=UTC), datetime(2024, 5, 8, 15, tzinfo=UTC)),
        (datetime(2024, 5, 10, 7, tzinfo=UTC), datetime(2024, 5, 10, 15, tzinfo=UTC)),
    ]
    # consecutive nights touch at 06:00? No: 22:00–06:00 nights are separate spans
    nights = spans(NIGHTS, date(2024, 3, 30), date(2024, 3, 31))
    assert nights[0] == (
        datetime(2024, 3, 30, 21, tzinfo=UTC),
        datetime(2024, 3, 31, 4, tzinfo=UTC),
    )
    assert nights[1] == (datetime(2024, 3, 31, 20, tzinfo=UTC), datetime(2024, 4, 1, 4, tzinfo=UTC))


def test_utc_offsets_find_the_dst_changes():
    changes = utc_offsets("Europe/Berlin", date(2024, 1, 1), date(2024, 12, 31))
    assert changes[1:] == [
        (datetime(2024, 3, 31, 1, tzinfo=UTC), 7200),
        (datetime(2024, 10, 27, 1, tzinfo=UTC), 3600),
    ]
    assert utc_offsets("UTC", date(2024, 1, 1), date(2024, 12, 31))[1:] == []


def test_config_file_with_business_hours(tmp_path):
    path = tmp_path / "supportkpi.toml"
    path.write_text("""
timezone = "Europe/Berlin"
[service_level]
chat = 45
[business_hours.default]
timezone = "Europe/Berlin"
mon = "09:00-12:00, 13:00-17:00"
holidays = [2024-12-25]
[business_hours.teams."night desk"]
timezone = "Asia/Manila"
sun = "22:00-06:00"
""")
    config = load_config(path)
    assert config.threshold("chat") == 45 and config.threshold("email") == 3600
    assert config.business_hours.teams["night desk"].timezone == "Asia/Manila"
    for text, message in [
        ('timezone = "Atlantis"', "timezone: unknown time zone"),
        ("[business_hours.default]\nmon = '9-5'", "business_hours.default.mon"),
        ("[service_level]\nchat = -1", "service_level: the threshold for chat"),
        ("follow_up_day = 3", "follow_up_day: Extra inputs are not permitted"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert message in str(info.value)
