"""Report output: JSON records, CSV, Parquet and the humanised terminal scorecard.

The JSON shape is the contract shared by the CLI and the HTTP API: an array with one object per
group, keys exactly the Arrow columns, durations in seconds, rates as fractions, periods as ISO
dates (ISO date-times for hours), missing values as null.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from rich.table import Table

from supportkpi.analysis.query import PERIODS, Report
from supportkpi.analysis.sla import Standing
from supportkpi.kpis import REGISTRY, Unit
from supportkpi.kpis.registry import humanise
from supportkpi.vocabulary import FORMATS  # noqa: F401 - the formats a report is written as


def period_label(value: datetime | date | None, period: str) -> str | None:
    """A period's start as ISO text: a date, or a date-time for hours."""
    if value is None:
        return None
    if period == "hour" and isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:00")
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def records(report: Report) -> list[dict[str, Any]]:
    """The report as JSON-ready objects, one per group."""
    rows = report.table.to_pylist()
    periods = [g for g in report.group if g in PERIODS]
    for row in rows:
        for p in periods:
            row[p] = period_label(row[p], p)
        for key, value in row.items():
            if isinstance(value, float) and not math.isfinite(value):
                row[key] = None
    return rows


def to_json(report: Report) -> str:
    """The report as a JSON array."""
    return json.dumps(records(report), ensure_ascii=False, indent=1)


def to_csv(report: Report) -> str:
    """The report as CSV text (periods as ISO dates). Text that a spreadsheet would run as
    a formula (a name sent as ``=HYPERLINK(…)``) is written with a leading apostrophe."""
    buffer = io.BytesIO()
    pacsv.write_csv(inert(_labelled(report)), buffer)
    return buffer.getvalue().decode()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert(table: pa.Table) -> pa.Table:
    """``table`` with every text cell a spreadsheet would read as a formula made plain text
    (prefixed with ``'``, as OWASP advises for CSV exports)."""
    for index, field in enumerate(table.schema):
        if not pa.types.is_string(field.type) and not pa.types.is_large_string(field.type):
            continue
        values = table.column(index).to_pylist()
        if not any(isinstance(v, str) and v.startswith(FORMULA_START) for v in values):
            continue
        safe = [
            ("'" + v) if isinstance(v, str) and v.startswith(FORMULA_START) else v for v in values
        ]
        table = table.set_column(index, field, pa.array(safe, field.type))
    return table


def to_parquet(report: Report, path: Path) -> None:
    """The report as a Parquet file, with its units and reasons in the file's metadata."""
    pq.write_table(report.table, path)


def _labelled(report: Report) -> pa.Table:
    table = report.table
    for p in (g for g in report.group if g in PERIODS):
        index = table.schema.get_field_index(p)
        labels = [period_label(v, p) for v in table[p].to_pylist()]
        table = table.set_column(index, p, pa.array(labels, pa.string()))
    return table


def cell(value: Any, column: str) -> str:
    """A value of a plain table: rates (share_…, rate) as percentages, counts with commas."""
    if isinstance(value, float):
        return humanise(
            value, Unit.RATE if column.startswith("share") or column == "rate" else Unit.SCORE
        )
    if isinstance(value, int):
        return humanise(value, Unit.COUNT)
    return "(none)" if value is None else str(value)


