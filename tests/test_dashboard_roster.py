"""The dashboard's roster panel in a real headless Chromium against a real server over the
small demo: asked for a day, it draws agents on duty against required per channel and lists
the same shifts, cost and shortfall as GET /v1/roster."""

from __future__ import annotations

import os
import shutil

import pytest

from supportkpi.store.access import TokenStore, tokens_path
from tests.browser import chromium, sign_in
from tests.server import serving


@pytest.fixture(scope="module")
def served(small_demo, tmp_path_factory):
    db, config = small_demo
    copy = tmp_path_factory.mktemp("dashboard_roster") / "served.duckdb"
    shutil.copy(db, copy)
    token = TokenStore(tokens_path(str(copy))).create("viewer")
    with serving(copy, "--config", config) as server:
        yield server, token


def test_the_roster_panel_draws_what_the_api_gives(served):
    server, token = served
    with server.client(token) as client:
        expected = client.get("/v1/roster", params={"days": 1, "by": "channel"}).json()
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, server.url, token)
        page.select_option("#roster-days", "1")
        page.click("#roster-run")
        page.wait_for_selector("#chart-roster[data-points]", state="attached", timeout=120_000)
        points = int(page.get_attribute("#chart-roster", "data-points"))
        items = page.locator("#roster-summary li")
        shown = {
            items.nth(i).get_attribute("data-channel"): items.nth(i).inner_text()
            for i in range(items.count())
        }
        assert page.locator("#chart-roster .main-svg").count() > 0
        if shot := os.environ.get("SUPPORTKPI_ROSTER_SHOT"):  # to look at it
            page.locator("#roster-panel").screenshot(path=shot)
        page.close()
    assert not errors, errors
    assert points == sum(2 * len(g["coverage"]) for g in expected) > 0
    assert set(shown) == {g["channel"] for g in expected}
    for g in expected:
        shifts = sum(s["agents"] for s in g["shifts"])
        assert shown[g["channel"]].startswith(f"{g['channel']}: ")
        assert f"{shifts} shifts" in shown[g["channel"]]
        assert f"cost {g['cost']:.2f}" in shown[g["channel"]]
