"""Loading: files → validation → store, as one transaction per call.

Each file is typed and checked in the engine (:mod:`supportkpi.load.validate`), and its good
rows are kept in a per-table staging table; rows that break a rule go to a staging quarantine
with their line, column, reason and raw record. Only then, in one transaction, are the tables
merged (upsert by key) and the quarantine rows of the loaded files replaced. A failure
anywhere before the commit leaves the store as it was.

Parquet and plain CSV files are read by the engine's own readers straight into the checking
statement; the raw record is read again only for the rows a rule rejects. A table that holds
none of the staged keys (a first load) takes the rows by a plain insert, not a merge. Other
files, and CSV files whose records span lines, are streamed through Arrow into a staging
table first: the same rows, values and lines either way (``fast=False`` takes that path for
every file and always merges).
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Mapping as Map
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from supportkpi.load import validate
from supportkpi.load.validate import lit, q
from supportkpi.sources.files import (
    CONVERTED,
    FORMATS,
    LINE,
    Malformed,
    SourceError,
    SourceFile,
    csv_lines,
    open_source,
)
from supportkpi.sources.mapping import COMPUTED, Mapping, MappingError
from supportkpi.store import generation, kept, schema
from supportkpi.store.merge import MergeCounts
from supportkpi.store.ownership import foreign_rows
from supportkpi.store.postgres import PostgresStore
from supportkpi.store.store import Store

FileProgress = Callable[[str, int, int], None]
"""Called with (file name, done, total) while a file is read, and with (step, 0, 0) when a
step whose length is unknown begins (checking a file, merging into the store)."""

_REJECTS = "__rejects"
_REJECT_COLUMNS = ("source", "line", "table_name", "column_name", "rule", "reason", "raw")


class LoadError(ValueError):
    """A load that cannot proceed; nothing was written."""


class ForeignRecords(LoadError):
    """A vendor sent records that are not its own; nothing was loaded. ``rows`` holds
    (table, record number, why) for each."""

    def __init__(self, vendor: str, rows: list[tuple[str, int, str]]) -> None:
        shown = "; ".join(f"{t} record {n}: {why}" for t, n, why in rows[:20])
        more = f"; … and {len(rows) - 20} more" if len(rows) > 20 else ""
        super().__init__(
            f"a {vendor} token may send only {vendor}'s records; nothing was loaded: {shown}{more}"
        )
        self.rows = rows


@dataclass
class FileResult:
    """What happened to one file."""

    name: str
    table: str
    rows: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    ignored_columns: list[str] = field(default_factory=list)
    left_out: Counter[str] = field(default_factory=Counter)


@dataclass
class LoadSummary:
    """What one load did: per file, per table, per quarantine rule."""

    files: list[FileResult]
    tables: dict[str, MergeCounts]

    @property
    def quarantined(self) -> Counter[str]:
        """Rejected rows per rule, over all files."""
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.quarantined)
        return total


def load(
    store: Store,
    paths: Sequence[str | Path],
    *,
    table: str | None = None,
    mapping: Mapping | None = None,
    progress: FileProgress | None = None,
    fmt: str | None = None,
    fast: bool = True,
) -> LoadSummary:
    """Validate and load files into the store in one transaction; see the module doc.
    ``fmt`` names a file format (csv, parquet…) or a dataset format converted first (twcs);
    ``fast=False`` streams every file through Arrow and merges every table (the same result,
    slower: the path the fast one is tested against)."""
    if fmt in CONVERTED:
        return _load_converted(store, paths, fmt, progress, fast)
    if fmt is not None:
        if fmt not in FORMATS:
            raise LoadError(f"unknown format {fmt!r}; one of {', '.join(FORMATS + CONVERTED)}")
        mapping = (mapping or Mapping()).model_copy(update={"format": fmt})
    try:
        sources = [open_source(p, mapping, table) for p in paths]
    except (SourceError, KeyError) as exc:
        raise LoadError(str(exc).strip('"')) from None
    return _Load(store, progress, fast=fast).run(_ordered(sources))


def load_records(
    store: Store, batches: Map[str, bytes], label: str, vendor: str | None = None
) -> LoadSummary:
    """Records sent as JSON arrays or JSON Lines (HTTP request bodies), per table, loaded in one
    transaction like files named ``<label>/<table>``: the same rules, and quarantine rows that
    carry the record's number in place of a line. With ``vendor`` (a vendor's token), the
    validated records must all be that vendor's own (:mod:`supportkpi.store.ownership`), or
    :class:`ForeignRecords` is raised and nothing is loaded."""
    with tempfile.TemporaryDirectory(prefix="supportkpi-") as scratch:
        sources = []
        for table, data in batches.items():
            path = Path(scratch) / f"{table}.json"
            path.write_bytes(data)
            try:
                sources.append(replace(open_source(path, None, table), label=f"{label}/{table}"))
            except (SourceError, KeyError) as exc:
                raise LoadError(str(exc).strip('"')) from None
        try:
            return _Load(store, None, vendor=vendor).run(_ordered(sources))
        except ForeignRecords:
            raise
        except LoadError as exc:
            raise LoadError(str(exc).replace(scratch + "/", "the records of ")) from None


def _ordered(sources: list[SourceFile]) -> list[SourceFile]:
    order = {name: i for i, name in enumerate(schema.LOAD_ORDER)}
    return sorted(sources, key=lambda s: order[s.table])


def _load_converted(
    store: Store,
    paths: Sequence[str | Path],
    fmt: str,
    progress: FileProgress | None,
    fast: bool = True,
) -> LoadSummary:
    """Convert dataset files (twcs) to canonical files in a scratch folder, then load those
    under the original file's name, with the records the conversion left out."""
    from supportkpi.sources import twcs

    report = progress or (lambda name, done, total: None)
    with tempfile.TemporaryDirectory(prefix="supportkpi-") as scratch:
        sources, rejected = [], []
        for index, path in enumerate(paths):
            work = Path(scratch) / str(index)
            work.mkdir()
            try:
                done = twcs.convert(path, work, progress=lambda d, t, p=path: report(str(p), d, t))
            except (SourceError, duckdb.Error) as exc:
                raise LoadError(str(exc)) from None
            label = str(Path(path).resolve())
            sources += [
                replace(open_source(done.conversations, table="conversations"), label=label),
                replace(open_source(done.messages, table="messages"), label=label),
            ]
            rejected += [(label, r) for r in done.rejected]
        return _Load(store, progress, rejected, fast=fast).run(_ordered(sources))


