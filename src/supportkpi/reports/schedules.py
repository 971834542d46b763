"""Scheduled delivery: each ``[[schedules]]`` entry of the config, run when it is due.

A schedule is due at its local time (``at``, in the config's zone) every day, on a weekday
every week, or on a day of every month. A run looks only at the **latest** due time at or
before now: if its reports were not made yet and it is not older than ``catch_up`` (a server
that was down for a week sends the latest, not seven), the reports are made — the monthly
review of each vendor for the month before the due time, or a summary of the day (week,
month) before it — and recorded in the store with one pending delivery per channel
(:mod:`supportkpi.store.schedule_log`) before anything is sent. Then every delivery not yet
sent, from this run or an earlier one, is tried (with the alert retries). So nothing is made
twice, a restart sends nothing again, and a failed delivery is retried until it goes through.

Channels: an e-mail of ``[notify.email]`` (the text, with the review as an HTML attachment
and, with ``pdf = true``, a PDF), a webhook of ``[notify.webhooks]`` (JSON: ``text``,
the schedule, the period, and each file base64-encoded) and ``folder`` (the files written
there).
"""

from __future__ import annotations

import base64
import calendar
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from supportkpi.analysis import render
from supportkpi.analysis.query import HEADLINE, QueryError, report
from supportkpi.analysis.sla import vendors
from supportkpi.config import WEEKDAYS, Config, Schedule, parse_duration
from supportkpi.kpis import REGISTRY
from supportkpi.kpis.registry import humanise
from supportkpi.reports.delivery import DeliveryError, post_webhook, send_email, with_retries
from supportkpi.store import alert_log, schedule_log
from supportkpi.store.schedule_log import Key
from supportkpi.store.store import Store

FOLDER = "folder"


@dataclass(frozen=True)
class Outcome:
    """What one run did for one schedule: its latest due time, and ``made`` (reports made
    now, with the items), ``done`` (made before), ``missed`` (older than the catch-up), or
    ``failed: why`` (nothing recorded; the next run tries again)."""

    schedule: str
    due_at: datetime | None
    status: str
    items: tuple[str, ...] = ()


def latest_due(schedule: Schedule, now: datetime, tz: str) -> datetime:
    """The latest time at or before ``now`` the schedule was due (UTC)."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    today = local.date()
    candidates = [today - timedelta(days=n) for n in range(0, 63)]
    for day in candidates:
        if _is_due_day(schedule, day):
            moment = datetime.combine(day, schedule.at, zone)
            if moment <= local:
                return moment.astimezone(UTC)
    raise AssertionError("every schedule is due within two months")  # pragma: no cover


def _is_due_day(schedule: Schedule, day: date) -> bool:
    if schedule.every == "month":
        return day.day == schedule.day
    if schedule.every == "week":
        return WEEKDAYS[day.weekday()] == schedule.day
    return True


def period(schedule: Schedule, due: datetime, tz: str) -> tuple[date, date]:
    """The days a report due at ``due`` covers: the month before it (reviews, monthly
    summaries), the seven days before it (weekly) or the day before it (daily)."""
    day = due.astimezone(ZoneInfo(tz)).date()
    if schedule.report == "review" or schedule.every == "month":
        end = day.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if schedule.every == "week":
        return day - timedelta(days=7), day - timedelta(days=1)
    return day - timedelta(days=1), day - timedelta(days=1)


def run(
    store: Store,
    config: Config,
    at: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Make what is due at ``at`` (default now) and deliver every delivery not yet sent."""
    outcomes = prepare(store, config, at)
    record(store, send(config, schedule_log.undelivered(store), sleep))
    return outcomes


def prepare(store: Store, config: Config, at: datetime | None = None) -> list[Outcome]:
    """Make and record the reports of every schedule that is due; send nothing."""
    now = (at or datetime.now(UTC)).astimezone(UTC)
    schedule_log.ensure(store)
    return [_prepare_one(store, config, s, now) for s in config.schedules]


def _prepare_one(store: Store, config: Config, schedule: Schedule, now: datetime) -> Outcome:
    due = latest_due(schedule, now, config.timezone)
    if schedule_log.made(store, schedule.name, due):
        return Outcome(schedule.name, due, "done")
    if now - due > parse_duration(schedule.catch_up):
        return Outcome(schedule.name, due, "missed")
    try:
        items = _make(store, config, schedule, due)
    except QueryError as exc:  # nothing recorded: the next run tries again
        return Outcome(schedule.name, due, f"failed: {exc}")
    channels = [*schedule.notify, *([FOLDER] if schedule.folder else [])]
    schedule_log.record_items(store, schedule.name, due, items, channels, now)
    return Outcome(schedule.name, due, "made", tuple(item for item, _ in items))


def _make(
    store: Store, config: Config, schedule: Schedule, due: datetime
) -> list[tuple[str, dict[str, Any]]]:
    first, last = period(schedule, due, config.timezone)
    if schedule.report == "review":
        if schedule.vendors:
            return [(v, _review(store, config, schedule, v, first)) for v in schedule.vendors]
        return [
            (v, _review(store, config, schedule, v, first))
            for v in vendors(store)
            if _has_month(store, config, v, first)
        ]
    return [("summary", _summary(store, config, schedule, first, last))]


