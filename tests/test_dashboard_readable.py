"""The dashboard as people read it, in a real headless Chromium against a real server over the
demo: views say they are loading and drop their numbers when a request fails, thin samples
are marked (the API says which), each table exports CSV and XLSX from the API, the live strip
replays the last day with data, the colour scheme goes dark, the headline
splits first response by channel against each channel's target, phone tables fit the screen,
the API documentation renders with no request leaving the machine, and vendor bars, heatmap
cells, SLA rows and agents open the conversations behind them (the query service's own)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from supportkpi.analysis.conversations import conversations
from supportkpi.analysis.samples import THIN_BELOW
from supportkpi.analysis.views import weekday_hour_volume
from tests.browser import LOADED, chromium, sign_in

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
    yield page
    context.close()
    assert not errors, errors


def asked(page) -> dict[str, str]:
    href = page.get_attribute("#drill-csv", "href")
    return {k: v[0] for k, v in parse_qs(urlparse(href).query).items()}


def listed(reference, config, params: dict[str, str], **extra) -> int:
    dims = ("vendor", "channel", "team", "agent")
    return conversations(
        reference,
        config,
        kpi=params.get("kpi"),
        missed=params.get("missed"),
        start=date.fromisoformat(params["from"]),
        end=date.fromisoformat(params["to"]),
        filters={d: [params[d]] for d in dims if d in params} or None,
        limit=0,
        **extra,
    ).total


def click_at(page, chart: str, part: str, x: float, y: float) -> None:
    """Click a chart where a person would: over a point, after the pointer rests on it (Plotly
    picks the point hovered)."""
    page.locator(f"#{chart}").scroll_into_view_if_needed()
    box = page.locator(f"#{chart} {part}").first.bounding_box()
    at = (box["x"] + box["width"] * x, box["y"] + box["height"] * y)
    page.mouse.move(*at)
    page.wait_for_timeout(200)
    page.mouse.click(*at)


def opened(page) -> int:
    page.wait_for_selector(TOTAL, state="attached")
    return int(page.get_attribute("#drill-table", "data-total"))


def test_views_show_loading_then_drop_stale_numbers_on_error(demo_api, page):
    server, tokens, _, _ = demo_api
    held = []
    page.route("**/v1/peaks*", lambda route: held.append(route))
    page.goto(server.url)
    page.fill("#token", tokens["admin"])
    page.click("#signin-form button[type=submit]")
    heatmap = 'article:has(#chart-heatmap)[data-state="loading"]'
    page.wait_for_selector(heatmap, state="attached", timeout=60_000)
    assert page.is_visible(heatmap)
    page.wait_for_selector("#cards .card", state="attached", timeout=60_000)  # others drawn
    assert held and page.is_visible(heatmap)
    assert page.get_attribute("#chart-heatmap", "data-points") in (None, "0")
    for route in held:
        route.continue_()
    page.unroute("**/v1/peaks*")
    page.wait_for_selector(LOADED, state="attached", timeout=60_000)
    assert page.locator("[data-state]").count() == 0
    assert int(page.get_attribute("#chart-heatmap", "data-points")) > 0
    # an impossible period: every view is emptied and says why
    before = page.get_attribute("body", "data-generation")
    page.fill("#f-from", "2026-08-20")
    page.fill("#f-to", "2026-08-10")
    page.dispatch_event("#f-to", "change")
    page.wait_for_selector(
        f'body[data-generation]:not([data-generation="{before}"]):not([data-loading])',
        state="attached",
    )
    assert page.locator("#cards .card").count() == 0
    assert "Not shown" in page.inner_text("#cards")
    assert page.get_attribute("#chart-trend", "data-points") == "0"
    assert page.get_attribute("#agents", "data-rows") == "0"
    assert page.locator('[data-state="error"]').count() >= 8


def test_first_response_per_channel_against_each_channels_target(demo_api, page):
    server, tokens, _, _ = demo_api
    sign_in(page, server.url, tokens["admin"])
    card = page.locator('.card[data-kpi="first_response_time"]')
    assert "mean" in card.locator("h3").inner_text()
    chat = card.locator('.channels li[data-channel="chat"]').inner_text()
    email = card.locator('.channels li[data-channel="email"]').inner_text()
    assert "target ≤ 1m 00s" in chat and "target ≤ 1h 00m" in email
    assert ("met" in chat or "missed" in chat) and "all channels" in card.inner_text()
    assert "Targets: the general targets." in page.inner_text("#period-note")
    assert "top-two-box share" in page.inner_text('.card[data-kpi="csat"] h3')
    page.select_option("#f-vendor", "northwind")
    page.wait_for_selector(LOADED + '[data-generation="2"]', state="attached")
    assert "Targets: northwind's contract." in page.inner_text("#period-note")
    # northwind's contract has a chat target and none for email
    email = card.locator('.channels li[data-channel="email"]').inner_text()
    assert "target" not in email
    standing = page.inner_text("#sla-standing")
    assert "northwind misses 3 of its 4 contract targets" in standing


def test_a_phone_shows_every_table_within_the_screen(demo_api, browser):
    server, tokens, _, _ = demo_api
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    sign_in(page, server.url, tokens["admin"])
    page.click('.card[data-kpi="csat"]')
    page.wait_for_selector(TOTAL, state="attached")
    widths = page.evaluate(
        "() => [...document.querySelectorAll('table')].filter(t => t.offsetParent)"
        ".map(t => [t.id, t.getBoundingClientRect().right, t.scrollWidth])"
    )
    assert {w[0] for w in widths} >= {"agents", "sla", "drill-table"}
    for name, right, scroll in widths:
        assert right <= 390 and scroll <= 390, name
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    # every value beside its column's name: CSAT and FCR of agents are there
    labels = (
        page.locator("#agents tbody tr")
        .first.locator("td")
        .evaluate_all("tds => tds.map(td => getComputedStyle(td, '::before').content)")
    )
    assert '"CSAT"' in labels and '"FCR"' in labels
    context.close()


def test_the_api_documentation_renders_offline(demo_api, page):
    server, tokens, _, _ = demo_api
    outside: list[str] = []

    def only_here(route):
        if urlparse(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    sign_in(page, server.url, tokens["viewer"])
    page.goto(server.url + "/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=60_000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    assert "/v1/report" in page.inner_text(".swagger-ui")
    page.goto(server.url + "/redoc")
    page.wait_for_function("() => document.body.innerText.includes('/v1/conversations')")
    assert outside == []


def test_vendor_bars_heatmap_cells_sla_rows_and_agents_open_their_conversations(demo_api, page):
    server, tokens, reference, config = demo_api
    sign_in(page, server.url, tokens["admin"])
    # a CSAT bar: atlas, the first vendor
    click_at(page, "chart-vendors", "g.trace.bars g.point path", 0.5, 0.5)
    params = asked(page)
    assert (params["kpi"], params["vendor"]) == ("csat", "atlas")
    assert opened(page) == listed(reference, config, params) > 0
    assert "atlas" in page.inner_text("#drill-title")
    # the heatmap cell of Monday 10:00
    click_at(page, "chart-heatmap", ".nsewdrag", 10.5 / 24, 0.5 / 7)
    page.wait_for_function("() => document.querySelector('#drill-csv').href.includes('weekday')")
    params = asked(page)
    assert (params["weekday"], params["hour_of_day"]) == ("0", "10")
    start, end = date.fromisoformat(params["from"]), date.fromisoformat(params["to"])
    cells = weekday_hour_volume(reference, start, end, None, None, config).to_pylist()
    expected = next(c["conversations"] for c in cells if (c["weekday"], c["hour"]) == (0, 10))
    page.wait_for_selector(f'#drill-table[data-total="{expected}"]', state="attached")
    assert "Mon 10h" in page.inner_text("#drill-title")
    # the SLA row of northwind's chat first response: the conversations that missed it
    row = page.locator("#sla tbody tr", has_text="northwind").filter(has_text="channel chat")
    row.click()
    page.wait_for_function("() => document.querySelector('#drill-csv').href.includes('missed')")
    params = asked(page)
    assert (params["missed"], params["vendor"], params["channel"]) == (
        "first_response_time",
        "northwind",
        "chat",
    )
    page.wait_for_function(
        "n => document.querySelector('#drill-table').dataset.total == n",
        arg=str(listed(reference, config, params)),
    )
    # an agent: as many conversations as the agent table counts
    first = page.locator("#agents tbody tr").first
    count = int(first.locator("td").nth(2).inner_text().replace(",", ""))
    agent = first.locator("td").first.inner_text()
    first.click()
    page.wait_for_function(
        "a => document.querySelector('#drill-csv').href.includes('agent=' + a)", arg=agent
    )
    page.wait_for_selector(f'#drill-table[data-total="{count}"]', state="attached")
    assert listed(reference, config, asked(page)) == count


def csat_answers_per_day(reference, zone: str) -> dict[str, int]:
    """CSAT answers per local day of their conversation's creation, in plain Python."""
    rows = reference.execute(
        "SELECT c.created_at FROM surveys s JOIN conversations c USING (conversation_id) "
        "WHERE s.kind = 'csat' AND s.score IS NOT NULL"
    )
    return dict(Counter(local_day(created, zone) for (created,) in rows))