class _Load:
    """The staging tables and counts of one load call."""

    def __init__(
        self,
        store: Store,
        progress: FileProgress | None,
        converted: list[tuple[str, Any]] | None = None,
        vendor: str | None = None,
        fast: bool = True,
    ) -> None:
        self.converted = converted or []
        self.vendor = vendor
        self.fast = fast
        self.views: set[str] = set()
        self.scratch: list[str] = []
        # the store written to; files are staged and checked in ``store``, which for a
        # PostgreSQL store is an embedded DuckDB workspace holding a copy of the stored rows
        # the load can meet (see supportkpi.store.postgres)
        self.target = store
        self.store = store.workspace() if isinstance(store, PostgresStore) else store
        self.progress: FileProgress = progress or (lambda name, done, total: None)
        self.raw_tables: dict[int, str] = {}
        self.clean: dict[str, str] = {}
        self.provided: dict[str, set[str]] = {}
        self.results: list[FileResult] = []

    def run(self, sources: list[SourceFile]) -> LoadSummary:
        try:
            self._create_rejects()
            for index, src in enumerate(sources):
                self.results.append(self._stage_file(index, src))
            self._reject_converted(sources)
            with self._remote_transaction():
                # a vendor's rows are judged before the checks against stored rows, whose
                # reasons would tell of other vendors' conversations, and again inside the
                # transaction
                self._check_owner()
                for name in list(self.clean):
                    self._cross_check(name, sources)
                merged = self._commit(sources)
            self._count_rejects()
            return LoadSummary(self.results, merged)
        finally:
            self._drop_temps()
            if self.store is not self.target:
                self.store.close()

    @contextmanager
    def _remote_transaction(self) -> Iterator[None]:
        """For a PostgreSQL store, the server transaction the checks and the merge run in,
        with the stored rows they read copied into the workspace first; else nothing."""
        if not isinstance(self.target, PostgresStore):
            yield
            return
        with self.target.transaction():
            self.target.shadow(self.store, self.clean, self.vendor)
            yield

    def _create_rejects(self) -> None:
        self.store.drop_temp(_REJECTS)
        self.store.execute(
            f"CREATE TEMP TABLE {_REJECTS} (source VARCHAR, line BIGINT, table_name VARCHAR, "
            "column_name VARCHAR, rule VARCHAR, reason VARCHAR, raw VARCHAR, __file INTEGER)"
        )

    # ------------------------------------------------------------ one file

    def _stage_file(self, index: int, src: SourceFile) -> FileResult:
        try:
            header = src.header()
        except SourceError as exc:
            raise LoadError(str(exc)) from None
        if header is not None:  # the header is checked first, whatever the rows hold
            try:
                src.mapping = src.mapping.for_headers(header)
            except MappingError as exc:
                raise LoadError(f"{src.name}: {exc}") from None
            self._require_columns(src, dict.fromkeys(header, "VARCHAR"))
            _named_columns(src, header)
        reader = src.engine_reader() if self.fast else None
        if reader is not None:
            try:
                return self._stage_read(index, src, reader)
            except (duckdb.Error, _Reread):
                self._forget_file(index)
        return self._stage_streamed(index, src, header)

    def _stage_read(self, index: int, src: SourceFile, reader: str) -> FileResult:
        """Stage a file the engine reads itself: a view over its reader, checked in one
        statement. ``_Reread`` (or an engine error) when it must be streamed instead."""
        result = FileResult(src.name, src.table)
        raw = self.store.temp_name("read")
        self.views.add(raw)
        self.scratch.append(raw)
        self.store.execute(f"CREATE TEMP VIEW {q(raw)} AS {reader}")
        self.progress(f"reading and checking {src.path.name}", 0, 0)
        lines = csv_lines(src.path) if src.format == "csv" else None
        if src.format == "csv" and lines is None:
            raise _Reread
        self._stage_rows(index, src, raw, result, lines)
        return result

    def _forget_file(self, index: int) -> None:
        """Drop what staging a file with the engine left, to stage it again streamed."""
        for name in [*self.scratch, self.raw_tables.pop(index, "")]:
            self._drop(name)
        self.clean = {t: name for t, name in self.clean.items() if name not in self.scratch}
        self.scratch.clear()
        self.store.execute(f"DELETE FROM {_REJECTS} WHERE __file = {index}")

    def _drop(self, name: str) -> None:
        if name in self.views:
            self.store.execute(f"DROP VIEW IF EXISTS temp.{q(name)}")
            self.views.discard(name)
        elif name:
            self.store.drop_temp(name)

    def _stage_streamed(self, index: int, src: SourceFile, header: list[str] | None) -> FileResult:
        """Stage a file streamed through Arrow into a staging table."""
        result = FileResult(src.name, src.table)
        raw = self.store.temp_name("raw")
        try:
            for batch in src.batches(lambda done, total: self.progress(src.name, done, total)):
                result.rows += batch.num_rows
                self.store.stage(raw, batch)
        except SourceError as exc:
            raise LoadError(str(exc)) from None
        if header is None and src.malformed and not self.store.exists(raw):
            raise LoadError(
                f"{src.name}: not one record could be read as {src.format.upper()} "
                f"({len(src.malformed)} unreadable, the first: {src.malformed[0].reason}); "
                "is the file what its name says?"
            )
        self._reject_malformed(index, src)
        result.rows += len(src.malformed)
        if not self.store.exists(raw):
            return result
        if src.lines is not None:
            self._renumber(raw, src.lines)
        elif src.malformed and src.format == "csv":
            self._shift_lines(raw, src.malformed)
        self._stage_rows(index, src, raw, result, None)
        return result

    def _stage_rows(
        self, index: int, src: SourceFile, raw: str, result: FileResult, lines: int | None
    ) -> None:
        """Map, type and check the staged rows of a file (``lines``: the lines a CSV file
        read by the engine must have, one record each after the header)."""
        self.raw_tables[index] = raw
        read = raw in self.views
        raw_types = {n: t for n, t in self.store.columns(raw).items() if n != LINE}
        try:
            src.mapping = src.mapping.for_headers(raw_types)
        except MappingError as exc:
            raise LoadError(f"{src.name}: {exc}") from None
        self._require_columns(src, raw_types)
        _named_columns(src, list(raw_types))
        result.ignored_columns = self._ignored(src, raw_types)
        if src.mapping.computed() or src.mapping.filters():
            raw = self._compute(index, src, raw, raw_types, result)
            raw_types = {n: t for n, t in self.store.columns(raw).items() if n != LINE}
        self.progress(f"checking {src.path.name}", 0, 0)
        self._check_rows(index, src, raw, raw_types, result, read, lines)
        kept_tables = {*self.raw_tables.values(), *self.clean.values()}
        for name in self.scratch:
            if name not in kept_tables:
                self._drop(name)
        self.scratch.clear()

    def _compute(
        self, index: int, src: SourceFile, raw: str, raw_types: dict[str, str], result: FileResult
    ) -> str:
        """Stage the file with its computed columns, leaving out (and counting) the rows the
        mapping's filters leave out; returns the new staged table."""
        mapping, spec = src.mapping, schema.table(src.table)
        computed = mapping.computed()
        columns = []
        for name, expression in computed.items():
            kind = spec.column(name).kind
            sql = self._computable(src, raw, f"columns.{name}", expression.text, expression.sql)
            value_type = self.store.execute(f"SELECT typeof({sql}) FROM {q(raw)} LIMIT 1")
            value_type = value_type[0][0] if value_type else "NULL"
            if value_type == "INTERVAL" and kind == "timestamp":
                raise LoadError(
                    f"{src.name}: {mapping.origin}: columns.{name}: {expression.text!r} is a "
                    "duration, not an instant; add it to a date or a timestamp"
                )
            if value_type == "INTERVAL":  # a duration into a number column: its seconds
                sql = f"epoch({sql})"
            columns.append(f"{sql} AS {q(mapping.source_name(name))}")
            # which text value made the column empty: the check names it, not the column
            for function, column, call in expression.reads:
                given = f"nullif(trim(CAST({q(column)} AS VARCHAR)), '')"
                columns.append(
                    f"CASE WHEN ({sql}) IS NULL AND {given} IS NOT NULL AND ({call}) IS NULL "
                    f"THEN CAST({q(column)} AS VARCHAR) END AS "
                    f"{q(validate.read_check(name, function, column))}"
                )
        filters = mapping.filters()
        for i, (expression, _) in enumerate(filters):
            key = "where" if mapping.where and i == 0 else "leave_out"
            self._computable(src, raw, key, expression.text, expression.sql)
        reasons = " ".join(
            f"WHEN {expression.sql} THEN {lit(reason)}" for expression, reason in filters
        )
        left = f"CASE {reasons} END" if reasons else "NULL::VARCHAR"
        mapped = self.store.temp_name("mapped")
        self.scratch.append(mapped)
        self.store.execute(
            f"CREATE TEMP TABLE {q(mapped)} AS SELECT r.*"
            + "".join(f", {c}" for c in columns)
            + f", {left} AS __left_out FROM {q(raw)} r"
        )
        for reason, n in self.store.execute(
            f"SELECT __left_out, count(*) FROM {q(mapped)} WHERE __left_out IS NOT NULL GROUP BY 1"
        ):
            result.left_out[reason] = n
        self.store.execute(f"DELETE FROM {q(mapped)} WHERE __left_out IS NOT NULL")
        self.store.execute(f"ALTER TABLE {q(mapped)} DROP COLUMN __left_out")
        self._drop(raw)
        self.raw_tables[index] = mapped
        return mapped

    def _computable(self, src: SourceFile, raw: str, key: str, text: str, sql: str) -> str:
        """``sql`` when the engine can compute it over the staged file, else a LoadError
        naming the mapping, the key and the engine's reason."""
        try:
            self.store.execute(f"SELECT {sql} FROM {q(raw)} LIMIT 0")
        except duckdb.Error as exc:
            why = str(exc).splitlines()[0].split(": ", 1)[-1]
            raise LoadError(
                f"{src.name}: {src.mapping.origin}: {key}: {text!r} cannot be computed over "
                f"this file's values ({why}); the file's text columns are read with "
                "number(), date(), time() or timestamp()"
            ) from None
        return sql

    def _require_columns(self, src: SourceFile, raw_types: dict[str, str]) -> None:
        spec = schema.table(src.table)
        computed = src.mapping.computed()
        for name in spec.required:
            source = src.mapping.source_name(name)
            if name in computed:
                continue
            if name not in src.mapping.constants and source not in raw_types:
                named = f"'{source}' (mapped to {name})" if source != name else f"'{name}'"
                raise LoadError(
                    f"{src.name}: no column {named}, which {spec.name} requires; the file has: "
                    f"{', '.join(raw_types)}. Rename it, or map yours with --mapping."
                )

    def _ignored(self, src: SourceFile, raw_types: dict[str, str]) -> list[str]:
        used = {src.mapping.source_name(c) for c in schema.table(src.table).column_names}
        used |= {n.column for n in src.mapping.file_columns()}
        return [c for c in raw_types if c not in used]

    def _renumber(self, raw: str, lines: Sequence[int]) -> None:
        """Give the nth record read (on line n + 1 so far) the line it starts on."""
        starts = pa.table(
            {"at": pa.array(range(2, 2 + len(lines)), pa.int64()), "line": pa.array(lines)}
        )
        self.store.raw.register("__starts", starts)
        try:
            self.store.execute(
                f"UPDATE {q(raw)} SET {LINE} = s.line FROM __starts s WHERE {q(raw)}.{LINE} = s.at"
            )
        finally:
            self.store.raw.unregister("__starts")

    def _shift_lines(self, raw: str, malformed: list[Malformed]) -> None:
        """Push records below each skipped malformed line one line down."""
        skipped = sorted(m.line for m in malformed if m.line is not None)
        thresholds = pa.table({"t": [line - i for i, line in enumerate(skipped)]})
        self.store.raw.register("__skipped", thresholds)
        try:
            self.store.execute(
                f"UPDATE {q(raw)} SET {LINE} = {LINE} + (SELECT count(*) FROM "
                f"__skipped WHERE t <= {q(raw)}.{LINE})"
            )
        finally:
            self.store.raw.unregister("__skipped")

    def _reject_converted(self, sources: list[SourceFile]) -> None:
        """Records a conversion left out, counted with the first file made from theirs."""
        for label, r in self.converted:
            index = next(i for i, s in enumerate(sources) if s.name == label)
            self.store.raw.execute(
                f"INSERT INTO {_REJECTS} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [label, r.line, "messages", None, r.rule, r.reason, r.raw, index],
            )

    def _reject_malformed(self, index: int, src: SourceFile) -> None:
        if not src.malformed:
            return
        rows = [
            (
                src.name,
                m.line,
                src.table,
                m.column,
                "malformed_row",
                m.reason,
                json.dumps({"text": m.text}, ensure_ascii=False),
                index,
            )
            for m in src.malformed
        ]
        self.store.raw.executemany(f"INSERT INTO {_REJECTS} VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def _raw_json(self, raw: str, alias: str) -> str:
        cols = [c for c in self.store.columns(raw) if c != LINE and not c.startswith(COMPUTED)]
        return "to_json({" + ", ".join(f"{lit(c)}: {alias}.{q(c)}" for c in cols) + "})"

    def _check_rows(
        self,
        index: int,
        src: SourceFile,
        raw: str,
        raw_types: dict[str, str],
        result: FileResult,
        read: bool = False,
        lines: int | None = None,
    ) -> None:
        """Type and check the rows in one statement, keeping the canonical columns and, for
        the rows a rule rejects, its column, rule and reason; the raw records of those rows
        go to the staging quarantine. ``read``: the file was read by the engine, whose rows
        are counted here (and must fill ``lines`` lines, when given)."""
        spec = schema.table(src.table)
        plan = validate.plan(spec, raw, raw_types, src.mapping)
        checked = self.store.temp_name("checked")
        self.scratch.append(checked)
        cols = ", ".join(q(c) for c in spec.column_names)
        failed = "CASE WHEN __check > 0 THEN {} END"
        self.store.execute(
            f"CREATE TEMP TABLE {q(checked)} AS SELECT {LINE}, {index} AS __file, {cols}, "
            f"__check, {failed.format(plan.column_case())} AS __col, "
            f"{failed.format(plan.rule_case())} AS __rule, "
            f"{failed.format(plan.message_case())} AS __msg FROM ({plan.sql})"
        )
        if read:
            (n,) = self.store.execute(f"SELECT count(*) FROM {q(checked)}")[0]
            result.rows = n + sum(result.left_out.values())
            if lines is not None and result.rows + 1 != lines:
                raise _Reread  # records span lines, or blank lines lie between them
            if not result.rows:
                raise _Reread  # a file of no records is no table's
        if self.store.execute(f"SELECT count(*) FROM {q(checked)} WHERE __check > 0")[0][0]:
            self.store.execute(
                f"INSERT INTO {_REJECTS} SELECT {lit(src.name)}, c.{LINE}, {lit(spec.name)}, "
                f"c.__col, c.__rule, c.__msg, {self._raw_json(raw, 'r')}, {index} FROM "
                f"{q(checked)} c JOIN {q(raw)} r USING ({LINE}) WHERE c.__check > 0"
            )
        self._keep_first_of_each_key(index, src, plan, checked, raw, result)
        self.provided.setdefault(spec.name, set()).update(plan.provided)

    def _keep_first_of_each_key(
        self,
        index: int,
        src: SourceFile,
        plan: validate.Plan,
        checked: str,
        raw: str,
        result: FileResult,
    ) -> None:
        """Quarantine repeated keys (all but the kept row), then stage the good rows. With
        ``keep = "last"`` (an event log, whose last row of a key is its final state) the
        earlier rows are superseded, not broken: they are counted as left out."""
        spec = plan.table
        key = ", ".join(q(k) for k in spec.key)
        ranked = self.store.temp_name("ranked")
        self.scratch.append(ranked)
        last = src.mapping.keep == "last"
        # Only rows whose key repeats are ranked: usually none, and ranking all is slow.
        self.store.execute(
            f"CREATE TEMP TABLE {q(ranked)} AS SELECT {key}, {LINE}, "
            f"row_number() OVER w AS __rn, first_value({LINE}) OVER w AS __kept "
            f"FROM {q(checked)} SEMI JOIN (SELECT {key} FROM {q(checked)} WHERE __check = 0 "
            f"GROUP BY ALL HAVING count(*) > 1) USING ({key}) WHERE __check = 0 "
            f"WINDOW w AS (PARTITION BY {key} ORDER BY {LINE}{' DESC' if last else ''})"
        )
        self.store.execute(f"DELETE FROM {q(ranked)} WHERE __rn = 1")
        (repeated,) = self.store.execute(f"SELECT count(*) FROM {q(ranked)}")[0]
        if last:
            superseded = repeated
            if superseded:
                why = f'superseded by a later row of the same {", ".join(spec.key)} (keep = "last")'
                result.left_out[why] = superseded
            self._stage_clean(index, spec, checked, ranked if repeated else None)
            return
        if not repeated:
            self._stage_clean(index, spec, checked, None)
            return
        shown = " || ', ' || ".join(f"CAST(k.{q(k)} AS VARCHAR)" for k in spec.key)
        why = "' (first seen on line ' || k.__kept || ')'"
        self.store.execute(
            f"INSERT INTO {_REJECTS} SELECT {lit(src.name)}, k.{LINE}, {lit(spec.name)}, "
            f"{lit(src.mapping.shown_name(spec.key[0]))}, 'duplicate_key', "
            f"{lit('duplicate ' + ', '.join(spec.key) + ' ')} || {shown} || {why}, "
            f"{self._raw_json(raw, 'r')}, {index} FROM {q(ranked)} k "
            f"JOIN {q(raw)} r USING ({LINE})"
        )
        self._stage_clean(index, spec, checked, ranked)

    def _stage_clean(
        self, index: int, spec: schema.Table, checked: str, repeated: str | None
    ) -> None:
        """Keep the good rows of ``checked`` (those that broke no rule and are not in
        ``repeated``): the first file of a table becomes its staging table of good rows."""
        clean = self.clean.get(spec.name)
        if clean is None:
            self.store.execute(f"DELETE FROM {q(checked)} WHERE __check > 0")
            if repeated is not None:
                self.store.execute(
                    f"DELETE FROM {q(checked)} USING {q(repeated)} k "
                    f"WHERE {q(checked)}.{LINE} = k.{LINE}"
                )
            self.clean[spec.name] = checked
            return
        cols = ", ".join(q(c) for c in spec.column_names)
        skip = f"ANTI JOIN {q(repeated)} USING ({LINE}) " if repeated is not None else ""
        good = f"SELECT {cols}, __file, {LINE} FROM {q(checked)} {skip}WHERE __check = 0"
        # a later file in the same load replaces an earlier one's rows
        match = " AND ".join(f"{q(clean)}.{q(k)} IS NOT DISTINCT FROM g.{q(k)}" for k in spec.key)
        self.store.execute(f"DELETE FROM {q(clean)} USING ({good}) g WHERE {match}")
        self.store.execute(f"INSERT INTO {q(clean)} BY NAME {good}")

    # ------------------------------------------------------------ across tables

    def _conversations_sql(self) -> str:
        """Conversations as they will be after this load: staged ones override stored ones."""
        staged = self.clean.get("conversations")
        if staged is None:
            return "SELECT conversation_id, created_at FROM conversations"
        return (
            f"SELECT conversation_id, created_at FROM {q(staged)} UNION ALL "
            f"SELECT t.conversation_id, t.created_at FROM conversations t "
            f"ANTI JOIN {q(staged)} s USING (conversation_id)"
        )

    def _cross_check(self, name: str, sources: list[SourceFile]) -> None:
        checks = validate.cross_checks(schema.table(name))
        if not checks:
            return
        clean = self.clean[name]
        ref = q(schema.table(name).references[0].column)
        case = " ".join(f"WHEN {c.fails} THEN {i}" for i, c in enumerate(checks, start=1))
        failed = self.store.temp_name("failed")
        # only the failing rows, with what their reasons name
        named = {ref, *(q(c) for c in ("sent_at",) if c in schema.table(name).column_names)}
        cols = ", ".join(f"s.{c}" for c in sorted(named))
        self.store.execute(
            f"CREATE TEMP TABLE {q(failed)} AS SELECT * FROM (SELECT s.__file, s.{LINE}, "
            f"{cols}, CASE {case} ELSE 0 END AS __check, c.created_at AS __conv_created "
            f"FROM {q(clean)} s LEFT JOIN ({self._conversations_sql()}) c "
            f"ON s.{ref} = c.conversation_id) WHERE __check > 0"
        )
        if self.store.execute(f"SELECT count(*) FROM {q(failed)}")[0][0]:
            for index, raw in self.raw_tables.items():
                if sources[index].table == name:
                    self._reject_cross(index, sources[index], checks, failed, raw)
            self.store.execute(
                f"DELETE FROM {q(clean)} USING {q(failed)} f "
                f"WHERE {q(clean)}.__file = f.__file AND {q(clean)}.{LINE} = f.{LINE}"
            )
        self.store.drop_temp(failed)

    def _reject_cross(
        self, index: int, src: SourceFile, checks: list[validate.CrossCheck], failed: str, raw: str
    ) -> None:
        names = src.mapping
        col_case = " ".join(
            f"WHEN {i} THEN {lit(names.shown_name(c.column))}"
            for i, c in enumerate(checks, start=1)
        )
        rule_case = " ".join(f"WHEN {i} THEN {lit(c.rule)}" for i, c in enumerate(checks, 1))
        msg_case = " ".join(
            f"WHEN {i} THEN {c.message.replace('c.created_at', 's.__conv_created')}"
            for i, c in enumerate(checks, start=1)
        )
        self.store.execute(
            f"INSERT INTO {_REJECTS} SELECT {lit(src.name)}, s.{LINE}, {lit(src.table)}, "
            f"CASE s.__check {col_case} END, CASE s.__check {rule_case} END, "
            f"CASE s.__check {msg_case} END, {self._raw_json(raw, 'r')}, {index} "
            f"FROM {q(failed)} s JOIN {q(raw)} r USING ({LINE}) WHERE s.__file = {index}"
        )

    # ------------------------------------------------------------ the transaction

    def _commit(self, sources: list[SourceFile]) -> dict[str, MergeCounts]:
        merged: dict[str, MergeCounts] = {}
        names = sorted({s.name for s in sources})
        self.progress("merging into the store", 0, 0)
        touched = self.store.temp_name("touched")
        self.store.execute(f"CREATE TEMP TABLE {q(touched)} (conversation_id VARCHAR)")
        try:
            with self.store.transaction():
                self._check_owner()
                kept.before_load(self.target)
                # a first load, whose kept tables are all built whole, need not record
                # which conversations it changed
                record = not (self.fast and kept.rebuilds(self.target) and self._first())
                for name in schema.LOAD_ORDER:
                    if name in self.clean:
                        merged[name] = self.store.merge(
                            name,
                            self.clean[name],
                            self.provided[name],
                            touched if name in kept.SOURCES and record else None,
                            **({} if self.fast else {"insert_new": False}),
                        )
                if isinstance(self.target, PostgresStore):
                    self._land(merged, names, touched)
                    return merged
                kept.refresh(self.store, touched)
                generation.bump(self.store)
                if names:
                    placeholders = ", ".join("?" for _ in names)
                    self.store.execute(
                        f"DELETE FROM quarantine WHERE source IN ({placeholders})", list(names)
                    )
                cols = ", ".join(_REJECT_COLUMNS)
                self.store.execute(
                    f"INSERT INTO quarantine ({cols}, quarantined_at) "
                    f"SELECT {cols}, now() FROM {_REJECTS}"
                )
        finally:
            self.store.drop_temp(touched)
        return merged

    def _land(self, merged: dict[str, MergeCounts], names: list[str], touched: str) -> None:
        """Write the merged rows, the quarantine and the kept facts to the PostgreSQL store,
        in its transaction; the server's counts must be the workspace's. The kept facts of
        the conversations the merges ``touched`` are computed again on the server."""
        assert isinstance(self.target, PostgresStore)
        written = self.target.land(self.store, self.clean, _REJECTS, names)
        for name, (new, updated) in written.items():
            counts = merged[name]
            if (new, updated) != (counts.new, counts.updated):
                raise LoadError(
                    f"{name}: the server wrote {new} new and {updated} changed rows where the "
                    f"checks counted {counts.new} and {counts.updated}; nothing was loaded"
                )
        with self.target.copied(self.store, touched, "conversation_id") as name:
            kept.refresh(self.target, name)
        generation.bump(self.target)

    def _first(self) -> bool:
        """Whether the store holds no conversation yet."""
        return not self.store.execute("SELECT EXISTS (SELECT 1 FROM conversations)")[0][0]

    def _check_owner(self) -> None:
        """With a vendor, refuse the whole load unless every validated row, exactly as it
        will be stored, is the vendor's own."""
        if self.vendor is None:
            return
        foreign = foreign_rows(self.store, self.clean, self.vendor)
        if foreign:
            raise ForeignRecords(self.vendor, foreign)

    def _count_rejects(self) -> None:
        rows = self.store.execute(f"SELECT __file, rule, count(*) FROM {_REJECTS} GROUP BY ALL")
        for index, rule, n in rows:
            self.results[index].quarantined[rule] = n

    def _drop_temps(self) -> None:
        for name in [*self.raw_tables.values(), *self.clean.values(), *self.scratch, _REJECTS]:
            self._drop(name)


class _Reread(Exception):
    """A file the engine read must be streamed instead, to tell the lines of its records."""


def _named_columns(src: SourceFile, header: Sequence[str]) -> None:
    """Every file column the mapping names must be in the file: a LoadError names the first
    one that is not, with the mapping's key and the file's columns."""
    present = set(header)
    for named in src.mapping.file_columns():
        if named.column not in present:
            raise LoadError(
                f"{src.name}: {src.mapping.origin}: {named.key} names the column "
                f"{named.column!r}, which the file does not have; its columns are: "
                f"{', '.join(header)}"
            )
