"""Commands for the HTTP server: serve, and the access tokens it checks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from supportkpi.cli._common import ConfigOption, DbOption, app, config_from, err, fail, out

if TYPE_CHECKING:
    from supportkpi.store.access import TokenStore

TokensOption = Annotated[
    Path | None,
    typer.Option(
        "--tokens",
        help="Token file [default: $SUPPORTKPI_TOKENS, else beside the store file, or beside the "
        "config for a postgresql:// store: supportkpi.tokens.json]",
        show_default=False,
    ),
]

token_app = typer.Typer(
    help="Access tokens for the HTTP API and dashboard: create, list, revoke.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(token_app, name="token")


def _tokens(db: str | None, path: Path | None, config: Path | None = None) -> TokenStore:
    from supportkpi.store.access import AccessError, TokenStore, tokens_path
    from supportkpi.store.store import default_url

    try:
        return TokenStore(tokens_path(db or default_url(), path, config))
    except AccessError as exc:
        raise fail(str(exc)) from None


@app.command("serve")
def serve_command(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve without tokens: anyone may read and send.")
    ] = False,
    tokens: TokensOption = None,
    max_body_mb: Annotated[
        float, typer.Option(help="Largest request body accepted, in MB (413 above).")
    ] = 16,
    ssl_certfile: Annotated[Path | None, typer.Option(help="Serve HTTPS with this cert.")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="… and this key.")] = None,
    alerts: Annotated[
        bool, typer.Option("--alerts", help="Check the config's [[alerts]] while serving.")
    ] = False,
    alert_interval: Annotated[
        float, typer.Option(min=1, help="Seconds between alert checks (with --alerts).")
    ] = 60,
    schedules: Annotated[
        bool, typer.Option("--schedules", help="Run the config's [[schedules]] while serving.")
    ] = False,
    schedule_interval: Annotated[
        float, typer.Option(min=1, help="Seconds between schedule runs (with --schedules).")
    ] = 60,
    warm: Annotated[
        bool,
        typer.Option(
            "--warm/--no-warm",
            help="Answer the dashboard's first view (the last four weeks, every vendor) as "
            "soon as the server starts and after every load, so the first person to open it "
            "does not wait. GET /health says when it is ready.",
        ),
    ] = True,
    config: ConfigOption = None,
) -> None:
    """Run the HTTP API and the dashboard (OpenAPI at /docs)."""
    import uvicorn
    from rich.panel import Panel

    from supportkpi.api import create_app
    from supportkpi.store import kept
    from supportkpi.store.store import Store, StoreError, default_url

    settings = config_from(config)
    if alerts and not settings.alerts:
        raise fail("--alerts: no [[alerts]] in the config")
    if schedules and not settings.schedules:
        raise fail("--schedules: no [[schedules]] in the config")
    url = db or default_url()
    token_store = None if no_auth else _tokens(db, tokens, config)
    if token_store is not None and not any(r.revoked_at is None for r in token_store.records()):
        err.print(
            f"no tokens yet in {token_store.path}: create one with "
            "`supportkpi token create --role admin`",
            highlight=False,
        )
    try:
        store = Store.open(url)
    except StoreError as exc:
        raise fail(str(exc)) from None
    if done := kept.repair(store):
        err.print(f"warning: {done}", highlight=False, markup=False)
    if no_auth:
        err.print(
            Panel(
                "NO AUTHENTICATION: anyone who can reach "
                f"http://{host}:{port} can read every vendor's numbers and send records.",
                style="bold red",
            )
        )
    scheme = "https" if ssl_certfile else "http"
    err.print(f"supportkpi on {scheme}://{host}:{port}/ (API docs at /docs)", highlight=False)
    every = alert_interval if alerts else None
    runs = schedule_interval if schedules else None
    app_ = create_app(
        store, settings, token_store, int(max_body_mb * 1024 * 1024), every, runs, warm
    )
    try:
        uvicorn.run(
            app_,
            host=host,
            port=port,
            log_level="warning",
            ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
            ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        )
    finally:
        store.close()


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="admin, viewer or vendor.")],
    vendor: Annotated[str | None, typer.Option(help="The vendor of a vendor token.")] = None,
    name: Annotated[str | None, typer.Option(help="A name to recognise it by.")] = None,
    db: DbOption = None,
    tokens: TokensOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a token and print it; it is shown only this once (only its hash is kept)."""
    from supportkpi.store.access import AccessError

    store = _tokens(db, tokens, config)
    try:
        token = store.create(role, vendor, name)
    except AccessError as exc:
        raise fail(str(exc)) from None
    created = store.records()[-1]
    err.print(
        f"created {created.role} token {created.id} ({created.name}); keep it secret, "
        "it is not shown again:",
        highlight=False,
    )
    print(token)


@token_app.command("list")
def token_list(
    db: DbOption = None, tokens: TokensOption = None, config: ConfigOption = None
) -> None:
    """Every token: id, name, role, vendor, when created and revoked (never the token)."""
    records = _tokens(db, tokens, config).records()
    if not records:
        out.print("No tokens. Create one: supportkpi token create --role admin")
        return
    table = Table(title="Tokens", title_justify="left")
    for col in ("id", "name", "role", "vendor", "created", "revoked"):
        table.add_column(col)
    for r in records:
        table.add_row(r.id, r.name, r.role, r.vendor or "", r.created_at, r.revoked_at or "")
    out.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[str, typer.Argument(help="The id (or name) from `token list`.")],
    db: DbOption = None,
    tokens: TokensOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke a token: it and its dashboard sessions stop working at once."""
    from supportkpi.store.access import AccessError

    try:
        record = _tokens(db, tokens, config).revoke(token_id)
    except AccessError as exc:
        raise fail(str(exc)) from None
    out.print(f"revoked {record.role} token {record.id} ({record.name})")
