"""The roster command: least-cost shifts over the staffing plan or a requirements file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
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
from supportkpi.cli.workforce import By, Format, Interval, _view

if TYPE_CHECKING:
    import pyarrow as pa

    from supportkpi.workforce.roster import Roster


@app.command("roster")
def roster_command(
    db: DbOption = None,
    days: Annotated[int, typer.Option(min=1, max=31, help="Days to roster.")] = 7,
    interval: Interval = 30,
    by: By = "channel",
    starts: Annotated[
        str | None,
        typer.Option(
            help='Allowed shift starts: "07:00,09:00,…" or "every 60" (minutes) '
            "[default: [workforce.roster], else every 60]."
        ),
    ] = None,
    lengths: Annotated[
        str | None,
        typer.Option(help="Shift lengths in hours, e.g. 4,6,8 [default: config, else 4,6,8]."),
    ] = None,
    min_agents: Annotated[
        int | None, typer.Option(min=0, help="Agents on duty at least, whenever any are needed.")
    ] = None,
    max_agents: Annotated[
        int | None, typer.Option(min=0, help="Agents on duty at most at once (seats).")
    ] = None,
    max_days: Annotated[
        int | None,
        typer.Option(min=1, max=7, help="Working days in a row at most, per agent."),
    ] = None,
    min_days_off: Annotated[
        int | None, typer.Option(min=0, max=6, help="Days off a week at least, per agent.")
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(help="Hourly cost of an agent [default: the vendor's rate, else 1]."),
    ] = None,
    shortfall_cost: Annotated[
        float | None,
        typer.Option(help="Cost of one agent-interval short [default: above any shift's cost]."),
    ] = None,
    requirements: Annotated[
        Path | None,
        typer.Option(
            help="CSV of interval_start,agents to roster instead of the store's staffing plan."
        ),
    ] = None,
    coverage: Annotated[
        bool,
        typer.Option(
            "--coverage", help="Show (or, as csv, write) every interval's coverage, not the shifts."
        ),
    ] = False,
    agents: Annotated[
        bool,
        typer.Option(
            "--agents", help="Show (or write) each agent's shifts (with --max-days/--min-days-off)."
        ),
    ] = False,
    fmt: Format = "table",
    config: ConfigOption = None,
) -> None:
    """Shifts covering the agents needed per interval at the least cost (a MIP solved by
    HiGHS); the coverage per interval and any shortfall are shown, never hidden."""
    from supportkpi.workforce.roster import requirements as roster_requirements
    from supportkpi.workforce.roster import roster, rules_from
    from supportkpi.workforce.staffing import plan, rosters

    settings = config_from(config)
    keys = csv_list(by)
    try:
        rules = rules_from(
            settings.workforce.roster,
            rate if rate is not None else 1.0,
            starts=starts,
            lengths=[float(v) for v in csv_list(lengths)] if lengths else None,
            min_agents=min_agents,
            max_agents=max_agents,
            max_days=max_days,
            min_days_off=min_days_off,
            shortfall_cost=shortfall_cost,
        )
        if requirements is not None:
            start, step, need = roster_requirements(_read_csv(requirements))
            made = [((str(requirements.name),), roster(need, start, step, rules))]
            keys = ["requirements"]
        else:
            with open_store(db, read_only=True) as store:
                result = plan(store, settings, days, interval, keys)
            for line in result.notes:
                err.print(line, highlight=False, markup=False)
            made = rosters(result, keys, rules, rate_from_settings=rate is None)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if not made:
        raise fail("nothing to roster: no group has a staffing plan")
    if agents and not rules.tours:
        raise fail("--agents needs days off: --max-days or --min-days-off (or the config's)")
    _show_rosters(made, keys, fmt, "agents" if agents else "coverage" if coverage else "shifts")


def _read_csv(path: Path) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        return pacsv.read_csv(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None


def _part(r: Roster, view: str) -> pa.Table:
    if view == "agents" and r.agents is not None:
        return r.agents
    return r.coverage if view == "coverage" else r.shifts


def _show_rosters(made: list[tuple[tuple, Roster]], keys: list[str], fmt: str, view: str) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from supportkpi.analysis import render
    from supportkpi.workforce.staffing import roster_records

    if fmt == "json":
        payload = roster_records(made, keys)
        sys.stdout.write(json.dumps(payload, indent=1) + "\n")
        return
    if fmt == "csv":
        parts = []
        for key, r in made:
            part = _part(r, view)
            for i, (k, v) in enumerate(zip(keys, key, strict=True)):
                part = part.add_column(i, k, pa.array([v] * part.num_rows, pa.string()))
            parts.append(part)
        pacsv.write_csv(render.inert(pa.concat_tables(parts)), sys.stdout.buffer)
        return
    if fmt != "table":
        raise fail(f"unknown format {fmt!r}; table, csv or json")
    for key, r in made:
        name = "/".join(map(str, key))
        if view == "coverage":
            out.print(_view(r.coverage, f"Coverage {name}: agents on duty against required"))
        elif view == "agents":
            people = len(set(_part(r, view)["agent"].to_pylist()))
            shown = _short(_part(r, view).drop_columns(["day"]))
            out.print(_view(shown, f"Agents {name}: {people} people, their shifts"))
        else:
            shown = _short(r.shifts)
            out.print(_view(shown, f"Roster {name}: {r.shifts.num_rows} shift types used"))
        short = r.coverage.filter(pc.greater(r.coverage["short"], 0))
        out.print(
            f"cost {r.cost:,.2f}; {int(pc.sum(r.coverage['required']).as_py() or 0)} "
            f"agent-intervals needed, {r.shortfall:g} short in {short.num_rows} interval(s); "
            f"solver: {r.status}",
            highlight=False,
        )
        if short.num_rows:
            out.print(_view(short, f"Intervals short ({name})"))


def _short(table: pa.Table) -> pa.Table:
    """Times as "Mon 31 08:00" and the break as "10:00–10:30", so a row fits 80 columns."""
    import pyarrow as pa

    rows = table.to_pylist()
    columns: dict[str, list] = {}
    for name in table.column_names:
        if name == "break_start":
            columns["break"] = [
                "–" if r["break_start"] is None
                else f"{r['break_start']:%H:%M}–{r['break_end']:%H:%M}"
                for r in rows
            ]  # fmt: skip
        elif name in ("start", "end"):
            columns[name] = [f"{r[name]:%a %d %H:%M}" for r in rows]
        elif name != "break_end":
            columns[name] = table[name].to_pylist()
    return pa.Table.from_pydict(columns)
