"""Plain tables (a drill-down, SLA breaches, comments) written out: CSV, JSON, Parquet, Excel,
and a Rich table for the terminal.

Times are ISO text in CSV, JSON and the terminal. Text a spreadsheet would run as a formula
(a comment sent as ``=HYPERLINK(…)``) is made plain with a leading apostrophe in CSV and Excel
(:func:`supportkpi.analysis.render.inert`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Collection, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from supportkpi.analysis.render import inert, plain_records
from supportkpi.kpis.registry import humanise_seconds

__all__ = ["FORMATS", "fitted", "rich_table", "to_csv", "to_json", "write"]

FORMATS = ("table", "csv", "json", "parquet", "xlsx")


def to_csv(table: pa.Table) -> str:
    """The table as CSV text, times as ISO text, formula-looking text made inert."""
    buffer = io.BytesIO()
    pacsv.write_csv(inert(_times_as_text(table)), buffer)
    return buffer.getvalue().decode()


def to_json(table: pa.Table, **extra: Any) -> str:
    """``{"rows": [...], **extra}`` as JSON text."""
    return json.dumps({**extra, "rows": plain_records(table)}, ensure_ascii=False, indent=1)


def write(table: pa.Table, fmt: str, path: Path) -> None:
    """Write the table to ``path`` as csv, json, parquet or xlsx."""
    if fmt == "csv":
        path.write_text(to_csv(table), encoding="utf-8")
    elif fmt == "json":
        path.write_text(to_json(table) + "\n", encoding="utf-8")
    elif fmt == "parquet":
        pq.write_table(table, path)
    elif fmt == "xlsx":
        _xlsx(table, path)
    else:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS[1:])}")


def _xlsx(table: pa.Table, path: Path) -> None:
    """One sheet, a header row, values typed (numbers as numbers, times as times)."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(table.column_names)
    for row in inert(table).to_pylist():
        sheet.append([_cell(v) for v in row.values()])
    book.save(path)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def _times_as_text(table: pa.Table) -> pa.Table:
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
            text = [_iso(v) for v in table.column(index).to_pylist()]
            table = table.set_column(index, field.name, pa.array(text, pa.string()))
    return table


def _iso(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


def rich_table(
    table: pa.Table, title: str, columns: list[str] | None = None, width: int | None = None
) -> Table:
    """A terminal table of ``columns`` (default all): seconds humanised, flags as yes/no,
    laid out by :func:`fitted`."""
    shown = columns or table.column_names
    numeric = {
        name
        for name in shown
        if pa.types.is_integer(table.schema.field(name).type)
        or pa.types.is_floating(table.schema.field(name).type)
    }
    rows = [[_shown(n, r[n]) for n in shown] for r in table.select(shown).to_pylist()]
    return fitted(title, shown, rows, numeric, width)


def fitted(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    right: Collection[str] = (),
    width: int | None = None,
) -> Table:
    """A terminal table of text cells (``right``: the columns to align right) no wider than
    ``width``: every column at least as wide as its longest header word and value word, so
    nothing is cut or broken mid-word; the room left goes to the widest columns first. When
    even that cannot fit, each row becomes a block of "column  value" lines instead."""
    least = [
        max([_longest_word(name), *(_longest_word(r[i]) for r in rows)])
        for i, name in enumerate(columns)
    ]
    if width is not None and sum(n + 3 for n in least) + 1 > width:
        return _stacked(title, columns, rows)
    view = Table(title=title, title_justify="left")
    widths = _widths(columns, rows, least, width)
    for i, name in enumerate(columns):
        view.add_column(
            name,
            justify="right" if name in right else "left",
            overflow="fold",
            width=widths[i] if widths else None,
        )
    for row in rows:
        view.add_row(*row)
    return view


def _widths(
    columns: Sequence[str], rows: Sequence[Sequence[str]], least: list[int], width: int | None
) -> list[int] | None:
    """Column widths within ``width``: each column's natural width, the widest narrowed
    first, headers wrapped before values, none below ``least`` (None: no width to fit)."""
    if width is None:
        return None
    values = [max([0, *(_cells(r[i]) for r in rows)]) for i in range(len(columns))]
    widths = [max(_cells(name), values[i]) for i, name in enumerate(columns)]
    for floor in ([max(v, n) for v, n in zip(values, least, strict=True)], least):
        while sum(w + 3 for w in widths) + 1 > width:
            slack = [(w, i) for i, w in enumerate(widths) if w > floor[i]]
            if not slack:
                break
            widths[max(slack)[1]] -= 1
    return widths


def _plain(text: str) -> str:
    return Text.from_markup(text).plain


def _cells(text: str) -> int:
    return max((cell_len(line) for line in _plain(text).splitlines()), default=0)


def _longest_word(text: str) -> int:
    return max((cell_len(w) for w in _plain(text).split()), default=1)


def _stacked(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    """One block per row: each column's name beside its value, rows apart by a rule."""
    view = Table(title=title, title_justify="left", show_header=False, show_lines=True)
    view.add_column("row")
    for row in rows:
        block = Table.grid(padding=(0, 2))
        block.add_column(style="bold", no_wrap=True)
        block.add_column(overflow="fold")
        for name, value in zip(columns, row, strict=True):
            block.add_row(name, value)
        view.add_row(block)
    return view


def _shown(name: str, value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and (name.endswith("seconds") or name == "excess"):
        return humanise_seconds(value)
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, datetime | date):
        return _iso(value) or ""
    return str(value)
