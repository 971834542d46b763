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

from supportkpi.analysis.conversations import Conversations
from supportkpi.analysis.query import QueryError, Report
from supportkpi.client import Connection, connect, kpis
from supportkpi.config import Config, ConfigError, load_config
from supportkpi.load.ingest import LoadError, LoadSummary, load
from supportkpi.sources.mapping import Mapping, MappingError, load_mapping
from supportkpi.store.store import Store, StoreError

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
