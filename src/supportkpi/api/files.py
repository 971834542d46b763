"""Tables as files: the CSV and XLSX a table route gives for ``format=csv`` or ``xlsx``, written
by the same code as the CLI's ``--format csv|xlsx`` (:mod:`supportkpi.analysis.export`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
from fastapi import HTTPException
from fastapi.responses import Response

from supportkpi.analysis import export

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TABLE_FORMATS = ("json", "csv", "xlsx")


def table_format(value: str) -> str:
    """``format=``: json, csv or xlsx, or 400 naming them."""
    if value not in TABLE_FORMATS:
        raise HTTPException(400, f"unknown format {value!r}; one of {', '.join(TABLE_FORMATS)}")
    return value


def file_response(
    table: pa.Table, fmt: str, name: str, headers: dict[str, str] | None = None
) -> Response:
    """``table`` as a CSV or XLSX download called ``name``.csv / .xlsx."""
    disposition = {"Content-Disposition": f'attachment; filename="{name}.{fmt}"'}
    if fmt == "csv":
        return Response(
            export.to_csv(table), media_type="text/csv", headers={**(headers or {}), **disposition}
        )
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{name}.xlsx"
        export.write(table, "xlsx", path)
        body = path.read_bytes()
    return Response(body, media_type=XLSX, headers={**(headers or {}), **disposition})
