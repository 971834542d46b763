"""Tables handed to Python callers: Arrow underneath, pandas or Polars on request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

__all__ = ["Frames", "Result"]


class Frames:
    """Conversions of a result's ``table`` (an Arrow table) for callers' own tools."""

    table: pa.Table

    def to_arrow(self) -> pa.Table:
        """The rows as a pyarrow Table (as they are)."""
        return self.table

    def to_pandas(self) -> Any:
        """The rows as a pandas DataFrame."""
        return self.table.to_pandas()

    def to_polars(self) -> Any:
        """The rows as a Polars DataFrame (needs the optional ``polars`` package)."""
        try:
            import polars as pl
        except ImportError:
            raise ImportError(
                "to_polars() needs Polars: pip install polars (or supportkpi[polars])"
            ) from None
        return pl.from_arrow(self.table)

    def to_pylist(self) -> list[dict[str, Any]]:
        """The rows as a list of dicts, one per row."""
        return self.table.to_pylist()


@dataclass(frozen=True)
class Result(Frames):
    """A table of results with what it is: ``total`` rows in all when ``table`` holds only
    the first of them (a quarantine listing), else the table's own row count."""

    table: pa.Table
    total: int | None = None

    def __post_init__(self) -> None:
        if self.total is None:
            object.__setattr__(self, "total", self.table.num_rows)
