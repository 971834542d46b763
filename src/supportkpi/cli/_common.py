"""What every command shares: the app, consoles, options and one-line errors.

The command modules import the engine, the store and the services inside their commands, not
at the top: ``supportkpi --help`` and ``supportkpi <command> --help`` start without them
(tests/test_cli_startup.py checks which modules a help loads)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from supportkpi.config import Config
    from supportkpi.load.ingest import FileProgress
    from supportkpi.store.store import Store

ENV_DB = "SUPPORTKPI_DB"  # as supportkpi.store.store.ENV_DB (a test checks they agree)

app = typer.Typer(
    help="Customer-support KPIs per vendor, team, agent and channel.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain: "[default: …]" must show, not be markup
)
out = Console()
err = Console(stderr=True)


def _version(shown: bool) -> None:
    if shown:
        from supportkpi import __version__

        out.print(f"supportkpi {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Customer-support KPIs per vendor, team, agent and channel."""


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help=f"Store: a DuckDB file or duckdb:/// URL [default: ${ENV_DB} or ./supportkpi.duckdb]",
        show_default=False,
    ),
]


FromOption = Annotated[
    str | None, typer.Option("--from", help="First day (YYYY-MM-DD, in the report's time zone).")
]
ToOption = Annotated[str | None, typer.Option("--to", help="Last day, included.")]
TzOption = Annotated[
    str | None, typer.Option("--tz", help="Report time zone [default: from the config, else UTC].")
]
VendorOption = Annotated[str | None, typer.Option("--vendor", help="Only these vendors.")]
ChannelOption = Annotated[str | None, typer.Option("--channel", help="Only these channels.")]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Settings file [default: $SUPPORTKPI_CONFIG or ./supportkpi.toml]",
        show_default=False,
    ),
]


def config_from(path: Path | None) -> Config:
    """The settings file, or one clear error."""
    from supportkpi.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def csv_list(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def open_store(db: str | None, read_only: bool = False) -> Iterator[Store]:
    """The store named by ``--db`` (else $SUPPORTKPI_DB, else ./supportkpi.duckdb), opened."""
    from supportkpi.store import kept
    from supportkpi.store.store import Store, StoreError, default_url

    url = db or default_url()
    if url.endswith(".toml"):  # as supportkpi.store.engine.is_engine_config
        # another engine's tables, mapped by a settings file: read, never written
        if not read_only:
            raise fail(
                f"{url} maps another engine's tables, which supportkpi only reads; "
                "load into a DuckDB store instead"
            )
        try:
            from supportkpi.store.engine import EngineStore

            engine = EngineStore.open(url)
        except StoreError as exc:
            raise fail(str(exc)) from None
        with engine_warnings():
            yield engine  # type: ignore[misc]
        return
    try:
        store = Store.open(url, read_only=read_only)
    except StoreError as exc:
        raise fail(str(exc)) from None
    if not read_only and (done := kept.repair(store)):
        err.print(f"warning: {done}", highlight=False, markup=False)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def engine_warnings() -> Iterator[None]:
    """Say once, as one line, each reason a report on an engine derives the facts instead of
    reading those ``supportkpi facts build`` materialised (other warnings shown as usual)."""
    import warnings

    from supportkpi.store.engine_facts import EngineFactsWarning

    said: set[str] = set()
    with warnings.catch_warnings():
        shown = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if not issubclass(category, EngineFactsWarning):
                shown(message, category, filename, lineno, file, line)
            elif str(message) not in said:
                said.add(str(message))
                err.print(f"warning: {message}", highlight=False, markup=False)

        warnings.showwarning = show
        warnings.simplefilter("always", EngineFactsWarning)
        yield


@contextmanager
def progress_bar() -> Iterator[FileProgress]:
    """A progress bar on the error console (hidden when it is not a terminal)."""
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    tasks: dict[str, int] = {}

    def update(name: str, done: int, total: int) -> None:
        if name not in tasks:
            for task in tasks.values():  # a new file or step: the previous one is over
                bar.update(task, visible=False)
            tasks[name] = bar.add_task(Path(name).name, total=total or None)
        bar.update(tasks[name], completed=done, total=total or None)

    with bar:
        yield update


def parse_date(text: str | None) -> date | None:
    """A YYYY-MM-DD option, or one clear error."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"{text!r} is not a date (YYYY-MM-DD)") from None
