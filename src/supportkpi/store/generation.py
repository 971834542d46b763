"""The store's generation: a number every committed load raises by one.

Kept in the store itself (the one-row table ``store_generation``), written inside the load's
own transaction, so it moves exactly when the data does and every process reading the store
sees the same number: an answer computed at one generation is still the answer while the
generation has not moved. A store no load has written to yet is at generation 0.
"""

from __future__ import annotations

from supportkpi.store.store import Store

TABLE = "store_generation"

__all__ = ["TABLE", "bump", "current"]


def bump(store: Store) -> int:
    """Raise the generation by one and return it; call inside the load's transaction."""
    store.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (generation BIGINT NOT NULL)")
    if not store.execute(f"SELECT 1 FROM {TABLE}"):
        store.execute(f"INSERT INTO {TABLE} VALUES (0)")
    store.execute(f"UPDATE {TABLE} SET generation = generation + 1")
    return current(store)


def current(store: Store) -> int:
    """The store's generation: how many loads have been committed to it (0 for none)."""
    if not store.exists(TABLE):
        return 0
    rows = store.execute(f"SELECT max(generation) FROM {TABLE}")
    return int(rows[0][0] or 0) if rows else 0
