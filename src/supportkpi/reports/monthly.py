"""The monthly review as the CLI and the HTTP API hand it out: the review of
:mod:`supportkpi.analysis.review`, the next month's expected volume, and the HTML of
:mod:`supportkpi.reports.review_html`.

The workforce model (a Poisson GLM over every hour of the week) takes seconds per vendor;
a month's total needs only the weekday pattern, so the review uses a seasonal-naive estimate.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from supportkpi.analysis.query import report
from supportkpi.analysis.review import Review, month_range, review
from supportkpi.analysis.views import data_days
from supportkpi.config import Config
from supportkpi.reports.review_html import render_review
from supportkpi.store.store import Store

WEEKS = 4
MAX_AHEAD = 62


def file_name(vendor: str, month: str, suffix: str) -> str:
    """review-<vendor>-<month>.<suffix>, the vendor reduced to safe characters."""
    return f"review-{re.sub(r'[^A-Za-z0-9_.-]+', '_', vendor)}-{month}.{suffix}"


def next_month(
    store: Store, config: Config, vendor: str, end: date, tz: str
) -> dict[str, Any] | None:
    """Conversations expected in the month after ``end`` for ``vendor``: those already in the
    data, plus, for each day still to come, the mean of the same weekday over the last four
    full weeks (a seasonal-naive forecast). None when that month is wholly history or too far
    ahead."""
    start = end + timedelta(days=1)
    month = start.strftime("%Y-%m")
    last = month_range(month)[1]
    _, newest = data_days(store, tz, config)
    if newest is None or newest >= last or (last - newest).days > MAX_AHEAD:
        return None
    complete = newest - timedelta(days=1)  # the newest day may still be filling
    first = complete - timedelta(days=WEEKS * 7 - 1)
    result = report(
        store, ["chat_volume"], ["day"], None, first, last, {"vendor": [vendor]}, tz, config
    )
    counts = {r["day"].date(): r["chat_volume"] for r in result.table.to_pylist()}
    per_weekday = [0.0] * 7
    for n in range(WEEKS * 7):
        day = first + timedelta(days=n)
        per_weekday[day.weekday()] += counts.get(day, 0) / WEEKS
    seen = sum(n for d, n in counts.items() if start <= d <= complete)
    days = [complete + timedelta(days=n) for n in range(1, (last - complete).days + 1)]
    ahead = sum(per_weekday[d.weekday()] for d in days if d >= start)
    method = "mean of the same weekday over the last four full weeks"
    if seen:
        method = f"{seen:,} already in the data, the rest at the {method}"
    return {"month": month, "conversations": ahead + seen, "method": method}


def latest_month(store: Store, config: Config, tz: str | None = None) -> str:
    """The month (YYYY-MM) of the newest conversation, in the report's zone."""
    _, newest = data_days(store, tz, config)
    return (newest or date.today()).strftime("%Y-%m")


def build(
    store: Store,
    config: Config,
    vendor: str,
    month: str,
    tz: str | None = None,
    *,
    in_house: bool = True,
) -> Review:
    """The review of ``vendor`` for ``month`` with next month's expected volume;
    ``in_house=False`` leaves out the in-house comparison."""
    found = review(store, config, vendor, month, tz, in_house=in_house)
    return replace(found, forecast=next_month(store, config, vendor, found.end, found.timezone))


def review_html(
    store: Store,
    config: Config,
    vendor: str,
    month: str,
    tz: str | None = None,
    *,
    in_house: bool = True,
) -> str:
    """The review as one self-contained HTML document."""
    return render_review(build(store, config, vendor, month, tz, in_house=in_house))
