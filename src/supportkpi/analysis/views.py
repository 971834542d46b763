"""Breakdowns the dashboard and the CLI show beside the KPI report: escalations by reason,
volume by weekday and hour, and headline figures against the previous period.

Like :mod:`supportkpi.analysis.query`, these build Ibis expressions over the store's tables with the
report's frame (dates, filters, time zone), so they agree with the report to the row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import ibis
import pyarrow as pa

from supportkpi.analysis.aggregate import grouped
from supportkpi.analysis.compiled import rows_of, windowed
from supportkpi.analysis.query import Report, build_frame, report, report_periods
from supportkpi.analysis.samples import THIN_BELOW, sample_column, thin_column
from supportkpi.analysis.targets import TargetSet, held_to
from supportkpi.config import Config
from supportkpi.kpis import REGISTRY, Direction, Kpi, Unit
from supportkpi.kpis.grains import DIMENSIONS, GRAINS
from supportkpi.kpis.registry import flag
from supportkpi.store.memo import remembered
from supportkpi.store.store import Store

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def escalation_reasons(
    store: Store,
    by: Sequence[str] = ("vendor",),
    period: str | None = None,
    start: date | None = None,
    end: date | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
    tz: str | None = None,
    config: Config | None = None,
) -> pa.Table:
    """Escalations per group and reason: count, share of the group's escalations, and rate
    (escalations for that reason ÷ handled conversations of the group)."""
    frame = build_frame(store, config or Config(), by, period, start, end, filters, tz, False)
    frame = windowed(store, frame)
    rows = GRAINS["conversations"](frame)
    group = list(frame.group)
    handled = grouped(rows, group, __handled=flag(rows.handled).sum())
    esc = rows.filter(rows.handled & rows.escalated.fill_null(False))
    esc = esc.mutate(escalation_reason=esc.escalation_reason.fill_null("(no reason given)"))
    counts = esc.group_by([*group, "escalation_reason"]).aggregate(escalations=ibis._.count())
    totals = grouped(counts, group, __total=counts.escalations.sum())
    joined = (
        counts.cross_join(totals).cross_join(handled)
        if not group
        else counts.join(totals, group).join(handled, group)
    )
    out = joined.select(
        *group,
        "escalation_reason",
        "escalations",
        share_of_escalations=joined.escalations / joined.__total,
        rate=joined.escalations / joined.__handled.nullif(0),
    )
    # ties by name: every engine lists them in the same order
    return rows_of(
        store, frame, out.order_by([*group, ibis.desc("escalations"), "escalation_reason"])
    )


def weekday_hour_volume(
    store: Store,
    start: date | None = None,
    end: date | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
    tz: str | None = None,
    config: Config | None = None,
) -> pa.Table:
    """Conversations created per local weekday (0 = Monday) and hour (0–23): the peak times.
    Only the weekday × hour cells that have conversations are returned."""
    frame = build_frame(store, config or Config(), (), None, start, end, filters, tz, False)
    frame = windowed(store, frame)
    table = frame.tables["conversations"]
    rows = frame.select(table.mutate(agent=table.agent_id), "created_at", DIMENSIONS)
    local = frame.local(rows.created_at)
    rows = rows.mutate(weekday=local.day_of_week.index().cast("int64"), hour=local.hour())
    out = rows.group_by(["weekday", "hour"]).aggregate(conversations=ibis._.count())
    return rows_of(store, frame, out.order_by(["weekday", "hour"]))


def headline(
    store: Store,
    kpis: Sequence[str],
    start: date,
    end: date,
    filters: Mapping[str, Sequence[str]] | None = None,
    tz: str | None = None,
    config: Config | None = None,
) -> dict[str, Any]:
    """Each KPI over ``start``–``end`` with its target status, and over the period of the same
    length just before: the previous value, the change and whether that is an improvement.
    Both periods are one aggregation grouped by period
    (:func:`~supportkpi.analysis.query.report_periods`; a period where some grain has no
    rows is computed on its own)."""
    days = (end - start).days + 1
    before_end = start - timedelta(days=1)
    before_start = before_end - timedelta(days=days - 1)
    now, before = report_periods(
        store,
        kpis,
        [(start, end), (before_start, before_end)],
        filters,
        tz,
        config,
        targets=True,
        samples=True,
    )
    current = now.table.to_pylist()[0] if now.table.num_rows else {}
    previous = before.table.to_pylist()[0] if before.table.num_rows else {}
    vendor = list((filters or {}).get("vendor") or [])
    held = held_to(config or Config(), vendor[0] if len(vendor) == 1 else None)
    channels = _by_channel(store, held, kpis, start, end, filters, tz, config)
    cards = []
    for name in kpis:
        kpi = REGISTRY[name]
        value, prior = current.get(name), previous.get(name)
        cards.append(
            {
                "kpi": name,
                "label": kpi.label,
                "statistic": kpi.outputs[0].meaning,
                "channels": channels.get(name, []),
                "unit": kpi.unit.value,
                "direction": kpi.direction.value,
                "value": value,
                "target": current.get(f"{name}_target"),
                "status": current.get(f"{name}_status"),
                "previous": prior,
                "change": None if value is None or prior is None else value - prior,
                "trend": trend_verdict(kpi, value, prior),
                "missing": now.missing.get(name),
                **_sample(kpi, current),
            }
        )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "previous_from": before_start.isoformat(),
        "previous_to": before_end.isoformat(),
        "held_to": held.name,
        "thin_below": THIN_BELOW,
        "cards": cards,
    }


def _by_channel(
    store: Store,
    held: TargetSet,
    kpis: Sequence[str],
    start: date,
    end: date,
    filters: Mapping[str, Sequence[str]] | None,
    tz: str | None,
    config: Config | None,
) -> dict[str, list[dict[str, Any]]]:
    """Per channel, each KPI whose targets in ``held`` differ by channel (first response:
    a minute on chat, an hour on email): one mean over both would meet neither."""
    split = _split_by_channel(kpis, [held])
    if not split:
        return {}
    result = report(
        store, split, ["channel"], None, start, end, filters, tz, config, targets=True, samples=True
    )
    rows = [r for r in result.table.to_pylist() if r["channel"] is not None]
    return {
        name: [
            {
                "channel": r["channel"],
                "value": r.get(name),
                "target": r.get(f"{name}_target"),
                "status": r.get(f"{name}_status"),
                **_sample(REGISTRY[name], r),
            }
            for r in rows
        ]
        for name in split
    }


def _sample(kpi: Kpi, row: dict[str, Any]) -> dict[str, Any]:
    """How many rows a value of ``row`` was measured over (``sample``, what they are:
    ``sample_of``) and whether that is too few to read it as a fact (``thin``); a count is
    its own sample and never thin."""
    if kpi.unit is Unit.COUNT:
        return {"sample": row.get(kpi.columns[0]), "sample_of": kpi.over, "thin": False}
    if sample_column(kpi.name) not in row:  # not measured over rows of one kind (cost)
        return {"sample": None, "sample_of": None, "thin": False}
    return {
        "sample": row[sample_column(kpi.name)],
        "sample_of": kpi.over,
        "thin": bool(row.get(thin_column(kpi.name))),
    }


def channel_split(
    store: Store,
    result: Report,
    start: date | None = None,
    end: date | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
    tz: str | None = None,
    config: Config | None = None,
) -> Report | None:
    """``result``'s KPIs whose targets differ by channel (first response: a minute on chat,
    an hour on e-mail), again per group and channel with each channel's target: one mean over
    both channels would meet neither target, so a scorecard shows these per channel. None
    when no KPI of ``result`` has a target scoped to a channel, or ``result`` is already
    grouped or filtered by channel."""
    config = config or Config()
    if "channel" in result.group or (filters or {}).get("channel"):
        return None
    if "vendor" in result.group:
        vendors = [v for v in result.table["vendor"].to_pylist() if v is not None]
    else:
        vendors = list((filters or {}).get("vendor") or [None])[:1] or [None]
    sets = [held_to(config, v) for v in dict.fromkeys(vendors)] or [held_to(config)]
    split = _split_by_channel([k.name for k in result.kpis if k.name not in result.missing], sets)
    if not split:
        return None
    return report(
        store,
        split,
        [*result.group, "channel"],
        None,
        start,
        end,
        filters,
        tz,
        config,
        targets=True,
    )


def _split_by_channel(kpis: Sequence[str], sets: Sequence[TargetSet]) -> list[str]:
    """Those of ``kpis`` that one of ``sets`` targets on a single channel."""
    return [k for k in kpis if any(t.kpi == k and t.channel for h in sets for t in h.targets)]


def trend_verdict(kpi: Kpi, now: float | None, before: float | None) -> str | None:
    """improved / worsened / unchanged from ``before`` to ``now``, given which way is better
    (for a band KPI: closer to or further from the band)."""
    if now is None or before is None or kpi.direction is Direction.NONE:
        return None
    change = now - before
    if kpi.direction is Direction.BAND:
        assert kpi.band
        low, high = kpi.band

        def off(x: float) -> float:
            return max(low - x, x - high, 0.0)

        change = off(before) - off(now)
    elif kpi.direction is Direction.LOWER:
        change = -change
    return "improved" if change > 0 else "worsened" if change < 0 else "unchanged"


def filter_values(
    store: Store, columns: Sequence[str], filters: Mapping[str, Sequence[str]] | None = None
) -> dict[str, list[str]]:
    """The distinct values of conversation columns (vendor, channel, team…) within
    ``filters``, sorted: what a dashboard offers to filter by."""
    table = store.table("conversations").mutate(agent=ibis._.agent_id)
    conditions = [table[k].isin(list(v)) for k, v in (filters or {}).items() if v]
    if conditions:
        table = table.filter(*conditions)
    out = {}
    for column in columns:
        values = table.filter(table[column].notnull()).select(column).distinct()
        out[column] = sorted(values.to_pyarrow()[column].to_pylist())
    return out


def data_days(
    store: Store, tz: str | None = None, config: Config | None = None
) -> tuple[date | None, date | None]:
    """The first and last local day with a conversation, or (None, None) when there is none."""
    zone = tz or (config or Config()).timezone
    return remembered(store, ("data_days", zone), lambda: _data_days(store, tz, config))


def _data_days(
    store: Store, tz: str | None, config: Config | None
) -> tuple[date | None, date | None]:
    frame = build_frame(store, config or Config(), (), None, None, None, None, tz, False)
    c = frame.tables["conversations"]
    local = frame.local(c.created_at)
    row = c.aggregate(first=local.min(), last=local.max()).to_pyarrow().to_pylist()[0]
    if row["first"] is None:
        return None, None
    return row["first"].date(), row["last"].date()
