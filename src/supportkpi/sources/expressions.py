"""The expression language of mapping files: computed columns and row filters.

An expression is a small subset of SQL over the file's own columns, for instance::

    at_time(date(date, '%Y-%m-%d', '%y%m%d') + time(vru_entry), q_start)
    CASE WHEN outcome = 'AGENT' THEN seconds(q_time) END
    nullif(customer_id, '0')

It is parsed (with sqlglot's tokenizer and parser), checked against a closed list of
operators and functions, and written out as engine SQL by this module, never passed through:
it can read the columns of the row at hand and nothing else (no tables, files, subqueries or
engine functions outside the list). A mistake is a :class:`ExpressionError` naming the
position, or the unknown name with the known ones.

Values read from text files are text; the functions below read them as what they are:

==========================  ================================================================
``date(x, 'fmt', …)``       a date; ISO 8601 (2024-05-01) or the first format that reads it
``time(x)``                 a time of day (``H:MM`` or ``H:MM:SS``), as a duration since 0:00
``timestamp(x, 'fmt', …)``  a date and time; ISO 8601 or the first format that reads it
``at_time(start, t)``       the instant at time of day ``t`` nearest to ``start`` (within 12
                            hours before or after): a time past midnight falls on the next day
``seconds(x)``              a duration of ``x`` seconds (also ``minutes``, ``hours``)
``number(x)``, ``integer(x)``  the text read as a number (empty when it is not one)
``text(x)``                 any value as text
``coalesce(a, b, …)``       the first non-empty value; ``nullif(a, b)``: empty when a = b
``trim lower upper``        text functions; also ``left(x, n)``, ``right(x, n)``,
``left right replace``      ``replace(x, from, to)``, ``concat(a, b, …)`` and ``a || b``
``concat``
``CASE WHEN … THEN … END``  conditions, also ``if(condition, then, else)``
==========================  ================================================================

Operators: ``+ - * / %``, comparisons (``= <> < <= > >=``), ``AND OR NOT``, ``IS [NOT] NULL``,
``[NOT] IN (…)``, ``BETWEEN``, ``[NOT] LIKE``. A date plus a time (or a duration) is a
timestamp; a timestamp minus a timestamp is a duration. Columns whose names are not plain
words are written in double quotes: ``"vru+line"``; text values in single quotes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from sqlglot import exp, parser
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

__all__ = ["FUNCTIONS", "Expression", "ExpressionError", "parse"]


class ExpressionError(ValueError):
    """An expression that cannot be used, with where and why."""


class _Plain(Dialect):
    """SQL with no engine's function names: every call is an unknown function to check."""

    class Parser(parser.Parser):
        FUNCTIONS: ClassVar[dict] = {}
        FUNCTION_PARSERS: ClassVar[dict] = {}
        NO_PAREN_FUNCTIONS: ClassVar[dict] = {}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_TIME_OF_DAY = r"^\s*\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*$"
_HALF_DAY = "INTERVAL 12 HOUR"


def _text(x: str) -> str:
    return f"CAST({x} AS VARCHAR)"


def _formats(name: str, args: list[exp.Expression]) -> list[str]:
    formats = []
    for arg in args:
        if not (isinstance(arg, exp.Literal) and arg.is_string):
            raise ExpressionError(f"{name}(): its formats are quoted texts such as '%d/%m/%Y'")
        formats.append(arg.this)
    return formats


def _date(args: list[str], raw: list[exp.Expression]) -> str:
    x, formats = args[0], _formats("date", raw[1:])
    if not formats:
        return (
            f"(CASE WHEN typeof({x}) IN ('DATE', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE') "
            f"THEN TRY_CAST({x} AS DATE) ELSE TRY_CAST(trim({_text(x)}) AS DATE) END)"
        )
    tries = ", ".join(f"try_strptime(trim({_text(x)}), {_lit(f)})" for f in formats)
    return f"CAST(coalesce({tries}) AS DATE)"


def _timestamp(args: list[str], raw: list[exp.Expression]) -> str:
    x, formats = args[0], _formats("timestamp", raw[1:])
    if not formats:
        return f"TRY_CAST(trim({_text(x)}) AS TIMESTAMP)"
    tries = ", ".join(f"try_strptime(trim({_text(x)}), {_lit(f)})" for f in formats)
    return f"CAST(coalesce({tries}) AS TIMESTAMP)"


def _time(args: list[str], raw: list[exp.Expression]) -> str:
    text = f"trim({_text(args[0])})"
    return (
        f"(CASE WHEN regexp_matches({text}, {_lit(_TIME_OF_DAY)}) "
        f"THEN TRY_CAST({text} AS INTERVAL) END)"
    )


def _at_time(args: list[str], raw: list[exp.Expression]) -> str:
    start = f"CAST({args[0]} AS TIMESTAMP)"
    clock = args[1] if _is_call(raw[1], "time") else _time([args[1]], [raw[1]])
    day = f"(date_trunc('day', {start}) + {clock})"
    return (
        f"(CASE WHEN {day} < {start} - {_HALF_DAY} THEN {day} + INTERVAL 1 DAY "
        f"WHEN {day} > {start} + {_HALF_DAY} THEN {day} - INTERVAL 1 DAY ELSE {day} END)"
    )