def _has_month(store: Store, config: Config, vendor: str, first: date) -> bool:
    """Whether ``vendor`` has conversations in the month from ``first`` (every vendor gets
    its review; one without a conversation that month gets none)."""
    found = report(
        store, ["chat_volume"], [], None, first, _month_end(first), {"vendor": [vendor]},
        config=config,
    )  # fmt: skip
    rows = found.table.to_pylist()
    return bool(rows and rows[0]["chat_volume"])


def _file(name: str, content_type: str, data: bytes) -> dict[str, str]:
    return {"name": name, "content_type": content_type, "data": base64.b64encode(data).decode()}


def _review(
    store: Store, config: Config, schedule: Schedule, vendor: str, first: date
) -> dict[str, Any]:
    from supportkpi.reports.monthly import file_name, review_html

    month = first.strftime("%Y-%m")
    html = review_html(store, config, vendor, month)
    files = [_file(file_name(vendor, month, "html"), "text/html", html.encode())]
    if schedule.pdf:
        files.append(_file(file_name(vendor, month, "pdf"), "application/pdf", _pdf(html)))
    title = f"{vendor}: support review, {first:%B %Y}"
    return {
        "text": f"[supportkpi] {title}",
        "details": f"{title}, attached ({', '.join(f['name'] for f in files)}).\n"
        f"Made by the schedule {schedule.name!r} of supportkpi.\n",
        "schedule": schedule.name,
        "report": "review",
        "vendor": vendor,
        "period": {"from": first.isoformat(), "to": _month_end(first).isoformat()},
        "files": files,
    }


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _pdf(html: str) -> bytes:
    import tempfile

    from supportkpi.reports.pdf import html_to_pdf

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "review.pdf"
        html_to_pdf(html, path)
        return path.read_bytes()


def _summary(
    store: Store, config: Config, schedule: Schedule, first: date, last: date
) -> dict[str, Any]:
    """Headline KPIs per vendor over the days, judged against their targets, and the
    alerts that fired or resolved in them."""
    rows = report(store, list(HEADLINE), ["vendor"], None, first, last, config=config, targets=True)
    table = rows.table.to_pylist()
    days = f"{first}" if first == last else f"{first} to {last}"
    lines = [f"Support summary, {days} ({config.timezone}); ✓ met, ✗ missed its target", ""]
    for row in table:
        lines.append(f"{row['vendor'] or '(no vendor)'}:")
        for kpi in HEADLINE:
            if kpi not in row:
                continue
            status = row.get(f"{kpi}_status")
            mark = {"met": " ✓", "missed": " ✗"}.get(status or "", "")
            value = humanise(row[kpi], REGISTRY[kpi].unit)
            lines.append(f"  {REGISTRY[kpi].label}: {value}{mark}")
    fired = _alerts_between(store, config, first, last)
    lines += ["", f"Alerts: {len(fired)}"]
    lines += [f"  {e['at']:%Y-%m-%d %H:%M} {e['status']} {e['rule']}" for e in fired]
    text = "\n".join(lines) + "\n"
    return {
        "text": f"[supportkpi] Support summary, {days}",
        "details": text,
        "schedule": schedule.name,
        "report": "summary",
        "period": {"from": first.isoformat(), "to": last.isoformat()},
        "rows": render.jsonable(table),
        "alerts": render.jsonable(fired),
        "files": [_file(f"summary-{first}.txt", "text/plain", text.encode())],
    }


def _alerts_between(store: Store, config: Config, first: date, last: date) -> list[dict]:
    zone = ZoneInfo(config.timezone)
    lo = datetime.combine(first, datetime.min.time(), zone)
    hi = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
    events = alert_log.history(store, 1000)
    return sorted((e for e in events if lo <= e["at"] < hi), key=lambda e: e["at"])


Sent = tuple[Key, str, bool, int, str | None]


def send(
    config: Config,
    pending: list[tuple[Key, str, dict[str, Any]]],
    sleep: Callable[[float], None] = time.sleep,
) -> list[Sent]:
    """Deliver each pending (key, channel, payload); needs no store."""
    folders = {s.name: s.folder for s in config.schedules}
    out = []
    for key, channel, payload in pending:
        act = _action(config, key, channel, payload, folders)
        out.append((key, channel, *with_retries(config.notify, act, sleep)))
    return out


def _action(
    config: Config, key: Key, channel: str, payload: dict[str, Any], folders: dict
) -> Callable[[], None]:
    def act() -> None:
        files = [
            (f["name"], f["content_type"], base64.b64decode(f["data"])) for f in payload["files"]
        ]
        if channel == FOLDER:
            _write(folders.get(key[0]), files)
        elif channel in config.notify.webhooks:
            post_webhook(config.notify.webhooks[channel], payload)
        elif channel in config.notify.email:
            send_email(config.notify.email[channel], payload["text"], payload["details"], files)
        else:
            raise DeliveryError(f"no channel {channel!r} under [notify] any more")

    return act


def _write(folder: str | None, files: list[tuple[str, str, bytes]]) -> None:
    if folder is None:
        raise DeliveryError("the schedule has no folder any more")
    try:
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        for name, _, data in files:
            (target / name).write_bytes(data)
    except OSError as exc:
        raise DeliveryError(f"{folder}: {exc}") from None


def record(store: Store, results: list[Sent]) -> None:
    """Keep the outcome of each delivery in the store."""
    for key, channel, sent, attempts, error in results:
        schedule_log.record_delivery(store, key, channel, sent, attempts, error, datetime.now(UTC))


__all__ = ["Outcome", "latest_due", "period", "prepare", "record", "run", "send"]
