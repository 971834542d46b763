"""Commands that list conversations: conversations (the drill-down), conversation (one
timeline) and comments (low-rated survey comments)."""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

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
from supportkpi.vocabulary import DIMENSIONS, PERIODS

if TYPE_CHECKING:
    import pyarrow as pa

    from supportkpi.analysis.conversations import Conversations

NONE = "(none)"  # how a group without a value is shown, and asked for
SHOWN = [
    "conversation_id",
    "created",
    "vendor",
    "agent",
    "channel",
    "resolved",
    "first_response_seconds",
    "resolution_seconds",
    "csat_score",
]
TeamOption = Annotated[str | None, typer.Option(help="Only these teams.")]
AgentOption = Annotated[str | None, typer.Option(help=f"Only these agents ({NONE}: none).")]
QueueOption = Annotated[str | None, typer.Option(help="Only these queues.")]
TopicOption = Annotated[str | None, typer.Option(help="Only these topics.")]
FormatOption = Annotated[str, typer.Option("--format", help="table, csv, json, parquet or xlsx.")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Write to this file.")]


def cell_filters(**given: str | None) -> dict[str, list[str | None]]:
    """Comma-separated filter options; ``(none)`` asks for the group without a value."""
    return {
        k: [None if v == NONE else v for v in csv_list(value)]
        for k, value in given.items()
        if value
    }


def _outcome(text: str | None) -> bool | None:
    if text is None:
        return None
    if text not in ("yes", "no"):
        raise fail(f"--outcome is yes (the KPI's numerator) or no (the rest), not {text!r}")
    return text == "yes"


@app.command("conversations")
def conversations_command(
    db: DbOption = None,
    kpi: Annotated[
        str | None, typer.Option(help="Only the conversations this KPI is measured over.")
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            help="yes: those in the KPI's numerator (abandoned, resolved first…); no: "
            "the rest of its denominator."
        ),
    ] = None,
    missed: Annotated[
        str | None, typer.Option(help="Only those that missed their target for this KPI.")
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            help=f"The report's grouping; a period ({', '.join(PERIODS)}) adds its column."
        ),
    ] = "",
    at: Annotated[
        str | None, typer.Option(help="The cell's period: any day in it (YYYY-MM-DD).")
    ] = None,
    from_: FromOption = None,
    to: ToOption = None,
    tz: TzOption = None,
    channel: ChannelOption = None,
    vendor: VendorOption = None,
    team: TeamOption = None,
    agent: AgentOption = None,
    queue: QueueOption = None,
    topic: TopicOption = None,
    sort: Annotated[
        str | None, typer.Option(help="Sort by a column; -column for descending.")
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            help="At most this many rows [default: 50 on screen, all in a file].",
            show_default=False,
        ),
    ] = None,
    offset: Annotated[int, typer.Option(help="Skip this many rows first.")] = 0,
    fmt: FormatOption = "table",
    out_file: OutOption = None,
    config: ConfigOption = None,
) -> None:
    """The conversations behind a report's number, each with its facts, as the KPIs see
    them."""
    from supportkpi.analysis.conversations import conversations
    from supportkpi.analysis.query import QueryError
    from supportkpi.config import ConfigError

    _check_format(fmt, out_file)
    settings = config_from(config)
    filters = cell_filters(
        channel=channel, vendor=vendor, team=team, agent=agent, queue=queue, topic=topic
    )
    with open_store(db, read_only=True) as store:
        try:
            result = conversations(
                store,
                settings,
                kpi=kpi,
                outcome=_outcome(outcome),
                missed=missed,
                by=csv_list(by),
                at=parse_date(at),
                start=parse_date(from_),
                end=parse_date(to),
                filters=filters,
                tz=tz,
                sort=sort,
                limit=limit if limit is not None else (50 if fmt == "table" else None),
                offset=offset,
            )
        except (QueryError, ConfigError) as exc:
            raise fail(str(exc)) from None
    _emit_listing(result, fmt, out_file)


def _check_format(fmt: str, out_file: Path | None) -> None:
    from supportkpi.analysis import export

    if fmt not in export.FORMATS:
        raise fail(f"unknown format {fmt!r}; one of {', '.join(export.FORMATS)}")
    if fmt in ("parquet", "xlsx") and out_file is None:
        raise fail(f"--format {fmt} needs --out FILE")


