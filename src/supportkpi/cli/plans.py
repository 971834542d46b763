"""Plan against actual: publish a staffing plan (and its roster), list the published ones, and
hold one against the conversations that came."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from supportkpi.cli._common import (
    ConfigOption,
    DbOption,
    app,
    config_from,
    csv_list,
    err,
    fail,
    open_store,
    out,
)

if TYPE_CHECKING:
    import pyarrow as pa

plan_app = typer.Typer(
    help="Published staffing plans held against what happened: publish, list, actual.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(plan_app, name="plan")

Format = Annotated[str, typer.Option("--format", help="table, csv or json.")]


@plan_app.command("publish")
def publish_command(
    db: DbOption = None,
    days: Annotated[int, typer.Option(min=1, max=31, help="Days to plan.")] = 7,
    interval: Annotated[int, typer.Option(help="Interval length in minutes: 15, 30 or 60.")] = 30,
    by: Annotated[str, typer.Option(help="Plan per channel, vendor and/or queue.")] = "channel",
    name: Annotated[str | None, typer.Option(help="A name to know the plan by.")] = None,
    roster: Annotated[
        bool,
        typer.Option("--roster", help="Also roster it (the config's [workforce.roster] rules)."),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Make the staffing plan for the days after the data (as `supportkpi staff`) and keep it
    in the store, to be held against what comes with `supportkpi plan actual`."""
    from supportkpi.workforce.actual import publish
    from supportkpi.workforce.roster import rules_from
    from supportkpi.workforce.staffing import plan, rosters

    settings = config_from(config)
    keys = csv_list(by)
    with open_store(db) as store:
        try:
            made = plan(store, settings, days, interval, keys)
            rostered = []
            if roster:
                rostered = rosters(made, keys, rules_from(settings.workforce.roster))
            plan_id = publish(store, settings, made, keys, name, rostered)
        except ValueError as exc:
            raise fail(str(exc)) from None
    for line in made.notes:
        err.print(line, highlight=False, markup=False)
    if not made.intervals.num_rows:
        raise fail("nothing was planned: no group could be forecast")
    first = min(made.intervals["interval_start"].to_pylist())
    last = max(made.intervals["interval_start"].to_pylist())
    out.print(
        f"published plan {plan_id}: {made.intervals.num_rows} intervals, {first:%Y-%m-%d %H:%M}"
        f" to {last:%Y-%m-%d %H:%M}; compare it later with `supportkpi plan actual --plan "
        f"{plan_id}`",
        highlight=False,
    )


@plan_app.command("list")
def list_command(db: DbOption = None, fmt: Format = "table") -> None:
    """The published plans, newest first."""
    import pyarrow as pa
    from rich.table import Table

    from supportkpi.cli.workforce import _emit
    from supportkpi.workforce.actual import plans

    with open_store(db, read_only=True) as store:
        found = plans(store)
    if not found:
        out.print("No plan has been published: supportkpi plan publish")
        return
    table = pa.Table.from_pylist(found)
    if _emit(table, fmt):
        return
    view = Table(title="Published plans", title_justify="left")
    for column in ("plan", "name", "published (UTC)", "by", "min", "days"):
        view.add_column(column)
    for p in found:
        days = f"{p['first']:%Y-%m-%d} to {p['last']:%Y-%m-%d}" if p["first"] else "–"
        view.add_row(
            p["plan_id"], p["name"] or "–", f"{p['published_at']:%Y-%m-%d %H:%M}", p["by"],
            str(p["interval"]), days,
        )  # fmt: skip
    out.print(view)


@plan_app.command("actual")
def actual_command(
    db: DbOption = None,
    plan_id: Annotated[
        str | None, typer.Option("--plan", help="The plan's id [default: the latest].")
    ] = None,
    show: Annotated[
        str, typer.Option("--show", help="summary, days or intervals (table and csv).")
    ] = "summary",
    fmt: Format = "table",
    config: ConfigOption = None,
) -> None:
    """A published plan against what came: forecast against actual volume per interval and
    day (MAPE, WAPE, bias), service level planned and achieved, occupancy planned and had."""
    from supportkpi.cli.workforce import _emit
    from supportkpi.workforce.actual import compare, describe

    settings = config_from(config)
    if show not in ("summary", "days", "intervals"):
        raise fail(f"--show {show!r}: summary, days or intervals")
    with open_store(db, read_only=True) as store:
        try:
            found = compare(store, settings, plan_id)
        except ValueError as exc:
            raise fail(str(exc)) from None
    for line in found.notes:
        err.print(line, highlight=False, markup=False)
    if fmt == "json":
        sys.stdout.write(json.dumps(describe(found), indent=1) + "\n")
        return
    table = getattr(found, show)
    if not table.num_rows:
        out.print("Nothing to compare yet: none of the plan's intervals has happened.")
        return
    if not _emit(table, fmt):
        plan = found.plan
        title = f"Plan {plan['plan_id']} ({plan['name'] or 'unnamed'}) against actual: {show}"
        out.print(_compact(_readable(table), title))


SHARES = (
    "bias", "daily_mape", "interval_wape", "error_share", "planned_service_level",
    "service_level", "service_level_of_hour", "planned_occupancy", "actual_occupancy",
)  # fmt: skip
# the interval table at 80 columns; csv and json carry every column
LEFT_OUT = ("error", "agents", "rostered")
HEADERS = {
    "interval_start": "interval", "forecast": "fcst", "daily_mape": "MAPE", "interval_wape": "WAPE",
    "error_share": "error %", "planned_service_level": "SL plan", "service_level": "SL",
    "service_level_of_hour": "SL hr", "planned_occupancy": "occ plan", "actual_occupancy": "occ",
    "scheduled": "sched.",
}  # fmt: skip
GROUPS = ("channel", "vendor", "queue")


def _readable(table: pa.Table) -> pa.Table:
    """Shares as percentages, counts rounded, short headers: fits 80 columns."""
    import pyarrow as pa

    columns = {}
    intervals = "interval_start" in table.column_names
    keys = [g for g in GROUPS if g in table.column_names]
    if len(keys) > 1:  # one column for the group: chat/northwind
        rows = zip(*(table[k].to_pylist() for k in keys), strict=True)
        columns["group"] = ["/".join("–" if v is None else str(v) for v in r) for r in rows]
    for name in table.column_names:
        if (intervals and name in LEFT_OUT) or (len(keys) > 1 and name in keys):
            continue
        values = table[name].to_pylist()
        if name in SHARES:
            digits = 0 if intervals else 1
            values = ["–" if v is None else f"{v:.{digits}%}" for v in values]
        elif name in ("forecast", "error"):
            values = [f"{v:,.1f}" for v in values]
        elif name == "interval_start":
            values = [f"{v:%d %H:%M}" for v in values]
        columns[HEADERS.get(name, name)] = [("–" if v is None else str(v)) for v in values]
    return pa.table(columns)


def _compact(table: pa.Table, title: str) -> object:
    """A table with light rules, numbers to the right, no cell cut or wrapped."""
    from rich.table import Table

    view = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    for name in table.column_names:
        numeric = name not in ("group", *GROUPS, "day", "interval")
        view.add_column(name, justify="right" if numeric else "left", no_wrap=True)
    for row in table.to_pylist():
        view.add_row(*row.values())
    return view