def local_day(moment: datetime, zone: str) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


def test_thin_days_are_the_apis_and_agree_with_a_plain_count(demo_api):
    server, tokens, reference, config = demo_api
    answers = csat_answers_per_day(reference, config.timezone)
    with server.client(tokens["viewer"]) as client:
        params = {"by": "day", "kpi": "chat_volume,csat", "samples": "true"}
        rows = client.get("/v1/report", params=params).json()
        last = rows[-1]["day"]
        card = client.get("/v1/headline", params={"from": last, "to": last, "kpi": "csat"})
    for row in rows:
        n = answers.get(row["day"], 0)
        assert row["csat__sample"] == n, row["day"]
        assert row["csat__thin"] is (n < THIN_BELOW), row["day"]
        assert "chat_volume__thin" not in row  # a count is its own sample, never thin
    thin = [r["day"] for r in rows if r["csat__thin"]]
    assert thin == [last] and answers[last] == 4  # the demo's last local day: 4 answers
    (csat,) = card.json()["cards"]
    assert (csat["sample"], csat["thin"], csat["sample_of"]) == (4, True, "CSAT answers")


def test_live_day_and_table_formats_through_the_api(demo_api):
    server, tokens, _, config = demo_api
    with server.client(tokens["vendor"]) as client:
        last = client.get("/v1/meta").json()["last_day"]
        live = client.get("/v1/live", params={"day": last}).json()
        # the day's last second in the configured zone (Berlin, summer: UTC+2)
        assert (live["today"], live["at"]) == (last, f"{last}T21:59:59+00:00")
        assert config.timezone == "Europe/Berlin"
        both = client.get("/v1/live", params={"day": last, "at": f"{last}T10:00:00Z"})
        assert both.status_code == 400 and "not both" in both.json()["error"]
        assert client.get("/v1/live", params={"day": "someday"}).status_code == 400
        wrong = client.get("/v1/sla", params={"format": "pdf"})
        assert wrong.status_code == 400 and "xlsx" in wrong.json()["error"]
        sla = client.get("/v1/sla", params={"format": "xlsx"})  # a vendor: its own rows only
        header, *rows = list(openpyxl.load_workbook(io.BytesIO(sla.content)).active.values)
        vendor = header.index("vendor")
        assert rows and {r[vendor] for r in rows} == {"atlas"}
        assert 'filename="sla.xlsx"' in sla.headers["content-disposition"]


