"""The ``supportkpi`` command line: demo, load, quarantine, tables."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from supportkpi import demo as demo_data
from supportkpi import render
from supportkpi.config import Config, ConfigError, load_config
from supportkpi.ingest import FileProgress, LoadError, LoadSummary, load
from supportkpi.kpis import Family, all_kpis
from supportkpi.query import DIMENSIONS, PERIODS, QueryError, Report, escalation_reasons, report
from supportkpi.sources.mapping import MappingError, load_mapping
from supportkpi.store import ENV_DB, Store, StoreError, default_url
from supportkpi.validate import RULES

app = typer.Typer(
    help="Customer-support KPIs per vendor, team, agent and channel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

DbOption = Annotated[str | None, typer.Option(
    "--db", help=f"Store: a DuckDB file or duckdb:/// URL [default: ${ENV_DB} or "
                 "./supportkpi.duckdb]", show_default=False)]


ConfigOption = Annotated[Path | None, typer.Option(
    "--config", help="Settings file [default: $SUPPORTKPI_CONFIG or ./supportkpi.toml]",
    show_default=False)]


def _config(path: Path | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise _fail(str(exc)) from None


def _csv_list(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def _store(db: str | None, read_only: bool = False) -> Iterator[Store]:
    try:
        store = Store.open(db or default_url(), read_only=read_only)
    except StoreError as exc:
        raise _fail(str(exc)) from None
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _progress() -> Iterator[FileProgress]:
    bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                   TimeRemainingColumn(), console=err, transient=True,
                   disable=not err.is_terminal)
    tasks: dict[str, int] = {}

    def update(name: str, done: int, total: int) -> None:
        if name not in tasks:
            for task in tasks.values():  # a new file or step: the previous one is over
                bar.update(task, visible=False)
            tasks[name] = bar.add_task(Path(name).name, total=total or None)
        bar.update(tasks[name], completed=done, total=total or None)

    with bar:
        yield update


def print_summary(summary: LoadSummary) -> None:
    """The load summary: per table loaded/updated/unchanged, then quarantined per reason."""
    table = Table(title="Loaded", title_justify="left")
    for col in ("table", "new", "updated", "unchanged"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for name, counts in summary.tables.items():
        table.add_row(name, f"{counts.new:,}", f"{counts.updated:,}", f"{counts.unchanged:,}")
    out.print(table)
    for f in summary.files:
        if f.ignored_columns:
            out.print(f"[dim]{Path(f.name).name}: columns not used: "
                      f"{', '.join(f.ignored_columns)}[/]", highlight=False)
    rejected = summary.quarantined
    if not rejected:
        out.print("Quarantined: none")
        return
    q = Table(title=f"Quarantined: {sum(rejected.values()):,} rows "
                    "(see `supportkpi quarantine`)", title_justify="left")
    q.add_column("rule")
    q.add_column("meaning")
    q.add_column("rows", justify="right")
    for rule, n in rejected.most_common():
        q.add_row(rule, RULES.get(rule, ""), f"{n:,}")
    out.print(q)


@app.command("load")
def load_command(
    files: Annotated[list[Path], typer.Argument(help="CSV, JSONL, JSON, Parquet or .xlsx "
                                                     "files, optionally gzip-compressed.")],
    db: DbOption = None,
    table: Annotated[str | None, typer.Option(
        help="Table the files feed [default: from each file's name].")] = None,
    mapping: Annotated[Path | None, typer.Option(
        help="TOML file mapping your columns and values onto ours.")] = None,
) -> None:
    """Validate and load files into the store, in one transaction."""
    try:
        rules = load_mapping(mapping) if mapping else None
    except MappingError as exc:
        raise _fail(str(exc)) from None
    with _store(db) as store, _progress() as progress:
        try:
            summary = load(store, files, table=table, mapping=rules, progress=progress)
        except LoadError as exc:
            raise _fail(f"{exc}\nNothing was loaded.") from None
    print_summary(summary)


@app.command("quarantine")
def quarantine_command(
    db: DbOption = None,
    reason: Annotated[str | None, typer.Option(
        help="Only this rule (e.g. bad_timestamp), or rows whose reason contains the text.")]
    = None,
    limit: Annotated[int, typer.Option(help="Show at most this many rows (0: all).")] = 50,
) -> None:
    """List the rows that were rejected, with file, line, column and reason."""
    with _store(db, read_only=True) as store:
        total, rows = store.quarantined(reason, limit or None)
    if not total:
        out.print("No quarantined rows" + (f" matching {reason!r}." if reason else "."))
        return
    table = Table(title=f"Quarantine: {total:,} rows" + (
        f", showing {len(rows):,}" if len(rows) < total else ""), title_justify="left")
    for col in ("file", "line", "table", "column", "rule", "reason"):
        table.add_column(col, justify="right" if col == "line" else "left",
                         no_wrap=col != "reason", overflow="fold")
    for source, line, tname, column, rule, why in rows:
        table.add_row(Path(source).name, str(line or "?"), tname, column or "", rule, why)
    out.print(table)


@app.command("tables")
def tables_command(db: DbOption = None) -> None:
    """Row counts of every table in the store."""
    with _store(db, read_only=True) as store:
        counts = store.counts()
    table = Table(title=f"Store {store.url}", title_justify="left")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in counts.items():
        table.add_row(name, f"{n:,}")
    out.print(table)


@app.command("demo")
def demo_command(
    db: DbOption = None,
    out_dir: Annotated[Path, typer.Option(
        "--out", help="Where to write the demo's input files.")] = Path("demo-data"),
    days: Annotated[int, typer.Option(min=7, help="Days of history.")] = 90,
    volume: Annotated[float, typer.Option(min=10, help="Conversations per day.")] = 450,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Generate a realistic support operation, write its files, and load them."""
    data = demo_data.generate(days=days, daily_volume=volume, seed=seed)
    paths = data.write(out_dir)
    out.print(f"Demo files written to [bold]{out_dir}/[/]: "
              f"{', '.join(p.name for p in paths)}", highlight=False)
    with _store(db) as store, _progress() as progress:
        try:
            summary = load(store, paths, progress=progress)
        except LoadError as exc:
            raise _fail(str(exc)) from None
    print_summary(summary)
    with _store(db, read_only=True) as store:
        print_report(report(store, config=Config()), "Scorecard by vendor (all KPIs, all data)")
    out.print(f"Store: [bold]{store.url}[/]. Next: `supportkpi report --by vendor,month "
              f"--db {store.url}`", highlight=False)


