"""Workforce commands: forecast, staff, erlang."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

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

Interval = Annotated[int, typer.Option(help="Interval length in minutes: 15, 30 or 60.")]
By = Annotated[str, typer.Option(help="Plan per channel, vendor and/or queue.")]
Format = Annotated[str, typer.Option("--format", help="table, csv or json.")]


def _emit(table: pa.Table, fmt: str) -> bool:
    """Print a machine format; False when the caller should draw a table."""
    import pyarrow.csv as pacsv

    from supportkpi.analysis import render

    if fmt == "json":
        sys.stdout.write(json.dumps(render.plain_records(table), indent=1) + "\n")
    elif fmt == "csv":
        pacsv.write_csv(render.inert(table), sys.stdout.buffer)
    elif fmt != "table":
        raise fail(f"unknown format {fmt!r}; table, csv or json")
    return fmt != "table"


def _view(table: pa.Table, title: str) -> Table:
    """Values humanised, text to the left and numbers to the right, headers in words, the
    group in one column ("chat/northwind") when it is several, fitted to the terminal
    (:func:`~supportkpi.analysis.export.fitted`)."""
    import pyarrow as pa

    from supportkpi.analysis import export, render

    keys = [k for k in ("channel", "vendor", "queue") if k in table.column_names]
    names = [n for n in table.column_names if len(keys) < 2 or n not in keys]
    heads = [n.replace("_", " ") for n in names]  # "peak agents" wraps where peak_agents cannot
    right = [
        h
        for n, h in zip(names, heads, strict=True)
        if not pa.types.is_string(table.schema.field(n).type)
    ]
    rows = [[render.cell(row[c], c) for c in names] for row in table.to_pylist()]
    if len(keys) > 1:
        groups = zip(*(table[k].to_pylist() for k in keys), strict=True)
        merged = ["/".join("(none)" if v is None else str(v) for v in g) for g in groups]
        heads, rows = ["/".join(keys), *heads], [[m, *r] for m, r in zip(merged, rows, strict=True)]
    return export.fitted(title, heads, rows, right, out.width)


@app.command("forecast")
def forecast_command(
    db: DbOption = None,
    days: Annotated[int, typer.Option(min=1, max=92, help="Days to forecast.")] = 7,
    interval: Interval = 30,
    by: By = "channel",
    check: Annotated[
        bool,
        typer.Option(
            "--backtest",
            help="Show the rolling-origin backtest (MAPE, MASE, bias per horizon day) of "
            "every candidate model against seasonal-naive.",
        ),
    ] = False,
    fmt: Format = "table",
    config: ConfigOption = None,
) -> None:
    """Conversations expected per interval over the next days, with an 80 % interval; the
    model is chosen per group by a backtest, the history cleaned first (the notes say how)."""
    from supportkpi.workforce.predict import backtest_table, daily_table, forecast_table, notes
    from supportkpi.workforce.staffing import forecasts

    settings = config_from(config)
    keys = csv_list(by)
    with open_store(db, read_only=True) as store:
        try:
            predicted = forecasts(store, settings, days, interval, keys)
        except ValueError as exc:
            raise fail(str(exc)) from None
    if not predicted:
        raise fail("no conversations in the store to forecast from")
    for line in notes(predicted):
        err.print(line, highlight=False, markup=False)
    if all(f.reason is not None for f in predicted):
        raise fail("nothing could be forecast (see above)")
    if check:
        _show_backtest(backtest_table(predicted, keys), keys, fmt)
        return
    table = forecast_table(predicted, keys)
    if _emit(table, fmt):
        return
    daily = daily_table(predicted, keys)
    title = (
        f"Forecast: conversations per day ({interval}-minute intervals; low–high: 80 % "
        "interval of the day's total)"
    )
    # the model is one per group: named once under the table, which then fits 80 columns
    chosen = dict.fromkeys(zip(*(daily[k].to_pylist() for k in [*keys, "model"]), strict=True))
    out.print(_view(daily.drop_columns(["model"]), title))
    named = "; ".join(f"{'/'.join(map(str, g[:-1])) or 'all'} {g[-1]}" for g in chosen)
    out.print(f"Model chosen by backtest: {named}.", highlight=False)


def _show_backtest(table: pa.Table, keys: list[str], fmt: str) -> None:
    if not table.num_rows:
        raise fail("no group has enough history for a backtest (15 days or more)")
    if _emit(table, fmt):
        return
    rows = table.to_pylist()
    models = list(dict.fromkeys(r["model"] for r in rows))
    groups = list(dict.fromkeys(tuple(r[k] for k in keys) for r in rows))
    from supportkpi.analysis import export

    for group in groups:
        mine = [r for r in rows if tuple(r[k] for k in keys) == group]
        chosen = next(r["model"] for r in mine if r["chosen"])
        heads = ["day", "scored", *(f"MASE {m}" for m in models)]
        heads += [*(f"MAPE {m}" for m in models), "bias"]
        cells = []
        for h in sorted({r["horizon"] for r in mine}):
            at = {r["model"]: r for r in mine if r["horizon"] == h}
            cells.append(
                [
                    str(h),
                    str(at[chosen]["days"]),
                    *(_number(at[m]["mase"], "{:.2f}") for m in models),
                    *(_number(at[m]["mape"], "{:.1%}") for m in models),
                    _number(at[chosen]["bias"], "{:+.1%}"),
                ]
            )
        title = (
            f"Backtest {'/'.join(map(str, group))} per horizon day: MASE and MAPE of each "
            f"model (lower is better), bias of the chosen one, {chosen} (> 0: over-forecast)"
        )
        # one table when it fits the terminal; else MASE, then MAPE and bias, each with days
        fits = sum(max(len(w) for w in h.split()) + 3 for h in heads) + 1 <= out.width
        split = len(models) + 2
        parts = [heads] if fits else [heads[:split], heads[:2] + heads[split:]]
        for part in parts:
            index = [heads.index(h) for h in part]
            shown = [[row[i] for i in index] for row in cells]
            out.print(export.fitted(title, part, shown, part, out.width))
            title = ""


def _number(value: float | None, pattern: str) -> str:
    return "—" if value is None else pattern.format(value)


@app.command("staff")
def staff_command(
    db: DbOption = None,
    days: Annotated[int, typer.Option(min=1, max=92, help="Days to plan.")] = 7,
    interval: Interval = 30,
    by: By = "channel",
    service_level: Annotated[
        float | None, typer.Option(help="Share to answer within the target [config: 0.8].")
    ] = None,
    answer_within: Annotated[
        float | None,
        typer.Option(help="Target answer time in seconds [default: the channel's threshold]."),
    ] = None,
    max_occupancy: Annotated[float | None, typer.Option(help="Occupancy cap [0.85].")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Chats per agent at once [2].")] = None,
    shrinkage: Annotated[
        float | None, typer.Option(help="Share of paid time not available [0.3].")
    ] = None,
    fmt: Format = "table",
    config: ConfigOption = None,
) -> None:
    """Agents needed per interval: forecast × measured handle time and patience (Erlang A/C)."""
    from supportkpi.workforce.staffing import daily_summary, peaks, plan

    settings = config_from(config)
    overrides = {
        "service_level": service_level,
        "max_occupancy": max_occupancy,
        "concurrency": concurrency,
        "shrinkage": shrinkage,
    }
    try:
        workforce = settings.workforce.model_validate(
            settings.workforce.model_dump() | {k: v for k, v in overrides.items() if v is not None}
        )
    except ValueError as exc:
        raise fail(f"invalid staffing option: {exc.errors()[0]['msg']}") from None  # type: ignore[attr-defined]
    keys = csv_list(by)
    with open_store(db, read_only=True) as store:
        try:
            result = plan(store, settings, days, interval, keys, answer_within, workforce)
        except ValueError as exc:
            raise fail(str(exc)) from None
    for line in result.notes:
        err.print(line, highlight=False, markup=False)
    if not result.intervals.num_rows:
        raise fail("no conversations with a handle time in the store to plan from")
    if _emit(result.intervals, fmt):
        return
    out.print(
        _view(
            daily_summary(result, keys),
            f"Staffing per day (scheduled agents, shrinkage {workforce.shrinkage:.0%})",
        )
    )
    top = peaks(result, keys, 3).select(
        [*keys, "interval_start", "arrivals", "scheduled", "service_level", "occupancy"]
    )
    out.print(_view(top, "Peak intervals"))


@app.command("erlang")
def erlang_command(
    arrivals: Annotated[float, typer.Option(help="Arrivals per interval.")],
    aht: Annotated[float, typer.Option(help="Average handle time, seconds.")],
    interval: Annotated[int, typer.Option(help="Interval, minutes.")] = 30,
    answer_within: Annotated[float, typer.Option(help="Target answer time, seconds.")] = 20,
    service_level: Annotated[float, typer.Option(help="Share to answer in time.")] = 0.8,
    patience: Annotated[
        float | None,
        typer.Option(help="Mean patience in seconds: Erlang A (abandonment); without it Erlang C."),
    ] = None,
    max_occupancy: Annotated[float, typer.Option(help="Occupancy cap.")] = 1.0,
    max_abandon: Annotated[float | None, typer.Option(help="Abandonment cap (Erlang A).")] = None,
    max_wait: Annotated[
        float | None, typer.Option(help="Cap on the probability of waiting, P(wait).")
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Chats per agent at once.")] = 1,
    growth: Annotated[float, typer.Option(help="Handle-time growth per extra chat.")] = 0.25,
    shrinkage: Annotated[float, typer.Option(help="Share of paid time not available.")] = 0.0,
    agents: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="What-if: what this many agents achieve (service level, ASA, P(wait), "
            "occupancy) instead of the search for the fewest.",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """One-off staffing: agents for a service level and what nearby staffing would achieve,
    or (--agents) what a given headcount achieves."""
    from supportkpi.workforce import what_if

    if fmt not in ("table", "json"):
        raise fail(f"unknown format {fmt!r}; table or json")
    try:
        found = what_if.staffing(
            arrivals,
            aht,
            interval,
            answer_within,
            service_level,
            patience,
            max_occupancy,
            max_abandon,
            max_wait,
            concurrency,
            growth,
            shrinkage,
            agents,
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    rows = found.table.drop_columns(["fewest"]).to_pylist()
    if fmt == "json":
        summary = {
            "model": found.model,
            "load": found.load,
            "fewest_agents": found.fewest_agents,
            "fewest_scheduled": found.fewest_scheduled,
            "meets_targets": found.meets_targets,
        }
        sys.stdout.write(json.dumps(summary | {"staffing": rows}, indent=1) + "\n")
        return
    slots = found.slots_per_agent
    view = Table(
        title=f"{found.model}: {arrivals:g} arrivals per {interval} min, AHT {aht:g} s, "
        f"load {found.load:.2f} Erlangs",
        title_justify="left",
    )
    for head in (
        "slots" if slots > 1 else "agents",
        "scheduled",
        "service level",
        "ASA",
        "occupancy",
        "P(wait)",
        "P(abandon)",
    ):
        view.add_column(head, justify="right")
    for r, fewest in zip(rows, found.table.column("fewest").to_pylist(), strict=True):
        asa = "–" if r["asa"] is None else f"{r['asa']:.1f}s"
        view.add_row(
            f"{r['slots']}{' ◀' if fewest else ''}",
            str(r["scheduled"]),
            f"{r['service_level']:.1%}",
            asa,
            f"{r['occupancy']:.1%}",
            f"{r['wait_probability']:.1%}",
            f"{r['abandon_probability']:.1%}",
        )
    out.print(view)
    if agents is not None:
        verdict = "meet" if found.meets_targets else "miss"
        out.print(
            f"With {agents} agents you {verdict} the targets; "
            f"the fewest to meet them: {found.fewest_agents}"
        )
        return
    out.print(
        f"Fewest meeting the targets: {found.fewest_agents} agents"
        + (f" ({found.fewest_slots} chat slots of {slots})" if slots > 1 else "")
        + f"; scheduled with shrinkage {shrinkage:.0%}: {found.fewest_scheduled}",
        highlight=False,
    )
