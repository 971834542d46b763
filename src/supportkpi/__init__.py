"""supportkpi: customer-support KPIs per vendor, team, agent and channel.

The public Python API::

    import supportkpi

    con = supportkpi.connect("supportkpi.duckdb")
    con.load(["conversations.csv", "messages.parquet"])
    scorecard = con.report(by=["vendor", "month"])       # an Arrow table in .table
    scorecard.to_pandas()
    con.conversations("first_response_time", filters={"vendor": ["atlas"]}).to_pandas()
    supportkpi.kpis()                                    # the registry
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from supportkpi.analysis.conversations import Conversations
    from supportkpi.analysis.query import QueryError, Report
    from supportkpi.client import Connection, connect, kpis
    from supportkpi.config import Config, ConfigError, load_config
    from supportkpi.load.ingest import LoadError, LoadSummary, load
    from supportkpi.sources.mapping import Mapping, MappingError, load_mapping
    from supportkpi.store.store import Store, StoreError

# Imported on first use (PEP 562), so that `supportkpi --help` starts without the engine.
_WHERE = {
    "Conversations": "supportkpi.analysis.conversations",
    "QueryError": "supportkpi.analysis.query",
    "Report": "supportkpi.analysis.query",
    "Connection": "supportkpi.client",
    "connect": "supportkpi.client",
    "kpis": "supportkpi.client",
    "Config": "supportkpi.config",
    "ConfigError": "supportkpi.config",
    "load_config": "supportkpi.config",
    "LoadError": "supportkpi.load.ingest",
    "LoadSummary": "supportkpi.load.ingest",
    "load": "supportkpi.load.ingest",
    "Mapping": "supportkpi.sources.mapping",
    "MappingError": "supportkpi.sources.mapping",
    "load_mapping": "supportkpi.sources.mapping",
    "Store": "supportkpi.store.store",
    "StoreError": "supportkpi.store.store",
}


def __getattr__(name: str) -> Any:
    """The public API's names, each imported from its module when first asked for."""
    if name not in _WHERE:
        raise AttributeError(f"module 'supportkpi' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


class _Package(ModuleType):
    """This package: ``load`` and ``kpis`` are functions of the API that share their names
    with subpackages; importing a subpackage must not replace the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _WHERE and isinstance(value, ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__version__ = "0.1.0"
__all__ = [
    "Config",
    "ConfigError",
    "Connection",
    "Conversations",
    "LoadError",
    "LoadSummary",
    "Mapping",
    "MappingError",
    "QueryError",
    "Report",
    "Store",
    "StoreError",
    "__version__",
    "connect",
    "kpis",
    "load",
    "load_config",
    "load_mapping",
]
