"""Each kind of bad input that once crashed, passed silently or was misread, with the clear
refusal or quarantine reason it now gets."""

from __future__ import annotations

import gzip

import pytest

from supportkpi.analysis.sla import sla
from supportkpi.analysis.targets import Target, compliance
from supportkpi.config import Config
from supportkpi.load.ingest import LoadError, load
from tests.server import cli


def _reasons(store) -> dict[int, str]:
    return dict(store.execute("SELECT line, reason FROM quarantine ORDER BY line"))


def test_an_unterminated_quote_is_quarantined_not_a_crash(store, write):
    path = write("conversations.csv", 'conversation_id,channel,created_at\nc1,chat,"2024-05-06\n')
    summary = load(store, [path])
    assert sum(summary.quarantined.values()) == 1


def test_a_header_only_file_loads_nothing_and_says_so(store, write):
    summary = load(store, [write("conversations.csv", "conversation_id,channel,created_at\n")])
    assert summary.tables == {} or all(c.new == 0 for c in summary.tables.values())
    with pytest.raises(LoadError, match="no column 'created_at'"):
        load(store, [write("conversations.csv", "conversation_id,channel\n")])


def test_a_json_file_holding_something_else_is_refused(store, write):
    path = write("conversations.json", "conversation_id,channel,created_at\nc1,chat,2024-05-06\n")
    with pytest.raises(LoadError, match="not one record could be read as JSON"):
        load(store, [path])


