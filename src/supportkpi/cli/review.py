"""The monthly vendor review: one self-contained HTML file (and a PDF) per vendor and month."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from supportkpi.cli._common import (
    ConfigOption,
    DbOption,
    TzOption,
    app,
    config_from,
    fail,
    open_store,
    out,
)


@app.command("review")
def review_command(
    month: Annotated[str, typer.Option(help="The month to review, YYYY-MM (report time zone).")],
    vendor: Annotated[str | None, typer.Option(help="The vendor (in-house counts as one).")] = None,
    all_vendors: Annotated[
        bool, typer.Option("--all-vendors", help="One review per vendor with conversations.")
    ] = False,
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="HTML file [default: review-<vendor>-<month>.html]; with --all-vendors, a folder.",
        ),
    ] = None,
    pdf: Annotated[
        Path | None,
        typer.Option(
            help="Also print to this PDF (headless Chromium); with --all-vendors, a folder."
        ),
    ] = None,
    db: DbOption = None,
    tz: TzOption = None,
    config: ConfigOption = None,
) -> None:
    """A vendor's month in one HTML file to mail: contract, volume, quality, cost, agents."""
    from supportkpi.analysis.query import QueryError
    from supportkpi.analysis.sla import vendors
    from supportkpi.config import ConfigError
    from supportkpi.reports.monthly import review_html
    from supportkpi.reports.pdf import PdfError, html_to_pdf

    if bool(vendor) == all_vendors:
        raise fail("name one --vendor, or ask for --all-vendors")
    settings = config_from(config)
    pages: dict[str, str] = {}
    with open_store(db, read_only=True) as store:
        names = vendors(store) if all_vendors else [vendor or ""]
        try:
            for name in names:
                pages[name] = review_html(store, settings, name, month, tz)
        except (QueryError, ConfigError) as exc:
            raise fail(str(exc)) from None
    for name, html in pages.items():
        target = _target(out_path, all_vendors, name, month, "html")
        target.write_text(html, encoding="utf-8")
        out.print(f"{name}: {target}", highlight=False)
        if pdf is not None:
            printed = _target(pdf, all_vendors, name, month, "pdf")
            try:
                html_to_pdf(html, printed)
            except PdfError as exc:
                raise fail(str(exc)) from None
            out.print(f"{name}: {printed}", highlight=False)


def _target(given: Path | None, many: bool, vendor: str, month: str, suffix: str) -> Path:
    from supportkpi.reports.monthly import file_name

    if given is None:
        return Path(file_name(vendor, month, suffix))
    if many:
        given.mkdir(parents=True, exist_ok=True)
        return given / file_name(vendor, month, suffix)
    given.parent.mkdir(parents=True, exist_ok=True)
    return given