def scorecard(
    report: Report,
    title: str = "Scorecard",
    width: int = 80,
    compact: bool = False,
    channels: Report | None = None,
) -> list[Table]:
    """Rich tables with humanised values that fit ``width`` columns: KPIs down the side when
    the groups fit across, else groups as rows (a leaderboard), the KPIs split over as many
    tables as it takes. ``compact`` keeps each KPI's main value only (no median, p90…) and
    names its statistic (mean, median). A value with a target carries ✓ (met) or ✗ (missed).
    ``channels`` (:func:`~supportkpi.analysis.views.channel_split`): KPIs whose targets differ
    by channel, shown per channel with each channel's target instead of one value over all."""
    rows = [_profile_labels(r, report.group) for r in records(report)]
    units = report.units()
    main = {k.name for k in report.kpis}
    if compact:
        units = {c: u for c, u in units.items() if c in main}
    labels = {
        o.column: (k.label if o.column == k.name else f"  {o.meaning}")
        for k in report.kpis
        for o in k.outputs
    }
    if compact:
        for k in report.kpis:
            if k.outputs[0].meaning in ("mean", "median"):
                labels[k.name] = f"{k.label} ({k.outputs[0].meaning})"
    split = _by_channel(report, channels) if compact and channels is not None else {}
    for column, per_channel in split.items():
        for channel, channel_rows in per_channel.items():
            units[f"{column}@{channel}"] = units[column]
            labels[f"{column}@{channel}"] = f"  {channel}"
            for row, channel_row in zip(rows, channel_rows, strict=True):
                for suffix in ("", "_status", "_target"):
                    row[f"{column}@{channel}{suffix}"] = channel_row.get(f"{column}{suffix}")
    units = _channels_after(units, split)
    group = list(report.group)
    names = [
        " · ".join(str(r[g]) if r[g] is not None else "(none)" for g in group) or "all"
        for r in rows
    ]
    unsure = {(index, name) for index, _, name, _ in report.unchecked()}
    if split and channels is not None:  # a value per channel: its channel's own note
        keys = [tuple(r[g] for g in group) for r in report.table.to_pylist()]
        for _, where, name, _ in channels.unchecked():
            key = tuple(where[g] for g in group)
            if name in split and key in keys:
                unsure.add((keys.index(key), f"{name}@{where['channel']}"))
    cells = {
        c: [_marked(r, c, u, (i, c) in unsure) for i, r in enumerate(rows)]
        for c, u in units.items()
    }
    label_width = min(max((len(labels[c]) for c in units), default=3), 40)
    widths = [
        max([len(n), *(len(_plain(cells[c][i])) for c in units)], default=len(n))
        for i, n in enumerate(names)
    ]
    tall = 0 < len(rows) <= 12 and label_width + 3 + sum(w + 3 for w in widths) + 1 <= width
    if not tall:  # a leaderboard keeps one value over every channel
        units = {c: u for c, u in units.items() if "@" not in c}
        return _wide(rows, group, units, cells, report, title, width)
    table = Table(title=title or None, title_justify="left")
    table.add_column("KPI", min_width=min(label_width, 24))
    for name, w in zip(names, widths, strict=True):
        table.add_column(name, justify="right", min_width=w, no_wrap=True)
    for column, unit in units.items():
        if column in split:
            table.add_row(labels[column], *("" for _ in rows))
            continue
        table.add_row(labels[column], *cells[column])
        if f"{column}_trend" in rows[0]:
            table.add_row("  vs previous", *(_change(r, column, unit) for r in rows))
        if f"{column}_status" in rows[0] and any(r[f"{column}_target"] for r in rows):
            indent = "    " if "@" in column else "  "
            table.add_row(f"{indent}target", *(r[f"{column}_target"] or "–" for r in rows))
    return [table]


def _by_channel(report: Report, channels: Report) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """For each KPI column of ``channels``: per channel, the row of each of ``report``'s
    groups (empty when the group has no conversation on that channel)."""
    group = list(report.group)
    found: dict[tuple[Any, ...], dict[str, Any]] = {}
    names: list[str] = []
    for row in records(channels):
        if row["channel"] is None:
            continue
        names.append(row["channel"])
        found[(*(row[g] for g in group), row["channel"])] = row
    keys = [tuple(r[g] for g in group) for r in records(report)]
    return {
        k.name: {
            name: [found.get((*key, name), {}) for key in keys] for name in dict.fromkeys(names)
        }
        for k in channels.kpis
        if k.name in report.table.column_names
    }


def _channels_after(
    units: dict[str, Unit], split: dict[str, dict[str, list[dict[str, Any]]]]
) -> dict[str, Unit]:
    """``units`` in order, each split KPI followed by its channels' columns."""
    out: dict[str, Unit] = {}
    for column, unit in units.items():
        if "@" in column:
            continue
        out[column] = unit
        for channel in split.get(column, {}):
            out[f"{column}@{channel}"] = unit
    return out


UNSURE = "*"
"""Marks a value its group could not fully check (:meth:`Report.unchecked` says what)."""


