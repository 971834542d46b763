"""The fast load (files read by the engine's own readers, rows inserted without a merge where
no key is stored) against the plain one (files streamed through Arrow, every table merged):
whatever the files hold, the two leave the same rows, the same kept facts and the same
quarantine (file, line, column, rule, reason and raw record), and say the same in their
summaries — rows read, quarantined and left out by a mapping."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supportkpi.load.ingest import LoadSummary, load
from supportkpi.sources.files import open_source
from supportkpi.sources.mapping import load_mapping
from supportkpi.store import kept, schema
from supportkpi.store.store import Store

counter = itertools.count()


def _contents(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every canonical table, the kept facts, reply pairs and survey rows and the quarantine,
    sorted."""
    out = {}
    for name in [*schema.LOAD_ORDER, kept.FACTS, kept.REPLIES, kept.SURVEYS]:
        if store.exists(name):
            out[name] = sorted(store.execute(f'SELECT * FROM "{name}"'), key=repr)
    out["quarantine"] = store.execute(
        "SELECT source, line, table_name, column_name, rule, reason, raw FROM quarantine "
        "ORDER BY source, line, rule"
    )
    return out


def _said(summary: LoadSummary) -> list[tuple[Any, ...]]:
    files = [
        (f.name, f.table, f.rows, dict(f.quarantined), dict(f.left_out), f.ignored_columns)
        for f in summary.files
    ]
    return [*files, *sorted(summary.tables.items())]


def _recorder(steps: set[str]) -> Any:
    return lambda step, *_: steps.add(step)


def _both(
    directory: Path, loads: list[tuple[list[Path], dict[str, Any]]], streamed: int | None = 0
) -> dict[str, Any]:
    """Run the same loads on a fresh store the fast way and the plain way; the contents
    and summaries must agree, and the fast way must have streamed ``streamed`` files (read
    the others with the engine) unless None. Returns the fast store's contents."""
    seen = {}
    for fast in (True, False):
        db = directory / f"{'fast' if fast else 'plain'}-{next(counter)}.duckdb"
        steps: set[str] = set()
        with Store.open(db) as store:
            said = [
                _said(load(store, paths, fast=fast, progress=_recorder(steps), **how))
                for paths, how in loads
            ]
            seen[fast] = (_contents(store), said)
        if fast and streamed is not None:
            paths = {str(p.resolve()) for files, _ in loads for p in files}
            assert len(paths & steps) == streamed
            read = {s.removeprefix("reading and checking ") for s in steps}
            assert all(Path(p).name in read for p in paths - steps)
    assert seen[True][1] == seen[False][1]
    fast_rows, plain_rows = seen[True][0], seen[False][0]
    assert fast_rows.keys() == plain_rows.keys()
    for name in fast_rows:
        assert fast_rows[name] == plain_rows[name], name
    return fast_rows


CONVERSATIONS = """\
conversation_id,channel,created_at,customer_id,resolved_at,transfers
c1,chat,2024-05-01 10:00:00,u1,2024-05-01 10:30:00,0
c2,email,2024-05-01 11:00:00,u1,,1
c3,fax,2024-05-01 12:00:00,u2,,0
c4,chat,2024-05-02 09:00:00,u2,2024-05-01 09:00:00,0
c1,chat,2024-05-03 10:00:00,u9,,0
c5,chat,2024-05-03 10:00:00,u3,,2
,chat,2024-05-03 10:00:00,u3,,2
c6,chat,2024-05-03 10:00:00,u3,,x
"""
MESSAGES = """\
message_id,conversation_id,sent_at,author_role,text
m1,c1,2024-05-01 10:00:05,customer,hello
m2,c1,2024-05-01 10:01:00,agent,"hi, how can I help?"
m3,c1,2024-05-01 10:02:00,customer,thanks
m4,c1,2024-05-01 10:04:00,agent,done
m5,c2,2024-05-01 11:00:10,customer,where is my parcel
m6,c2,2024-05-01 11:05:00,agent,on its way
m7,c9,2024-05-01 11:05:00,agent,unknown conversation
m8,c5,2024-05-01 11:05:00,agent,before its conversation began
m9,c5,2024-05-03 10:01:00,robot,who am I
m6,c5,2024-05-03 10:02:00,agent,a repeated id
m10,c5,2024-05-03 10:03:00,bot,automatic
"""


def _as_parquet(path: Path) -> Path:
    """The CSV file as Parquet, every column text."""
    names = open_source(path, table="conversations").header() or []
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True
        ),
    )
    out = path.with_suffix(".parquet")
    pq.write_table(table, out)
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_first_load_with_bad_rows_is_the_same_both_ways(tmp_path, write, fmt):
    files = [write("conversations.csv", CONVERSATIONS), write("messages.csv", MESSAGES)]
    if fmt == "parquet":
        files = [_as_parquet(f) for f in files]
    rows = _both(tmp_path, [(files, {})])
    assert {r[4] for r in rows["quarantine"]} == {
        "unknown_value", "bad_order", "bad_integer", "duplicate_key", "missing_value",
        "unknown_ref", "before_start",
    }  # fmt: skip
    assert len(rows["conversations"]) == 3 and len(rows["messages"]) == 7
    assert len(rows[kept.REPLIES]) == 3  # c1 twice, c2 once
    # the line of each rejected row, and its raw record, as the file has them
    lines = {(r[0].rsplit("/", 1)[1], r[1], r[4]) for r in rows["quarantine"]}
    first = 1 if fmt == "parquet" else 2  # Parquet numbers records, CSV lines
    assert (f"conversations.{fmt}", first + 2, "unknown_value") in lines
    assert (f"conversations.{fmt}", first + 4, "duplicate_key") in lines
    assert (f"messages.{fmt}", first + 8, "unknown_value") in lines
    assert (f"messages.{fmt}", first + 6, "unknown_ref") in lines
    raw = next(r[6] for r in rows["quarantine"] if r[4] == "unknown_ref")
    assert '"unknown conversation"' in raw


