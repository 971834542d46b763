"""Query-string parameters shared by the read routes, parsed as the CLI parses its options."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, HTTPException, Query

from supportkpi.api.auth import Caller, scoped
from supportkpi.store.access import Principal

DIMENSION_FILTERS = ("channel", "vendor", "team", "agent", "queue", "topic")


def csv_list(value: str | None) -> list[str]:
    """A comma-separated parameter as a list."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def day(value: str | None, name: str) -> date | None:
    """A YYYY-MM-DD parameter, or 400."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"{name}={value!r} is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class Window:
    """Dates, zone and filters of a read, with a vendor token's vendor forced."""

    start: date | None
    end: date | None
    tz: str | None
    filters: dict[str, list[str]]
    who: Principal


def window(
    who: Caller,
    from_: Annotated[str | None, Query(alias="from", description="First day, YYYY-MM-DD.")] = None,
    to: Annotated[str | None, Query(description="Last day, included.")] = None,
    tz: Annotated[str | None, Query(description="Report time zone.")] = None,
    channel: Annotated[str | None, Query(description="Only these channels (a,b).")] = None,
    vendor: Annotated[str | None, Query(description="Only these vendors.")] = None,
    team: Annotated[str | None, Query(description="Only these teams.")] = None,
    agent: Annotated[str | None, Query(description="Only these agents.")] = None,
    queue: Annotated[str | None, Query(description="Only these queues.")] = None,
    topic: Annotated[str | None, Query(description="Only these topics.")] = None,
) -> Window:
    """The window of a read."""
    given = {
        "channel": channel,
        "vendor": vendor,
        "team": team,
        "agent": agent,
        "queue": queue,
        "topic": topic,
    }
    filters = scoped(who, {k: csv_list(v) for k, v in given.items()})
    return Window(day(from_, "from"), day(to, "to"), tz or None, filters, who)


Scope = Annotated[Window, Depends(window)]
