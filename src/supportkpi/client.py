"""The Python API's connection: a store plus its settings, with load and report on it."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import pyarrow as pa

from supportkpi.analysis import query, views
from supportkpi.config import Config, load_config
from supportkpi.kpis import Kpi, all_kpis
from supportkpi.load import ingest
from supportkpi.sources.mapping import Mapping as ColumnMapping
from supportkpi.store import kept
from supportkpi.store.store import Store
from supportkpi.workforce import staffing
from supportkpi.workforce.predict import Forecast
from supportkpi.workforce.roster import Roster, Rules


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

    def forecast(
        self, days: int = 7, interval: int = 30, by: Sequence[str] = ("channel",)
    ) -> list[Forecast]:
        """Each group's forecast: expected arrivals per interval with an 80 % interval, the model
        its backtest chose (``.backtest``), what cleaning did (``.account``), warnings, or why
        it cannot be forecast (``.reason``)."""
        return staffing.forecasts(self.store, self.config, days, interval, by)

    def staff(
        self, days: int = 7, interval: int = 30, by: Sequence[str] = ("channel",)
    ) -> staffing.Plan:
        """Agents needed per interval and group (``.intervals``), with notes on the forecasts."""
        return staffing.plan(self.store, self.config, days, interval, by)

    def roster(
        self,
        rules: Rules,
        days: int = 7,
        interval: int = 30,
        by: Sequence[str] = ("channel",),
        plan: staffing.Plan | None = None,
    ) -> list[tuple[tuple, Roster]]:
        """Per group, the least-cost shifts covering the staffing plan's scheduled agents: the
        ``plan`` given (made with the same ``by``), else a new one (see
        :func:`supportkpi.workforce.roster.roster` to roster your own requirements)."""
        plan = plan or self.staff(days, interval, by)
        return staffing.rosters(plan, by, rules)

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
