"""Row rules for every canonical table, and the reasons a row is quarantined.

Validation runs in the engine, not in Python: for one staged file it builds a single SELECT
that turns the file's text (or typed) columns into canonical typed columns and numbers the
first rule each row breaks (``__check``; 0 when none). Rules, in the order they are tried:

============== ===========================================================================
rule           a row breaks it when
============== ===========================================================================
missing_value  a required column is empty (the key included)
nul_byte       a text value holds a NUL byte (\\x00), which no export writes on purpose
bad_number     a number column holds something that is not a finite number
bad_integer    an integer column holds a fraction or text
bad_boolean    a yes/no column holds something other than true/false/yes/no/1/0
bad_timestamp  a timestamp does not parse (ISO 8601, or the mapping's format)
unknown_value  a value outside its enumeration (channel, author_role, survey kind…)
out_of_range   a number below its minimum or above its maximum (a score outside its scale)
bad_order      a timestamp before the one it must follow (resolved before created…)
duplicate_key  a key seen before in the same file (the first is kept; the last with keep = "last")
unknown_ref    a row naming a conversation that is neither stored nor in this load
before_start   a message sent before its conversation began
malformed_row  a record that could not be split into columns or parsed at all
outside_thread (twcs) a tweet outside any customer thread that starts in the file
============== ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from supportkpi.sources.mapping import Mapping
from supportkpi.store import schema
from supportkpi.store.schema import Column, Table

RULES: dict[str, str] = {
    "missing_value": "a required value is empty",
    "nul_byte": "holds a NUL byte",
    "bad_number": "not a number",
    "bad_integer": "not a whole number",
    "bad_boolean": "not a yes/no value",
    "bad_timestamp": "not a timestamp",
    "unknown_value": "not one of the allowed values",
    "out_of_range": "outside the allowed range",
    "bad_order": "timestamps out of order",
    "duplicate_key": "key repeated in the same file",
    "unknown_ref": "refers to an unknown conversation",
    "before_start": "message before its conversation began",
    "malformed_row": "record could not be parsed",
    "outside_thread": "not part of a customer's thread in the file",
}

# A time of day followed by an offset: such text is read as the instant it names.
_OFFSET_RE = r"\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*([zZ]|UTC|GMT|[+-]\d{2}(:?\d{2})?)$"
_SPACED_OFFSET = r"\s+([+-]\d{2}:?\d{2})$"
_NO_SECONDS = r"([ T])(\d{1,2}:\d{2})(\s*([+-]\d{2}:?\d{2}|[zZ]))$"
# ISO 8601's basic format, 20260601T100000Z: rewritten in the extended one
_BASIC = r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\.\d+)?([zZ]|[+-]\d{2}:?\d{2})?$"
# ISO 8601 in UTC (…Z) and without an offset, the shapes most exports write
_ISO_UTC = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z"
_ISO_LOCAL = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?"
# an offset no zone has (beyond ±14:00)
_IMPOSSIBLE_OFFSET = r"[+-](1[5-9]|[2-9]\d):?\d{2}$"
# the instants a support record can name: from 1970 to a year from now
EARLIEST = "1970-01-01"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_UNTRIMMED = frozenset({"text", "comment"})


def lit(value: object) -> str:
    """A SQL literal for a Python string or number."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def text_of(name: str) -> str:
    """Name of the intermediate column holding a canonical column's input text."""
    return f"t:{name}"


@dataclass(frozen=True)
class Check:
    """One rule applied to one column: SQL that is true when a row breaks it."""

    rule: str
    column: str
    fails: str
    message: str


@dataclass(frozen=True)
class Plan:
    """How one staged file becomes canonical rows."""

    table: Table
    sql: str
    checks: tuple[Check, ...]
    provided: frozenset[str]
    source_names: dict[str, str]

    def column_case(self) -> str:
        """SQL naming the (source) column of the broken check ``__check``."""
        whens = " ".join(
            f"WHEN {i} THEN {lit(self.source_names.get(c.column, c.column))}"
            for i, c in enumerate(self.checks, start=1)
        )
        return f"CASE __check {whens} END"

    def rule_case(self) -> str:
        """SQL naming the rule of the broken check."""
        whens = " ".join(f"WHEN {i} THEN {lit(c.rule)}" for i, c in enumerate(self.checks, 1))
        return f"CASE __check {whens} END"

    def message_case(self) -> str:
        """SQL giving the reason, in words, for the broken check."""
        whens = " ".join(f"WHEN {i} THEN {c.message}" for i, c in enumerate(self.checks, 1))
        return f"CASE __check {whens} END"