def _is_call(node: exp.Expression, name: str) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.name).lower() == name


def _number(x: str) -> str:
    d = f"TRY_CAST(trim({_text(x)}) AS DOUBLE)"
    return f"(CASE WHEN isfinite({d}) THEN {d} END)"


def _duration(factor: float) -> Callable[[list[str], list[exp.Expression]], str]:
    def build(args: list[str], raw: list[exp.Expression]) -> str:
        return f"to_microseconds(CAST(round({_number(args[0])} * {factor!r} * 1e6) AS BIGINT))"

    return build


def _integer(args: list[str], raw: list[exp.Expression]) -> str:
    d = _number(args[0])
    return f"(CASE WHEN {d} = trunc({d}) AND abs({d}) < 9e15 THEN CAST({d} AS BIGINT) END)"


def _plain(function: str) -> Callable[[list[str], list[exp.Expression]], str]:
    return lambda args, raw: f"{function}({', '.join(args)})"


@dataclass(frozen=True)
class _Function:
    build: Callable[[list[str], list[exp.Expression]], str]
    least: int
    most: int | None  # None: any number
    help: str


FUNCTIONS: dict[str, _Function] = {
    "date": _Function(_date, 1, None, "date(x, 'format', …)"),
    "time": _Function(_time, 1, 1, "time(x)"),
    "timestamp": _Function(_timestamp, 1, None, "timestamp(x, 'format', …)"),
    "at_time": _Function(_at_time, 2, 2, "at_time(start, time of day)"),
    "seconds": _Function(_duration(1.0), 1, 1, "seconds(x)"),
    "minutes": _Function(_duration(60.0), 1, 1, "minutes(x)"),
    "hours": _Function(_duration(3600.0), 1, 1, "hours(x)"),
    "number": _Function(lambda a, r: _number(a[0]), 1, 1, "number(x)"),
    "integer": _Function(_integer, 1, 1, "integer(x)"),
    "text": _Function(lambda a, r: _text(a[0]), 1, 1, "text(x)"),
    "coalesce": _Function(_plain("coalesce"), 1, None, "coalesce(a, b, …)"),
    "nullif": _Function(_plain("nullif"), 2, 2, "nullif(a, b)"),
    "trim": _Function(lambda a, r: f"trim({_text(a[0])})", 1, 1, "trim(x)"),
    "lower": _Function(lambda a, r: f"lower({_text(a[0])})", 1, 1, "lower(x)"),
    "upper": _Function(lambda a, r: f"upper({_text(a[0])})", 1, 1, "upper(x)"),
    "left": _Function(lambda a, r: f"left({_text(a[0])}, {a[1]})", 2, 2, "left(x, n)"),
    "right": _Function(lambda a, r: f"right({_text(a[0])}, {a[1]})", 2, 2, "right(x, n)"),
    "replace": _Function(
        lambda a, r: f"replace({_text(a[0])}, {a[1]}, {a[2]})", 3, 3, "replace(x, from, to)"
    ),
    "concat": _Function(
        lambda a, r: "concat(" + ", ".join(_text(x) for x in a) + ")", 1, None, "concat(a, b, …)"
    ),
    "if": _Function(lambda a, r: f"(CASE WHEN {a[0]} THEN {a[1]} ELSE {a[2]} END)", 3, 3, "if"),
}

_READERS = ("date", "time", "timestamp", "number", "integer", "seconds", "minutes", "hours")

_BINARY: dict[type[exp.Expression], str] = {
    exp.Add: "+",
    exp.Sub: "-",
    exp.Mul: "*",
    exp.Div: "/",
    exp.Mod: "%",
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
    exp.And: "AND",
    exp.Or: "OR",
}


@dataclass(frozen=True)
class Expression:
    """A checked expression: its text, the file columns it reads, and its engine SQL."""

    text: str
    columns: tuple[str, ...]
    sql: str
    # (function, column, SQL of the call) of each reading of a text column: date(x), number(x)…
    reads: tuple[tuple[str, str, str], ...] = ()


def parse(text: str) -> Expression:
    """Parse and check ``text``; an :class:`ExpressionError` says where and what is wrong."""
    if not text.strip():
        raise ExpressionError("the expression is empty")
    try:
        trees = _Plain().parse(text)
    except (ParseError, TokenError) as exc:
        raise ExpressionError(_where(text, exc)) from None
    if len(trees) != 1 or trees[0] is None:
        raise ExpressionError("give one expression, not several statements")
    tree = trees[0]
    columns: dict[str, None] = {}
    reads: dict[tuple[str, str], str] = {}
    sql = _Writer(columns, reads).write(tree)
    return Expression(text, tuple(columns), sql, tuple((f, c, s) for (f, c), s in reads.items()))