def test_loads_into_a_filled_store_are_the_same_both_ways(tmp_path, write):
    """New keys only (inserted) and then changed ones (merged)."""
    first = write("a/conversations.csv", CONVERSATIONS)
    new = write(
        "b/conversations.csv",
        "conversation_id,channel,created_at\nc7,chat,2024-05-04 10:00:00\n"
        "c8,voice,2024-05-04 11:00:00\n",
    )
    changed = write(
        "c/conversations.csv",
        "conversation_id,channel,created_at,topic\nc7,chat,2024-05-04 10:00:00,refund\n"
        "c1,chat,2024-05-01 10:00:00,returns\nc9,sms,2024-05-05 10:00:00,\n",
    )
    messages = write("messages.csv", MESSAGES)
    rows = _both(tmp_path, [([first], {}), ([new, messages], {}), ([changed], {}), ([new], {})])
    assert sorted(r[0] for r in rows["conversations"]) == ["c1", "c2", "c5", "c7", "c8", "c9"]
    assert rows["quarantine"]


def test_a_mapping_leaves_out_the_same_rows_both_ways(tmp_path, write):
    calls = write(
        "calls.csv",
        """
        line,call,day,start,wait,talk,outcome,customer
        A1,1,2024-05-01,23:59:30,45,60,AGENT,7
        A2,1,2024-05-02,10:00:00,20,0,HANG,0
        A1,2,2024-05-02,11:00:00,5,30,AGENT,
        A1,3,2024-05-02,12:00:00,0,0,MENU,7
        A1,4,2024-05-02,noon,0,0,AGENT,7
        A1,2,2024-05-02,11:30:00,5,30,AGENT,
        """,
    )
    mapping = write(
        "m.toml",
        """
        table = "conversations"
        key = ["line", "call"]
        keep = "last"
        [[leave_out]]
        when = "outcome = 'MENU'"
        reason = "ended in the menu"
        [columns]
        created_at = { expr = "date(day) + time(start)" }
        handle_seconds = { expr = "if(outcome = 'AGENT', number(talk) * 1, NULL)" }
        customer_id = "customer"
        [values.customer_id]
        "0" = ""
        [constants]
        channel = "voice"
        """,
    )
    files = [calls, _as_parquet(calls)]
    for path in files:
        rows = _both(tmp_path, [([path], {"mapping": load_mapping(mapping)})])
        assert len(rows["conversations"]) == 3
        assert [r[4] for r in rows["quarantine"]] == ["bad_timestamp"]


def test_csv_files_the_engine_cannot_number_are_the_same_both_ways(tmp_path, write):
    """Records spanning lines, blank lines, rows of the wrong width and a file of no rows
    are streamed; CRLF line breaks the engine reads."""
    spanning = write(
        "spanning/messages.csv",
        MESSAGES.replace('"hi, how can I help?"', '"hi,\nhow can\nI help?"') + "\n\n",
    )
    wide = write("wide/messages.csv", MESSAGES.replace("hello", "hello,extra"))
    crlf = tmp_path / "crlf" / "messages.csv"
    crlf.parent.mkdir()
    crlf.write_bytes(MESSAGES.replace("\n", "\r\n").encode())
    empty = write("empty/messages.csv", MESSAGES.splitlines()[0] + "\n")
    conversations = write("conversations.csv", CONVERSATIONS)
    for messages in (spanning, wide, crlf, empty):
        # (streaming a file of no rows reports no progress)
        streamed = messages in (spanning, wide)
        rows = _both(tmp_path, [([conversations, messages], {})], streamed=streamed)
        assert len(rows["messages"]) == {wide: 6, empty: 0}.get(messages, 7)


text = st.text(max_size=10)
cell = st.one_of(
    text,
    st.sampled_from(["chat", " chat ", "Email", "fax", "", "null", "NaN", "1e309", '"', "a\nb"]),
    st.sampled_from(["2024-05-01 10:00:00", "2024-02-30", "2024-05-01T10:00:00Z", "tomorrow"]),
    st.integers(min_value=-5, max_value=10**20).map(str),
)
rows = st.lists(st.tuples(st.text(max_size=4), cell, cell, cell), min_size=1, max_size=20)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=rows)
def test_any_file_loads_the_same_both_ways(tmp_path_factory, rows):
    directory = tmp_path_factory.mktemp("fast")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["conversation_id", "channel", "created_at", "transfers"])
    writer.writerows(rows)
    path = directory / "conversations.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    _both(directory, [([path], {})], streamed=None)  # records may span lines
    _both(directory, [([_as_parquet(path)], {})])
