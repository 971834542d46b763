"""Commands that show KPIs: report, escalations, sla (and its breaches), compare, kpis."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from supportkpi.cli._common import (
    ChannelOption,
    ConfigOption,
    DbOption,
    FromOption,
    ToOption,
    TzOption,
    VendorOption,
    app,
    config_from,
    csv_list,
    err,
    fail,
    open_store,
    out,
    parse_date,
)
from supportkpi.vocabulary import DIMENSIONS, FORMATS, PERIODS, PROFILES, Family

if TYPE_CHECKING:
    import pyarrow as pa

    from supportkpi.analysis.query import Report
    from supportkpi.config import Config
    from supportkpi.store.store import Store

BREACH = 3  # exit code when --fail-on-breach finds a missed target


def print_report(
    result: Report, title: str, compact: bool = False, channels: Report | None = None
) -> None:
    """The humanised scorecard (``channels``: the KPIs shown per channel), then why any KPI
    could not be computed or is empty."""
    from supportkpi.analysis import render

    out.print(f"[bold]{title}[/]", highlight=False)
    for table in render.scorecard(result, "", width=out.width, compact=compact, channels=channels):
        out.print(table)
    for name, why in result.missing.items():
        out.print(f"[dim]{name}: not computed: {why}[/]", highlight=False)
    for name, note in result.notes.items():
        out.print(f"[dim]{name}: {note}[/]", highlight=False)
    unsure = result.unchecked()
    if channels is not None:  # the values shown per channel, with their channel's notes
        shown = {k.name for k in channels.kpis}
        unsure += [u for u in channels.unchecked() if u[2] in shown]
    for _, group, name, why in unsure[:10]:
        where = ", ".join(f"{k} {v}" for k, v in group.items()) or "all"
        out.print(f"[dim]{render.UNSURE} {name} for {where}: {why}[/]", highlight=False)
    if len(unsure) > 10:
        out.print(f"[dim]… and {len(unsure) - 10} more values marked {render.UNSURE}[/]")
    empty = result.empty()
    for group, name, why in empty[:10]:
        where = ", ".join(f"{k} {v}" for k, v in group.items()) or "all"
        out.print(f"[dim]{name} is empty for {where}: {why}[/]", highlight=False)
    if len(empty) > 10:
        out.print(f"[dim]… and {len(empty) - 10} more empty values[/]", highlight=False)


@app.command("report")
def report_command(
    db: DbOption = None,
    kpi: Annotated[str | None, typer.Option(help="KPIs to compute, comma-separated.")] = None,
    family: Annotated[
        str | None, typer.Option(help=f"Only one family: {', '.join(f.value for f in Family)}.")
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            help=f"Group by, comma-separated: {', '.join(DIMENSIONS)}, a profile "
            f"({', '.join(PROFILES)}: local hour 0–23, weekday 0 = Monday) and one period "
            f"({', '.join(PERIODS)})."
        ),
    ] = "vendor",
    from_: FromOption = None,
    to: ToOption = None,
    tz: TzOption = None,
    channel: ChannelOption = None,
    vendor: VendorOption = None,
    team: Annotated[str | None, typer.Option(help="Only these teams.")] = None,
    agent: Annotated[str | None, typer.Option(help="Only these agents.")] = None,
    queue: Annotated[str | None, typer.Option(help="Only these queues.")] = None,
    topic: Annotated[str | None, typer.Option(help="Only these topics.")] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="table, json, csv, parquet or xlsx [default: from --out's extension, else table].",
        ),
    ] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    explain: Annotated[bool, typer.Option(help="Also print the SQL the report ran.")] = False,
    trend: Annotated[
        bool,
        typer.Option(help="Add the previous period's value, the change and whether it improved."),
    ] = False,
    targets: Annotated[
        bool | None,
        typer.Option(
            help="Add each KPI's target, status (met, missed) and compliance "
            "[default: on for the headline KPIs]."
        ),
    ] = None,
    fail_on_breach: Annotated[
        bool, typer.Option(help="Exit with 3 when any target is missed (implies --targets).")
    ] = False,
    every: Annotated[
        bool, typer.Option("--all", help="Every KPI, with medians and percentiles.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """KPIs per vendor, team, agent, channel, queue, topic, profile and period: the headline
    KPIs against their targets, or --kpi, --family, --all."""
    from supportkpi.analysis import views
    from supportkpi.analysis.query import HEADLINE, QueryError, report
    from supportkpi.config import ConfigError

    fmt = fmt or _format_of(out_file)
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt in ("parquet", "xlsx") and out_file is None:
        raise fail(f"--format {fmt} needs --out FILE")
    filters = {
        "channel": channel,
        "vendor": vendor,
        "team": team,
        "agent": agent,
        "queue": queue,
        "topic": topic,
    }
    settings = config_from(config)
    headline = not (kpi or family or every)
    if targets is None:
        targets = headline
    with open_store(db, read_only=True) as store:
        try:
            result = report(
                store,
                list(HEADLINE) if headline else csv_list(kpi),
                csv_list(by),
                None,
                parse_date(from_),
                parse_date(to),
                {k: csv_list(v) for k, v in filters.items()},
                tz,
                settings,
                family,
                targets=targets or fail_on_breach,
                trend=trend,
                explain=explain,
            )
            title = scorecard_title(store, csv_list(by), from_, to, tz, settings, headline)
            channels = None
            if headline and fmt == "table":
                channels = views.channel_split(
                    store,
                    result,
                    parse_date(from_),
                    parse_date(to),
                    {k: csv_list(v) for k, v in filters.items()},
                    tz,
                    settings,
                )
        except (QueryError, ConfigError) as exc:
            raise fail(str(exc)) from None
        story = (
            story_of(store, settings, result, filters, from_, to, tz, channels)
            if fmt == "table"
            else []
        )
    _emit(result, fmt, out_file, title, compact=headline, story=story, channels=channels)
    if explain:
        err.print(result.sql, highlight=False, markup=False)
    if fail_on_breach:
        _exit_on_breach(
            [c for c in result.table.column_names if c.endswith("_status")], result.table
        )


def _exit_on_breach(columns: list[str], table: pa.Table) -> None:
    missed = sum(table[c].to_pylist().count("missed") for c in columns)
    if missed:
        err.print(f"{missed} target(s) missed", highlight=False)
        raise typer.Exit(BREACH)


_SUFFIXES = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".xlsx": "xlsx"}


def _format_of(path: Path | None) -> str:
    """The format a file's extension names; a table on the terminal without a file."""
    if path is None:
        return "table"
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise fail(
            f"cannot tell the format from {path.name!r}; name it .csv, .json, .parquet or "
            ".xlsx, or give --format"
        )
    return fmt