def test_thin_points_agents_with_vendor_and_n_and_exports_from_the_api(demo_api, page):
    server, tokens, reference, _ = demo_api
    sign_in(page, server.url, tokens["admin"])
    # the trend: the thin day is a hollow point of its own trace, out of the line
    last = page.input_value("#f-to")
    assert page.get_attribute("#chart-trend", "data-thin-days") == last
    traces = page.evaluate(
        "() => document.getElementById('chart-trend').data"
        ".map(t => ({name: t.name, x: t.x, y: t.y, symbol: t.marker && t.marker.symbol}))"
    )
    line = next(t for t in traces if t["name"] == "CSAT (%)")
    assert line["y"][line["x"].index(last)] is None
    held = next(t for t in traces if t["name"] == "CSAT, thin sample")
    assert held["x"] == [last] and held["symbol"] == "circle-open"
    assert "fewer than 20" in page.inner_text("#trend-note") and last in page.inner_text(
        "#trend-note"
    )
    # agents: vendor and sample sizes, as the store has them
    owner = dict(
        reference.execute(
            "SELECT agent_id, any_value(vendor) FROM conversations "
            "WHERE agent_id IS NOT NULL GROUP BY agent_id"
        )
    )
    rows = page.locator("#agents tbody tr").evaluate_all(
        "trs => trs.map(tr => [...tr.cells].map(td => td.innerText))"
    )
    assert page.locator("#agents th").all_inner_texts()[:3] == [
        "agent",
        "vendor",
        "conversations (n)",
    ]
    assert rows and all(owner[r[0]] == r[1] for r in rows)
    # each table's export is the API's file for the same filters (thin flags and n included)
    for table, route in (("agents", "/v1/report"), ("sla", "/v1/sla")):
        href = page.get_attribute(f"#{table}-csv", "href")
        assert href.startswith(route + "?") and "format=csv" in href
        got = page.request.get(server.url + href)
        assert got.ok and got.headers["content-type"].startswith("text/csv")
        records = list(csv.DictReader(io.StringIO(got.text())))
        shown = int(page.get_attribute(f"#{table}", "data-rows"))
        if table == "agents":
            assert {"vendor", "csat__sample", "csat__thin"} <= set(records[0])
        named = [r for r in records if table != "agents" or r["agent"]]
        assert len(named) == shown
        book = page.request.get(server.url + page.get_attribute(f"#{table}-xlsx", "href"))
        sheet = openpyxl.load_workbook(io.BytesIO(book.body())).active
        header, *cells = list(sheet.values)
        assert list(header) == list(records[0]) and len(cells) == len(records)
    # a one-day period: the CSAT card is thin and says its n
    page.fill("#f-from", last)
    before = page.get_attribute("body", "data-generation")
    page.dispatch_event("#f-from", "change")
    page.wait_for_selector(
        f'body[data-generation]:not([data-generation="{before}"]):not([data-loading])',
        state="attached",
    )
    card = page.locator('.card[data-kpi="csat"]')
    assert "thin" in card.get_attribute("class")
    assert "n=4" in card.inner_text() and "thin" in card.locator(".thin-mark").inner_text()
    # vendors compared: as many values marked as the API flags thin
    kpis = ("csat", "first_contact_resolution", "abandonment_rate", "first_response_time")
    query = {"by": "vendor", "kpi": ",".join(kpis), "samples": "true", "from": last, "to": last}
    flagged = page.request.get(server.url + "/v1/report", params=query).json()
    thin = sum(bool(r[f"{k}__thin"]) and r[k] is not None for r in flagged for k in kpis)
    assert int(page.get_attribute("#chart-vendors", "data-thin")) == thin > 0
    # the conversations behind it export as XLSX too
    card.click()
    page.wait_for_selector(TOTAL, state="attached")
    book = page.request.get(server.url + page.get_attribute("#drill-xlsx", "href"))
    sheet = openpyxl.load_workbook(io.BytesIO(book.body())).active
    assert sheet.max_row - 1 == int(page.get_attribute("#drill-table", "data-total"))


