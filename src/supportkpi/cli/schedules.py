"""Scheduled delivery: run the ``[[schedules]]`` that are due (for cron), list what was sent."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from supportkpi.cli._common import ConfigOption, DbOption, app, config_from, fail, open_store, out

schedule_app = typer.Typer(
    help="Scheduled reports from the [[schedules]] of supportkpi.toml: run, history.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(schedule_app, name="schedule")

Format = Annotated[str, typer.Option("--format", help="table or json.")]


@schedule_app.command("run")
def run_command(
    db: DbOption = None,
    at: Annotated[
        str | None, typer.Option(help="Run as of this ISO time (with offset) instead of now.")
    ] = None,
    fmt: Format = "table",
    config: ConfigOption = None,
) -> None:
    """Make the reports that are due and not made yet, and send every delivery not yet sent
    (earlier failures too); exit 1 when a delivery is still failing. Safe to run every few
    minutes from cron: nothing is made or sent twice."""
    from rich.table import Table

    from supportkpi.analysis import render
    from supportkpi.analysis.query import QueryError
    from supportkpi.cli.alerts import _moment
    from supportkpi.config import ConfigError
    from supportkpi.reports.pdf import PdfError
    from supportkpi.reports.schedules import run
    from supportkpi.store.schedule_log import history

    settings = config_from(config)
    if not settings.schedules:
        raise fail("no [[schedules]] in the config; see the README's Scheduled reports section")
    moment = _moment(at)
    with open_store(db) as store:
        try:
            outcomes = run(store, settings, moment)
        except (QueryError, ConfigError, PdfError) as exc:
            raise fail(str(exc)) from None
        failing = [d for d in history(store, 1000) if d["status"] != "sent"]
    if fmt == "json":
        rows = [o.__dict__ for o in outcomes]
        sys.stdout.write(json.dumps(render.jsonable(rows), indent=1) + "\n")
    else:
        view = Table(title="Schedules", title_justify="left")
        for name in ("schedule", "due at (UTC)", "status", "made"):
            view.add_column(name)
        for o in outcomes:
            due = "–" if o.due_at is None else f"{o.due_at:%Y-%m-%d %H:%M}"
            view.add_row(o.schedule, due, o.status, ", ".join(o.items) or "–")
        out.print(view)
        for d in failing:
            out.print(
                f"not delivered: {d['schedule']} {d['item']} → {d['channel']} "
                f"({d['attempts']} attempts): {d['error']}",
                highlight=False,
                markup=False,
            )
    if failing:
        raise typer.Exit(1)


@schedule_app.command("history")
def history_command(
    db: DbOption = None,
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest deliveries.")] = 50,
    fmt: Format = "table",
) -> None:
    """The latest scheduled deliveries: schedule, due time, item, channel, status, attempts."""
    from supportkpi.analysis import export, render
    from supportkpi.store.schedule_log import history

    with open_store(db, read_only=True) as store:
        rows = history(store, limit)
    if fmt == "json":
        sys.stdout.write(json.dumps(render.jsonable(rows), indent=1) + "\n")
        return
    if not rows:
        out.print("Nothing scheduled has been made yet.")
        return
    cells = [
        [
            f"{r['due_at']:%Y-%m-%d %H:%M}", r["schedule"], r["item"], r["channel"],
            r["status"], str(r["attempts"]), r["error"] or "–",
        ]
        for r in rows
    ]  # fmt: skip
    columns = ["due at (UTC)", "schedule", "item", "channel", "status", "attempts", "error"]
    title = "Scheduled deliveries"
    out.print(export.fitted(title, columns, cells, ["attempts"], out.width))