READ_CHECK = "=?"
_READ_WORDS = {
    "date": ("bad_timestamp", "is not a date"),
    "time": ("bad_timestamp", "is not a time of day (H:MM or H:MM:SS)"),
    "timestamp": ("bad_timestamp", "is not a date and time"),
    "number": ("bad_number", "is not a number"),
    "integer": ("bad_integer", "is not a whole number"),
    "seconds": ("bad_number", "is not a number of seconds"),
    "minutes": ("bad_number", "is not a number of minutes"),
    "hours": ("bad_number", "is not a number of hours"),
}


def read_check(column: str, function: str, source: str) -> str:
    """Name of the staged column holding a text value that ``function`` could not read while
    computing ``column`` from the file's column ``source`` (NULL when it could)."""
    return f"{READ_CHECK}{column}|{function}|{source}"


def _read_checks(raw_types: dict[str, str]) -> list[Check]:
    out = []
    for name in raw_types:
        if not name.startswith(READ_CHECK):
            continue
        column, function, source = name[len(READ_CHECK) :].split("|", 2)
        rule, words = _READ_WORDS[function]
        out.append(
            Check(
                rule,
                READ_CHECK + source,
                f"{q(name)} IS NOT NULL",
                f"{_show(q(name))} || {lit(f' in {source} {words} ({function}() for {column})')}",
            )
        )
    return out


def plan(table: Table, raw: str, raw_types: dict[str, str], mapping: Mapping) -> Plan:
    """Build the SELECT that types and checks a staged file ``raw`` with ``raw_types``."""
    texts: dict[str, str] = {}
    source_names: dict[str, str] = {}
    for col in table.columns:
        expr = _input_text(col, raw_types, mapping)
        if expr is not None:
            texts[col.name] = expr
            source_names[col.name] = mapping.shown_name(col.name)
    typed = {c.name: _typed(c, raw_types, mapping) for c in table.columns if c.name in texts}
    typed.update(_after(typed, mapping))
    typed.update(_defaults(table, typed))
    reads = _read_checks(raw_types)
    source_names.update({c.column: c.column[len(READ_CHECK) :] for c in reads})
    strings = {n for n in texts if _source_type(table.column(n), raw_types, mapping) == "VARCHAR"}
    checks = tuple(reads + _checks(table, typed, set(texts), mapping, strings))
    read_columns = [q(n) for n in raw_types if n.startswith(READ_CHECK)]
    inner = ", ".join(
        ["__line", *read_columns, *(f"{e} AS {q(text_of(n))}" for n, e in texts.items())]
    )
    typed_sql = ", ".join([*read_columns, *(f"{e} AS {q(n)}" for n, e in typed.items())])
    nulls = ", ".join(
        f"NULL::{_SQL_TYPES[c.kind]} AS {q(c.name)}" for c in table.columns if c.name not in typed
    )
    case = " ".join(f"WHEN {c.fails} THEN {i}" for i, c in enumerate(checks, start=1))
    sql = (
        f"SELECT *, CASE {case} ELSE 0 END AS __check FROM ("
        f"SELECT __line, {', '.join(q(text_of(n)) for n in texts)}, {typed_sql}"
        + (f", {nulls}" if nulls else "")
        + f" FROM (SELECT {inner} FROM {q(raw)}))"
    )
    return Plan(table, sql, checks, frozenset(typed), source_names)


_SQL_TYPES = {
    "text": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
}


