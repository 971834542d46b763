"""The dashboard's first view, answered before anyone opens it.

Whoever opens the dashboard first sees the last four weeks of data over every vendor: the
headline, the trend, the vendor table, the peaks, CSAT by first response, escalations, the
agent table and the SLA. Each is a full aggregation of its window with exact medians, a few
seconds of work at a million conversations, done again after every load.

So the server does that work itself, as soon as it starts and again whenever the store's
generation moves (a load through the API, or, on a shared PostgreSQL store, a load by
another process): a thread asks the server's own routes, in process, for what the dashboard
asks on opening (:func:`first_view`, the mirror of ``views()`` in ``web/static/app.js``).
The answers are then kept (:mod:`supportkpi.api.cache`) as if a person had asked: the same
routes, the same parameters, the same bytes. The live strip is asked too: its answer is not
kept (now moves on), but what each of its requests reads again is. Nothing else is computed
ahead: another window, a filter or a vendor token's own view is answered when asked.

``GET /health`` says where the warm-up is (``warm``): ``off``, ``warming``, ``ready`` (with the
generation it answered and how long it took) or ``failed`` (the server's log says why).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from supportkpi.api.service import Service
from supportkpi.store import generation
from supportkpi.store.access import Principal, Role

log = logging.getLogger("supportkpi.api")

SCOPE_KEY = "supportkpi.warm_up"  # the ASGI scope key carrying an in-process caller
WARM_UP = Principal("warm-up", "dashboard warm-up", Role.ADMIN, None)
POLL_SECONDS = 2.0
REST = 5.0  # after a warm-up of W seconds, none for REST × W: at most a sixth of the time
WINDOW_DAYS = 28  # the dashboard opens on the last four weeks of data (app.js start())

TREND_KPIS = "chat_volume,first_response_time,csat"
VENDOR_KPIS = "csat,first_contact_resolution,abandonment_rate,first_response_time"
AGENT_KPIS = "chat_volume,first_response_time,average_handle_time,csat,first_contact_resolution"

__all__ = ["SCOPE_KEY", "Warmer", "default_window", "first_view", "get_in_process"]


def default_window(first_day: date | None, last_day: date | None) -> dict[str, str]:
    """The filters the dashboard opens with: the last four weeks of data (from the data's
    first day when it has fewer), or none when the store has no data."""
    if last_day is None:
        return {}
    start = last_day - timedelta(days=WINDOW_DAYS - 1)
    if first_day is not None and first_day > start:
        start = first_day
    return {"from": start.isoformat(), "to": last_day.isoformat()}


def first_view(window: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """The read requests the dashboard makes for its views over ``window`` with no other
    filter, as ``views()`` in web/static/app.js builds them (a browser test holds the two
    together)."""
    sla = {"from": "", "to": "", "vendor": "", "channel": "", "team": ""} | window
    return [
        ("/v1/headline", dict(window)),
        ("/v1/report", window | {"by": "day", "kpi": TREND_KPIS, "samples": "true"}),
        ("/v1/report", window | {"by": "vendor", "kpi": VENDOR_KPIS, "samples": "true"}),
        ("/v1/peaks", dict(window)),
        ("/v1/report", window | {"by": "", "kpi": "csat_by_response_bucket"}),
        ("/v1/escalations", dict(window)),
        ("/v1/report", window | {"by": "vendor,agent", "kpi": AGENT_KPIS, "samples": "true"}),
        ("/v1/sla", sla | {"standing": "true"}),
    ]


class Warmer:
    """Keeps the first view answered: a thread that warms it at start and after each load."""

    def __init__(self, app: Any, poll_seconds: float = POLL_SECONDS, rest: float = REST) -> None:
        self.app = app
        self.poll_seconds = poll_seconds
        self.rest = rest
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"state": "warming", "generation": None}

    def status(self) -> dict[str, Any]:
        """Where the warm-up is: state, the generation answered, seconds it took."""
        with self._lock:
            return dict(self._state)

    def run(self, stop: threading.Event) -> None:
        """Warm now, then whenever the generation moves, until ``stop`` is set. A warm-up
        that took W seconds is followed by none for ``rest`` × W: under a stream of small
        loads (webhooks, records sent every few seconds) the warm-up takes at most a share
        of the server's time instead of all of it. A warm-up that failed is tried again only
        for a later generation."""
        done: int | None = None
        not_before = 0.0
        while not stop.is_set():
            try:
                now = self._generation()
                if now != done and time.monotonic() >= not_before:
                    done = now
                    took = self._warm(now, stop)
                    not_before = time.monotonic() + self.rest * took
            except Exception:  # the server serves on; the views are computed when asked
                log.exception("warming the dashboard's first view failed")
                self._set(state="failed", generation=None, seconds=None)
            stop.wait(self.poll_seconds)

    def _generation(self) -> int:
        svc: Service = self.app.state.service
        with svc.using_store() as store:
            return generation.current(store)

    def _warm(self, at: int, stop: threading.Event) -> float:
        """Ask for the first view at generation ``at``; the seconds it took."""
        self._set(state="warming", generation=None)
        start = time.perf_counter()
        meta = json.loads(self.ask("/v1/meta", {}))
        window = default_window(
            date.fromisoformat(meta["first_day"]) if meta.get("first_day") else None,
            date.fromisoformat(meta["last_day"]) if meta.get("last_day") else None,
        )
        # the live strip is computed on every request (now moves on), but what it reads
        # again each time (the recent rows, its compiled queries) is kept
        for path, params in [*first_view(window), ("/v1/live", dict(window))]:
            if stop.is_set():  # the server is stopping: no more work for it
                return time.perf_counter() - start
            self.ask(path, params)
        seconds = round(time.perf_counter() - start, 3)
        self._set(state="ready", generation=at, seconds=seconds)
        log.info("the dashboard's first view is answered (generation %s, %.1f s)", at, seconds)
        return seconds

    def _set(self, **values: Any) -> None:
        with self._lock:
            self._state = {k: v for k, v in (self._state | values).items() if v is not None}

    def ask(self, path: str, params: dict[str, str]) -> bytes:
        """GET ``path`` from the app in process, as the warm-up's caller; the body, or an
        error when the answer is not 200."""
        status, body = asyncio.run(get_in_process(self.app, path, params))
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:200]!r}")
        return body


async def get_in_process(app: Any, path: str, params: dict[str, str]) -> tuple[int, bytes]:
    """One GET request through the app's whole ASGI stack, not over the network."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": urlencode(params).encode(),
        "headers": [(b"host", b"warm-up")],
        "client": ("127.0.0.1", 0),
        "server": ("warm-up", 0),
        SCOPE_KEY: WARM_UP,
    }
    sent = False
    status = 0
    body = bytearray()

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # no disconnect: the app answers first
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, bytes(body)
