"""GET /v1/review on a real server over the small demo: the review's HTML, the same document
the CLI writes; a vendor token gets its own vendor's review and no other."""

from __future__ import annotations

import re
import shutil

import pytest

from supportkpi.store.access import TokenStore, tokens_path
from tests.server import serving
from tests.test_review import external_references

MONTH = "2026-07"  # the small demo runs from June 1 to August 9, 2026


@pytest.fixture(scope="module")
def served(small_demo, tmp_path_factory):
    db, config = small_demo
    copy = tmp_path_factory.mktemp("api_review") / "served.duckdb"
    shutil.copy(db, copy)
    issued = TokenStore(tokens_path(str(copy)))
    tokens = {"viewer": issued.create("viewer"), "atlas": issued.create("vendor", "atlas")}
    with serving(copy, "--config", config) as server:
        yield server, tokens


def test_a_vendor_token_gets_its_own_review_whatever_it_asks(served):
    server, tokens = served
    with server.client(tokens["atlas"]) as client:
        own = client.get("/v1/review", params={"vendor": "northwind"})  # the newest month
        assert own.status_code == 200, own.text
        assert own.headers["content-type"].startswith("text/html")
        assert "review-atlas-2026-08.html" in own.headers["content-disposition"]
        assert "atlas: support review, August 2026" in own.text
        assert external_references(own.text) == []
        # no other vendor's figures, in-house's included
        assert not re.search(r"northwind|in-house|\bno-\d\d\b|\bin-\d\d\b", own.text)
    assert server.client().get("/v1/review", params={"month": MONTH}).status_code == 401


def test_a_viewer_names_the_vendor_and_a_real_month(served):
    server, tokens = served
    with server.client(tokens["viewer"]) as client:
        assert client.get("/v1/review", params={"month": MONTH}).status_code == 400
        bad = client.get("/v1/review", params={"vendor": "northwind", "month": "2026-13"})
        assert bad.status_code == 400 and "YYYY-MM" in bad.json()["error"]
        unknown = client.get("/v1/review", params={"vendor": "nobody", "month": MONTH})
        assert unknown.status_code == 400 and "nobody" in unknown.json()["error"]
