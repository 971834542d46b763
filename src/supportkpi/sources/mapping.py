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

    [after.first_response_at]            # a time given as a delay after another of our
    column = "created_at"                # columns
    minutes = "First reply time in minutes"   # or seconds = … or hours = …

    key = ["vru+line", "call_id"]        # the table's id made of several columns

    [columns]                            # a column computed from the file's columns
    created_at = { expr = "date(day) + time(start)" }   # (supportkpi.sources.expressions)

    where = "outcome <> 'PHANTOM'"       # keep only the rows where this holds …
    [[leave_out]]                        # … and leave out those where this does, each
    when = "q_start = '0:00:00'"         # counted under its reason in the load's summary
    reason = "ended in the voice menu"

A value mapped to "" in ``[values]`` is empty (null), not an empty text.

A column name may hold ``{zone}`` where the export writes its time zone into the header, as
Intercom does (``Conversation started at (Europe/Berlin)``): the zone read from the file's
header then becomes the mapping's ``timezone``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator, model_validator

from supportkpi.config import check_zone
from supportkpi.sources.expressions import Expression, ExpressionError, parse
from supportkpi.store import schema
from supportkpi.tomlfile import read_model

ZONE = "{zone}"
COMPUTED = "="  # prefix of the staged column holding a computed column's value
KEY_SEPARATOR = "/"
# strptime directives that name a day: a format without one reads a time of day only
_DATE_DIRECTIVES = ("%Y", "%y", "%d", "%j", "%m", "%b", "%B", "%G", "%s", "%c", "%x", "%F")


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