def test_live_strip_offers_the_last_day_and_teams_follow_the_vendor(demo_api, page):
    server, tokens, reference, config = demo_api
    sign_in(page, server.url, tokens["admin"])
    page.wait_for_selector("#live[data-at]", state="attached")
    last = page.input_value("#f-to")  # the last day with data (the demo ends in August)
    assert f"the data ends on {last}" in page.inner_text("#live-quiet")
    button = page.locator("#live-last")
    assert button.inner_text() == f"Show the last day with data ({last})"
    button.click()
    page.wait_for_selector(f'#live[data-day="{last}"]', state="attached")
    created = reference.execute("SELECT created_at FROM conversations")
    that_day = sum(local_day(c, config.timezone) == last for (c,) in created)
    assert page.inner_text("#live-volume") == f"{that_day:,}"
    assert last in page.inner_text("#live h2") and "that day" in page.inner_text("#live")
    page.click("#live-now")
    page.wait_for_selector("#live:not([data-day])", state="attached")
    assert page.is_visible("#live-last")
    # the team list: only the teams of the vendor chosen
    everyone = page.locator("#f-team option").all_inner_texts()[1:]
    page.select_option("#f-vendor", "northwind")
    page.wait_for_selector(LOADED + '[data-generation="2"]', state="attached")
    teams = sorted(
        t
        for (t,) in reference.execute(
            "SELECT DISTINCT team FROM conversations "
            "WHERE vendor = 'northwind' AND team IS NOT NULL"
        )
    )
    assert page.locator("#f-team option").all_inner_texts()[1:] == teams
    assert 0 < len(teams) < len(everyone)


def test_dark_scheme_follows_the_system_and_the_toggle_is_remembered(demo_api, browser):
    server, tokens, _, _ = demo_api
    context = browser.new_context(viewport={"width": 1366, "height": 768}, color_scheme="dark")
    page = context.new_page()
    sign_in(page, server.url, tokens["viewer"])
    background = "getComputedStyle(document.body).backgroundColor"
    paper = "document.getElementById('chart-trend').layout.paper_bgcolor"
    assert page.evaluate(background) == "rgb(17, 22, 28)"
    assert page.evaluate(paper) == "#1a2129"
    assert page.inner_text("#theme") == "Light"
    page.click("#theme")  # light, though the system is dark
    assert page.evaluate(background) == "rgb(245, 247, 250)"
    assert page.evaluate(paper) == "#fff"
    page.reload()
    page.wait_for_selector(LOADED, state="attached", timeout=60_000)
    assert page.evaluate(background) == "rgb(245, 247, 250)"
    assert page.evaluate("localStorage.getItem('supportkpi-theme')") == "light"
    assert page.get_attribute("#theme", "aria-pressed") == "false"
    context.close()
