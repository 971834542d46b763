"""Computed columns, composite keys, row filters and strictness of mapping files: each
feature worked out by hand on a small file, and each mistake one message naming the mapping
file, the key and the problem."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supportkpi.load.ingest import LoadError, load
from supportkpi.sources.expressions import ExpressionError, parse
from supportkpi.sources.mapping import MappingError, load_mapping
from supportkpi.store.store import Store

CALLS = """
    line,call,day,start,wait,talk,outcome,customer
    A1,1,2024-05-01,23:59:30,45,60,AGENT,7
    A2,1,2024-05-02,10:00:00,20,0,HANG,0
    A1,2,2024-05-02,11:00:00,5,30,AGENT,
    A1,3,2024-05-02,12:00:00,0,0,MENU,7
    """

MAPPING = """
    table = "conversations"
    key = ["line", "call"]
    [[leave_out]]
    when = "outcome = 'MENU'"
    reason = "ended in the menu"
    [columns]
    created_at = { expr = "date(day) + time(start)" }
    first_response_at = { expr = '''CASE WHEN outcome = 'AGENT'
        THEN at_time(date(day) + time(start), start) + seconds(wait) END''' }
    handle_seconds = { expr = "if(outcome = 'AGENT', number(talk) * 1, NULL)" }
    queue = { expr = "line || '-' || lower(outcome)" }
    customer_id = "customer"
    [values.customer_id]
    "0" = ""
    [constants]
    channel = "voice"
    """


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_computed_columns_keys_filters_and_null_values(store, write):
    path = write("calls.csv", CALLS)
    summary = load(store, [path], mapping=load_mapping(write("m.toml", MAPPING)))
    assert summary.quarantined == {}
    assert summary.files[0].left_out == {"ended in the menu": 1}
    assert store.execute(
        "SELECT conversation_id, created_at, first_response_at, handle_seconds, queue, "
        "customer_id FROM conversations ORDER BY created_at"
    ) == [
        # 45 s after 23:59:30 is the next day
        ("A1/1", _at("2024-05-01 23:59:30"), _at("2024-05-02 00:00:15"), 60.0, "A1-agent", "7"),
        # the same call id on another line is another call; customer 0 is no customer
        ("A2/1", _at("2024-05-02 10:00:00"), None, None, "A2-hang", None),
        ("A1/2", _at("2024-05-02 11:00:00"), _at("2024-05-02 11:00:05"), 30.0, "A1-agent", None),
    ]


def test_where_keeps_only_matching_rows_and_counts_the_others(store, write):
    mapping = MAPPING.replace(
        '[[leave_out]]\n    when = "outcome = \'MENU\'"\n    reason = "ended in the menu"',
        "where = \"outcome = 'AGENT'\"",
    )
    summary = load(
        store, [write("calls.csv", CALLS)], mapping=load_mapping(write("m.toml", mapping))
    )
    assert summary.files[0].left_out == {"outside where = outcome = 'AGENT'": 2}
    assert store.execute("SELECT count(*) FROM conversations") == [(2,)]


def test_a_key_of_several_columns_cannot_be_confused_by_the_separator(store, write):
    calls = """
        line,call,day,start
        a/b,c,2024-05-01,10:00
        a,b/c,2024-05-01,11:00
        """
    mapping = """
        table = "conversations"
        key = ["line", "call"]
        [columns]
        created_at = { expr = "date(day) + time(start)" }
        [constants]
        channel = "voice"
        """
    summary = load(store, [write("c.csv", calls)], mapping=load_mapping(write("m.toml", mapping)))
    assert summary.quarantined == {}
    ids = sorted(r[0] for r in store.execute("SELECT conversation_id FROM conversations"))
    assert ids == ["a/b\\/c", "a\\/b/c"]


def test_a_value_a_function_cannot_read_is_quarantined_with_its_column(store, write):
    calls = """
        line,call,day,start
        A,1,2024-05-01,10:00
        A,2,2024-13-45,10:00
        A,3,2024-05-01,ten
        """
    mapping = """
        table = "conversations"
        key = ["line", "call"]
        [columns]
        created_at = { expr = "date(day) + time(start)" }
        [constants]
        channel = "voice"
        """
    summary = load(store, [write("c.csv", calls)], mapping=load_mapping(write("m.toml", mapping)))
    assert summary.quarantined == {"bad_timestamp": 2}
    assert store.execute("SELECT line, column_name, reason FROM quarantine ORDER BY line") == [
        (3, "day", '"2024-13-45" in day is not a date (date() for created_at)'),
        (
            4,
            "start",
            '"ten" in start is not a time of day (H:MM or H:MM:SS) (time() for created_at)',
        ),
    ]


def test_dates_in_several_formats(store, write):
    calls = """
        id,day,start
        1,2024-05-01,10:00:00
        2,240502,10:00:00
        """
    mapping = """
        table = "conversations"
        [columns]
        conversation_id = "id"
        created_at = { expr = "date(day, '%Y-%m-%d', '%y%m%d') + time(start)" }
        [constants]
        channel = "voice"
        """
    load(store, [write("c.csv", calls)], mapping=load_mapping(write("m.toml", mapping)))
    assert [r[0] for r in store.execute("SELECT created_at FROM conversations ORDER BY 1")] == [
        _at("2024-05-01 10:00"),
        _at("2024-05-02 10:00"),
    ]


# ------------------------------------------------------------ mistakes, each named


def _mistake(write, mapping: str, calls: str = CALLS) -> str:
    path = write("m.toml", mapping)
    with pytest.raises((MappingError, LoadError)) as caught:
        rules = load_mapping(path)
        with Store.open(path.parent / "s.duckdb") as store:
            load(store, [write("calls.csv", calls)], mapping=rules)
    message = str(caught.value)
    assert str(path) in message
    return message


@pytest.mark.parametrize(
    ("change", "key", "words"),
    [
        # a syntax error, with its position
        ('"date(day) + time(start)"', "columns.created_at", "position"),
        # a function outside the language
        ('"read_csv(day)"', "columns.created_at", "unknown function read_csv()"),
        # a subquery
        ('"(SELECT 1)"', "columns.created_at", "not part of the mapping language"),
        # a column the file lacks
        ('"date(dya) + time(start)"', "columns.created_at", "'dya', which the file does not have"),
        # text used as a number without number()
        ('"date(day) + start"', "columns.created_at", "cannot be computed"),
        # a duration where an instant belongs
        ('"seconds(wait)"', "columns.created_at", "a duration, not an instant"),
    ],
)
def test_each_mistake_in_an_expression_is_named(write, change, key, words):
    broken = '"date(day) + time(start) +"' if words == "position" else change
    mapping = MAPPING.replace('{ expr = "date(day) + time(start)" }', "{ expr = " + broken + " }")
    message = _mistake(write, mapping)
    assert key in message, message
    assert words in message, message


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            'customer_id = "customer"',
            'customer_id = "client"',
            "columns.customer_id names the column 'client'",
        ),
        ('key = ["line", "call"]', 'key = ["line", "cal"]', "key names the column 'cal'"),
        ('key = ["line", "call"]', 'key = ["line"]', "key lists two or more columns"),
        ('reason = "ended in the menu"', 'reason = " "', "say why these rows are left out"),
        (
            "when = \"outcome = 'MENU'\"",
            "when = \"outcom = 'MENU'\"",
            "leave_out[1].when names the column 'outcom'",
        ),
        (
            'key = ["line", "call"]',
            'where = "outcome ="\n    key = ["line", "call"]',
            "where: cannot be read",
        ),
    ],
)
def test_each_mistake_in_a_mapping_is_named(write, old, new, words):
    assert old in MAPPING
    message = _mistake(write, MAPPING.replace(old, new, 1))
    assert words in message, message


def test_after_naming_a_file_column_is_an_error(write):
    mapping = """
        table = "conversations"
        [columns]
        conversation_id = "call"
        created_at = "day"
        [after.first_response_at]
        column = "start"
        seconds = "wait"
        [constants]
        channel = "voice"
        """
    message = _mistake(write, mapping)
    assert "after.first_response_at" in message and "not a column of the file" in message


def test_after_whose_delay_column_is_missing_is_an_error(write):
    mapping = """
        table = "conversations"
        [columns]
        conversation_id = "call"
        created_at = "day"
        [after.first_response_at]
        column = "created_at"
        seconds = "delay"
        [constants]
        channel = "voice"
        """
    assert "after.first_response_at names the column 'delay'" in _mistake(write, mapping)


def test_a_time_only_format_is_an_error_not_1900(write):
    mapping = """
        table = "conversations"
        timestamp_format = "%H:%M:%S"
        [columns]
        conversation_id = "call"
        created_at = "start"
        [constants]
        channel = "voice"
        """
    message = _mistake(write, mapping)
    assert "timestamp_format" in message and "has no date" in message


def test_a_key_on_a_table_keyed_by_several_columns_is_an_error(write):
    mapping = """
        table = "agent_activity"
        key = ["line", "call"]
        """
    message = _mistake(write, mapping)
    assert "already keyed by agent_id, started_at" in message


def test_the_language_refuses_everything_outside_it():
    for text in ["now()", "x::int", "a.b", "x IS 3", "1; 2", "exists(select 1)", ""]:
        with pytest.raises(ExpressionError):
            parse(text)
