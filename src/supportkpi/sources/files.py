"""Read CSV, JSON Lines, JSON arrays, Parquet and Excel files (gzip too) as Arrow batches.

A source knows nothing of validation or the store: it streams the file's records in bounded
batches, each with a ``__line`` column saying where the record stands in the file (line for
CSV, JSON Lines and Excel; record number for JSON arrays and Parquet), and it collects the
records it could not parse at all as :class:`Malformed` rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import re
import zipfile
import zlib
from array import array
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from supportkpi.sources.mapping import Mapping
from supportkpi.store import schema

LINE = "__line"
FORMATS = ("csv", "jsonl", "json", "parquet", "xlsx")
CONVERTED = ("twcs",)  # formats turned into canonical files before loading
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
}
_BATCH_ROWS = 50_000
_CSV_BLOCK = 4 << 20
_CSV_BLOCK_MAX = 256 << 20  # the longest field read: 256 MB

Progress = Callable[[int, int], None]
"""Called with (done, total) in the source's own units (bytes or rows)."""


class SourceError(ValueError):
    """A file that cannot be read at all; nothing of it is loaded."""


@dataclass(frozen=True)
class Malformed:
    """A record that could not be parsed into columns."""

    line: int | None
    text: str
    reason: str
    column: str | None = None


@dataclass
class SourceFile:
    """One input file, ready to stream as Arrow batches."""

    path: Path
    format: str
    table: str
    mapping: Mapping
    malformed: list[Malformed] = field(default_factory=list)
    label: str | None = None
    lines: Sequence[int] | None = None
    """For CSV, once read: the line each record read starts on, in order, when records
    span lines or blank lines lie between them (None when record n is on line n + 1)."""

    @property
    def name(self) -> str:
        """How the file is named in summaries and in the quarantine (the original file's name
        for files converted from another format)."""
        return self.label or str(self.path.resolve())

    def header(self) -> list[str] | None:
        """The file's column names, read before any row: for CSV, Parquet and Excel; None
        for JSON and JSON Lines, whose records name their own fields."""
        try:
            return self._header()
        except (EOFError, OSError, zlib.error) as exc:
            raise SourceError(_unreadable(self.path, exc)) from None

    def _header(self) -> list[str] | None:
        if self.format == "csv":
            return _csv_header(self.path, self.mapping)[0]
        if self.format == "parquet":
            try:
                names = pq.ParquetFile(self.path).schema_arrow.names
            except (pa.ArrowInvalid, OSError) as exc:
                raise SourceError(f"{self.path}: not a Parquet file ({exc})") from None
            return [n for n in names if n != LINE]
        if self.format == "xlsx":
            return _xlsx_header(self)
        return None

    def batches(self, progress: Progress | None = None) -> Iterator[pa.RecordBatch]:
        """Stream the file's records; each batch carries a ``__line`` column. A file that
        cannot be read (cut short, damaged, nested beyond reason) is a :class:`SourceError`."""
        reader = _READERS[self.format]
        try:
            yield from reader(self, progress or (lambda done, total: None))
        except (EOFError, OSError, zlib.error, RecursionError) as exc:
            raise SourceError(_unreadable(self.path, exc)) from None

    def engine_reader(self) -> str | None:
        """A DuckDB SELECT reading the file with the engine's own reader, with the same
        columns, values and ``__line`` as :meth:`batches`; None when only :meth:`batches`
        reads it so (formats other than Parquet and plain UTF-8 CSV, empty files).

        A CSV file read so must still hold one record a line and every record must have the
        header's width: check the count of rows it gives against :func:`csv_lines` (a record
        of another width makes the engine fail), and read it with :meth:`batches` otherwise."""
        try:
            if self.format == "parquet":
                return _parquet_reader(self.path)
            if self.format == "csv":
                return _csv_reader(self)
        except (pa.ArrowInvalid, OSError, SourceError):
            return None
        return None


