"""The dashboard in a real headless Chromium against a real server over the demo operation:
sign in, every chart and table drawn with data, filters that change the numbers and live in
the URL, a vendor who sees only itself, and a layout that fits a phone."""

from __future__ import annotations

import re

import pytest

from tests.browser import LOADED, chromium, sign_in
from tests.test_warmup import ready

CHARTS = ("chart-trend", "chart-vendors", "chart-heatmap", "chart-csat-frt", "chart-escalations")
CARDS = 7


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console", lambda m: m.type == "error" and "401" not in m.text and errors.append(m.text)
    )
    yield page
    context.close()
    assert not errors, errors


def charted(page, chart: str) -> int:
    return int(page.get_attribute(f"#{chart}", "data-points") or 0)


def card(page, kpi: str) -> str:
    return page.inner_text(f'.card[data-kpi="{kpi}"] .value')


def test_sign_in_and_every_view_has_data(demo_api, page):
    server, tokens, _, _ = demo_api
    page.goto(server.url)
    assert page.is_visible("#signin") and not page.is_visible("#dashboard")
    page.fill("#token", "skpi_not-a-token")
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#signin-error:has-text('not valid')")
    sign_in(page, server.url, tokens["admin"])
    assert page.locator(".card").count() == CARDS
    for chart in CHARTS:
        assert charted(page, chart) > 0, chart
        assert page.locator(f"#{chart} .main-svg").count() > 0, chart
    assert int(page.get_attribute("#agents", "data-rows")) > 10
    assert int(page.get_attribute("#sla", "data-rows")) > 3
    assert re.match(r"\d", card(page, "csat"))
    page.wait_for_selector("#live[data-at]", state="attached")
    assert page.inner_text("#live-waiting").isdigit()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["supportkpi_session"]["httpOnly"] and cookies["supportkpi_session"]["secure"]


def test_the_first_view_is_answered_before_anyone_opens_it(demo_api, page):
    """What the dashboard asks for on opening is what the server answers ahead
    (api/warmup.py first_view): signed in once the warm-up is ready, no view is computed."""
    server, tokens, _, _ = demo_api
    before = ready(server)["answers"]
    sign_in(page, server.url, tokens["viewer"])
    after = server.client().get("/health").json()["answers"]
    assert after["misses"] == before["misses"], "a view the warm-up did not answer"
    assert after["hits"] >= before["hits"] + 9  # the eight views and /v1/meta


def test_a_filter_changes_the_numbers_and_stays_in_the_url(demo_api, page):
    server, tokens, _, _ = demo_api
    sign_in(page, server.url, tokens["viewer"])
    before = {k: card(page, k) for k in ("csat", "first_response_time")}
    vendors = page.locator("#chart-vendors .xtick").count()
    page.select_option("#f-vendor", "northwind")
    page.wait_for_selector(LOADED + '[data-generation="2"]', state="attached")
    after = {k: card(page, k) for k in ("csat", "first_response_time")}
    assert after != before
    assert page.locator("#chart-vendors .xtick").count() == 1 < vendors
    assert "vendor=northwind" in page.url
    page.goto(page.url)  # a shared link opens the same view
    page.wait_for_selector(LOADED, state="attached")
    assert page.input_value("#f-vendor") == "northwind"
    assert {k: card(page, k) for k in ("csat", "first_response_time")} == after


def csat_column(page) -> list[float]:
    values = page.locator("#agents tbody tr td:nth-child(6)").all_inner_texts()
    return [float(v.split()[0]) for v in values if v != "–"]


def test_the_agent_table_sorts_by_mouse_and_keyboard(demo_api, page):
    server, tokens, _, _ = demo_api
    sign_in(page, server.url, tokens["viewer"])
    csat = '#agents th[data-key="csat"]'
    page.click(csat)
    numbers = csat_column(page)
    assert numbers == sorted(numbers, reverse=True) and len(numbers) > 10
    assert page.get_attribute(csat, "aria-sort") == "descending"
    # the header is a button: focused after sorting, Space sorts the other way
    assert page.evaluate("document.activeElement.closest('th').dataset.key") == "csat"
    page.keyboard.press("Space")
    assert csat_column(page) == sorted(numbers)
    assert page.get_attribute(csat, "aria-sort") == "ascending"
    # Tab reaches the next header; Enter sorts by it (CSAT answers, most first)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('th').dataset.key") == "csat__sample"
    page.keyboard.press("Enter")
    answers = page.locator("#agents tbody tr td:nth-child(7)").all_inner_texts()
    counts = [int(v.replace(",", "")) for v in answers]
    assert counts == sorted(counts, reverse=True)
    assert page.get_attribute(csat, "aria-sort") == "none"
    # the SLA table sorts too, its status colours following their rows
    page.click('#sla th[data-key="status_text"]')
    statuses = page.locator("#sla tbody tr").evaluate_all(
        "trs => trs.map(tr => [tr.dataset.status, tr.cells[5].innerText])"
    )
    assert all(text.endswith(status) for status, text in statuses)
    assert [s for s, _ in statuses] == sorted((s for s, _ in statuses), reverse=True)


def test_a_vendor_sees_only_itself(demo_api, page):
    server, tokens, _, _ = demo_api
    sign_in(page, server.url, tokens["vendor"])
    assert page.is_disabled("#f-vendor") and page.input_value("#f-vendor") == "atlas"
    for chart in CHARTS:
        assert charted(page, chart) > 0, chart
    text = page.inner_text("body")
    assert "atlas" in text
    assert not re.search(r"northwind|in-house|\bno-\d\d\b|\bin-\d\d\b", text, re.IGNORECASE)
    agents = page.locator("#agents tbody tr td:first-child").all_inner_texts()
    assert agents and all(a.startswith("at-") for a in agents)
    page.goto(server.url + "/?vendor=northwind")  # asking for another vendor changes nothing
    page.wait_for_selector(LOADED, state="attached")
    assert "northwind" not in page.inner_text("#cards, #chart-vendors, #agents, #sla")


def test_a_phone_gets_one_column_without_sideways_scrolling(demo_api, browser):
    server, tokens, _, _ = demo_api
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    page = context.new_page()
    sign_in(page, server.url, tokens["admin"])
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    boxes = [page.locator(f"#{c}").bounding_box() for c in CHARTS]
    assert all(b["width"] > 300 for b in boxes)
    lefts = {round(b["x"]) for b in boxes}
    assert len(lefts) == 1  # stacked, not side by side
    context.close()


def test_signing_out_ends_the_session(demo_api, page):
    server, tokens, _, _ = demo_api
    sign_in(page, server.url, tokens["viewer"])
    page.click("#sign-out")
    page.wait_for_selector("#signin:not([hidden])")
    page.reload()
    page.wait_for_selector("#signin:not([hidden])")
    assert not page.is_visible("#dashboard")
