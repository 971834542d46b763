"""The upsert of staged rows into a stored table, by key: what was new, what changed and
what was already there, and which conversations the change touched (before and after it).

Plain SQL on the store's connection, run inside the load's transaction."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from supportkpi.store import schema

__all__ = ["MergeCounts", "merge", "quoted"]


@dataclass(frozen=True)
class MergeCounts:
    """What one merge did to a table."""

    new: int
    updated: int
    unchanged: int


def quoted(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


_q = quoted


def _key_match(left: str, right: str, spec: schema.Table) -> str:
    """Rows of ``left`` and ``right`` with the same key. Plain equality where the key column
    is required: unlike IS NOT DISTINCT FROM, it lets the engine skip the stored blocks whose
    keys cannot match, so merging a small batch into a large table reads little of it."""
    required = {c.name for c in spec.columns if c.required}
    return " AND ".join(
        f"{left}.{_q(k)} = {right}.{_q(k)}"
        if k in required
        else f"{left}.{_q(k)} IS NOT DISTINCT FROM {right}.{_q(k)}"
        for k in spec.key
    )


def _all_new(raw: duckdb.DuckDBPyConnection, table: str, staged: str, spec: schema.Table) -> bool:
    """Whether no staged key is in ``table`` (at once when the table is empty)."""
    row = raw.execute(f"SELECT EXISTS (SELECT 1 FROM {_q(table)})").fetchone()
    if not (row and row[0]):
        return True
    on = _key_match("s", "t", spec)
    row = raw.execute(
        f"SELECT EXISTS (SELECT 1 FROM {_q(staged)} s SEMI JOIN {_q(table)} t ON {on})"
    ).fetchone()
    return not (row and row[0])


def _insert(
    raw: duckdb.DuckDBPyConnection,
    table: str,
    staged: str,
    touched: str | None,
    spec: schema.Table,
) -> MergeCounts:
    """Insert every staged row, each new (columns not staged are empty, as a merge leaves a
    new row's); its conversations are added to ``touched`` when given."""
    if touched and "conversation_id" in spec.column_names:
        raw.execute(
            f"INSERT INTO {_q(touched)} SELECT conversation_id FROM {_q(staged)} "
            "WHERE conversation_id IS NOT NULL"
        )
    cols = ", ".join(_q(c) for c in spec.column_names)
    row = raw.execute(
        f"INSERT INTO {_q(table)} ({cols}) SELECT {cols} FROM {_q(staged)}"
    ).fetchone()
    return MergeCounts(new=int(row[0]) if row else 0, updated=0, unchanged=0)


def merge(
    raw: duckdb.DuckDBPyConnection,
    table: str,
    staged: str,
    provided: set[str],
    touched: str | None,
    delta: str,
    *,
    insert_new: bool = True,
) -> MergeCounts:
    """Upsert the rows of ``staged`` into ``table`` by key.

    Columns in ``provided`` are taken from the staged rows (an empty value clears);
    the others keep what the store already had, so a file carrying a few columns updates
    those and nothing else. The conversations a new or changed row belongs to, before
    and after the change, are added to the temporary table ``touched`` when given.
    ``delta`` names the temporary table of new and changed rows, dropped before it
    returns. Call inside the store's transaction.

    With ``insert_new``, when none of the staged keys is stored (a first load), the rows
    are inserted as they are, without the join and the table of changes a merge needs.
    """
    spec = schema.table(table)
    if insert_new and _all_new(raw, table, staged, spec):
        return _insert(raw, table, staged, touched, spec)
    on = _key_match("s", "t", spec)
    compared = [c for c in spec.column_names if c in provided and c not in spec.key]
    changed = " OR ".join(f"s.{_q(c)} IS DISTINCT FROM t.{_q(c)}" for c in compared)
    picks = ", ".join(
        f"{'s' if c in provided else 't'}.{_q(c)} AS {_q(c)}" for c in spec.column_names
    )
    raw.execute(
        f"CREATE TEMP TABLE {_q(delta)} AS SELECT {picks}, t.__present IS NOT NULL AS __old "
        f"FROM {_q(staged)} s LEFT JOIN (SELECT *, true AS __present FROM {_q(table)}) t "
        f"ON {on} WHERE t.__present IS NULL" + (f" OR {changed}" if changed else "")
    )
    try:
        new, updated = raw.execute(
            f"SELECT count(*) FILTER (NOT __old), count(*) FILTER (__old) FROM {_q(delta)}"
        ).fetchone() or (0, 0)
        total = raw.execute(f"SELECT count(*) FROM {_q(staged)}").fetchone()
        match = _key_match(_q(table), "d", spec)
        if touched and "conversation_id" in spec.column_names:
            raw.execute(
                f"INSERT INTO {_q(touched)} SELECT conversation_id FROM {_q(delta)} "
                f"WHERE conversation_id IS NOT NULL"
            )
            if updated:
                raw.execute(
                    f"INSERT INTO {_q(touched)} SELECT {_q(table)}.conversation_id "
                    f"FROM {_q(table)} JOIN {_q(delta)} d ON d.__old AND {match} "
                    f"WHERE {_q(table)}.conversation_id IS NOT NULL"
                )
        if updated:
            raw.execute(f"DELETE FROM {_q(table)} USING {_q(delta)} d WHERE d.__old AND {match}")
        cols = ", ".join(_q(c) for c in spec.column_names)
        raw.execute(f"INSERT INTO {_q(table)} ({cols}) SELECT {cols} FROM {_q(delta)}")
    finally:
        raw.execute(f"DROP TABLE IF EXISTS temp.{_q(delta)}")
    assert total is not None
    return MergeCounts(new=new, updated=updated, unchanged=total[0] - new - updated)
