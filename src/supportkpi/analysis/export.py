"""Plain tables (a drill-down, SLA breaches, comments) written out: CSV, JSON, Parquet, Excel,
and a Rich table for the terminal.

Times are ISO text in CSV, JSON and the terminal. Text a spreadsheet would run as a formula
(a comment sent as ``=HYPERLINK(…)``) is made plain with a leading apostrophe in CSV and Excel
(:func:`supportkpi.analysis.render.inert`).
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.table import Table

from supportkpi.analysis.render import inert, plain_records
from supportkpi.kpis.registry import humanise_seconds

__all__ = ["FORMATS", "rich_table", "to_csv", "to_json", "write"]

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
    """A terminal table of ``columns`` (default all): seconds humanised, flags as yes/no.
    When its columns cannot fit ``width`` without breaking a header word or a value, each
    row becomes a block of "column  value" lines instead."""
    shown = columns or table.column_names
    if width is not None and _least_width(table, shown) > width:
        return _stacked(table, title, shown)
    view = Table(title=title, title_justify="left")
    for name in shown:
        numeric = pa.types.is_integer(table.schema.field(name).type) or pa.types.is_floating(
            table.schema.field(name).type
        )
        view.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in table.select(shown).to_pylist():
        view.add_row(*(_shown(name, row[name]) for name in shown))
    return view


def _least_width(table: pa.Table, shown: list[str]) -> int:
    """The narrowest the table can be drawn with no header word or value broken."""
    rows = table.select(shown).to_pylist()
    need = [
        max(
            [
                max((len(w) for w in name.split()), default=1),
                *(max((len(w) for w in _shown(name, r[name]).split()), default=1) for r in rows),
            ]
        )
        for name in shown
    ]
    return sum(n + 3 for n in need) + 1


def _stacked(table: pa.Table, title: str, shown: list[str]) -> Table:
    """One block per row: each column's name beside its value, rows apart by a rule."""
    view = Table(title=title, title_justify="left", show_header=False, show_lines=True)
    view.add_column("row")
    for row in table.select(shown).to_pylist():
        block = Table.grid(padding=(0, 2))
        block.add_column(style="bold", no_wrap=True)
        block.add_column(overflow="fold")
        for name in shown:
            block.add_row(name, _shown(name, row[name]))
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