def _input_text(col: Column, raw_types: dict[str, str], mapping: Mapping) -> str | None:
    """The column's input as given (text, or the file's own type), value maps applied."""
    if col.name in mapping.constants:
        return lit(mapping.constants[col.name])
    source = mapping.source_name(col.name)
    if source not in raw_types:
        return None
    expr = q(source)
    if raw_types[source] == "VARCHAR":
        expr = f"NULLIF({expr}, '')" if col.name in _UNTRIMMED else f"NULLIF(trim({expr}), '')"
        values = mapping.values.get(col.name)
        if values:
            # a value mapped to "" is no value
            whens = " ".join(
                f"WHEN {lit(k)} THEN {lit(v) if v != '' else 'NULL'}" for k, v in values.items()
            )
            expr = f"(CASE {expr} {whens} ELSE {expr} END)"
        if col.choices:
            expr = f"lower({expr})"
    return expr


def _source_type(col: Column, raw_types: dict[str, str], mapping: Mapping) -> str:
    """The engine type of the input ``col`` is read from (VARCHAR for text and constants)."""
    if col.name in mapping.constants:
        return "VARCHAR"
    return raw_types.get(mapping.source_name(col.name), "VARCHAR")


def _typed(col: Column, raw_types: dict[str, str], mapping: Mapping) -> str:
    """SQL turning the input text of ``col`` into its canonical type (NULL when it fails)."""
    t = q(text_of(col.name))
    source_type = _source_type(col, raw_types, mapping)
    if col.kind == "text":
        return t if source_type == "VARCHAR" else f"CAST({t} AS VARCHAR)"
    # the engine would read 1_000 as 1000: no export writes numbers so, a typo does
    plain = f"NOT contains(CAST({t} AS VARCHAR), '_')"
    if col.kind == "float":
        return (
            f"(CASE WHEN {plain} AND isfinite(TRY_CAST({t} AS DOUBLE)) "
            f"THEN TRY_CAST({t} AS DOUBLE) END)"
        )
    if col.kind == "int":
        d = f"TRY_CAST({t} AS DOUBLE)"
        return (
            f"(CASE WHEN {plain} AND {d} = trunc({d}) AND abs({d}) < 9e15 "
            f"THEN CAST({d} AS BIGINT) END)"
        )
    if col.kind == "bool":
        if source_type == "BOOLEAN":
            return t
        low = f"lower(CAST({t} AS VARCHAR))"
        return (
            f"(CASE WHEN {low} IN ({', '.join(map(lit, _TRUE))}) THEN TRUE "
            f"WHEN {low} IN ({', '.join(map(lit, _FALSE))}) THEN FALSE END)"
        )
    return _timestamp(t, source_type, mapping.format_for(col.name), mapping.timezone)


def _timestamp(t: str, source_type: str, fmt: str | None, zone: str) -> str:
    if source_type.startswith("TIMESTAMP WITH TIME ZONE") or source_type == "TIMESTAMPTZ":
        return t
    if source_type.startswith("TIMESTAMP") or source_type == "DATE":
        return f"timezone({lit(zone)}, CAST({t} AS TIMESTAMP))"
    text = t if source_type == "VARCHAR" else f"CAST({t} AS VARCHAR)"
    if fmt:
        parsed = f"try_strptime({text}, {lit(fmt)})"
        return parsed if ("%z" in fmt or "%Z" in fmt) else f"timezone({lit(zone)}, {parsed})"
    plain = text
    text = f"regexp_replace({text}, {lit(_BASIC)}, '\\1-\\2-\\3T\\4:\\5:\\6\\7\\8')"
    # "10:00 -0700", "10:00Z" and "10:00:00 -07:00" → "10:00:00-0700", which the engine reads
    seconds = f"regexp_replace({text}, {lit(_NO_SECONDS)}, '\\1\\2:00\\3')"
    joined = f"regexp_replace({seconds}, {lit(_SPACED_OFFSET)}, '\\1')"
    # the usual shapes first, read as the general rules below would read them
    return (
        f"(CASE WHEN regexp_full_match({plain}, {lit(_ISO_UTC)}) "
        f"THEN TRY_CAST({plain} AS TIMESTAMPTZ) "
        f"WHEN regexp_full_match({plain}, {lit(_ISO_LOCAL)}) "
        f"THEN timezone({lit(zone)}, TRY_CAST({plain} AS TIMESTAMP)) "
        f"WHEN regexp_matches({text}, {lit(_IMPOSSIBLE_OFFSET)}) THEN NULL "
        f"WHEN regexp_matches({text}, {lit(_OFFSET_RE)}) "
        f"THEN TRY_CAST({joined} AS TIMESTAMPTZ) "
        f"ELSE timezone({lit(zone)}, TRY_CAST({text} AS TIMESTAMP)) END)"
    )