class Computed(BaseModel):
    """A column computed from the file's columns by an expression."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    expr: str

    @field_validator("expr")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse(value)
        return value

    @property
    def expression(self) -> Expression:
        """The checked expression."""
        return parse(self.expr)


class LeaveOut(BaseModel):
    """Rows a mapping leaves out on purpose, counted under ``reason``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    when: str
    reason: str

    @field_validator("when")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse(value)
        return value

    @field_validator("reason")
    @classmethod
    def _said(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("say why these rows are left out")
        return value.strip()


@dataclass(frozen=True)
class Named:
    """A file column a mapping names, and the key of the mapping that names it."""

    key: str
    column: str


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
    columns: dict[str, str | Computed] = {}
    values: dict[str, dict[str, str]] = {}
    constants: dict[str, str | int | float | bool] = {}
    after: dict[str, After] = {}
    key: list[str] = []
    where: str | None = None
    leave_out: list[LeaveOut] = []

    _origin: str = PrivateAttr(default="the mapping")

    @property
    def origin(self) -> str:
        """How errors name the mapping: its file, or the preset."""
        return self._origin

    def named(self, origin: str) -> Mapping:
        """This mapping, named ``origin`` in its error messages."""
        self._origin = origin
        return self

    @field_validator("where")
    @classmethod
    def _where_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse(value)
        return value

    @field_validator("key")
    @classmethod
    def _key_columns(cls, value: list[str]) -> list[str]:
        if len(value) == 1:
            raise ValueError(
                "a key of one column is mapped in [columns]; key lists two or more columns"
            )
        if len(set(value)) != len(value):
            raise ValueError("a column is named twice in the key")
        return value

    @field_validator("timestamp_format")
    @classmethod
    def _format_has_date(cls, value: str | None) -> str | None:
        return _dated_format(value) if value else value

    @field_validator("timestamp_formats")
    @classmethod
    def _formats_have_dates(cls, value: dict[str, str]) -> dict[str, str]:
        for fmt in value.values():
            _dated_format(fmt)
        return value

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
        spec = schema.table(self.table)
        known = set(spec.column_names)
        for section in ("columns", "values", "constants", "timestamp_formats", "after"):
            for name in getattr(self, section):
                if name not in known:
                    raise ValueError(
                        f"[{section}] names {name!r}, which is not a column of "
                        f"{self.table}; its columns are: {', '.join(sorted(known))}"
                    )
        stamps = sorted(c.name for c in spec.columns if c.kind == "timestamp")
        for name, spec_after in self.after.items():
            if spec_after.column not in stamps:
                raise ValueError(
                    f"[after.{name}] column = {spec_after.column!r}: the delay counts from one "
                    f"of our timestamp columns ({', '.join(stamps)}), not a column of the file; "
                    "map the file's column to it in [columns]"
                )
        if self.key:
            if len(spec.key) != 1:
                raise ValueError(
                    f"key: {self.table} is already keyed by {', '.join(spec.key)}; "
                    "map those columns in [columns]"
                )
            if spec.key[0] in self.columns or spec.key[0] in self.constants:
                raise ValueError(
                    f"key: {spec.key[0]} is also mapped in [columns] or [constants]; keep one"
                )
        return self

    def computed(self) -> dict[str, Expression]:
        """The canonical columns computed by expressions (the key made of several columns
        among them), with their checked expressions."""
        out = {
            name: value.expression
            for name, value in self.columns.items()
            if isinstance(value, Computed)
        }
        if self.key and self.table:
            parts = [
                f"replace(replace(nullif(trim({_quoted(c)}), ''), '\\', '\\\\'), '/', '\\/')"
                for c in self.key
            ]
            out[schema.table(self.table).key[0]] = parse(" || '/' || ".join(parts))
        return out

    def filters(self) -> list[tuple[Expression, str]]:
        """(expression, reason) for the rows left out on purpose: a row meeting the
        expression is left out, the first rule it meets giving the reason."""
        out = []
        if self.where:
            out.append(
                (parse(f"NOT coalesce(({self.where}), FALSE)"), f"outside where = {self.where}")
            )
        out += [(parse(f"coalesce(({r.when}), FALSE)"), r.reason) for r in self.leave_out]
        return out

    def file_columns(self) -> list[Named]:
        """Every column of the file this mapping names, with the key naming it."""
        out = [
            Named(f"columns.{name}", value)
            for name, value in self.columns.items()
            if isinstance(value, str)
        ]
        out += [Named(f"after.{n}", a.source) for n, a in self.after.items()]
        for name, value in self.columns.items():
            if isinstance(value, Computed):
                out += [Named(f"columns.{name}", c) for c in value.expression.columns]
        out += [Named("key", c) for c in self.key]
        if self.where:
            out += [Named("where", c) for c in parse(self.where).columns]
        for i, rule in enumerate(self.leave_out, start=1):
            out += [Named(f"leave_out[{i}].when", c) for c in parse(rule.when).columns]
        return out

    def source_name(self, canonical: str) -> str:
        """The file's name for a canonical column (itself when not renamed); for a computed
        column, the staged column holding its value."""
        if canonical in self.after:
            return self.after[canonical].source
        value = self.columns.get(canonical, canonical)
        if isinstance(value, Computed) or (
            self.key and self.table and canonical == schema.table(self.table).key[0]
        ):
            return COMPUTED + canonical
        return value

    def shown_name(self, canonical: str) -> str:
        """How the quarantine names the column a canonical one comes from: the file's
        column, or the expression (or key columns) computing it."""
        value = self.columns.get(canonical)
        if isinstance(value, Computed):
            return value.expr
        if self.key and self.table and canonical == schema.table(self.table).key[0]:
            return ", ".join(self.key)
        return self.source_name(canonical)

    def for_headers(self, headers: Iterable[str]) -> Mapping:
        """This mapping with each ``{zone}`` column name matched against a file's headers.

        The matched header replaces the pattern, and the zone it names becomes the timezone
        of the file's timestamps. Patterns no header matches stay as they are, so the usual
        missing-column message names them.
        """
        patterns = {c: n for c, n in self.columns.items() if isinstance(n, str) and ZONE in n}
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
    mapping = read_model(Path(path), Mapping, "mapping file", MappingError)
    return mapping.named(f"mapping file {path}")


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _dated_format(fmt: str) -> str:
    if not any(d in fmt for d in _DATE_DIRECTIVES):
        raise ValueError(
            f"the format {fmt!r} has no date (%Y, %m, %d…): it would date every row in 1900; "
            "join a date column to the time with an expression, e.g. "
            'created_at = { expr = "date(day) + time(start)" }'
        )
    return fmt


__all__ = [
    "After",
    "Computed",
    "ExpressionError",
    "LeaveOut",
    "Mapping",
    "MappingError",
    "Named",
    "load_mapping",
]