def scorecard_title(
    store: Store,
    by: list[str],
    from_: str | None,
    to: str | None,
    tz: str | None,
    settings: Config,
    headline: bool,
) -> str:
    """ "Headline KPIs by vendor, 2026-06-01 to 2026-08-29 (UTC)": what, over which days (the
    data's own range when no dates are given), in which zone."""
    from supportkpi.analysis import views

    first, last = views.data_days(store, tz, settings)
    start = from_ or (first.isoformat() if first else "…")
    end = to or (last.isoformat() if last else "…")
    what = "Headline KPIs" if headline else "Scorecard"
    grouped = f" by {', '.join(by)}" if by else ""
    return f"{what}{grouped}, {start} to {end} ({tz or settings.timezone})"


def story_of(
    store: Store,
    settings: Config,
    result: Report,
    filters: dict[str, str | None],
    from_: str | None,
    to: str | None,
    tz: str | None,
    channels: Report | None = None,
) -> list[str]:
    """The scorecard in words (:func:`render.story`): each vendor against the targets it is
    held to, counted as ``supportkpi sla`` counts them over the same days, from the report's
    own numbers (and ``channels``', its KPIs per channel) where it has them. Nothing about
    targets when the report is narrowed by more than vendor (``sla`` judges whole vendors)."""
    from supportkpi.analysis import render
    from supportkpi.analysis.sla import legend, standings_of

    if result.group != ("vendor",):
        return []
    if not any(c.endswith("_status") for c in result.table.column_names):
        return render.story(result)
    if any(v for k, v in filters.items() if k != "vendor"):
        note = "✓ met, ✗ missed against the targets each vendor is held to (`supportkpi sla`)."
        return render.story(result, legend=note)
    shown = result.table["vendor"].to_pylist()
    start, end = parse_date(from_), parse_date(to)
    standing = standings_of(store, settings, result, start, end, tz, [channels])
    return render.story(result, standing, legend(settings, shown))