def open_source(
    path: str | Path, mapping: Mapping | None = None, table: str | None = None
) -> SourceFile:
    """Recognise a file's format and target table, or fail with one clear message."""
    path = Path(path)
    mapping = mapping or Mapping()
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    fmt = mapping.format or _format_from_name(path)
    target = table or mapping.table or _table_from_name(path)
    schema.table(target)
    return SourceFile(path=path, format=fmt, table=target, mapping=mapping)


def _format_from_name(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".gzip")]
    fmt = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        raise SourceError(
            f"{path}: cannot tell the format from the name; use one of "
            ".csv .tsv .jsonl .json .parquet .xlsx (optionally .gz) or set "
            "`format` in the mapping"
        )
    return fmt


def _table_from_name(path: Path) -> str:
    stem = path.name.split(".")[0].lower()
    for name in sorted(schema.LOAD_ORDER, key=len, reverse=True):
        if stem == name or re.match(rf"{name}[-_]", stem):
            return name
    raise SourceError(
        f"{path}: cannot tell which table the file feeds; name it after the "
        f"table (e.g. conversations.csv) or pass --table "
        f"({', '.join(schema.LOAD_ORDER)})"
    )


def _open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(raw file, decompressed stream); the raw file's position measures progress."""
    raw = path.open("rb")
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return raw, gzip.GzipFile(fileobj=raw)  # type: ignore[return-value]
    return raw, raw


# ---------------------------------------------------------------- CSV


def _csv_header(path: Path, mapping: Mapping) -> tuple[list[str], str]:
    raw, stream = _open_binary(path)
    with raw:
        try:
            text = io.TextIOWrapper(stream, encoding=_encoding(mapping), newline="")
            first = text.readline()
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            raise SourceError(_not_text(path, mapping, exc)) from None
    if not first.strip():
        raise SourceError(f"{path}: the file is empty (no header line)")
    delimiter = mapping.delimiter or _sniff_delimiter(path, first)
    names = next(csv.reader([first], delimiter=delimiter))
    return _unique_names(names), delimiter


def _encoding(mapping: Mapping) -> str:
    """The codec to read text with; a UTF-8 byte-order mark is skipped."""
    return (
        "utf-8-sig"
        if mapping.encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        else mapping.encoding
    )


