"""The monthly vendor review on a small demo operation: its numbers are the ones ``sla`` and
``report`` give for the same month, its HTML references nothing outside itself, and the CLI
writes it with a PDF that Chromium printed."""

from __future__ import annotations

import os
import re
import struct
import zlib
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from supportkpi.analysis.query import QueryError, report
from supportkpi.analysis.review import month_range, review
from supportkpi.analysis.sla import sla
from supportkpi.cli import app
from supportkpi.config import load_config
from supportkpi.kpis import REGISTRY, Unit
from supportkpi.kpis.registry import humanise
from supportkpi.reports.review_html import render_review
from supportkpi.store.store import Store
from tests.browser import require_chromium

MONTH, START, END = "2026-07", date(2026, 7, 1), date(2026, 7, 31)
JUNE = (date(2026, 6, 1), date(2026, 6, 30))


@pytest.fixture(scope="module")
def opened(small_demo):
    db, config = small_demo
    store = Store.open(db, read_only=True)
    yield store, load_config(config)
    store.close()


@pytest.fixture(scope="module")
def northwind(opened):
    store, config = opened
    return review(store, config, "northwind", MONTH)


def test_month_range_and_bad_months():
    assert month_range("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    assert month_range("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))
    for bad in ("2026-13", "2026-7", "july"):
        with pytest.raises(QueryError):
            month_range(bad)


def test_unknown_vendor_is_a_query_error(opened):
    store, config = opened
    with pytest.raises(QueryError, match="no conversations of vendor"):
        review(store, config, "nobody", MONTH)


def test_contract_equals_sla_for_the_month_and_the_one_before(opened, northwind):
    store, config = opened
    now = sla(store, config, "northwind", None, START, END).to_pylist()
    june = sla(store, config, "northwind", None, *JUNE).to_pylist()
    before = {(r["kpi"], r["scope"]): r for r in june}
    assert len(northwind.contract) == len(now) == 4
    for line, row in zip(northwind.contract, now, strict=True):
        assert (line.kpi, line.scope, line.target, line.status) == (
            row["kpi"],
            row["scope"],
            row["target"],
            row["status"],
        )
        assert line.achieved == pytest.approx(row["achieved"], rel=1e-12)
        assert line.compliance == pytest.approx(row["compliance"], rel=1e-12)
        if row["attainment"] is None:
            assert line.attainment is None
        else:
            assert line.attainment == pytest.approx(row["attainment"], rel=1e-12)
        prior = before[(row["kpi"], row["scope"])]["achieved"]
        assert line.previous == pytest.approx(prior, rel=1e-9)
        assert line.history[-1] == ("2026-07", pytest.approx(row["achieved"], rel=1e-9))
        assert line.history[-2] == ("2026-06", pytest.approx(prior, rel=1e-9))
    frt = next(line for line in northwind.contract if line.kpi == "first_response_time")
    assert frt.breaches is not None and frt.measured and frt.breaches > 0
    # the breaches are exactly the conversations the attainment leaves out
    assert frt.measured - frt.breaches == round(frt.attainment * frt.measured)


def test_kpis_volume_and_agents_equal_the_report(opened, northwind):
    store, config = opened
    names = ["chat_volume", "csat", "nps", "ces", "qa_score", "escalation_rate"]
    only = {"vendor": ["northwind"]}
    row = report(store, names, [], None, START, END, only, None, config).table.to_pylist()[0]
    for name in names:
        assert northwind.kpis[name] == pytest.approx(row[name], rel=1e-12), name
    assert sum(n for _, n in northwind.volume_by_day) == row["chat_volume"]
    assert len(northwind.volume_by_day) == 31
    assert sum(n for _, _, n in northwind.heatmap) == row["chat_volume"]
    agents = report(store, ["chat_volume", "csat"], ["agent"], None, START, END, only, None, config)
    expected = {r["agent"]: r for r in agents.table.to_pylist() if r["agent"] is not None}
    assert {a["agent"] for a in northwind.agents} == set(expected)
    for agent in northwind.agents:
        assert agent["chat_volume_handled"] == expected[agent["agent"]]["chat_volume_handled"]
        assert agent["csat"] == pytest.approx(expected[agent["agent"]]["csat"], rel=1e-12)
    assert sum(a["csat__sample"] for a in northwind.agents) == northwind.samples["csat"]
    cost = report(store, ["cost_per_contact"], ["vendor"], None, START, END, None, None, config)
    by_vendor = {r["vendor"]: r["cost_per_contact"] for r in cost.table.to_pylist()}
    assert northwind.cost["vendor"] == pytest.approx(by_vendor["northwind"])
    assert northwind.cost["in_house"] == pytest.approx(by_vendor["in-house"])
    assert northwind.changes and all(c.sentence.endswith(".") for c in northwind.changes)