def _where(text: str, exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        first = errors[0]
        col = first.get("col") or 0
        what = str(first.get("description", exc))
        if what.startswith("Required keyword") or what.startswith("Expected"):
            what = "something is missing there"
        return f"cannot be read at position {col} of {text!r}: {what}"
    return f"cannot be read: {str(exc).splitlines()[0]} (in {text!r})"


class _Writer:
    """Writes a parsed expression as engine SQL, refusing anything outside the language."""

    def __init__(self, columns: dict[str, None], reads: dict[tuple[str, str], str]) -> None:
        self.columns = columns
        self.reads = reads

    def write(self, node: exp.Expression) -> str:
        if isinstance(node, exp.Paren):
            return f"({self.write(node.this)})"
        if isinstance(node, exp.Column):
            if node.table:
                raise ExpressionError(
                    f"{node.sql()!r}: a column is named alone; write a name with dots or other "
                    'signs in double quotes, e.g. "vru+line"'
                )
            self.columns[node.name] = None
            return _q(node.name)
        if isinstance(node, exp.Literal):
            return _lit(node.this) if node.is_string else _number_literal(node.this)
        if isinstance(node, exp.Null):
            return "NULL"
        if isinstance(node, exp.Boolean):
            return "TRUE" if node.this else "FALSE"
        if type(node) in _BINARY:
            op = _BINARY[type(node)]
            return f"({self.write(node.this)} {op} {self.write(node.expression)})"
        if isinstance(node, exp.DPipe):
            return f"({_text(self.write(node.this))} || {_text(self.write(node.expression))})"
        if isinstance(node, exp.Neg):
            return f"(-{self.write(node.this)})"
        if isinstance(node, exp.Not):
            return f"(NOT {self.write(node.this)})"
        if isinstance(node, exp.Is):
            if not isinstance(node.expression, exp.Null):
                raise ExpressionError("IS is followed by NULL (or NOT NULL); compare with =")
            return f"({self.write(node.this)} IS NULL)"
        if isinstance(node, exp.In):
            if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
                raise ExpressionError("IN takes a list of values: x IN ('a', 'b')")
            values = ", ".join(self.write(v) for v in node.expressions)
            return f"({self.write(node.this)} IN ({values}))"
        if isinstance(node, exp.Between):
            return (
                f"({self.write(node.this)} BETWEEN {self.write(node.args['low'])} "
                f"AND {self.write(node.args['high'])})"
            )
        if isinstance(node, exp.Like | exp.ILike):
            word = "ILIKE" if isinstance(node, exp.ILike) else "LIKE"
            return f"({_text(self.write(node.this))} {word} {self.write(node.expression)})"
        if isinstance(node, exp.Case):
            return self._case(node)
        if isinstance(node, exp.If):
            cond, then = self.write(node.this), self.write(node.args["true"])
            other = node.args.get("false")
            tail = f" ELSE {self.write(other)}" if other is not None else ""
            return f"(CASE WHEN {cond} THEN {then}{tail} END)"
        if isinstance(node, exp.Anonymous):
            return self._call(node)
        raise ExpressionError(
            f"{node.sql()!r} is not part of the mapping language; it has columns, quoted "
            "texts, numbers, + - * / %, comparisons, AND/OR/NOT, IS NULL, IN, BETWEEN, LIKE, "
            f"CASE and the functions {', '.join(FUNCTIONS)}"
        )

    def _case(self, node: exp.Case) -> str:
        subject = node.this
        parts = []
        for when in node.args.get("ifs") or []:
            cond = self.write(when.this)
            if subject is not None:
                cond = f"({self.write(subject)} = {cond})"
            parts.append(f"WHEN {cond} THEN {self.write(when.args['true'])}")
        default = node.args.get("default")
        tail = f" ELSE {self.write(default)}" if default is not None else ""
        return f"(CASE {' '.join(parts)}{tail} END)"

    def _call(self, node: exp.Anonymous) -> str:
        name = str(node.name).lower()
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise ExpressionError(
                f"unknown function {node.name}(); the functions are: {', '.join(FUNCTIONS)}"
            )
        raw = list(node.expressions)
        if len(raw) < spec.least or (spec.most is not None and len(raw) > spec.most):
            raise ExpressionError(f"{name}() takes {_arity(spec)}: {spec.help}")
        args = [self.write(a) for a in raw]
        sql = spec.build(args, raw)
        if name in _READERS and isinstance(raw[0], exp.Column):
            self.reads.setdefault((name, raw[0].name), sql)
        return sql


def _arity(spec: _Function) -> str:
    if spec.most is None:
        return f"at least {spec.least} argument{'s' if spec.least > 1 else ''}"
    if spec.most == spec.least:
        return f"{spec.least} argument{'s' if spec.least > 1 else ''}"
    return f"{spec.least} to {spec.most} arguments"


def _number_literal(text: str) -> str:
    try:
        float(text)
    except ValueError:
        raise ExpressionError(f"{text!r} is not a number") from None
    return text
