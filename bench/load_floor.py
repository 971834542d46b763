"""The hand-written floor of a validated first load: every file read by DuckDB's own reader,
typed with TRY_CAST, each row checked against the same rules as ours (required values, allowed
values, ranges, timestamps in order, keys repeated in the file, references to unknown
conversations, messages before their conversation), the rejected rows kept in the quarantine
with their raw record, the good rows inserted, and the conversation facts kept by our own
rebuild, all in one transaction. It does no more: no mappings, value maps, time zones, offsets
in text, or per-column reasons, so ours ÷ floor is what all that costs.

    python -m bench.load_floor DB FILES_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from supportkpi.store import kept, schema
from supportkpi.store.schema import Column, Table
from supportkpi.store.store import Store

TYPES = {"text": "VARCHAR", "int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN",
         "timestamp": "TIMESTAMPTZ"}  # fmt: skip


def _reader(paths: list[Path]) -> str:
    files = "[" + ", ".join(f"'{p}'" for p in paths) + "]"
    if paths[0].suffix == ".parquet":
        return (
            "SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS line "
            f"FROM read_parquet({files}, file_row_number = true)"
        )
    return (
        f"SELECT *, row_number() OVER () + 1 AS line FROM read_csv({files}, header = true, "
        "all_varchar = true)"
    )


def _rules(spec: Table, have: set[str]) -> list[str]:
    """SQL conditions, each true when a row breaks one rule."""
    out = []
    for c in spec.columns:
        if c.name not in have:
            continue
        v = f'"{c.name}"'
        if c.required:
            out.append(f"{v} IS NULL")
        if c.kind != "text":
            out.append(f'"__raw_{c.name}" IS NOT NULL AND {v} IS NULL')  # does not cast
        if c.choices:
            out.append(f"{v} NOT IN ({', '.join(repr(x) for x in c.choices)})")
        out += _ranges(c, v)
    for o in spec.orderings:
        if {o.later, o.earlier} <= have:
            out.append(f'"{o.later}" < "{o.earlier}"')
    return out


def _ranges(c: Column, v: str) -> list[str]:
    out = []
    if c.minimum is not None:
        out.append(f"{v} < {c.minimum}")
    if c.maximum is not None:
        out.append(f"{v} > {c.maximum}")
    return out


def load_table(store: Store, spec: Table, paths: list[Path]) -> None:
    """Type, check and insert one table's files (call inside the transaction)."""
    run = store.raw.execute
    run(f"CREATE OR REPLACE TEMP VIEW raw_{spec.name} AS {_reader(paths)}")
    have = set(store.columns(f"raw_{spec.name}")) & set(spec.column_names)
    typed = ", ".join(
        f'TRY_CAST(r."{c.name}" AS {TYPES[c.kind]}) AS "{c.name}"'
        if c.name in have
        else f'NULL::{TYPES[c.kind]} AS "{c.name}"'
        for c in spec.columns
    )
    rules = _rules(spec, have)
    broken = " ".join(f"WHEN {r} THEN {i}" for i, r in enumerate(rules, 1))
    key = ", ".join(f'"{k}"' for k in spec.key)
    cols = ", ".join(f'"{c}"' for c in spec.column_names)
    given = "".join(f', r."{c}" AS "__raw_{c}"' for c in sorted(have))
    run(
        f"CREATE OR REPLACE TEMP TABLE t AS SELECT line, {cols}, CASE {broken} ELSE 0 END "
        f"AS rule FROM (SELECT r.line, {typed}{given} FROM raw_{spec.name} r)"
    )
    run(
        f"UPDATE t SET rule = -1 FROM (SELECT line, row_number() OVER (PARTITION BY {key} "
        f"ORDER BY line) AS n FROM t WHERE rule = 0 QUALIFY n > 1) d WHERE t.line = d.line"
    )
    if "conversation_id" in spec.column_names and spec.name != "conversations":
        run(
            "UPDATE t SET rule = -2 FROM (SELECT t.line FROM t LEFT JOIN conversations c "
            "USING (conversation_id) WHERE t.rule = 0 AND t.conversation_id IS NOT NULL AND "
            "(c.conversation_id IS NULL"
            + (" OR t.sent_at < c.created_at" if spec.name == "messages" else "")
            + ")) b WHERE t.line = b.line"
        )
    run(
        f"INSERT INTO quarantine (source, line, table_name, rule, reason, raw, quarantined_at) "
        f"SELECT '{spec.name}', t.line, '{spec.name}', CAST(t.rule AS VARCHAR), 'broken', "
        f"to_json(r), now() FROM t JOIN raw_{spec.name} r USING (line) WHERE t.rule <> 0"
    )
    run(f"INSERT INTO {spec.name} ({cols}) SELECT {cols} FROM t WHERE rule = 0")
    run(f"DROP VIEW raw_{spec.name}")


def load(db: str, directory: Path) -> None:
    """Every table's files of ``directory`` into a fresh store, then the kept facts."""
    store = Store.open(db)
    files = sorted(p for p in directory.iterdir() if p.is_file())
    with store.transaction():
        for name in schema.LOAD_ORDER:
            mine = [p for p in files if p.name.split(".")[0] == name]
            if mine:
                load_table(store, schema.table(name), mine)
        kept.rebuild(store)
    store.close()


if __name__ == "__main__":
    load(sys.argv[1], Path(sys.argv[2]))