def _emit(
    result: Report,
    fmt: str,
    out_file: Path | None,
    title: str,
    compact: bool = False,
    story: Sequence[str] = (),
    channels: Report | None = None,
) -> None:
    from supportkpi.analysis import export, render

    if fmt == "table":
        print_report(result, title, compact=compact, channels=channels)
        for line in story:
            out.print(line, highlight=False)
        return
    if fmt == "parquet":
        assert out_file is not None
        render.to_parquet(result, out_file)
    elif fmt == "xlsx":
        assert out_file is not None
        export.write(result.table, "xlsx", out_file)
    else:
        text = render.to_json(result) if fmt == "json" else render.to_csv(result)
        if out_file:
            out_file.write_text(text + ("\n" if fmt == "json" else ""), encoding="utf-8")
        else:
            sys.stdout.write(text + ("\n" if fmt == "json" else ""))
    for name, why in result.missing.items():
        err.print(f"{name}: not computed: {why}", highlight=False, markup=False)
    for name, note in result.notes.items():
        err.print(f"{name}: {note}", highlight=False, markup=False)


@app.command("escalations")
def escalations_command(
    db: DbOption = None,
    by: Annotated[str, typer.Option(help="Group by, comma-separated, as in report.")] = "vendor",
    from_: FromOption = None,
    to: ToOption = None,
    tz: TzOption = None,
    vendor: VendorOption = None,
    channel: ChannelOption = None,
    config: ConfigOption = None,
) -> None:
    """Escalations by reason: how many, their share, and their rate per handled conversation."""
    from supportkpi.analysis import render
    from supportkpi.analysis.query import QueryError
    from supportkpi.analysis.views import escalation_reasons

    settings = config_from(config)
    with open_store(db, read_only=True) as store:
        try:
            table = escalation_reasons(
                store,
                csv_list(by),
                None,
                parse_date(from_),
                parse_date(to),
                {"vendor": csv_list(vendor), "channel": csv_list(channel)},
                tz,
                settings,
            )
        except QueryError as exc:
            raise fail(str(exc)) from None
    if not table.num_rows:
        out.print("No escalated conversations.")
        return
    view = Table(title="Escalations by reason", title_justify="left")
    for name in table.column_names:
        view.add_column(
            name, justify="left" if table.schema.field(name).type == "string" else "right"
        )
    for row in table.to_pylist():
        view.add_row(*(render.cell(row[c], c) for c in table.column_names))
    out.print(view)


