"""Commands that bring data in and show what is there: load, demo, quarantine, tables."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from supportkpi.cli._common import (
    DbOption,
    app,
    config_from,
    fail,
    open_store,
    out,
    progress_bar,
)
from supportkpi.cli.reports import print_report, scorecard_title, story_of

if TYPE_CHECKING:
    from supportkpi.load.ingest import LoadSummary


def print_summary(summary: LoadSummary) -> None:
    """The load summary: per table loaded/updated/unchanged, then quarantined per reason."""
    from supportkpi.load.validate import RULES

    table = Table(title="Loaded", title_justify="left")
    for col in ("table", "new", "updated", "unchanged"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for name, counts in summary.tables.items():
        table.add_row(name, f"{counts.new:,}", f"{counts.updated:,}", f"{counts.unchanged:,}")
    out.print(table)
    for f in summary.files:
        if f.ignored_columns:
            out.print(
                f"[dim]{Path(f.name).name}: columns not used: {', '.join(f.ignored_columns)}[/]",
                highlight=False,
            )
    for f in summary.files:
        if f.left_out:
            total = sum(f.left_out.values())
            left = Table(
                title=f"{Path(f.name).name}: {total:,} of {f.rows:,} rows left out by the "
                "mapping, as it asks (not errors)",
                title_justify="left",
            )
            left.add_column("rows", justify="right")
            left.add_column("why")
            for reason, n in f.left_out.most_common():
                left.add_row(f"{n:,}", reason)
            out.print(left)
    rejected = summary.quarantined
    if not rejected:
        out.print("Quarantined: none")
        return
    q = Table(
        title=f"Quarantined: {sum(rejected.values()):,} rows (see `supportkpi quarantine`)",
        title_justify="left",
    )
    q.add_column("rule")
    q.add_column("meaning")
    q.add_column("rows", justify="right")
    for rule, n in rejected.most_common():
        q.add_row(rule, RULES.get(rule, ""), f"{n:,}")
    out.print(q)


@app.command("load")
def load_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="CSV, JSONL, JSON, Parquet or .xlsx files, optionally gzip-compressed."
        ),
    ],
    db: DbOption = None,
    table: Annotated[
        str | None, typer.Option(help="Table the files feed [default: from each file's name].")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="TOML file mapping your columns and values onto ours.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="File format when the name does not say (csv, jsonl, json, "
            "parquet, xlsx), or a dataset format: twcs (Customer Support on "
            "Twitter).",
        ),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(help="A shipped mapping for a helpdesk export (see `supportkpi presets`)."),
    ] = None,
) -> None:
    """Validate and load files into the store, in one transaction."""
    from supportkpi.load.ingest import LoadError, load
    from supportkpi.sources.mapping import MappingError, load_mapping
    from supportkpi.sources.presets import load_preset

    if mapping and preset:
        raise fail("give --mapping or --preset, not both")
    try:
        rules = load_mapping(mapping) if mapping else load_preset(preset) if preset else None
    except MappingError as exc:
        raise fail(str(exc)) from None
    with open_store(db) as store, progress_bar() as progress:
        try:
            summary = load(store, files, table=table, mapping=rules, progress=progress, fmt=fmt)
        except LoadError as exc:
            raise fail(f"{exc}\nNothing was loaded.") from None
    print_summary(summary)


@app.command("presets")
def presets_command() -> None:
    """The shipped mappings for helpdesk exports, for `load --preset NAME`."""
    from supportkpi.sources import presets

    table = Table(title="Presets (supportkpi load --preset NAME FILE)", title_justify="left")
    table.add_column("name")
    table.add_column("reads")
    for name in presets.names():
        table.add_row(name, presets.describe(name))
    out.print(table)


@app.command("quarantine")
def quarantine_command(
    db: DbOption = None,
    reason: Annotated[
        str | None,
        typer.Option(
            help="Only this rule (e.g. bad_timestamp), or rows whose reason contains the text."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many rows (0: all).")] = 50,
) -> None:
    """List the rows that were rejected, with file, line, column and reason."""
    with open_store(db, read_only=True) as store:
        total, rows = store.quarantined(reason, limit or None)
    if not total:
        out.print("No quarantined rows" + (f" matching {reason!r}." if reason else "."))
        return
    title = f"Quarantine: {total:,} rows" + (
        f", showing {len(rows):,}" if len(rows) < total else ""
    )
    shown = [
        (Path(source).name, str(line) if line else "?", tname, column or "", rule, why or "")
        for source, line, tname, column, rule, why in rows
    ]
    print_quarantine(title, shown, out.width)


QUARANTINE_HEADS = ("file", "line", "table", "column", "rule", "reason")
REASON_ROOM = 32  # below this many columns for the reason, rows become a list


def print_quarantine(title: str, rows: list[tuple[str, ...]], width: int) -> None:
    """Quarantined rows as a table when the reason has room beside the other columns, else
    as a list (where, then the reason indented below it), so that nothing is cut short at
    80 columns: file, line, column and rule on one line, the reason whole."""
    from rich.padding import Padding
    from rich.text import Text

    fixed = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(QUARANTINE_HEADS[:5])]
    room = width - sum(w + 3 for w in fixed) - 4
    if room >= REASON_ROOM:
        table = Table(title=title, title_justify="left")
        for i, col in enumerate(QUARANTINE_HEADS):
            table.add_column(
                col,
                justify="right" if col == "line" else "left",
                no_wrap=col != "reason",
                min_width=fixed[i] if i < 5 else None,
            )
        for row in rows:
            table.add_row(*row)
        out.print(table)
        return
    out.print(f"[bold]{title}[/]", highlight=False)
    for file, line, tname, column, rule, why in rows:
        out.print(Text.assemble((file, "bold"), f", line {line}"), highlight=False)
        what = Text(f"{tname}.{column}" if column else tname)
        what.append(f" · {rule}", style="red")
        out.print(Padding(what, (0, 0, 0, 4)), highlight=False)
        out.print(Padding(Text(why), (0, 0, 0, 4)), highlight=False)


@app.command("tables")
def tables_command(db: DbOption = None) -> None:
    """Row counts of every table in the store."""
    with open_store(db, read_only=True) as store:
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
    out_dir: Annotated[
        Path, typer.Option("--out", help="Where to write the demo's input files.")
    ] = Path("demo-data"),
    days: Annotated[int, typer.Option(min=7, help="Days of history.")] = 90,
    volume: Annotated[float, typer.Option(min=10, help="Conversations per day.")] = 450,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    into: Annotated[
        bool,
        typer.Option(
            "--into-existing", help="Load the demo into a store that already holds other data."
        ),
    ] = False,
) -> None:
    """Generate a realistic support operation, write its files, and load them."""
    from supportkpi import demo as demo_data
    from supportkpi.analysis import views
    from supportkpi.analysis.query import HEADLINE, report
    from supportkpi.load.ingest import LoadError, load

    data = demo_data.generate(days=days, daily_volume=volume, seed=seed)
    if not into:
        with open_store(db) as store:
            others = store.others("conversations", data.tables["conversations"])
        if others:
            raise fail(
                f"the store {store.url} already holds {others:,} "
                f"{'conversation that is' if others == 1 else 'conversations that are'} not the "
                "demo's; give the demo its own store (--db demo.duckdb), or --into-existing to "
                "mix fake data into yours"
            )
    paths = data.write(out_dir)
    settings = data.write_config(out_dir)
    out.print(
        f"Demo files written to [bold]{out_dir}/[/]: "
        f"{', '.join(p.name for p in [*paths, settings])}",
        highlight=False,
    )
    with open_store(db) as store, progress_bar() as progress:
        try:
            summary = load(store, paths, progress=progress)
        except LoadError as exc:
            raise fail(str(exc)) from None
    print_summary(summary)
    config = config_from(settings)
    with open_store(db, read_only=True) as store:
        result = report(store, list(HEADLINE), config=config, targets=True)
        title = scorecard_title(store, ["vendor"], None, None, None, config, headline=True)
        # as `supportkpi report` shows it: a KPI whose targets differ by channel, per channel
        channels = views.channel_split(store, result, config=config)
        story = story_of(store, config, result, {}, None, None, None, channels)
    print_report(result, title, compact=True, channels=channels)
    for line in story:
        out.print(line, highlight=False)
    flags = f"--db {store.url} --config {settings}"
    out.print(
        f"Store: [bold]{store.url}[/]. Next:\n  supportkpi sla {flags}\n"
        f"  supportkpi report --all {flags}\n"
        f"  supportkpi report --by vendor,month --trend {flags}",
        highlight=False,
        soft_wrap=True,  # commands to copy: never broken across lines
    )