def test_a_truncated_gzip_is_named_as_such(store, tmp_path):
    whole = gzip.compress(b"conversation_id,channel,created_at\nc1,chat,2024-05-06\n" * 50)
    for name in ("conversations.csv.gz", "conversations.json"):
        path = tmp_path / name
        path.write_bytes(whole[: len(whole) // 2])
        with pytest.raises(LoadError, match="cut short or damaged"):
            load(store, [path])


def test_a_20_mb_field_and_5000_columns_load(store, tmp_path):
    long = tmp_path / "conversations.csv"
    long.write_text(
        "conversation_id,channel,created_at,topic\nc1,chat,2024-05-06," + "x" * 20_000_000
    )
    assert load(store, [long]).tables["conversations"].new == 1
    wide = tmp_path / "wide" / "conversations.csv"
    wide.parent.mkdir()
    names = ["conversation_id", "channel", "created_at"] + [f"x{i}" for i in range(5000)]
    wide.write_text(",".join(names) + "\n" + ",".join(["c2", "chat", "2024-05-06"] + ["1"] * 5000))
    summary = load(store, [wide])
    assert summary.tables["conversations"].new == 1
    assert len(summary.files[0].ignored_columns) == 5000


def test_impossible_times_are_quarantined_and_iso_variants_read(store, write):
    rows = [
        "c1,chat,9999-01-01",
        "c2,chat,0001-01-01",
        "c3,chat,2024-05-06T10:00:00+25:00",
        "c4,chat,2062-01-01",
        "c5,chat,2024-05-06T10:00Z",
        "c6,chat,20240601T100000Z",
        "c7,chat,-0044-03-15",
        "c8,chat,1969-12-31T23:59:59Z",
    ]
    path = write("conversations.csv", "conversation_id,channel,created_at\n" + "\n".join(rows))
    load(store, [path])
    loaded = dict(
        store.execute(
            "SELECT conversation_id, strftime(created_at, '%Y-%m-%d %H:%M') FROM conversations"
        )
    )
    assert loaded == {"c5": "2024-05-06 10:00", "c6": "2024-06-01 10:00"}
    reasons = _reasons(store)
    for line in (2, 3, 5, 8, 9):
        assert "mistyped year" in reasons[line], reasons[line]
    assert "not a timestamp" in reasons[4]  # no zone is 25 hours from UTC


def test_numbers_with_underscores_are_not_numbers(store, write):
    path = write(
        "conversations.csv",
        "conversation_id,channel,created_at,transfers,handle_seconds\n"
        "c1,chat,2024-05-06,1_000,5\nc2,chat,2024-05-06,1,1_5.0\n",
    )
    load(store, [path])
    assert store.execute("SELECT count(*) FROM conversations") == [(0,)]
    assert sorted(store.execute("SELECT column_name, rule FROM quarantine")) == [
        ("handle_seconds", "bad_number"),
        ("transfers", "bad_integer"),
    ]


def test_compliance_never_divides_by_zero():
    assert compliance("<=", 60, 0) == 1.0
    assert compliance(">=", 0.0, 0.0) == 1.0
    assert compliance(">=", 0.8, 0.0) == 0.0
    assert compliance("between", (0.7, 0.8), 0.0) == 0.0


def test_sla_with_a_vendor_at_zero_on_a_lower_is_better_target(store, write):
    conversations = """
    conversation_id,channel,created_at,vendor,ended_by,first_response_at
    c1,chat,2024-05-06 09:00:00,acme,agent,2024-05-06 09:00:30
    c2,chat,2024-05-06 09:05:00,acme,agent,2024-05-06 09:05:30
    """
    load(store, [write("conversations.csv", conversations)])
    config = Config.model_validate(
        {"contracts": {"acme": [{"kpi": "abandonment_rate", "op": "<=", "value": 0.05}]}}
    )
    rows = sla(store, config, vendor="acme").to_pylist()
    row = next(r for r in rows if r["kpi"] == "abandonment_rate")
    assert (row["achieved"], row["compliance"], row["status"]) == (0.0, 1.0, "met")
    assert Target("abandonment_rate", "<=", 0.05).describe()


def test_the_cli_says_what_is_wrong_without_a_traceback(tmp_path):
    path = tmp_path / "conversations.json"
    path.write_bytes(b"\x1f\x8b")
    done = cli("load", path, "--db", tmp_path / "s.duckdb", check=False)
    assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr


def test_an_excel_formula_without_a_saved_value_is_quarantined_not_read_as_empty(store, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["conversation_id", "channel", "created_at", "transfers", "notes"])
    sheet.append(["c1", "chat", "2024-05-06 10:00:00", 1, "=1+1"])  # notes is not loaded
    sheet.append(["c2", "chat", "2024-05-06 10:00:00", "=A2&1", "x"])  # no value saved
    path = tmp_path / "conversations.xlsx"
    book.save(path)
    summary = load(store, [path])
    assert store.execute("SELECT conversation_id, transfers FROM conversations") == [("c1", 1)]
    assert summary.quarantined == {"malformed_row": 1}
    [(source, line, column, reason)] = store.execute(
        "SELECT source, line, column_name, reason FROM quarantine"
    )
    assert (source, line, column) == (str(path.resolve()), 3, "transfers")
    assert "D3" in reason and "formula without a saved value" in reason
    assert "open and save the file in Excel, or export values" in reason


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_quarantine_lines_are_where_records_start_after_a_value_over_lines(
    store, tmp_path, compressed
):
    text = (
        "conversation_id,channel,created_at,topic\n"  # 1
        'c1,chat,2024-05-06,"a topic\n'  # 2
        'over two lines"\n'  # 3
        "c2,chat,2024-05-06,x\n"  # 4
        "c3,chat,not a time,y\n"  # 5
        "c4,chat\n"  # 6
        "\n"  # 7
        'c5,chat,"also\r\nnot a time",z\n'  # 8
        "c6,chat,2024-05-06,w\n"  # 10
        "c6,chat,2024-05-06,w\n"  # 11
    )
    path = tmp_path / ("conversations.csv.gz" if compressed else "conversations.csv")
    path.write_bytes(gzip.compress(text.encode()) if compressed else text.encode())
    load(store, [path])
    assert store.execute("SELECT line, rule FROM quarantine ORDER BY line") == [
        (5, "bad_timestamp"),
        (6, "malformed_row"),
        (8, "bad_timestamp"),
        (11, "duplicate_key"),
    ]
    assert "first seen on line 10" in _reasons(store)[11]


def test_a_value_holding_a_nul_byte_is_quarantined(store, tmp_path):
    from supportkpi.load.ingest import load_records

    (tmp_path / "csv").mkdir()
    csv_path = tmp_path / "csv" / "conversations.csv"
    csv_path.write_bytes(
        b"conversation_id,channel,created_at,topic\n"
        b"c1,chat,2024-05-06,bil\x00ling\nc2,chat,2024-05-06,billing\n"
    )
    jsonl_path = tmp_path / "conversations.jsonl"
    jsonl_path.write_text(
        '{"conversation_id": "j1", "channel": "chat", "created_at": "2024-05-06", '
        '"topic": "a\\u0000b"}\n'
        '{"conversation_id": "j\\u0000", "channel": "chat", "created_at": "2024-05-06"}\n'
    )
    load(store, [csv_path, jsonl_path])
    posted = b'[{"message_id": "m1", "conversation_id": "c2", "sent_at": "2024-05-06", '
    posted += b'"author_role": "agent", "text": "hi\\u0000"}]'
    load_records(store, {"messages": posted}, "api")
    assert store.execute("SELECT conversation_id FROM conversations") == [("c2",)]
    assert store.counts()["messages"] == 0
    rows = store.execute("SELECT line, column_name, rule, reason FROM quarantine ORDER BY source")
    assert sorted(rows) == [
        (1, "text", "nul_byte", "text contains a NUL byte (\\x00)"),
        (1, "topic", "nul_byte", "topic contains a NUL byte (\\x00)"),
        (2, "conversation_id", "nul_byte", "conversation_id contains a NUL byte (\\x00)"),
        (2, "topic", "nul_byte", "topic contains a NUL byte (\\x00)"),
    ]
