"""The dashboard's click-through in a real headless Chromium against a real server over the
demo operation: a headline card opens the conversations behind it (the same ones the query
service lists), a rate splits into its numerator and the rest, a conversation opens into its
timeline, and the list exports as CSV; a vendor sees only its own throughout."""

from __future__ import annotations

import csv
import io
from datetime import date
from urllib.parse import parse_qs, urlparse

import pytest

from supportkpi.analysis.conversations import conversations
from tests.browser import chromium, sign_in

TOTAL = "#drill-table[data-total]"


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


def _asked(page) -> dict[str, str]:
    """The list's parameters, as its CSV link carries them."""
    href = page.get_attribute("#drill-csv", "href")
    return {k: v[0] for k, v in parse_qs(urlparse(href).query).items()}


def _expected(reference, config, asked: dict[str, str], **extra) -> int:
    return conversations(
        reference,
        config,
        kpi=asked["kpi"],
        start=date.fromisoformat(asked["from"]),
        end=date.fromisoformat(asked["to"]),
        filters={"vendor": [asked["vendor"]]} if "vendor" in asked else None,
        limit=0,
        **extra,
    ).total


def _total(page) -> int:
    return int(page.get_attribute("#drill-table", "data-total"))


def test_a_card_opens_its_conversations_and_one_conversation(demo_api, page):
    server, tokens, reference, config = demo_api
    sign_in(page, server.url, tokens["vendor"])
    assert page.locator('.card.drillable[data-kpi="csat"]').count() == 1
    assert page.locator('.card.drillable[data-kpi="cost_per_contact"]').count() == 0
    page.click('.card[data-kpi="first_contact_resolution"]')
    page.wait_for_selector(TOTAL, state="attached")
    asked = _asked(page)
    assert asked["kpi"] == "first_contact_resolution" and asked["vendor"] == "atlas"
    everyone = _total(page)
    assert everyone == _expected(reference, config, asked) > 0
    vendors = page.locator("#drill-table tbody tr td:nth-child(3)").all_inner_texts()
    assert vendors and set(vendors) == {"atlas"}

    page.select_option("#drill-outcome", "no")
    page.wait_for_selector(f'#drill-table:not([data-total="{everyone}"])', state="attached")
    assert _total(page) == _expected(reference, config, _asked(page), outcome=False) < everyone
    assert set(page.locator("#drill-table tbody tr td:nth-child(6)").all_inner_texts()) == {"no"}

    first = page.locator("#drill-table tbody tr").first
    picked = first.get_attribute("data-id")
    first.click()
    page.wait_for_selector(f'#timeline[data-id="{picked}"]', state="visible")
    assert picked in page.inner_text("#timeline-title")
    assert page.locator("#timeline-messages .msg").count() > 0
    assert page.locator("#timeline-messages .msg.reply").count() > 0


def test_the_list_exports_as_csv(demo_api, page):
    server, tokens, reference, config = demo_api
    sign_in(page, server.url, tokens["viewer"])
    page.click('.card[data-kpi="first_response_time"]')
    page.wait_for_selector(TOTAL, state="attached")
    total = _total(page)
    response = page.request.get(server.url + page.get_attribute("#drill-csv", "href"))
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text())))
    assert len(rows) == total == int(response.headers["x-total-count"])
    assert total == _expected(reference, config, _asked(page))
    assert {r["vendor"] for r in rows} > {"atlas"}  # a viewer sees every vendor
    page.click("#drill-close")
    assert page.is_hidden("#drill")
