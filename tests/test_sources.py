"""Every input format, compression, mapping files and time zones."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from supportkpi.load.ingest import LoadError, load
from supportkpi.sources.files import SourceError, open_source
from supportkpi.sources.mapping import MappingError, load_mapping
from tests.conftest import quarantine

ROWS = [
    {"conversation_id": "c1", "channel": "chat", "created_at": "2024-05-01T10:00:00Z"},
    {"conversation_id": "c2", "channel": "email", "created_at": "2024-05-01 12:00:00+02:00"},
    {"conversation_id": "c3", "channel": "chat", "created_at": "not a time"},
]
EXPECTED = [
    ("c1", datetime(2024, 5, 1, 10, tzinfo=UTC)),
    ("c2", datetime(2024, 5, 1, 10, tzinfo=UTC)),
]


def _loaded(store):
    return store.execute("SELECT conversation_id, created_at FROM conversations ORDER BY 1")


def _csv_text(rows, sep=","):
    head = sep.join(rows[0])
    return head + "\n" + "\n".join(sep.join(r.values()) for r in rows) + "\n"


@pytest.mark.parametrize(
    "name",
    ["conversations.csv", "conversations.csv.gz", "conversations.tsv", "conversations_2024-05.csv"],
)
def test_csv_variants(store, tmp_path, name):
    text = _csv_text(ROWS, "\t" if name.endswith(".tsv") else ",")
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    load(store, [path])
    assert _loaded(store) == EXPECTED
    assert quarantine(store) == [(4, "created_at", "bad_timestamp")]


def test_csv_semicolons_bom_quotes_and_newlines_in_values(store, tmp_path):
    text = (
        "\ufeffconversation_id;channel;created_at;topic\n"
        'c1;chat;2024-05-01T10:00:00Z;"refund; urgent"\n'
        'c2;email;2024-05-01 12:00:00+02:00;"two\nlines"\n'
    )
    (tmp_path / "conversations.csv").write_text(text, encoding="utf-8")
    load(store, [tmp_path / "conversations.csv"])
    assert _loaded(store) == EXPECTED
    assert [r[0] for r in store.execute("SELECT topic FROM conversations ORDER BY 1")] == [
        "refund; urgent",
        "two\nlines",
    ]


@pytest.mark.parametrize(
    "name", ["conversations.jsonl", "conversations.ndjson.gz", "conversations.json"]
)
def test_json_lines_and_arrays(store, tmp_path, name):
    if name.endswith(".json"):
        text = json.dumps(ROWS)
    else:
        text = "\n".join(json.dumps(r) for r in ROWS) + "\n\n"
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    load(store, [path])
    assert _loaded(store) == EXPECTED
    line = 3
    assert quarantine(store) == [(line, "created_at", "bad_timestamp")]


def test_json_values_of_other_types(store, tmp_path):
    rows = [
        {
            "conversation_id": 17,
            "channel": "chat",
            "created_at": "2024-05-01T10:00:00Z",
            "escalated": True,
            "transfers": 2,
            "topic": {"a": 1},
        }
    ]
    (tmp_path / "conversations.jsonl").write_text(json.dumps(rows[0]) + "\nnot json\n[1]\n")
    load(store, [tmp_path / "conversations.jsonl"])
    assert store.execute(
        "SELECT conversation_id, escalated, transfers, topic FROM conversations"
    ) == [("17", True, 2, '{"a": 1}')]
    assert quarantine(store) == [(2, None, "malformed_row"), (3, None, "malformed_row")]


def test_parquet_with_native_types(store, tmp_path):
    table = pa.table(
        {
            "conversation_id": ["c1", "c2"],
            "channel": ["chat", "email"],
            "created_at": pa.array(
                [datetime(2024, 5, 1, 10, tzinfo=UTC), datetime(2024, 5, 1, 10, tzinfo=UTC)],
                pa.timestamp("us", tz="UTC"),
            ),
            "transfers": pa.array([1, 2], pa.int32()),
            "escalated": [True, False],
        }
    )
    pq.write_table(table, tmp_path / "conversations.parquet")
    load(store, [tmp_path / "conversations.parquet"])
    assert _loaded(store) == EXPECTED
    assert store.execute("SELECT transfers, escalated FROM conversations ORDER BY 1") == [
        (1, True),
        (2, False),
    ]


def test_parquet_naive_timestamps_are_read_in_the_source_zone(store, tmp_path, write):
    table = pa.table(
        {
            "conversation_id": ["c1"],
            "channel": ["chat"],
            "created_at": pa.array([datetime(2024, 5, 1, 12)], pa.timestamp("s")),
        }
    )
    pq.write_table(table, tmp_path / "conversations.parquet")
    mapping = load_mapping(write("m.toml", 'timezone = "Europe/Berlin"\n'))
    load(store, [tmp_path / "conversations.parquet"], mapping=mapping)
    assert _loaded(store) == [EXPECTED[0]]


def test_excel_workbook(store, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["conversation_id", "channel", "created_at", "transfers"])
    sheet.append(["c1", "chat", datetime(2024, 5, 1, 10), 1])
    sheet.append([None, None, None, None])
    sheet.append(["c2", "email", "2024-05-01 12:00:00+02:00", 2.0])
    sheet.append(["c3", "chat", "soon", 0])
    book.save(tmp_path / "conversations.xlsx")
    load(store, [tmp_path / "conversations.xlsx"])
    assert _loaded(store) == EXPECTED
    assert quarantine(store) == [(5, "created_at", "bad_timestamp")]


def test_mapping_renames_maps_values_and_fills_constants(store, write):
    data = write(
        "export.csv",
        """
        Ticket ID,Via,Opened,Closed?,Satisfaction
        T-1,Web Widget,01/05/2024 12:00,?,great
        T-2,Mail,01/05/2024 13:30,01/05/2024 15:00,?
        T-3,Fax,02/05/2024 09:00,?,?
        """,
    )
    mapping = load_mapping(
        write(
            "mapping.toml",
            """
        table = "conversations"
        timezone = "Europe/Berlin"
        timestamp_format = "%d/%m/%Y %H:%M"
        null_values = ["?"]
        [columns]
        conversation_id = "Ticket ID"
        channel = "Via"
        created_at = "Opened"
        resolved_at = "Closed?"
        [values.channel]
        "Web Widget" = "chat"
        "Mail" = "email"
        [constants]
        vendor = "in-house"
        """,
        )
    )
    summary = load(store, [data], mapping=mapping)
    assert store.execute(
        "SELECT conversation_id, channel, created_at, resolved_at, vendor "
        "FROM conversations ORDER BY 1"
    ) == [
        ("T-1", "chat", datetime(2024, 5, 1, 10, tzinfo=UTC), None, "in-house"),
        (
            "T-2",
            "email",
            datetime(2024, 5, 1, 11, 30, tzinfo=UTC),
            datetime(2024, 5, 1, 13, tzinfo=UTC),
            "in-house",
        ),
    ]
    assert quarantine(store) == [(4, "Via", "unknown_value")]
    assert summary.files[0].ignored_columns == ["Satisfaction"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-31 01:59:59", datetime(2024, 3, 31, 0, 59, 59, tzinfo=UTC)),  # CET, +1
        ("2024-03-31 03:00:00", datetime(2024, 3, 31, 1, 0, tzinfo=UTC)),  # CEST, +2
        ("2024-10-27 01:30:00", datetime(2024, 10, 26, 23, 30, tzinfo=UTC)),  # still CEST
        ("2024-10-27 03:30:00", datetime(2024, 10, 27, 2, 30, tzinfo=UTC)),  # CET again
        ("2024-07-01", datetime(2024, 6, 30, 22, 0, tzinfo=UTC)),  # local midnight
        ("2024-07-01T00:00:00Z", datetime(2024, 7, 1, 0, 0, tzinfo=UTC)),  # offset wins
        ("2024-07-01 00:00:00-05:00", datetime(2024, 7, 1, 5, 0, tzinfo=UTC)),
        ("2024-07-01T00:00:00.250+0530", datetime(2024, 6, 30, 18, 30, 0, 250000, tzinfo=UTC)),
        ("2024-07-01 00:00:00 -0700", datetime(2024, 7, 1, 7, 0, tzinfo=UTC)),  # a spaced offset
        ("2024-07-01 00:00 +05:30", datetime(2024, 6, 30, 18, 30, tzinfo=UTC)),
    ],
)
def test_naive_times_in_the_source_zone_across_dst(store, write, text, expected):
    mapping = load_mapping(write("m.toml", 'timezone = "Europe/Berlin"\n'))
    data = write("conversations.csv", f"conversation_id,channel,created_at\nc1,chat,{text}\n")
    load(store, [data], mapping=mapping)
    assert store.execute("SELECT created_at FROM conversations") == [(expected,)]


def test_timestamp_format_with_offset(store, write):
    mapping = load_mapping(
        write(
            "m.toml",
            """
        timezone = "Asia/Tokyo"
        [timestamp_formats]
        created_at = "%a %b %d %H:%M:%S %z %Y"
        """,
        )
    )
    data = write(
        "conversations.csv",
        "conversation_id,channel,created_at\nc1,social,Tue Oct 31 22:10:47 +0000 2017\n",
    )
    load(store, [data], mapping=mapping)
    assert store.execute("SELECT created_at FROM conversations") == [
        (datetime(2017, 10, 31, 22, 10, 47, tzinfo=UTC),)
    ]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('timezone = "Mars/Olympus"', "timezone: unknown time zone 'Mars/Olympus'"),
        ('table = "tickets"', "table: unknown table 'tickets'"),
        ('table = "conversations"\n[columns]\nticket = "Id"', "[columns] names 'ticket'"),
        ("colums = {}", "colums: Extra inputs are not permitted"),
        ('delimiter = ";;"', "delimiter: the delimiter is one character"),
        ("table = ", "is not valid TOML"),
    ],
)
def test_bad_mapping_names_the_key(write, toml, message):
    with pytest.raises(MappingError, match=None) as info:
        load_mapping(write("m.toml", toml))
    assert message in str(info.value)
    assert "m.toml" in str(info.value)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("conversations.csv", "", "the file is empty"),
        ("conversations.bin", "x", "cannot tell the format"),
        ("tickets.csv", "a,b\n1,2\n", "cannot tell which table"),
        ("conversations.parquet", "not parquet at all", "not a Parquet file"),
        ("conversations.xlsx", "not a workbook", "not an Excel .xlsx workbook"),
        ("conversations.json", "[1, 2", "not valid JSON"),
        ("conversations.csv", "id,when\n1,2\n", "no column 'conversation_id'"),
    ],
)
def test_unreadable_files_fail_whole_and_load_nothing(store, write, name, content, message):
    good = write("messages.csv", "message_id,conversation_id,sent_at,author_role\n")
    with pytest.raises(LoadError) as info:
        load(store, [good, write(name, content)])
    assert message in str(info.value)
    assert sum(store.counts().values()) == 0


def test_non_utf8_file_fails_clearly_then_loads_with_its_encoding(store, tmp_path, write):
    path = tmp_path / "conversations.csv"
    path.write_bytes(
        "conversation_id,channel,created_at,topic\nc1,chat,2024-05-01,Müll\n".encode("latin-1")
    )
    with pytest.raises(LoadError, match=r'not readable as utf-8 text.*encoding = "latin-1"'):
        load(store, [path])
    load(store, [path], mapping=load_mapping(write("m.toml", 'encoding = "latin-1"')))
    assert store.execute("SELECT topic FROM conversations") == [("Müll",)]


def test_missing_file():
    with pytest.raises(SourceError, match="no such file"):
        open_source("nowhere/conversations.csv")
