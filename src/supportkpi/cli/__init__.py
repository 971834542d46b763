"""The ``supportkpi`` command line: demo, load, quarantine, tables, report, escalations,
sla, compare, review, facts, alerts, schedule, kpis, conversations, conversation, comments,
forecast, staff, erlang, roster, plan, serve, token, import.

The top interface: imports every service below it (analysis, load, workforce, the API
server); never grains, Ibis, the engine or the facts directly."""

from __future__ import annotations

import sys

from supportkpi.cli import (  # noqa: F401
    alerts,
    data,
    drilldown,
    facts,
    imports,
    plans,
    reports,
    review,
    rosters,
    schedules,
    server,
    workforce,
)
from supportkpi.cli._common import app, err

__all__ = ["app", "main"]


def main() -> None:
    """Entry point that keeps user mistakes to one line, without a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        err.print("interrupted; an unfinished load leaves the store as it was")
        sys.exit(130)