def _after(typed: dict[str, str], mapping: Mapping) -> dict[str, str]:
    """Timestamps given as a delay after another: base + the delay (NULL if either is)."""
    out = {}
    for name, spec in mapping.after.items():
        if name in typed and spec.column in typed:
            delay = f"TRY_CAST({q(text_of(name))} AS DOUBLE)"
            out[name] = (
                f"({typed[spec.column]} + to_microseconds(CAST(round({delay} * "
                f"{spec.factor!r} * 1e6) AS BIGINT)))"
            )
    return out


def _defaults(table: Table, typed: dict[str, str]) -> dict[str, str]:
    """Columns filled from others when the input leaves them empty (survey scales by kind)."""
    if table.name != "surveys" or "kind" not in typed:
        return {}
    out = {}
    for bound, index in (("scale_min", 0), ("scale_max", 1)):
        whens = " ".join(
            f"WHEN {lit(k)} THEN {float(v[index])!r}" for k, v in schema.DEFAULT_SCALES.items()
        )
        given = typed.get(bound, "NULL::DOUBLE")
        out[bound] = f"coalesce({given}, CASE {typed['kind']} {whens} END)"
    return out


def _show(expr: str) -> str:
    """SQL quoting a (possibly long) input value for a reason text."""
    return f"'\"' || left(CAST({expr} AS VARCHAR), 80) || '\"'"


def _checks(
    table: Table, typed: dict[str, str], texts: set[str], mapping: Mapping, strings: set[str]
) -> list[Check]:
    """Every rule for the columns present; ``texts`` are those that came from the input,
    ``strings`` those of them read from text."""
    checks: list[Check] = []
    for col in table.columns:
        if col.name not in typed:
            continue
        v = q(col.name)
        if col.required:
            given = q(text_of(col.name)) if col.name in texts else v
            checks.append(
                Check(
                    "missing_value",
                    col.name,
                    f"{given} IS NULL",
                    lit(f"{col.name} is required but empty"),
                )
            )
        if col.name in strings:
            t = q(text_of(col.name))
            checks.append(
                Check(
                    "nul_byte",
                    col.name,
                    f"contains({t}, chr(0))",
                    lit(f"{col.name} contains a NUL byte (\\x00)"),
                )
            )
        if col.name in texts:
            checks.extend(_type_checks(col, q(text_of(col.name)), v, mapping))
        if col.choices:
            allowed = ", ".join(col.choices)
            checks.append(
                Check(
                    "unknown_value",
                    col.name,
                    f"{v} IS NOT NULL AND {v} NOT IN ({', '.join(map(lit, col.choices))})",
                    f"{_show(v)} || {lit(f' is not a valid {col.name}; expected one of ')}"
                    f" || {lit(allowed)}",
                )
            )
        checks.extend(_range_checks(col, v))
    checks.extend(_scale_checks(table))
    checks.extend(_order_checks(table, typed))
    return checks


def _type_checks(col: Column, t: str, v: str, mapping: Mapping) -> list[Check]:
    if col.kind == "text":
        return []
    if col.name in mapping.after:
        unit = next(
            u for u in ("seconds", "minutes", "hours") if getattr(mapping.after[col.name], u)
        )
        return [
            Check(
                "bad_number",
                col.name,
                f"{t} IS NOT NULL AND TRY_CAST({t} AS DOUBLE) IS NULL",
                f"{_show(t)} || {lit(f' is not a number of {unit}')}",
            )
        ]
    what = {
        "float": ("bad_number", "is not a number"),
        "int": ("bad_integer", "is not a whole number"),
        "bool": ("bad_boolean", "is not true/false, yes/no or 1/0"),
        "timestamp": ("bad_timestamp", _timestamp_hint(mapping.format_for(col.name))),
    }[col.kind]
    return [
        Check(
            what[0],
            col.name,
            f"{t} IS NOT NULL AND {v} IS NULL",
            f"{_show(t)} || {lit(f' in {col.name} {what[1]}')}",
        )
    ]


