"""``supportkpi facts``: the conversation facts materialised in an engine (read-only mode).

``facts build`` computes them in the engine a settings file (``--db engine.toml``) names and
writes them to its ``[facts] database``; ``facts status`` says whether reports read them. A
DuckDB or PostgreSQL store keeps its facts itself, at every load."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape

from supportkpi.cli._common import ConfigOption, DbOption, app, config_from, err, fail, out

facts_app = typer.Typer(
    help="Conversation facts kept in an engine's database (read-only mode): build, status.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(facts_app, name="facts")


def _engine(db: str | None):  # -> EngineStore
    """The engine a settings file names, or one clear error for anything else."""
    from supportkpi.store import engine_facts
    from supportkpi.store.engine import EngineSettings, EngineStore, is_engine_config
    from supportkpi.store.store import StoreError, default_url
    from supportkpi.tomlfile import read_model

    url = db or default_url()
    if not is_engine_config(url):
        raise fail(
            f"{url} is a store, which keeps its conversation facts itself at every load; "
            "`facts build` materialises them in an engine named by a settings file "
            "(--db engine.toml with a \\[facts] database)"
        )
    try:
        settings = read_model(Path(url), EngineSettings, "engine settings", StoreError)
        if not settings.facts.database:  # said before the engine starts (Spark: seconds)
            engine_facts.database_of(settings, url)
        return EngineStore.open(url)
    except StoreError as exc:
        raise fail(escape(str(exc))) from None


@facts_app.command("build")
def build_command(db: DbOption = None, config: ConfigOption = None) -> None:
    """Compute the facts in the engine and write them to its [facts] database."""
    from supportkpi.store import engine_facts
    from supportkpi.store.store import StoreError

    settings = config_from(config)
    engine = _engine(db)
    began = time.monotonic()
    step_began = began

    def progress(step: str, index: int, total: int) -> None:
        nonlocal step_began
        now = time.monotonic()
        if index:
            err.print(f"  done in {now - step_began:.1f} s", highlight=False, markup=False)
        step_began = now
        err.print(f"[{index + 1}/{total}] {step}…", highlight=False, markup=False)

    try:
        state = engine_facts.build(engine, settings.follow_up_days, progress)
    except StoreError as exc:
        raise fail(escape(str(exc))) from None
    counted = ", ".join(f"{n:,} {name}" for name, n in state.counts.items())
    out.print(
        f"facts built in {engine.settings.facts.database} in {time.monotonic() - began:.1f} s "
        f"from {counted} ({state.follow_up_days:g}-day follow-up window)",
        highlight=False,
        markup=False,
    )


@facts_app.command("status")
def status_command(db: DbOption = None, config: ConfigOption = None) -> None:
    """Whether reports read the built facts, and if not, why (exit code 1)."""
    from supportkpi.store import engine_facts

    settings = config_from(config)
    found = engine_facts.status(_engine(db), settings.follow_up_days)
    if found.state is not None and found.state.counts:
        counted = ", ".join(f"{n:,} {name}" for name, n in found.state.counts.items())
        out.print(
            f"built {found.state.built_at:%Y-%m-%d %H:%M:%S} UTC in {found.database} from "
            f"{counted} ({found.state.follow_up_days:g}-day follow-up window)",
            highlight=False,
            markup=False,
        )
    if found.reason is not None:
        out.print(f"not read by reports: {found.reason}", highlight=False, markup=False)
        raise typer.Exit(1)
    out.print("current: reports read them", highlight=False, markup=False)
