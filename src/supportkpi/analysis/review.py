"""The monthly vendor review: everything a manager mails to a vendor about one month.

:func:`review` gathers, for one vendor (``in-house`` is one too) and one calendar month in the
report's zone, the contract (each target as :func:`~supportkpi.analysis.sla.sla` judges it, with
the previous month and a six-month trend), the breaches of each per-conversation target, volume
by day and by weekday × hour, quality, escalations by reason, cost per contact beside in-house
and the contract, the agents with their sample sizes, and the KPIs that moved most since the
previous month, in words. It only asks the query service, so every number equals what
``supportkpi sla`` and ``supportkpi report`` print for the same month.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from supportkpi.analysis.breach_counts import count_breaches
from supportkpi.analysis.query import QueryError, report, run
from supportkpi.analysis.samples import sample_column, sample_kpi
from supportkpi.analysis.sla import IN_HOUSE, Standing, sla, standings, vendors
from supportkpi.analysis.views import escalation_reasons, trend_verdict, weekday_hour_volume
from supportkpi.config import Config
from supportkpi.kpis import REGISTRY, Kpi, Unit
from supportkpi.kpis.registry import humanise
from supportkpi.store.store import Store

HISTORY_MONTHS = 6
WATCHED = (
    "chat_volume",
    "first_response_time",
    "service_level",
    "resolution_time",
    "average_handle_time",
    "first_contact_resolution",
    "resolution_rate",
    "escalation_rate",
    "transfer_rate",
    "reopen_rate",
    "abandonment_rate",
    "csat",
    "csat_mean",
    "nps",
    "ces",
    "qa_score",
    "survey_response_rate",
    "cost_per_contact",
)
QUALITY = ("csat", "csat_mean", "nps", "ces", "qa_score", "survey_response_rate", "escalation_rate")
AGENT_KPIS = (
    "chat_volume",
    "first_response_time",
    "average_handle_time",
    "first_contact_resolution",
    "csat",
    "qa_score",
)
CHANGES_SHOWN = 5


@dataclass(frozen=True)
class ContractLine:
    """One target of the vendor's contract for the month, as ``sla`` judges it, with the
    previous month, the six-month trend and, for a per-conversation target, its breaches."""

    kpi: str
    label: str
    scope: str
    target: str
    unit: str
    achieved: float | None
    attainment: float | None
    compliance: float | None
    status: str
    source: str
    reason: str | None
    previous: float | None
    change: float | None
    trend: str | None
    history: tuple[tuple[str, float | None], ...]
    breaches: int | None = None
    measured: int | None = None


@dataclass(frozen=True)
class Change:
    """A KPI that moved between the previous month and this one, said in words."""

    kpi: str
    label: str
    unit: str
    now: float
    previous: float
    change: float
    relative: float | None
    trend: str | None
    sentence: str


@dataclass(frozen=True)
class Review:
    """The month's review of one vendor; see the module doc."""

    vendor: str
    month: str
    start: date
    end: date
    previous_month: str
    timezone: str
    generated_at: datetime
    contract: tuple[ContractLine, ...]
    volume_by_day: tuple[tuple[date, int], ...]
    heatmap: tuple[tuple[int, int, int], ...]
    kpis: dict[str, float | None]
    previous_kpis: dict[str, float | None]
    samples: dict[str, int | None]
    missing: dict[str, str]
    escalations: tuple[dict[str, Any], ...]
    cost: dict[str, Any]
    agents: tuple[dict[str, Any], ...]
    changes: tuple[Change, ...]
    forecast: dict[str, Any] | None = field(default=None)
    standing: Standing | None = field(default=None)


def month_range(month: str) -> tuple[date, date]:
    """'2026-07' → (2026-07-01, 2026-07-31); a QueryError for anything else."""
    if not re.fullmatch(r"\d{4}-\d{2}", month or ""):
        raise QueryError(f"month {month!r} is not YYYY-MM")
    year, number = int(month[:4]), int(month[5:])
    if not 1 <= number <= 12:
        raise QueryError(f"month {month!r} is not YYYY-MM")
    start = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return start, following - timedelta(days=1)