@app.command("sla")
def sla_command(
    db: DbOption = None,
    vendor: Annotated[str | None, typer.Option(help="Only this vendor.")] = None,
    channel: ChannelOption = None,
    team: Annotated[
        str | None, typer.Option(help="Only these teams (a,b), as the dashboard's filter.")
    ] = None,
    period: Annotated[
        str | None, typer.Option(help=f"Judge each period apart: {', '.join(PERIODS)}.")
    ] = None,
    from_: FromOption = None,
    to: ToOption = None,
    tz: TzOption = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    fail_on_breach: Annotated[
        bool, typer.Option(help="Exit with 3 when any target is missed (for a scheduler).")
    ] = False,
    breaches: Annotated[
        bool,
        typer.Option(
            help="Instead: the conversations that missed each per-conversation target, worst first."
        ),
    ] = False,
    per_target: Annotated[
        int, typer.Option(help="With --breaches: at most this many per target.")
    ] = 10,
    config: ConfigOption = None,
) -> None:
    """Each vendor's contract, KPI by KPI: target, achieved, attainment, compliance, worst
    first."""
    from supportkpi.analysis import render
    from supportkpi.analysis.query import QueryError
    from supportkpi.analysis.sla import sla, standings
    from supportkpi.config import ConfigError

    settings = config_from(config)
    if breaches:
        _breaches(db, settings, vendor, from_, to, tz, fmt, per_target)
        return
    with open_store(db, read_only=True) as store:
        try:
            narrowed = {"channel": csv_list(channel), "team": csv_list(team)}
            table = sla(
                store, settings, vendor, period, parse_date(from_), parse_date(to), tz, narrowed
            )
        except (QueryError, ConfigError) as exc:
            raise fail(str(exc)) from None
    if fmt == "json":
        sys.stdout.write(json.dumps(render.plain_records(table), indent=1) + "\n")
    elif not table.num_rows:
        out.print("No vendor has conversations to hold to a target.")
    else:
        out.print("[bold]SLA: each vendor's targets, worst first[/]", highlight=False)
        for view in render.sla_table(table, period, [] if period else standings(settings, table)):
            out.print(view)
    if fail_on_breach:
        _exit_on_breach(["status"], table)


def _breaches(
    db: str | None,
    settings: Config,
    vendor: str | None,
    from_: str | None,
    to: str | None,
    tz: str | None,
    fmt: str,
    per_target: int,
) -> None:
    """``sla --breaches``: the conversations behind each missed per-conversation target."""
    from supportkpi.analysis import export, render
    from supportkpi.analysis.breaches import breaches
    from supportkpi.analysis.query import QueryError
    from supportkpi.config import ConfigError

    with open_store(db, read_only=True) as store:
        try:
            table = breaches(
                store, settings, vendor, parse_date(from_), parse_date(to), tz, per_target
            )
        except (QueryError, ConfigError) as exc:
            raise fail(str(exc)) from None
    if fmt == "json":
        sys.stdout.write(json.dumps(render.plain_records(table), indent=1) + "\n")
    elif not table.num_rows:
        out.print("No conversation missed a per-conversation target.")
    else:
        out.print(
            export.rich_table(
                table, "Conversations that missed their target, worst first", width=out.width
            )
        )


@app.command("compare")
def compare_command(
    db: DbOption = None,
    from_: FromOption = None,
    to: ToOption = None,
    tz: TzOption = None,
    channel: ChannelOption = None,
    config: ConfigOption = None,
) -> None:
    """In-house against each vendor: cost per contact, FRT, FCR, CSAT, NPS, escalation."""
    from supportkpi.analysis import render
    from supportkpi.analysis.query import QueryError
    from supportkpi.analysis.sla import compare
    from supportkpi.config import ConfigError

    settings = config_from(config)
    with open_store(db, read_only=True) as store:
        try:
            table = compare(
                store,
                settings,
                start=parse_date(from_),
                end=parse_date(to),
                tz=tz,
                channel=csv_list(channel),
            )
        except (QueryError, ConfigError) as exc:
            raise fail(str(exc)) from None
    out.print(render.compare_table(table))


@app.command("kpis")
def kpis_command() -> None:
    """List every KPI with its definition, unit, direction and default target."""
    from supportkpi.kpis import all_kpis

    table = Table(title="KPIs", title_justify="left", show_lines=True)
    for col in ("name", "family", "unit", "better", "target", "definition"):
        table.add_column(col, overflow="fold")
    for k in all_kpis():
        table.add_row(
            k.name, k.family.value, k.unit.value, k.direction.value, k.target or "", k.description
        )
    out.print(table)
