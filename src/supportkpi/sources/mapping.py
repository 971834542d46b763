"""Mapping files: how a user's columns and values land on the canonical tables.

A mapping is a small TOML file::

    table = "conversations"              # which canonical table the file feeds
    timezone = "Europe/Berlin"           # zone of timestamps written without an offset
    timestamp_format = "%d/%m/%Y %H:%M"  # strptime format, when not ISO 8601
    null_values = ["?", "N/A"]           # extra spellings of "no value"
    delimiter = ";"                      # CSV only; sniffed when absent
    encoding = "latin-1"                 # text files not in UTF-8
    keep = "last"                        # of rows repeating a key: "first" (default) or
                                         # "last", for event logs whose last row is final

    [columns]                            # canonical column = the file's column
    conversation_id = "Ticket ID"
    created_at = "Created"

    [values.channel]                     # value maps, per canonical column
    "Web Widget" = "chat"

    [constants]                          # columns the file lacks, one value for every row
    vendor = "in-house"

    [timestamp_formats]                  # a format for one column only
    resolved_at = "%Y%m%d%H%M%S"

    [after.first_response_at]            # a time given as a delay after another column
    column = "created_at"
    minutes = "First reply time in minutes"   # or seconds = … or hours = …

A column name may hold ``{zone}`` where the export writes its time zone into the header, as
Intercom does (``Conversation started at (Europe/Berlin)``): the zone read from the file's
header then becomes the mapping's ``timezone``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from supportkpi.config import check_zone
from supportkpi.store import schema
from supportkpi.tomlfile import read_model

ZONE = "{zone}"


class MappingError(ValueError):
    """A mapping file that cannot be used, with the key at fault in the message."""


class After(BaseModel):
    """A timestamp written as a delay (in one unit) after another timestamp of the row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str
    seconds: str | None = None
    minutes: str | None = None
    hours: str | None = None

    @model_validator(mode="after")
    def _one_unit(self) -> After:
        given = [u for u in ("seconds", "minutes", "hours") if getattr(self, u)]
        if len(given) != 1:
            raise ValueError("give the delay's column in exactly one of seconds, minutes, hours")
        return self

    @property
    def source(self) -> str:
        """The file's column holding the delay."""
        return str(self.seconds or self.minutes or self.hours)

    @property
    def factor(self) -> float:
        """Seconds per unit of the delay."""
        return 1.0 if self.seconds else 60.0 if self.minutes else 3600.0


class Mapping(BaseModel):
    """How one input format's columns and values map onto a canonical table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    table: str | None = None
    format: str | None = None
    timezone: str = "UTC"
    timestamp_format: str | None = None
    timestamp_formats: dict[str, str] = {}
    null_values: list[str] = []
    delimiter: str | None = None
    encoding: str = "utf-8"
    keep: Literal["first", "last"] = "first"
    sheet: str | None = None
    columns: dict[str, str] = {}
    values: dict[str, dict[str, str]] = {}
    constants: dict[str, str | int | float | bool] = {}
    after: dict[str, After] = {}

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("table")
    @classmethod
    def _known_table(cls, value: str | None) -> str | None:
        if value is not None and value not in schema.LOAD_ORDER:
            raise ValueError(f"unknown table {value!r}; one of {', '.join(schema.LOAD_ORDER)}")
        return value

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str | None) -> str | None:
        if value is not None and len(value) != 1:
            raise ValueError("the delimiter is one character, e.g. ';' or '\\t'")
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r} (e.g. 'utf-8', 'latin-1', 'cp1252')"
            ) from None
        return value

    @model_validator(mode="after")
    def _columns_exist(self) -> Mapping:
        if self.table is None:
            return self
        known = set(schema.table(self.table).column_names)
        for section in ("columns", "values", "constants", "timestamp_formats", "after"):
            for name in getattr(self, section):
                if name not in known:
                    raise ValueError(
                        f"[{section}] names {name!r}, which is not a column of "
                        f"{self.table}; its columns are: {', '.join(sorted(known))}"
                    )
        return self

    def source_name(self, canonical: str) -> str:
        """The file's name for a canonical column (itself when not renamed)."""
        if canonical in self.after:
            return self.after[canonical].source
        return self.columns.get(canonical, canonical)

    def for_headers(self, headers: Iterable[str]) -> Mapping:
        """This mapping with each ``{zone}`` column name matched against a file's headers.

        The matched header replaces the pattern, and the zone it names becomes the timezone
        of the file's timestamps. Patterns no header matches stay as they are, so the usual
        missing-column message names them.
        """
        patterns = {c: n for c, n in self.columns.items() if ZONE in n}
        if not patterns:
            return self
        headers = list(headers)
        columns = dict(self.columns)
        zones: dict[str, str] = {}
        for canonical, pattern in patterns.items():
            before, _, after = pattern.partition(ZONE)
            regex = re.compile(f"{re.escape(before)}(.+?){re.escape(after)}")
            for header in headers:
                found = regex.fullmatch(header)
                if found:
                    columns[canonical] = header
                    zones[header] = found.group(1).strip()
                    break
        named = set(zones.values())
        if len(named) > 1:
            listed = ", ".join(f"'{h}'" for h in zones)
            raise MappingError(
                f"the headers {listed} name different time zones; export again in one zone"
            )
        if not named:
            return self
        zone = named.pop()
        try:
            check_zone(zone)
        except ValueError:
            header = next(iter(zones))
            raise MappingError(
                f"the header '{header}' names the time zone {zone!r}, which is not a known "
                "IANA zone such as 'Europe/Berlin'"
            ) from None
        return self.model_copy(update={"columns": columns, "timezone": zone})

    def format_for(self, canonical: str) -> str | None:
        """The strptime format for a timestamp column, or None for ISO 8601."""
        return self.timestamp_formats.get(canonical, self.timestamp_format)


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file; errors name the file, the key and the problem."""
    return read_model(Path(path), Mapping, "mapping file", MappingError)
