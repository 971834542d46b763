"""Alerts: check the ``[[alerts]]`` rules once, and list what fired and resolved."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from supportkpi.cli._common import ConfigOption, DbOption, app, config_from, fail, open_store, out

FIRED = 3  # exit code when an alert is firing

alerts_app = typer.Typer(
    help="Alerts from the [[alerts]] rules of supportkpi.toml: check, history.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(alerts_app, name="alerts")

Format = Annotated[str, typer.Option("--format", help="table or json.")]


@alerts_app.command("check")
def check_command(
    db: DbOption = None,
    at: Annotated[
        str | None, typer.Option(help="Check as of this ISO time (with offset) instead of now.")
    ] = None,
    fmt: Format = "table",
    config: ConfigOption = None,
) -> None:
    """Evaluate every rule once, send what fired or resolved, retry unsent notices; exit 3
    while any alert is firing (for a scheduler such as cron)."""
    from supportkpi.analysis import render
    from supportkpi.analysis.query import QueryError
    from supportkpi.config import ConfigError
    from supportkpi.reports.alerts import FIRING, check

    settings = config_from(config)
    if not settings.alerts:
        raise fail("no [[alerts]] in the config; see the README's Alerts section")
    moment = _moment(at)
    with open_store(db) as store:
        try:
            outcomes = check(store, settings, moment)
        except (QueryError, ConfigError) as exc:
            raise fail(str(exc)) from None
    rows = [o.__dict__ for o in outcomes]
    if fmt == "json":
        sys.stdout.write(json.dumps(render.jsonable(rows), indent=1) + "\n")
    else:
        view = Table(title="Alerts", title_justify="left")
        for name in ("rule", "status", "value", "threshold", "sample"):
            view.add_column(name, justify="right" if name in ("value", "sample") else "left")
        for o in outcomes:
            value = "–" if o.value is None else f"{o.value:,.4g}"
            view.add_row(o.rule, o.status, value, o.threshold or "–", str(o.sample))
        out.print(view)
    if any(o.status in FIRING for o in outcomes):
        raise typer.Exit(FIRED)


@alerts_app.command("history")
def history_command(
    db: DbOption = None,
    limit: Annotated[int, typer.Option(min=1, help="How many of the latest events.")] = 50,
    fmt: Format = "table",
) -> None:
    """The latest firings and resolutions with each delivery's status and attempts."""
    from supportkpi.analysis import render
    from supportkpi.store.alert_log import history

    with open_store(db, read_only=True) as store:
        events = history(store, limit)
    if fmt == "json":
        sys.stdout.write(json.dumps(render.jsonable(events), indent=1) + "\n")
        return
    if not events:
        out.print("No alert has fired.")
        return
    from supportkpi.analysis import export

    rows = []
    for e in events:
        sent = ", ".join(
            f"{d['channel']} {d['status']} ({d['attempts']})"
            + (f": {d['error']}" if d["error"] and d["status"] != "sent" else "")
            for d in e["deliveries"]
        )
        value = "–" if e["value"] is None else f"{e['value']:,.4g}"
        rows.append([
            f"{e['at']:%Y-%m-%d %H:%M}", e["rule"], e["status"], value, e["threshold"] or "–",
            str(e["sample"]), sent or "–",
        ])  # fmt: skip
    columns = ["at", "rule", "status", "value", "threshold", "sample", "deliveries"]
    out.print(export.fitted("Alert history", columns, rows, ["value", "sample"], out.width))


def _moment(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise fail(f"--at {at!r} is not an ISO date-time") from None
    if moment.tzinfo is None:
        raise fail(f"--at {at!r} needs its offset (Z or +01:00)")
    return moment