def print_report(result: Report, title: str) -> None:
    """The humanised scorecard, then why any KPI could not be computed."""
    out.print(render.scorecard(result, title))
    for name, why in result.missing.items():
        out.print(f"[dim]{name}: not computed: {why}[/]", highlight=False)


@app.command("report")
def report_command(
    db: DbOption = None,
    kpi: Annotated[str | None, typer.Option(help="KPIs to compute, comma-separated.")] = None,
    family: Annotated[str | None, typer.Option(
        help=f"Only one family: {', '.join(f.value for f in Family)}.")] = None,
    by: Annotated[str, typer.Option(
        help=f"Group by, comma-separated: {', '.join(DIMENSIONS)} and one period "
             f"({', '.join(PERIODS)}).")] = "vendor",
    from_: Annotated[str | None, typer.Option(
        "--from", help="First day (YYYY-MM-DD, in the report's time zone).")] = None,
    to: Annotated[str | None, typer.Option(help="Last day, included.")] = None,
    tz: Annotated[str | None, typer.Option(
        help="Report time zone [default: from the config, else UTC].")] = None,
    channel: Annotated[str | None, typer.Option(help="Only these channels.")] = None,
    vendor: Annotated[str | None, typer.Option(help="Only these vendors.")] = None,
    team: Annotated[str | None, typer.Option(help="Only these teams.")] = None,
    agent: Annotated[str | None, typer.Option(help="Only these agents.")] = None,
    queue: Annotated[str | None, typer.Option(help="Only these queues.")] = None,
    topic: Annotated[str | None, typer.Option(help="Only these topics.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json, csv or parquet.")]
    = "table",
    out_file: Annotated[Path | None, typer.Option("--out", help="Write to this file.")] = None,
    explain: Annotated[bool, typer.Option(help="Also print the SQL the report ran.")] = False,
    config: ConfigOption = None,
) -> None:
    """KPIs per vendor, team, agent, channel, queue, topic and period."""
    if fmt not in render.FORMATS:
        raise _fail(f"unknown format {fmt!r}; one of {', '.join(render.FORMATS)}")
    if fmt == "parquet" and out_file is None:
        raise _fail("--format parquet needs --out FILE")
    filters = {"channel": channel, "vendor": vendor, "team": team, "agent": agent,
               "queue": queue, "topic": topic}
    settings = _config(config)
    with _store(db, read_only=True) as store:
        try:
            result = report(store, _csv_list(kpi), _csv_list(by), None, _date(from_),
                            _date(to), {k: _csv_list(v) for k, v in filters.items()}, tz,
                            settings, family)
        except (QueryError, ConfigError) as exc:
            raise _fail(str(exc)) from None
    _emit(result, fmt, out_file)
    if explain:
        err.print(result.sql, highlight=False, markup=False)


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _fail(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _emit(result: Report, fmt: str, out_file: Path | None) -> None:
    if fmt == "table":
        print_report(result, "Scorecard")
        return
    if fmt == "parquet":
        assert out_file is not None
        render.to_parquet(result, out_file)
    else:
        text = render.to_json(result) if fmt == "json" else render.to_csv(result)
        if out_file:
            out_file.write_text(text + ("\n" if fmt == "json" else ""), encoding="utf-8")
        else:
            sys.stdout.write(text + ("\n" if fmt == "json" else ""))
    for name, why in result.missing.items():
        err.print(f"{name}: not computed: {why}", highlight=False, markup=False)


@app.command("escalations")
def escalations_command(
    db: DbOption = None,
    by: Annotated[str, typer.Option(help="Group by, comma-separated, as in report.")]
    = "vendor",
    from_: Annotated[str | None, typer.Option("--from", help="First day.")] = None,
    to: Annotated[str | None, typer.Option(help="Last day, included.")] = None,
    tz: Annotated[str | None, typer.Option(help="Report time zone.")] = None,
    vendor: Annotated[str | None, typer.Option(help="Only these vendors.")] = None,
    channel: Annotated[str | None, typer.Option(help="Only these channels.")] = None,
    config: ConfigOption = None,
) -> None:
    """Escalations by reason: how many, their share, and their rate per handled conversation."""
    settings = _config(config)
    with _store(db, read_only=True) as store:
        try:
            table = escalation_reasons(store, _csv_list(by), None, _date(from_), _date(to),
                                       {"vendor": _csv_list(vendor),
                                        "channel": _csv_list(channel)}, tz, settings)
        except QueryError as exc:
            raise _fail(str(exc)) from None
    view = Table(title="Escalations by reason", title_justify="left")
    for name in table.column_names:
        view.add_column(name, justify="left" if table.schema.field(name).type == "string"
                        else "right")
    for row in table.to_pylist():
        view.add_row(*(render.cell(row[c], c) for c in table.column_names))
    out.print(view)


@app.command("kpis")
def kpis_command() -> None:
    """List every KPI with its definition, unit, direction and default target."""
    table = Table(title="KPIs", title_justify="left", show_lines=True)
    for col in ("name", "family", "unit", "better", "target", "definition"):
        table.add_column(col, overflow="fold")
    for k in all_kpis():
        table.add_row(k.name, k.family.value, k.unit.value, k.direction.value,
                      k.target or "", k.description)
    out.print(table)


def main() -> None:
    """Entry point that keeps user mistakes to one line, without a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; an unfinished load leaves the store as it was")
        sys.exit(130)


if __name__ == "__main__":
    main()
