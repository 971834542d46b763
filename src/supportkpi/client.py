"""The Python API's connection: a store plus its settings, with load and report on it."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from supportkpi.analysis import query, views
from supportkpi.analysis.review import Review
from supportkpi.config import Config, load_config
from supportkpi.kpis import Kpi, all_kpis
from supportkpi.load import ingest
from supportkpi.reports import alerts, monthly
from supportkpi.sources.mapping import Mapping as ColumnMapping
from supportkpi.store import kept
from supportkpi.store.store import Store


class Connection:
    """A store and its configuration; ``supportkpi.connect()`` makes one."""

    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config

    def load(
        self,
        paths: Sequence[str | Path],
        *,
        table: str | None = None,
        mapping: ColumnMapping | None = None,
    ) -> ingest.LoadSummary:
        """Validate and load files in one transaction (see :func:`supportkpi.load.ingest.load`)."""
        return ingest.load(self.store, paths, table=table, mapping=mapping)

    def report(
        self,
        kpis: Sequence[str] | None = None,
        by: Sequence[str] = ("vendor",),
        period: str | None = None,
        start: date | None = None,
        end: date | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        tz: str | None = None,
        family: str | None = None,
    ) -> query.Report:
        """KPIs per group as an Arrow table (``.table``), with ``.to_pandas()``/``.to_polars()``."""
        return query.report(
            self.store, kpis, by, period, start, end, filters, tz, self.config, family
        )

    def escalation_reasons(
        self,
        by: Sequence[str] = ("vendor",),
        period: str | None = None,
        start: date | None = None,
        end: date | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        tz: str | None = None,
    ) -> pa.Table:
        """Escalations per group and reason."""
        return views.escalation_reasons(
            self.store, by, period, start, end, filters, tz, self.config
        )

    def review(self, vendor: str, month: str, tz: str | None = None) -> Review:
        """A vendor's monthly review as data (contract, volume, quality, cost, agents…)."""
        return monthly.build(self.store, self.config, vendor, month, tz)

    def review_html(self, vendor: str, month: str, tz: str | None = None) -> str:
        """The monthly review as one self-contained HTML document, as ``supportkpi review``."""
        return monthly.review_html(self.store, self.config, vendor, month, tz)

    def check_alerts(self, at: datetime | None = None) -> list[alerts.Outcome]:
        """Check the config's alert rules once, as ``supportkpi alerts check`` (the store must
        be open for writing: the alerts' state is kept in it)."""
        return alerts.check(self.store, self.config, at)

    def tables(self) -> dict[str, int]:
        """Row count of every table."""
        return self.store.counts()

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect(
    db: str | os.PathLike[str] | None = None,
    *,
    config: Config | str | os.PathLike[str] | None = None,
    read_only: bool = False,
) -> Connection:
    """Open the store at ``db`` (a DuckDB file or ``duckdb:///`` URL; default
    ``$SUPPORTKPI_DB`` or ``./supportkpi.duckdb``) with ``config`` (a :class:`Config`, a path to
    a TOML file, or by default ``$SUPPORTKPI_CONFIG`` or ``./supportkpi.toml`` if present)."""
    settings = config if isinstance(config, Config) else load_config(config)
    store = Store.open(db, read_only=read_only)
    if not read_only and kept.repair(store):
        warnings.warn(kept.REBUILT, kept.KeptFactsRebuilt, stacklevel=2)
    return Connection(store, settings)


def kpis() -> list[Kpi]:
    """Every KPI in the registry, in KPIS.md order."""
    return all_kpis()
