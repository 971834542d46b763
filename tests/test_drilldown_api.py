"""The drill-down routes on a real server on a loopback port: a vendor token sees only its
own conversations, messages and comments on every one of them, whatever it asks; another
vendor's conversation is answered exactly as an unknown id; CSV exports keep formulas inert;
pages add up to the totals the query service gives."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from supportkpi.analysis.conversations import conversations
from tests.drilldown_data import FORMULA, SECRET, two_vendor_store
from tests.server import make_token, serving

ROUTES = [
    ("/v1/conversations", {}),
    ("/v1/conversations", {"format": "csv"}),
    ("/v1/conversations", {"kpi": "csat"}),
    ("/v1/conversations", {"kpi": "first_response_time", "by": "vendor,day"}),
    ("/v1/conversations/a-1", {}),
    ("/v1/comments", {}),
    ("/v1/comments", {"format": "csv", "by": "agent"}),
    ("/v1/sla/breaches", {}),
]
# what a vendor token might try to reach another vendor's rows with
ASKS = [{}, {"vendor": "zed"}, {"vendor": "zed,acme"}, {"agent": "ze-01"}, {"vendor": "(none)"}]


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    db = two_vendor_store(tmp_path_factory.mktemp("drill") / "two.duckdb")
    tokens = {"acme": make_token(db, "vendor", "acme"), "viewer": make_token(db, "viewer")}
    with serving(db) as server:
        yield server, tokens


def get(small, who, path, **params):
    server, tokens = small
    with server.client(tokens[who]) as client:
        return client.get(path, params=params)


def test_a_vendor_token_sees_only_its_own_on_every_drilldown_route(small):
    for path, params in ROUTES:
        for ask in ASKS:
            response = get(small, "acme", path, **params, **ask)
            assert response.status_code == 200, (path, ask, response.text)
            assert SECRET not in response.text and "zed" not in response.text, (path, ask)
            assert "ze-01" not in response.text, (path, ask)
    rows = get(small, "acme", "/v1/conversations", vendor="zed").json()["rows"]
    assert {r["conversation_id"] for r in rows} == {"a-1", "a-2"}


def test_a_viewer_sees_every_vendor(small):
    listed = get(small, "viewer", "/v1/conversations").json()
    assert listed["total"] == 4
    assert {r["vendor"] for r in listed["rows"]} == {"acme", "zed"}
    assert SECRET in get(small, "viewer", "/v1/comments").text
    assert SECRET in get(small, "viewer", "/v1/conversations/z-1").text
    only_zed = get(small, "viewer", "/v1/conversations", vendor="zed").json()
    assert {r["conversation_id"] for r in only_zed["rows"]} == {"z-1", "z-2"}


def test_another_vendors_conversation_is_answered_as_an_unknown_one(small):
    foreign = get(small, "acme", "/v1/conversations/z-1")
    unknown = get(small, "acme", "/v1/conversations/no-such-id")
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    assert SECRET not in foreign.text


def test_the_timeline_marks_replies_private_notes_and_the_survey(small):
    found = get(small, "acme", "/v1/conversations/a-1").json()
    assert found["conversation"]["conversation_id"] == "a-1"
    assert [(m["message_id"], m["reply"], m["private"]) for m in found["messages"]] == [
        ("am1", False, False),
        ("am2", False, True),
        ("am3", True, False),
    ]
    assert found["conversation"]["first_response_seconds"] == 120.0
    assert found["conversation"]["replies"] == 1
    ((survey),) = found["surveys"]
    assert survey["comment"] == FORMULA and survey["score"] == 2


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_csv_exports_keep_formulas_inert(small):
    for path in ("/v1/conversations", "/v1/comments"):
        text = get(small, "viewer", path, format="csv").text
        cells = _cells(text)
        assert "'" + FORMULA in cells, path
        assert not [c for c in cells if c.startswith(("=", "+", "@"))], path
    # the JSON keeps the text as it was sent
    assert FORMULA in get(small, "viewer", "/v1/comments").json()["rows"][0]["comment"]


def test_bad_drilldown_questions_are_answered_400(small):
    for params in (
        {"kpi": "agent_utilization"},
        {"kpi": "first_response_time", "outcome": "yes"},
        {"outcome": "maybe", "kpi": "csat"},
        {"sort": "nope"},
        {"format": "xml"},
        {"at": "yesterday"},
    ):
        response = get(small, "viewer", "/v1/conversations", **params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["status"] == 400


def test_pages_add_up_to_the_vendors_total(demo_api):
    server, tokens, reference, config = demo_api
    expected = conversations(reference, config, filters={"vendor": ["atlas"]}, limit=0).total
    seen: list[str] = []
    offset: int | None = 0
    with server.client(tokens["vendor"]) as client:
        while offset is not None and len(seen) < 2500:
            page = client.get(
                "/v1/conversations",
                params={"vendor": "northwind", "limit": 1000, "offset": offset, "sort": "-created"},
            ).json()
            assert page["total"] == expected
            assert {r["vendor"] for r in page["rows"]} == {"atlas"}
            seen += [r["conversation_id"] for r in page["rows"]]
            offset = page["next_offset"]
        assert len(seen) == len(set(seen)) == 3000
        csv_page = client.get("/v1/conversations", params={"format": "csv", "limit": 10})
        assert csv_page.headers["x-total-count"] == str(expected)
        assert csv_page.headers["x-next-offset"] == "10"
    with server.client(tokens["viewer"]) as client:
        page = client.get("/v1/conversations", params={"limit": 1}).json()
    assert page["total"] == conversations(reference, config, limit=0).total > expected


def test_a_report_cell_over_http(demo_api, tmp_path: Path):
    server, tokens, _, _ = demo_api
    with server.client(tokens["viewer"]) as client:
        cell = client.get(
            "/v1/report", params={"kpi": "abandonment_rate", "by": "vendor,month"}
        ).json()[1]
        listed = client.get(
            "/v1/conversations",
            params={
                "kpi": "abandonment_rate",
                "by": "vendor,month",
                "vendor": cell["vendor"],
                "at": cell["month"],
                "limit": 0,
            },
        ).json()
        abandoned = client.get(
            "/v1/conversations",
            params={
                "kpi": "abandonment_rate",
                "outcome": "yes",
                "by": "vendor,month",
                "vendor": cell["vendor"],
                "at": cell["month"],
                "limit": 0,
            },
        ).json()
    assert listed["total"] and listed["aggregate"] == "mean"
    assert abs(abandoned["total"] / listed["total"] - cell["abandonment_rate"]) < 1e-12
