"""The review as PDF (and as a picture), printed by headless Chromium through Playwright.

Why a browser: the review is HTML with CSS and inline SVG; a browser's print engine lays it out
exactly as it shows on screen (fonts, tables split between pages, SVG), with ``@page`` and print
styles honoured. The pure-Python HTML-to-PDF converters either need system libraries of their
own (WeasyPrint: Pango, Cairo) or support only a subset of CSS and no SVG (xhtml2pdf), and
wkhtmltopdf is unmaintained. Chromium is a system package, Playwright a wheel, and both are
already what the dashboard's tests drive.

The page is loaded from a string with every network request refused, so printing cannot fetch
anything, whatever the HTML holds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

CHROMIUM = Path(os.environ.get("SUPPORTKPI_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class PdfError(RuntimeError):
    """No PDF could be made (Playwright or Chromium missing); the message says what to do."""


def _browser(playwright: Any) -> Any:
    if not CHROMIUM.exists():
        raise PdfError(
            f"no Chromium at {CHROMIUM}: apt-get install chromium, or set SUPPORTKPI_CHROMIUM"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)


def _page(browser: Any, html: str) -> Any:
    page = browser.new_page()
    page.route("**/*", lambda route: route.abort())
    page.set_content(html, wait_until="load")
    return page


def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise PdfError("a PDF needs Playwright: pip install 'supportkpi[pdf]'") from None
    return sync_playwright()


def html_to_pdf(html: str, path: Path) -> Path:
    """Print ``html`` to an A4 PDF at ``path`` (backgrounds kept); return the path."""
    with _playwright() as p:
        browser = _browser(p)
        try:
            page = _page(browser, html)
            page.emulate_media(media="print")
            page.pdf(path=str(path), format="A4", print_background=True, prefer_css_page_size=True)
        finally:
            browser.close()
    return path


def html_to_png(html: str, path: Path, width: int = 1024) -> Path:
    """A full-page screenshot of ``html`` at ``width`` CSS pixels; return the path."""
    with _playwright() as p:
        browser = _browser(p)
        try:
            page = _page(browser, html)
            page.set_viewport_size({"width": width, "height": 800})
            page.screenshot(path=str(path), full_page=True)
        finally:
            browser.close()
    return path