def _unreadable(path: Path, exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return f"{path}: nested too deeply to be records"
    if isinstance(exc, EOFError | zlib.error | gzip.BadGzipFile) or "end-of-stream" in str(exc):
        return f"{path}: the compressed file is cut short or damaged ({exc}); download it again"
    return f"{path}: cannot be read ({exc})"


def _not_text(path: Path, mapping: Mapping, exc: Exception) -> str:
    if isinstance(exc, EOFError | gzip.BadGzipFile) or "end-of-stream" in str(exc):
        return f"{path}: the compressed file is cut short or damaged ({exc}); download it again"
    return (
        f"{path}: not readable as {mapping.encoding} text ({exc}); if the file uses "
        'another encoding, set e.g. encoding = "latin-1" in a mapping file'
    )


def _sniff_delimiter(path: Path, header: str) -> str:
    if any(s.lower() == ".tsv" for s in path.suffixes):
        return "\t"
    counts = {d: header.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _unique_names(names: list[str]) -> list[str]:
    """Blank headers become column_N; a repeated header gets _2, _3… (as spreadsheets do)."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names, start=1):
        name = name.strip() or f"column_{i}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _read_csv(src: SourceFile, progress: Progress) -> Iterator[pa.RecordBatch]:
    names, delimiter = _csv_header(src.path, src.mapping)
    block = _CSV_BLOCK
    while True:
        bad: list[tuple[int, int, str]] = []
        breaks = _Breaks()
        read = 0
        try:
            for batch in _csv_batches(src, names, delimiter, block, bad, breaks, progress):
                read += batch.num_rows
                yield batch
            break
        except _FieldTooLong:
            # a field longer than a block: read again in larger blocks, if nothing was read
            if read or block >= _CSV_BLOCK_MAX:
                raise SourceError(
                    f"{src.path}: a field is longer than {block >> 20} MB; split it or "
                    "leave that column out"
                ) from None
            block *= 8
    if not bad and breaks.one_line_each(1 + read):
        return
    found = _record_lines(src, len(names), delimiter)
    if found is None or (len(found[0]), len(found[1])) != (read, len(bad)):
        src.malformed.extend(_locate_malformed(src.path, bad, src.mapping))
        return
    src.lines = found[0]
    src.malformed.extend(
        Malformed(line, text, f"the row has {actual} fields but the header has {expected}")
        for line, (expected, actual, text) in zip(found[1], bad, strict=True)
    )


@dataclass
class _Breaks:
    """The line breaks in a file's bytes, counted as they are read."""

    newlines: int = 0
    returns: int = 0
    last: bytes = b""

    def one_line_each(self, records: int) -> bool:
        """Whether ``records`` records (the header included) can only be one a line, with
        no blank line between them: then record n is on line n."""
        lines = self.newlines + (self.last not in (b"", b"\n"))
        return lines == records and self.returns in (0, self.newlines)


class _Counting:
    """A binary stream that counts the line breaks in what it hands out."""

    def __init__(self, stream: BinaryIO, breaks: _Breaks) -> None:
        self.stream = stream
        self.breaks = breaks

    @property
    def closed(self) -> bool:
        """Whether the stream is closed."""
        return self.stream.closed

    def readable(self) -> bool:
        """Always: the stream is for reading."""
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes, counted."""
        data = self.stream.read(size)
        if data:
            self.breaks.newlines += data.count(b"\n")
            self.breaks.returns += data.count(b"\r")
            self.breaks.last = data[-1:]
        return data


def _record_lines(src: SourceFile, width: int, delimiter: str) -> tuple[array, array] | None:
    """The line each record starts on, for records of ``width`` fields and for the others,
    read once more the way a text editor counts lines; None if the file reads otherwise."""
    good, bad = array("q"), array("q")
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, _CSV_BLOCK_MAX))
    raw, stream = _open_binary(src.path)
    try:
        with raw:
            text = io.TextIOWrapper(stream, encoding=_encoding(src.mapping), newline="")
            reader = csv.reader(text, delimiter=delimiter)
            next(reader, None)  # the header
            start = reader.line_num + 1
            for row in reader:
                if row:  # not a blank line
                    (good if len(row) == width else bad).append(start)
                start = reader.line_num + 1
    except (csv.Error, UnicodeDecodeError, OSError, EOFError, zlib.error):
        return None
    finally:
        csv.field_size_limit(limit)
    return good, bad


class _FieldTooLong(Exception):
    pass


def _csv_batches(
    src: SourceFile,
    names: list[str],
    delimiter: str,
    block: int,
    bad: list[tuple[int, int, str]],
    breaks: _Breaks,
    progress: Progress,
) -> Iterator[pa.RecordBatch]:
    def on_invalid(row: Any) -> str:
        bad.append((row.expected_columns, row.actual_columns, row.text))
        return "skip"

    total = src.path.stat().st_size
    raw, stream = _open_binary(src.path)
    with raw:
        try:
            reader = pacsv.open_csv(
                _Counting(stream, breaks),
                read_options=pacsv.ReadOptions(
                    column_names=names,
                    skip_rows=1,
                    block_size=block,
                    encoding=_encoding(src.mapping),
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    null_values=["", *src.mapping.null_values],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
            seen = 0
            for batch in reader:
                lines = pa.array(range(seen + 2, seen + 2 + batch.num_rows), pa.int64())
                seen += batch.num_rows
                yield batch.append_column(LINE, lines)
                progress(min(raw.tell(), total), total)
        except (pa.ArrowInvalid, OSError, EOFError) as exc:
            if "straddl" in str(exc):
                raise _FieldTooLong from None
            if "UTF8" in str(exc) or isinstance(exc, EOFError | gzip.BadGzipFile):
                raise SourceError(_not_text(src.path, src.mapping, exc)) from None
            raise SourceError(f"{src.path}: cannot read as CSV: {exc}") from None


def _locate_malformed(
    path: Path, bad: list[tuple[int, int, str]], src_mapping: Mapping
) -> list[Malformed]:
    """Find the line of each row that had the wrong number of fields (only when there are any).

    Arrow's reader does not report line numbers when values may span lines, so the file is
    scanned once more for the rows' texts, in order.
    """
    if not bad:
        return []
    wanted = [text for _, _, text in bad]
    found: list[int | None] = [None] * len(wanted)
    raw, stream = _open_binary(path)
    with raw:
        text = io.TextIOWrapper(stream, encoding=_encoding(src_mapping), newline="")
        pending = 0
        for number, line in enumerate(text, start=1):
            if pending < len(wanted) and line.rstrip("\r\n") == wanted[pending]:
                found[pending] = number
                pending += 1
    return [
        Malformed(line, text, f"the row has {actual} fields but the header has {expected}")
        for line, (expected, actual, text) in zip(found, bad, strict=True)
    ]


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _csv_reader(src: SourceFile) -> str | None:
    if _encoding(src.mapping) != "utf-8-sig" or src.path.stat().st_size == 0:
        return None
    with src.path.open("rb") as f:
        if f.read(2) == b"\x1f\x8b":
            return None
    names, delimiter = _csv_header(src.path, src.mapping)
    if len(delimiter) != 1 or delimiter == '"' or LINE in names:
        return None
    columns = ", ".join(f"{_sql_text(n)}: 'VARCHAR'" for n in names)
    nulls = ", ".join(_sql_text(n) for n in ["", *src.mapping.null_values])
    quoted = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
    # the engine keeps the file's order through a window without ORDER BY
    return (
        f"SELECT {quoted}, row_number() OVER () + 1 AS {LINE} FROM read_csv("
        f"{_sql_text(str(src.path))}, header = false, skip = 1, auto_detect = false, "
        f"delim = {_sql_text(delimiter)}, quote = '\"', escape = '\"', "
        f"columns = {{{columns}}}, nullstr = [{nulls}], allow_quoted_nulls = false, "
        "strict_mode = true, encoding = 'utf-8')"
    )


def csv_lines(path: Path) -> int | None:
    """How many lines a plain CSV file has, counted as :meth:`SourceFile.batches` counts
    them (a last line without a line break counts); None when its line breaks are mixed."""
    newlines = returns = 0
    last = b""
    with path.open("rb") as f:
        while chunk := f.read(8 << 20):
            newlines += chunk.count(b"\n")
            returns += chunk.count(b"\r")
            last = chunk[-1:]
    if returns not in (0, newlines):
        return None
    return newlines + (last not in (b"", b"\n"))


def _parquet_reader(path: Path) -> str | None:
    names = pq.ParquetFile(path).schema_arrow.names
    if pq.ParquetFile(path).metadata.num_rows == 0 or "file_row_number" in names:
        return None
    source = f"read_parquet({_sql_text(str(path))}, file_row_number = true)"
    if LINE in names:  # files converted from another format carry their original lines
        return f"SELECT * EXCLUDE (file_row_number) FROM {source}"
    return f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {LINE} FROM {source}"


# ---------------------------------------------------------------- JSON


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _records_to_batch(
    records: list[dict[str, Any]], lines: list[int], nulls: set[str]
) -> pa.RecordBatch:
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    columns = {
        name: pa.array([_null_if(_as_text(r.get(name)), nulls) for r in records], pa.string())
        for name in names
    }
    columns[LINE] = pa.array(lines, pa.int64())
    return pa.RecordBatch.from_pydict(columns)


def _null_if(value: str | None, nulls: set[str]) -> str | None:
    return None if value is None or value in nulls else value


def _read_jsonl(src: SourceFile, progress: Progress) -> Iterator[pa.RecordBatch]:
    total = src.path.stat().st_size
    nulls = set(src.mapping.null_values)
    raw, stream = _open_binary(src.path)
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    with raw:
        text = io.TextIOWrapper(stream, encoding=_encoding(src.mapping))
        try:
            for number, line in enumerate(text, start=1):
                record = _parse_json_line(src, number, line)
                if record is not None:
                    records.append(record)
                    lines.append(number)
                if len(records) >= _BATCH_ROWS:
                    yield _records_to_batch(records, lines, nulls)
                    progress(raw.tell(), total)
                    records, lines = [], []
        except (UnicodeDecodeError, OSError, EOFError) as exc:
            raise SourceError(_not_text(src.path, src.mapping, exc)) from None
    if records:
        yield _records_to_batch(records, lines, nulls)
    progress(total, total)


def _parse_json_line(src: SourceFile, number: int, line: str) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        src.malformed.append(Malformed(number, line.rstrip("\n"), f"not valid JSON: {exc.msg}"))
        return None
    if not isinstance(record, dict):
        src.malformed.append(Malformed(number, line.rstrip("\n"), "not a JSON object"))
        return None
    return record


def _read_json(src: SourceFile, progress: Progress) -> Iterator[pa.RecordBatch]:
    raw, stream = _open_binary(src.path)
    with raw:
        head = stream.read(4096).removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head.startswith(b"["):
        yield from _read_jsonl(src, progress)
        return
    raw, stream = _open_binary(src.path)
    with raw:
        try:
            data = json.load(io.TextIOWrapper(stream, encoding=_encoding(src.mapping)))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SourceError(f"{src.path}: not valid JSON: {exc}") from None
    nulls = set(src.mapping.null_values)
    for start in range(0, len(data), _BATCH_ROWS):
        chunk = data[start : start + _BATCH_ROWS]
        records, lines = [], []
        for number, item in enumerate(chunk, start=start + 1):
            if isinstance(item, dict):
                records.append(item)
                lines.append(number)
            else:
                src.malformed.append(Malformed(number, json.dumps(item), "not a JSON object"))
        if records:
            yield _records_to_batch(records, lines, nulls)
        progress(start + len(chunk), len(data))


# ---------------------------------------------------------------- Parquet and Excel


def _read_parquet(src: SourceFile, progress: Progress) -> Iterator[pa.RecordBatch]:
    try:
        file = pq.ParquetFile(src.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{src.path}: not a Parquet file ({exc})") from None
    total, seen = file.metadata.num_rows, 0
    for batch in file.iter_batches(batch_size=_BATCH_ROWS * 4):
        lines = pa.array(range(seen + 1, seen + 1 + batch.num_rows), pa.int64())
        seen += batch.num_rows
        # files converted from another format carry their original line numbers
        yield batch if LINE in batch.schema.names else batch.append_column(LINE, lines)
        progress(seen, total)


def _cell_text(value: Any) -> str | None:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _as_text(value)


def _xlsx_header(src: SourceFile) -> list[str]:
    book, sheet = _xlsx_sheet(src)
    try:
        header = next(sheet.iter_rows(values_only=True), None)
        if header is None:
            raise SourceError(f"{src.path}: the sheet is empty (no header row)")
        return _unique_names(["" if h is None else str(h) for h in header])
    finally:
        book.close()


def _xlsx_sheet(src: SourceFile) -> tuple[Any, Any]:
    """The open workbook and its chosen sheet."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(src.path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise SourceError(f"{src.path}: not an Excel .xlsx workbook ({exc})") from None
    try:
        sheet = book[src.mapping.sheet] if src.mapping.sheet else book.worksheets[0]
    except KeyError:
        raise SourceError(
            f"{src.path}: no sheet named {src.mapping.sheet!r}; "
            f"sheets: {', '.join(book.sheetnames)}"
        ) from None
    return book, sheet


def _read_xlsx(src: SourceFile, progress: Progress) -> Iterator[pa.RecordBatch]:
    book, sheet = _xlsx_sheet(src)
    rows = sheet.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None:
        raise SourceError(f"{src.path}: the sheet is empty (no header row)")
    names = _unique_names(["" if h is None else str(h) for h in header])
    nulls = set(src.mapping.null_values)
    total = sheet.max_row or 0
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    used = {src.mapping.source_name(c) for c in schema.table(src.table).column_names}
    with _xlsx_formulas(src, sheet) as formulas:
        for number, (row, written) in enumerate(zip(rows, formulas, strict=False), start=2):
            record = {n: _cell_text(v) for n, v in zip(names, row, strict=False)}
            unsaved = _unsaved_formula(names, used, row, written, number, record)
            if unsaved is not None:
                src.malformed.append(unsaved)
                continue
            if all(v is None for v in row):
                continue
            records.append(record)
            lines.append(number)
            if len(records) >= _BATCH_ROWS:
                yield _records_to_batch(records, lines, nulls)
                progress(number, total)
                records, lines = [], []
    if records:
        yield _records_to_batch(records, lines, nulls)
    book.close()
    progress(total, total)


@contextmanager
def _xlsx_formulas(src: SourceFile, sheet: Any) -> Iterator[Iterator[tuple[Any, ...]]]:
    """The sheet's data rows as written (formulas as ``=…`` text), in step with its values;
    endless empty rows when the sheet holds no formula (the usual case, read only once)."""
    if not _has_formulas(src.path, getattr(sheet, "_worksheet_path", None)):
        yield itertools.repeat(())
        return
    import openpyxl

    book = openpyxl.load_workbook(src.path, read_only=True, data_only=False)
    try:
        rows = book[sheet.title].iter_rows(values_only=True)
        next(rows, None)
        yield itertools.chain(rows, itertools.repeat(()))
    finally:
        book.close()


def _has_formulas(path: Path, member: str | None) -> bool:
    """Whether a sheet's XML holds a formula element (True when the sheet cannot be found)."""
    if member is None:
        return True
    try:
        with zipfile.ZipFile(path) as archive, archive.open(member.lstrip("/")) as xml:
            tail = b""
            while chunk := xml.read(1 << 20):
                if re.search(rb"<(\w+:)?f[ >/]", tail + chunk):
                    return True
                tail = chunk[-16:]
    except (KeyError, OSError, zipfile.BadZipFile):
        return True
    return False


def _unsaved_formula(
    names: list[str],
    used: set[str],
    row: tuple[Any, ...],
    written: tuple[Any, ...],
    number: int,
    record: dict[str, Any],
) -> Malformed | None:
    """The first loaded cell of a row that holds a formula the file saved no value for.

    Excel saves each formula's last value beside it; files written by programs often do not,
    and such a cell would otherwise read as empty."""
    for index, (name, value, formula) in enumerate(zip(names, row, written, strict=False)):
        if value is None and isinstance(formula, str) and formula.startswith("=") and name in used:
            from openpyxl.utils import get_column_letter

            cell = f"{get_column_letter(index + 1)}{number}"
            reason = (
                f"cell {cell} ({name}) holds a formula without a saved value ({formula[:80]}): "
                "open and save the file in Excel, or export values"
            )
            return Malformed(number, json.dumps(record, ensure_ascii=False), reason, name)
    return None


_READERS: dict[str, Callable[[SourceFile, Progress], Iterator[pa.RecordBatch]]] = {
    "csv": _read_csv,
    "jsonl": _read_jsonl,
    "json": _read_json,
    "parquet": _read_parquet,
    "xlsx": _read_xlsx,
}
