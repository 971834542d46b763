"""``supportkpi import``: read a support platform's API and load what it holds."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from supportkpi.cli._common import DbOption, app, err, fail, open_store, out, parse_date
from supportkpi.cli.data import print_summary

import_app = typer.Typer(
    help="Read a support platform's API and load its conversations.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(import_app, name="import")


@import_app.command("chatwoot")
def import_chatwoot(
    url: Annotated[str, typer.Option(help="The Chatwoot instance, e.g. https://chat.example.com")],
    account: Annotated[int, typer.Option(help="The account id (in Chatwoot's URLs).")],
    token: Annotated[
        str,
        typer.Option(
            help="An access token (Profile settings → Access token).", envvar="CHATWOOT_TOKEN"
        ),
    ],
    since: Annotated[
        str | None, typer.Option(help="Only conversations active since this day (YYYY-MM-DD).")
    ] = None,
    vendor: Annotated[
        str | None, typer.Option(help="The vendor that runs this account's support.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Page through a Chatwoot account's conversations, their messages and its CSAT survey
    responses, and load them in one transaction (a second import updates, never doubles)."""
    from supportkpi.load.ingest import LoadError, load_records
    from supportkpi.sources.chatwoot_api import ChatwootApiError, Client, read_account

    day = parse_date(since)
    start = datetime.combine(day, datetime.min.time(), UTC) if day else None
    client = Client(url, account, token)
    with err.status("reading Chatwoot…") as status:
        try:
            read = read_account(
                client, start, vendor, lambda what, n: status.update(f"read {n:,} {what}…")
            )
        except ChatwootApiError as exc:
            raise fail(str(exc)) from None
    batches = {t: json.dumps(r).encode() for t, r in read.records.items() if r}
    if not batches:
        out.print(
            "Nothing to import: no conversations" + (f" active since {since}" if since else "")
        )
        return
    with open_store(db) as store:
        try:
            summary = load_records(store, batches, f"chatwoot:{url.rstrip('/')}/accounts/{account}")
        except LoadError as exc:
            raise fail(str(exc)) from None
    print_summary(summary)