def months_before(start: date, count: int) -> date:
    """The first day of the month ``count`` months before the month starting ``start``."""
    index = start.year * 12 + start.month - 1 - count
    return date(index // 12, index % 12 + 1, 1)


def review(
    store: Store,
    config: Config,
    vendor: str,
    month: str,
    tz: str | None = None,
    *,
    in_house: bool = True,
) -> Review:
    """The review of ``vendor`` for ``month`` (YYYY-MM); see the module doc.
    ``in_house=False`` leaves out the in-house cost per contact (for a reader who may see
    only the vendor's own figures)."""
    if vendor not in vendors(store):
        raise QueryError(f"no conversations of vendor {vendor!r}; `supportkpi sla` lists them")
    start, end = month_range(month)
    before = months_before(start, 1)
    zone = tz or config.timezone
    filters = {"vendor": [vendor]}
    lines, standing = _contract(store, config, vendor, start, end, zone)
    watched = _watched(store, config, filters, before, start, end, zone)
    return Review(
        vendor=vendor,
        month=month,
        start=start,
        end=end,
        previous_month=before.strftime("%Y-%m"),
        timezone=zone,
        generated_at=datetime.now(UTC).replace(microsecond=0),
        contract=lines,
        volume_by_day=_volume_by_day(store, config, filters, start, end, zone),
        heatmap=tuple(
            (r["weekday"], r["hour"], r["conversations"])
            for r in weekday_hour_volume(store, start, end, filters, zone, config).to_pylist()
        ),
        kpis=watched["now"],
        previous_kpis=watched["before"],
        samples=watched["samples"],
        missing=watched["missing"],
        escalations=tuple(
            escalation_reasons(store, (), None, start, end, filters, zone, config).to_pylist()
        ),
        cost=_cost(store, config, vendor, lines, start, end, zone, in_house),
        agents=_agents(store, config, filters, start, end, zone),
        changes=_changes(watched["now"], watched["before"]),
        standing=standing,
    )


def _key(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["kpi"], row["scope"], row["target"]


def _contract(
    store: Store, config: Config, vendor: str, start: date, end: date, tz: str
) -> tuple[tuple[ContractLine, ...], Standing | None]:
    first = months_before(start, HISTORY_MONTHS - 1)
    monthly = sla(store, config, vendor, "month", first, end, tz).to_pylist()
    # one judgement per month: this month's rows, in sla's order, are sla's over the month
    now = [{**r, "month": None} for r in monthly if r["month"].date() == start]
    standing = next(iter(standings(config, now)), None)
    labels = [months_before(start, n).strftime("%Y-%m") for n in range(HISTORY_MONTHS - 1, -1, -1)]
    history: dict[tuple[str, str, str], dict[str, float | None]] = {}
    for row in monthly:
        history.setdefault(_key(row), {})[row["month"].strftime("%Y-%m")] = row["achieved"]
    breaches = count_breaches(store, config, vendor, start, end, tz)
    lines = []
    for row in now:
        kpi = REGISTRY[row["kpi"]]
        past = history.get(_key(row), {})
        previous = past.get(labels[-2])
        achieved = row["achieved"]
        counted = breaches.get((row["kpi"], row["scope"], row["target"]), (None, None))
        lines.append(
            ContractLine(
                kpi=row["kpi"],
                label=kpi.label,
                scope=row["scope"],
                target=row["target"],
                unit=row["unit"],
                achieved=achieved,
                attainment=row["attainment"],
                compliance=row["compliance"],
                status=row["status"],
                source=row["source"],
                reason=row["reason"],
                previous=previous,
                change=None if achieved is None or previous is None else achieved - previous,
                trend=trend_verdict(kpi, achieved, previous),
                history=tuple((label, past.get(label)) for label in labels),
                breaches=counted[0],
                measured=counted[1],
            )
        )
    return tuple(lines), standing


def _watched(
    store: Store,
    config: Config,
    filters: dict[str, list[str]],
    before: date,
    start: date,
    end: date,
    tz: str,
) -> dict[str, Any]:
    """The watched KPIs and their sample sizes this month and the month before."""
    chosen = [REGISTRY[n] for n in WATCHED]
    extra = [s for k in chosen if (s := sample_kpi(k)) is not None]
    result = run(store, chosen + extra, ["month"], None, before, end, filters, tz, config)
    rows = {r["month"].date(): r for r in result.table.to_pylist()}
    now, prior = rows.get(start, {}), rows.get(before, {})
    columns = [c for k in chosen for c in k.columns]
    return {
        "now": {c: now.get(c) for c in columns},
        "before": {c: prior.get(c) for c in columns},
        "samples": {k.name: now.get(sample_column(k.name)) for k in chosen},
        "missing": {k: v for k, v in result.missing.items() if k in WATCHED},
    }


def _volume_by_day(
    store: Store, config: Config, filters: dict[str, list[str]], start: date, end: date, tz: str
) -> tuple[tuple[date, int], ...]:
    result = report(store, ["chat_volume"], ["day"], None, start, end, filters, tz, config)
    counts = {r["day"].date(): r["chat_volume"] for r in result.table.to_pylist()}
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    return tuple((d, counts.get(d, 0)) for d in days)


def _cost(
    store: Store,
    config: Config,
    vendor: str,
    lines: Sequence[ContractLine],
    start: date,
    end: date,
    tz: str,
    in_house: bool = True,
) -> dict[str, Any]:
    """Cost per contact of the vendor, in-house, and the contract's target for it."""
    shown = [vendor, IN_HOUSE] if in_house else [vendor]  # never another vendor's figures
    only = {"vendor": shown}
    result = report(store, ["cost_per_contact"], ["vendor"], None, start, end, only, tz, config)
    values = {r["vendor"]: r["cost_per_contact"] for r in result.table.to_pylist()}
    line = next((x for x in lines if x.kpi == "cost_per_contact"), None)
    mine, base = values.get(vendor), values.get(IN_HOUSE)
    return {
        "vendor": mine,
        "in_house": base,
        "vendors": values,
        "target": line.target if line else None,
        "status": line.status if line else None,
        "vs_in_house": None if mine is None or not base else mine / base - 1,
        "missing": result.missing.get("cost_per_contact"),
    }


def _agents(
    store: Store, config: Config, filters: dict[str, list[str]], start: date, end: date, tz: str
) -> tuple[dict[str, Any], ...]:
    """Each agent's KPIs of the month with the number of rows each was measured over."""
    chosen = [REGISTRY[n] for n in AGENT_KPIS]
    extra = [s for k in chosen if (s := sample_kpi(k)) is not None]
    result = run(store, chosen + extra, ["agent"], None, start, end, filters, tz, config)
    rows = [r for r in result.table.to_pylist() if r["agent"] is not None]
    rows.sort(key=lambda r: (-(r.get("chat_volume_handled") or 0), r["agent"]))
    return tuple(rows)


def _changes(now: dict[str, float | None], before: dict[str, float | None]) -> tuple[Change, ...]:
    """The watched KPIs that moved most (relative change), largest first, in words."""
    found = []
    for name in WATCHED:
        kpi = REGISTRY[name]
        a, b = now.get(name), before.get(name)
        if a is None or b is None or a == b:
            continue
        relative = (a - b) / abs(b) if b else None
        found.append(
            Change(
                name,
                kpi.label,
                kpi.unit.value,
                a,
                b,
                a - b,
                relative,
                trend_verdict(kpi, a, b),
                _sentence(kpi, a, b),
            )
        )
    found.sort(key=lambda c: -abs(c.relative if c.relative is not None else float("inf")))
    return tuple(found[:CHANGES_SHOWN])


def _sentence(kpi: Kpi, now: float, before: float) -> str:
    """'CSAT fell from 78.0 % to 73.8 % (−4.2 points), a worsening.'"""
    verb = "rose" if now > before else "fell"
    if kpi.unit is Unit.RATE:
        moved = f"{(now - before) * 100:+.1f} points"
    elif before:
        moved = f"{(now - before) / abs(before) * 100:+.1f} %"
    else:
        moved = "from zero"
    verdict = trend_verdict(kpi, now, before)
    said = {"improved": ", an improvement", "worsened": ", a worsening"}.get(verdict or "", "")
    return (
        f"{kpi.label} {verb} from {humanise(before, kpi.unit)} to {humanise(now, kpi.unit)} "
        f"({moved.replace('-', '−')}){said}."
    )