def _marked(row: dict[str, Any], column: str, unit: Unit, unsure: bool = False) -> str:
    """A humanised value, with ✓ or ✗ when it has a target, after ``*`` when its group
    could not make every check the KPI makes."""
    shown = humanise(row[column], unit) + (f" {UNSURE}" if unsure else "")
    status = row.get(f"{column}_status")
    if status == "met":
        return f"{shown} [green]✓[/]"
    if status == "missed":
        return f"{shown} [red]✗[/]"
    return shown


WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _profile_labels(row: dict[str, Any], group: tuple[str, ...]) -> dict[str, Any]:
    """A row with its profile values as people read them: "Mon", "07:00"."""
    row = dict(row)
    if "weekday" in group and isinstance(row.get("weekday"), int):
        row["weekday"] = WEEKDAYS[row["weekday"]]
    if "hour_of_day" in group and isinstance(row.get("hour_of_day"), int):
        row["hour_of_day"] = f"{row['hour_of_day']:02d}:00"
    return row


_MARKS = {
    "improved": "[green]▲ improved[/]",
    "worsened": "[red]▼ worsened[/]",
    "unchanged": "= unchanged",
    "met": "[green]met[/]",
    "missed": "[red]missed[/]",
}


def _change(row: dict[str, Any], column: str, unit: Unit) -> str:
    change = row[f"{column}_change"]
    if change is None:
        return "–"
    relative = row[f"{column}_change_relative"]
    shown = humanise(change, unit) if unit is not Unit.RATE else f"{change * 100:+.1f} pts"
    if unit is not Unit.RATE and change > 0:
        shown = "+" + shown
    pct = f" ({relative * 100:+.0f} %)" if relative is not None else ""
    verdict = row[f"{column}_trend"]
    return f"{shown}{pct} {_MARKS.get(verdict, '')}".strip()


def _status(row: dict[str, Any], column: str) -> str:
    status = row[f"{column}_status"]
    if status == "no target":
        return "–"
    return f"{row[f'{column}_target']} {_MARKS.get(status, status)}"


def plain_records(table: pa.Table) -> list[dict[str, Any]]:
    """Any Arrow table as JSON-ready objects (timestamps as ISO text)."""
    return jsonable(table.to_pylist())