class Page(HTMLParser):
    """Every tag with its attributes, and the text of each cell carrying a data-value."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.cells: list[tuple[dict[str, str | None], str]] = []
        self._open: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "td":
            self._open.append(dict(attrs))

    def handle_endtag(self, tag):
        if tag == "td" and self._open:
            self._open.pop()

    def handle_data(self, data):
        if self._open and "data-value" in self._open[-1]:
            self.cells.append((self._open[-1], data))


def external_references(html: str) -> list[str]:
    """Every attribute or CSS url() that could make a viewer fetch something."""
    page = Page()
    page.feed(html)
    found = [
        f"<{tag} {name}={value}>"
        for tag, attrs in page.tags
        for name, value in attrs.items()
        if name in ("src", "href", "xlink:href", "srcset", "action", "poster", "data")
        and value
        and not value.startswith(("#", "data:"))
    ]
    found += [tag for tag, _ in page.tags if tag in ("script", "link", "iframe", "object")]
    found += re.findall(r"url\(|@import", html)
    return found


def test_the_html_is_self_contained_and_shows_the_sla_numbers(opened, northwind):
    store, config = opened
    html = render_review(northwind)
    assert external_references(html) == []
    assert not re.search(r"https?://", html)
    page = Page()
    page.feed(html)
    shown = {}
    for attrs, text in page.cells:
        if attrs.get("data-field") in ("achieved", "attainment", "compliance"):
            shown.setdefault(attrs["data-field"], []).append((attrs["data-value"], text))
    rows = sla(store, config, "northwind", None, START, END).to_pylist()
    assert len(shown["achieved"]) >= len(rows)
    for row, (value, text) in zip(rows, shown["achieved"], strict=False):
        assert float(value) == pytest.approx(row["achieved"], rel=1e-12)
        assert text == humanise(row["achieved"], Unit(row["unit"]))
    for row, (value, text) in zip(rows, shown["compliance"], strict=False):
        assert float(value) == pytest.approx(row["compliance"], rel=1e-12)
        assert text == humanise(row["compliance"], Unit.RATE)
    assert humanise(northwind.kpis["csat"], REGISTRY["csat"].unit) in html
    assert "<svg" in html and "northwind: support review, July 2026" in html


def test_names_from_the_data_are_escaped(northwind):
    from dataclasses import replace

    hostile = replace(northwind, vendor='<img src="http://evil.example/x">')
    html = render_review(hostile)
    assert "<img" not in html and external_references(html) == []


def test_the_cli_writes_the_review_and_its_pdf(small_demo, opened, tmp_path):
    require_chromium()
    db, config = small_demo
    html, pdf = tmp_path / "review.html", tmp_path / "review.pdf"
    args = ["review", "--vendor", "in-house", "--month", MONTH, "--db", str(db)]
    done = CliRunner().invoke(
        app, [*args, "--config", str(config), "--out", str(html), "--pdf", str(pdf)]
    )
    assert done.exit_code == 0, done.output
    text = html.read_text(encoding="utf-8")
    assert "in-house: support review, July 2026" in text and external_references(text) == []
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    assert pages >= 2, pages
    rendered = render_pages(pdf)
    assert len(rendered) == pages
    for _, picture in rendered:
        inked = ink_share(picture)
        assert 0.002 < inked < 0.6, inked  # neither a blank page nor a black one
    first_text, first_picture = rendered[0]
    assert "in-house: support review, July 2026" in first_text
    assert re.search(r"\bContract\b|\bTargets\b", first_text) and "northwind" not in first_text
    write_png(first_picture, Path(os.environ.get("SUPPORTKPI_REVIEW_PAGE", tmp_path / "p1.png")))
    refused = CliRunner().invoke(app, ["review", "--month", MONTH, "--db", str(db)])
    assert refused.exit_code == 2 and "--vendor" in refused.output


def render_pages(pdf: Path) -> list[tuple[str, np.ndarray]]:
    """Each page of ``pdf`` as (its text, its grey pixels at 100 dpi), read by PDFium."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        out = []
        for page in document:
            text = page.get_textpage().get_text_range()
            bitmap = page.render(scale=100 / 72, grayscale=True)
            out.append((text, bitmap.to_numpy().reshape(bitmap.height, bitmap.width, -1)[..., 0]))
        return out
    finally:
        document.close()


def ink_share(picture: np.ndarray) -> float:
    """The share of pixels clearly darker than white paper."""
    return float((picture < 200).mean())


def write_png(picture: np.ndarray, path: Path) -> None:
    """Grey pixels as an 8-bit PNG (zlib and the PNG chunk layout, no imaging library)."""
    height, width = picture.shape
    rows = b"".join(b"\0" + picture[y].astype(np.uint8).tobytes() for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_all_vendors_writes_one_review_each_in_house_included(small_demo, opened, tmp_path):
    db, config = small_demo
    folder = tmp_path / "reviews"
    args = ["review", "--all-vendors", "--month", MONTH, "--db", str(db)]
    done = CliRunner().invoke(app, [*args, "--config", str(config), "--out", str(folder)])
    assert done.exit_code == 0, done.output
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"review-{v}-2026-07.html" for v in ("atlas", "in-house", "northwind")]
    for vendor in ("atlas", "in-house", "northwind"):
        text = (folder / f"review-{vendor}-2026-07.html").read_text(encoding="utf-8")
        assert f"{vendor}: support review, July 2026" in text
        others = {"atlas", "northwind"} - {vendor}
        assert not any(o in text for o in others), vendor  # never another vendor's figures


def test_the_review_counts_the_targets_as_sla_does(northwind):
    standing = northwind.standing
    assert standing is not None and standing.held_to == "northwind's contract"
    assert standing.targets == len(northwind.contract)
    assert len(standing.missed) == sum(line.status == "missed" for line in northwind.contract)
    assert standing.met == sum(line.status == "met" for line in northwind.contract)
