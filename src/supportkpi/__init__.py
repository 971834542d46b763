"""supportkpi: customer-support KPIs per vendor, team, agent and channel.

The public Python API::

    import supportkpi
    store = supportkpi.connect("supportkpi.duckdb")
    summary = supportkpi.load(store, ["conversations.csv", "messages.parquet"])
"""

from __future__ import annotations

from pathlib import Path

from supportkpi.ingest import LoadError, LoadSummary, load
from supportkpi.sources.mapping import Mapping, MappingError, load_mapping
from supportkpi.store import Store, StoreError

__version__ = "0.1.0"
__all__ = [
    "LoadError",
    "LoadSummary",
    "Mapping",
    "MappingError",
    "Store",
    "StoreError",
    "__version__",
    "connect",
    "load",
    "load_mapping",
]


def connect(db: str | Path | None = None, *, read_only: bool = False) -> Store:
    """Open the store at ``db`` (a DuckDB file or ``duckdb:///`` URL; default
    ``$SUPPORTKPI_DB`` or ``./supportkpi.duckdb``), creating its tables when new."""
    return Store.open(db, read_only=read_only)