def jsonable(value: Any) -> Any:
    """Nested dicts and lists made JSON-ready: dates and times as ISO text, NaN and
    infinities as null."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def sla_table(
    table: pa.Table, period: str | None, standing: Sequence[Standing] = ()
) -> list[Table]:
    """The SLA view: one table per vendor (and period), vendors worst first, each target
    with achieved, attainment and compliance, marked met ✓ or missed ✗; narrow enough for
    an 80-column terminal. With ``standing``, each title says which set the vendor is held
    to and how many of its targets it missed."""
    titles = {s.vendor: s.summary() for s in standing}
    blocks: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        when = period_label(row[period], period) if period else None
        blocks.setdefault((row["vendor"], when), []).append(row)
    views = []
    for (vendor, when), rows in blocks.items():
        name = titles.get(vendor, vendor)
        view = Table(title=f"{name}, {when}" if when else name, title_justify="left")
        view.add_column("target", min_width=14, overflow="fold")
        view.add_column("is", overflow="fold")
        for head in ("achieved", "attainment", "compliance"):
            view.add_column(head, justify="right", no_wrap=True)
        for row in rows:
            unit = Unit(row["unit"])
            kpi = REGISTRY[row["kpi"]].label if row["kpi"] in REGISTRY else row["kpi"]
            what = kpi if row["scope"] == "all" else f"{kpi} ({row['scope']})"
            mark = {"met": " [green]✓[/]", "missed": " [red]✗[/]"}.get(row["status"], "")
            shown = humanise(row["compliance"], Unit.RATE) if row["compliance"] is not None else ""
            view.add_row(
                what,
                row["target"],
                humanise(row["achieved"], unit),
                humanise(row["attainment"], Unit.RATE),
                (shown or row["status"]) + mark,
            )
        views.append(view)
    return views


def compare_table(table: pa.Table) -> Table:
    """In-house beside each vendor, with the difference and whether it is better."""
    names = table.column_names
    baseline = names[2]
    vendors = [n for n in names[3:] if not n.endswith(("_difference", "_verdict"))]
    view = Table(title=f"{baseline} compared with each vendor", title_justify="left")
    view.add_column("KPI", min_width=max(len(w) for w in ["Cost", "per", "contact"]))
    view.add_column(baseline, justify="right")
    for v in vendors:
        view.add_column(v, justify="right")
        view.add_column(f"Δ {v}", justify="right")
    verdicts = {"better": "[green]better[/]", "worse": "[red]worse[/]", "same": "same"}
    for row in table.to_pylist():
        unit = Unit(row["unit"])
        kpi = REGISTRY.get(row["kpi"])
        cells = [kpi.label if kpi else row["kpi"], humanise(row[baseline], unit)]
        for v in vendors:
            diff = row[f"{v}_difference"]
            shown = (
                "–"
                if diff is None
                else (
                    f"{diff * 100:+.1f} pts"
                    if unit is Unit.RATE
                    else ("+" if diff > 0 else "") + humanise(diff, unit)
                )
            )
            verdict = verdicts.get(row[f"{v}_verdict"] or "", "")
            cells += [humanise(row[v], unit), f"{shown} {verdict}".strip()]
        view.add_row(*cells)
    return view


def _wide(
    rows: list[dict[str, Any]],
    group: list[str],
    units: dict[str, Unit],
    cells: dict[str, list[str]],
    report: Report,
    title: str,
    width: int,
) -> list[Table]:
    """Groups as rows, the KPIs as columns, split into tables that each fit ``width``; every
    table repeats the group columns, and no name or header word is cut."""
    heads = {
        o.column: (k.label if o.column == k.name else f"{k.label}: {o.meaning}")
        for k in report.kpis
        for o in k.outputs
    }
    group_widths = [
        max([len(g), *(len(str(r[g]) if r[g] is not None else "(none)") for r in rows)])
        for g in group
    ]
    used = sum(w + 3 for w in group_widths) + 1

    def need(column: str) -> int:
        word = max((len(w) for w in heads[column].split()), default=1)
        return max([word, 6, *(len(_plain(v)) for v in cells[column])])

    chunks: list[list[str]] = [[]]
    room = used
    for column in units:
        w = need(column) + 3
        if chunks[-1] and room + w > width - 1:
            chunks.append([])
            room = used
        chunks[-1].append(column)
        room += w
    tables = []
    for index, chunk in enumerate(chunks, start=1):
        part = f"{title} ({index} of {len(chunks)})".strip() if len(chunks) > 1 else title
        table = Table(title=part or None, title_justify="left")
        # exact widths: left to shrink a table wider than the terminal, rich may miss the
        # chunk's width by a column and crop the right border
        for g, w in zip(group, group_widths, strict=True):
            table.add_column(g, width=w, no_wrap=True)
        for column in chunk:
            table.add_column(heads[column], justify="right", width=need(column))
        for i, r in enumerate(rows):
            table.add_row(
                *(str(r[g]) if r[g] is not None else "(none)" for g in group),
                *(cells[c][i] for c in chunk),
            )
        tables.append(table)
    return tables


def _plain(text: str) -> str:
    """Text without Rich markup, as wide as it shows."""
    return text.replace("[green]", "").replace("[red]", "").replace("[/]", "")


def story(report: Report, standing: Sequence[Standing] = (), legend: str = "") -> list[str]:
    """What a scorecard by vendor says in words: the cheapest vendor per contact, then how
    each vendor stands against the one set of targets it is held to (``standing``, counted
    by :func:`~supportkpi.analysis.sla.standings` as ``sla`` and the review count), after
    ``legend`` (which set the ✓ and ✗ judge). Empty when the report is not by vendor."""
    if report.group != ("vendor",):
        return []
    rows = report.table.to_pylist()
    lines = [legend] if legend else []
    costs = [(r["cost_per_contact"], r["vendor"]) for r in rows if r.get("cost_per_contact")]
    if len(costs) > 1:
        costs.sort()
        others = ", ".join(f"{v} {humanise(c, Unit.MONEY)}" for c, v in costs[1:])
        lines.append(
            f"Cheapest per contact: {costs[0][1]} ({humanise(costs[0][0], Unit.MONEY)}; {others})."
        )
    shown = {r["vendor"] for r in rows}
    lines += [s.sentence() for s in standing if s.vendor in shown]
    return lines
