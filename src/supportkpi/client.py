"""The Python API's connection: a store plus its settings, with load and report on it."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from supportkpi.analysis import breaches, comments, query, timeline, views
from supportkpi.analysis import conversations as drill
from supportkpi.analysis.conversations import Conversations
from supportkpi.analysis.result import Result
from supportkpi.analysis.review import Review
from supportkpi.analysis.sla import COMPARED
from supportkpi.analysis.sla import compare as compare_vendors
from supportkpi.analysis.sla import sla as sla_table
from supportkpi.config import Config, load_config
from supportkpi.kpis import Kpi, all_kpis
from supportkpi.load import ingest
from supportkpi.reports import alerts, monthly, schedules
from supportkpi.sources.mapping import Mapping as ColumnMapping
from supportkpi.store import kept
from supportkpi.store.engine import EngineStore, is_engine_config
from supportkpi.store.store import Store
from supportkpi.workforce import actual, staffing, what_if
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
            self.store, kpis, by, period, start, end, filters, tz, self.config, family, explain=True
        )

    def escalation_reasons(
        self,
        by: Sequence[str] = ("vendor",),
        period: str | None = None,
        start: date | None = None,
        end: date | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        tz: str | None = None,
    ) -> Result:
        """Escalations per group and reason."""
        return Result(
            views.escalation_reasons(self.store, by, period, start, end, filters, tz, self.config)
        )

    def sla(
        self,
        vendor: str | None = None,
        period: str | None = None,
        start: date | None = None,
        end: date | None = None,
        tz: str | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
    ) -> Result:
        """Each vendor's contract, target by target: the target (as text and as operator,
        value and upper bound), achieved, attainment, compliance and status, worst first; by
        ``period`` (week, month…) each period judged apart; ``filters`` (channel, team…)
        narrow what every target is judged over. As ``supportkpi sla``."""
        return Result(sla_table(self.store, self.config, vendor, period, start, end, tz, filters))

    def compare(
        self,
        kpis: Sequence[str] = COMPARED,
        start: date | None = None,
        end: date | None = None,
        tz: str | None = None,
        channel: Sequence[str] | None = None,
    ) -> Result:
        """In-house against each vendor, KPI by KPI, with the difference and whether it is
        better or worse. As ``supportkpi compare``."""
        return Result(
            compare_vendors(self.store, self.config, kpis, start, end, tz, channel=channel)
        )

    def quarantine(self, reason: str | None = None, limit: int | None = 50) -> Result:
        """The rows loads set aside, with file, line, table, column, rule and the reason in
        words (``.total`` of them in all; ``limit=None`` lists every one); ``reason`` keeps one
        rule, or the reasons containing the text. As ``supportkpi quarantine``."""
        total, rows = self.store.quarantined(reason, limit)
        names = ["source", "line", "table", "column", "rule", "reason"]
        columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
        types = [pa.string(), pa.int64(), pa.string(), pa.string(), pa.string(), pa.string()]
        arrays = [pa.array(list(c), type=t) for c, t in zip(columns, types, strict=True)]
        return Result(pa.Table.from_arrays(arrays, names=names), total=total)

    def conversations(
        self,
        kpi: str | None = None,
        *,
        outcome: bool | None = None,
        missed: str | None = None,
        by: Sequence[str] = (),
        at: date | None = None,
        start: date | None = None,
        end: date | None = None,
        filters: Mapping[str, Sequence[str | None]] | None = None,
        tz: str | None = None,
        sort: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> Conversations:
        """The conversations behind a report cell (``.table``, ``.total``, ``.to_pandas()``):
        ``kpi`` keeps those it is measured over, with the ``value`` each adds; ``outcome``
        True/False those in its numerator or not; ``missed`` those that missed the KPI's
        target; ``by`` and ``at`` the report's grouping and the cell's period; a ``None``
        among a filter's values the group without a value. ``limit=None``: every row."""
        return drill.conversations(
            self.store,
            self.config,
            kpi=kpi,
            outcome=outcome,
            missed=missed,
            by=by,
            at=at,
            start=start,
            end=end,
            filters=filters,
            tz=tz,
            sort=sort,
            limit=limit,
            offset=offset,
        )

    def conversation(self, conversation_id: str, tz: str | None = None) -> dict[str, Any]:
        """One conversation: its facts, messages (replies and private notes marked), survey
        answers and QA reviews; :class:`supportkpi.analysis.timeline.NotFound` if unknown."""
        return timeline.timeline(self.store, conversation_id, self.config, tz)

    def comments(
        self,
        by: Sequence[str] = ("vendor",),
        start: date | None = None,
        end: date | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
        tz: str | None = None,
        per_group: int = 10,
    ) -> Result:
        """The lowest-rated CSAT and NPS answers with a comment, per group."""
        return Result(
            comments.low_rated_comments(
                self.store, self.config, by, start, end, filters, tz, per_group=per_group
            )
        )

    def sla_breaches(
        self,
        vendor: str | None = None,
        start: date | None = None,
        end: date | None = None,
        tz: str | None = None,
        per_target: int = 10,
    ) -> Result:
        """The conversations that missed each per-conversation target, worst first."""
        return Result(
            breaches.breaches(self.store, self.config, vendor, start, end, tz, per_target)
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

    def publish_plan(
        self,
        plan: staffing.Plan,
        by: Sequence[str] = ("channel",),
        name: str | None = None,
        rosters: Sequence[tuple[tuple, Roster]] = (),
    ) -> str:
        """Keep a staffing plan (made with ``by``) and its rosters in the store, as
        ``supportkpi plan publish``; its id (the store must be open for writing)."""
        return actual.publish(self.store, self.config, plan, by, name, rosters)

    def plan_actual(self, plan_id: str | None = None) -> actual.Comparison:
        """A published plan (default: the latest) against what came, as
        ``supportkpi plan actual``: ``.summary``, ``.days``, ``.intervals``."""
        return actual.compare(self.store, self.config, plan_id)

    def run_schedules(self, at: datetime | None = None) -> list[schedules.Outcome]:
        """Make and send the config's scheduled reports that are due, as ``supportkpi schedule
        run`` (the store must be open for writing: what was sent is kept in it)."""
        return schedules.run(self.store, self.config, at)

    def erlang(
        self,
        arrivals: float,
        aht: float,
        interval: int = 30,
        answer_within: float = 20,
        service_level: float = 0.8,
        patience: float | None = None,
        *,
        max_occupancy: float = 1.0,
        max_abandon: float | None = None,
        max_wait: float | None = None,
        concurrency: int = 1,
        growth: float = 0.25,
        shrinkage: float = 0.0,
        agents: int | None = None,
    ) -> what_if.Staffing:
        """One-off staffing of one queue (Erlang A with ``patience``, else Erlang C): the
        fewest agents meeting the targets and what nearby headcounts achieve, or what
        ``agents`` achieve. As ``supportkpi erlang``; needs no store."""
        return what_if.staffing(
            arrivals,
            aht,
            interval,
            answer_within,
            service_level,
            patience,
            max_occupancy,
            max_abandon,
            max_wait,
            concurrency,
            growth,
            shrinkage,
            agents,
        )

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
    if db is not None and is_engine_config(str(db)):
        # another engine's tables, mapped by a settings file (read-only mode)
        return Connection(EngineStore.open(db), settings)  # type: ignore[arg-type]
    store = Store.open(db, read_only=read_only)
    if not read_only and (done := kept.repair(store)):
        warnings.warn(done, kept.KeptFactsRebuilt, stacklevel=2)
    return Connection(store, settings)


def kpis() -> list[Kpi]:
    """Every KPI in the registry, in KPIS.md order."""
    return all_kpis()
