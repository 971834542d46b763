"""The system Chromium, driven headless by Playwright, for the dashboard tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
# Without these, Chromium keeps trying to reach Google's services, which a closed network
# refuses, many at a time.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip without the browser, except in CI, where its absence fails the run."""
    if CHROMIUM.exists():
        return
    why = f"{CHROMIUM} is missing: apt-get install chromium"
    if os.environ.get("CI") == "true":
        pytest.fail(why)
    pytest.skip(why)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


LOADED = "body[data-generation]:not([data-loading])"


def sign_in(page: Any, url: str, token: str) -> None:
    """Open the dashboard, sign in with ``token`` and wait for every view to load."""
    page.goto(url)
    page.fill("#token", token)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector(LOADED, state="attached", timeout=60_000)