def _emit_listing(result: Conversations, fmt: str, out_file: Path | None) -> None:
    from supportkpi.analysis import export

    table = result.table
    if fmt == "table":
        shown = [c for c in [*SHOWN, "value"] if c in table.column_names]
        what = f"{result.kpi}: {result.measured_over}" if result.kpi else "Conversations"
        out.print(export.rich_table(table, what, shown, out.width))
        err.print(
            f"{table.num_rows} of {result.total} conversations; --format csv or json for "
            "every column",
            highlight=False,
        )
        return
    _emit(table, fmt, out_file)
    err.print(f"{table.num_rows} of {result.total} rows", highlight=False)


def _emit(table: pa.Table, fmt: str, out_file: Path | None) -> None:
    from supportkpi.analysis import export

    if out_file is not None:
        export.write(table, fmt, out_file)
    elif fmt == "csv":
        sys.stdout.write(export.to_csv(table))
    else:
        sys.stdout.write(export.to_json(table) + "\n")


@app.command("conversation")
def conversation_command(
    conversation_id: Annotated[str, typer.Argument(help="The conversation's id.")],
    db: DbOption = None,
    tz: TzOption = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
    config: ConfigOption = None,
) -> None:
    """One conversation as it happened: its facts, messages (replies and private notes
    marked), survey answers and QA reviews."""
    from supportkpi.analysis import render
    from supportkpi.analysis.query import QueryError
    from supportkpi.analysis.timeline import NotFound, timeline
    from supportkpi.config import ConfigError

    settings = config_from(config)
    with open_store(db, read_only=True) as store:
        try:
            found = timeline(store, conversation_id, settings, tz)
        except (NotFound, QueryError, ConfigError) as exc:
            raise fail(str(exc)) from None
    if fmt == "json":
        text = json.dumps(render.jsonable(found), ensure_ascii=False, indent=1)
        sys.stdout.write(text + "\n")
        return
    facts = found["conversation"]
    for name, value in facts.items():
        out.print(f"{name}: {_plain(value)}", highlight=False, markup=False)
    for m in found["messages"]:
        mark = " [private note]" if m["private"] else (" [reply]" if m["reply"] else "")
        out.print(
            f"{_plain(m['sent_at'])} {m['author_role']}{mark}: {m['text'] or ''}",
            highlight=False,
            markup=False,
        )
    for s in found["surveys"]:
        out.print(
            f"survey {s['kind']} {s['score']:g}/{s['scale_max']:g}: {s['comment'] or ''}",
            highlight=False,
            markup=False,
        )


def _plain(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return "–" if value is None else str(value)


@app.command("comments")
def comments_command(
    db: DbOption = None,
    by: Annotated[
        str, typer.Option(help=f"Group by ({', '.join(DIMENSIONS)} and a period).")
    ] = "vendor",
    kind: Annotated[str, typer.Option(help="csat, nps or both.")] = "csat,nps",
    per_group: Annotated[int, typer.Option(help="At most this many per group.")] = 10,
    from_: FromOption = None,
    to: ToOption = None,
    tz: TzOption = None,
    channel: ChannelOption = None,
    vendor: VendorOption = None,
    team: TeamOption = None,
    agent: AgentOption = None,
    fmt: FormatOption = "table",
    out_file: OutOption = None,
    config: ConfigOption = None,
) -> None:
    """The lowest-rated CSAT and NPS answers that carry a comment, per vendor, agent or
    period."""
    from supportkpi.analysis import export
    from supportkpi.analysis.comments import low_rated_comments
    from supportkpi.analysis.query import QueryError
    from supportkpi.config import ConfigError

    _check_format(fmt, out_file)
    settings = config_from(config)
    filters = {
        k: csv_list(v)
        for k, v in {"channel": channel, "vendor": vendor, "team": team, "agent": agent}.items()
    }
    with open_store(db, read_only=True) as store:
        try:
            table = low_rated_comments(
                store,
                settings,
                csv_list(by),
                parse_date(from_),
                parse_date(to),
                filters,
                tz,
                csv_list(kind),
                per_group,
            )
        except (QueryError, ConfigError) as exc:
            raise fail(str(exc)) from None
    if fmt != "table":
        _emit(table, fmt, out_file)
    elif not table.num_rows:
        out.print("No low-rated answer with a comment.")
    else:
        out.print(export.rich_table(table, "Low-rated answers with comments", width=out.width))