def _timestamp_hint(fmt: str | None) -> str:
    if fmt:
        return f"is not a timestamp in the format {fmt}"
    return "is not a timestamp (expected ISO 8601, e.g. 2024-05-01 14:30:00 or …T14:30:00Z)"


def _range_checks(col: Column, v: str) -> list[Check]:
    out = []
    if col.kind == "timestamp":
        out.append(
            Check(
                "out_of_range",
                col.name,
                f"({v} < TIMESTAMPTZ '{EARLIEST} 00:00:00+00' OR {v} > now() + INTERVAL 366 DAY)",
                f"{_show(v)} || "
                + lit(
                    f" in {col.name} is before {EARLIEST[:4]} or more than a year from now "
                    "(a mistyped year?)"
                ),
            )
        )
    if col.minimum is not None:
        out.append(
            Check(
                "out_of_range",
                col.name,
                f"{v} < {col.minimum!r}",
                f"{_show(v)} || {lit(f' in {col.name} is below {col.minimum:g}')}",
            )
        )
    if col.maximum is not None:
        out.append(
            Check(
                "out_of_range",
                col.name,
                f"{v} > {col.maximum!r}",
                f"{_show(v)} || {lit(f' in {col.name} is above {col.maximum:g}')}",
            )
        )
    return out


def _scale_checks(table: Table) -> list[Check]:
    if table.name != "surveys":
        return []
    lo, hi, score = q("scale_min"), q("scale_max"), q("score")
    shown = {name: f"printf('%g', {name})" for name in (lo, hi, score)}
    return [
        Check(
            "out_of_range",
            "scale_max",
            f"{lo} >= {hi}",
            f"'the scale ' || {shown[lo]} || '–' || {shown[hi]} || ' is empty or reversed'",
        ),
        Check(
            "out_of_range",
            "score",
            f"{score} < {lo} OR {score} > {hi}",
            f"'score ' || {shown[score]} || ' is outside the ' || kind || ' scale ' || "
            f"{shown[lo]} || '–' || {shown[hi]}",
        ),
    ]


def _order_checks(table: Table, typed: dict[str, str]) -> list[Check]:
    out = []
    for rule in table.orderings:
        if rule.later in typed and rule.earlier in typed:
            later, earlier = q(rule.later), q(rule.earlier)
            out.append(
                Check(
                    "bad_order",
                    rule.later,
                    f"{later} < {earlier}",
                    f"{lit(rule.later + ' ')} || strftime({later}, '%Y-%m-%d %H:%M:%S') || "
                    f"{lit(' UTC is before ' + rule.earlier + ' ')} || "
                    f"strftime({earlier}, '%Y-%m-%d %H:%M:%S') || ' UTC'",
                )
            )
    return out


@dataclass(frozen=True)
class CrossCheck:
    """A rule between a staged table and the conversations (stored or in this load)."""

    rule: str
    column: str
    fails: str
    message: str


def cross_checks(table: Table) -> list[CrossCheck]:
    """Rules that need the conversations: unknown references, messages before the start.

    In the SQL, ``s`` is the staged row and ``c`` the matching conversation (NULL if none).
    """
    out = []
    for ref in table.references:
        col = q(ref.column)
        fails = f"c.conversation_id IS NULL AND s.{col} IS NOT NULL"
        out.append(
            CrossCheck(
                "unknown_ref",
                ref.column,
                fails,
                f"'conversation ' || {_show('s.' + col)} || "
                f"' is neither in the store nor in this load'",
            )
        )
    if table.name == "messages":
        out.append(
            CrossCheck(
                "before_start",
                "sent_at",
                "s.sent_at < c.created_at",
                "'sent at ' || strftime(s.sent_at, '%Y-%m-%d %H:%M:%S') || ' UTC, before its "
                "conversation began at ' || strftime(c.created_at, '%Y-%m-%d %H:%M:%S') || ' UTC'",
            )
        )
    return out
