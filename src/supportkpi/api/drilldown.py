"""The drill-down routes: the conversations behind a number, one conversation's timeline,
low-rated comments and SLA breaches. A vendor token sees only its own vendor's rows, as on
every read route; another vendor's conversation is answered exactly as an unknown id."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response

from supportkpi.analysis import export
from supportkpi.analysis.breaches import breaches
from supportkpi.analysis.comments import low_rated_comments
from supportkpi.analysis.conversations import Conversations, conversations
from supportkpi.analysis.timeline import NotFound, timeline
from supportkpi.api.auth import Svc, scoped_vendor
from supportkpi.api.cache import cached
from supportkpi.api.files import file_response
from supportkpi.api.params import Scope, csv_list, day
from supportkpi.api.reads import json_response

router = APIRouter(prefix="/v1", tags=["drill-down"])

NONE = "(none)"  # a group without a value, as the report shows it
MAX_LIMIT = {"json": 1_000, "csv": 100_000, "xlsx": 20_000}


def _cell(filters: dict[str, list[str]]) -> dict[str, list[str | None]]:
    """The scope's filters, ``(none)`` asking for the group without a value."""
    return {k: [None if v == NONE else v for v in values] for k, values in filters.items()}


def _outcome(value: str | None) -> bool | None:
    if value in (None, ""):
        return None
    if value not in ("yes", "no"):
        raise HTTPException(400, f"outcome={value!r}: yes (the numerator) or no (the rest)")
    return value == "yes"


def _moment(value: str | None) -> date | None:
    """``at``: a day, or a moment (its local day is not worked out: the date it names)."""
    if not value:
        return None
    return day(value[:10], "at") if len(value) > 10 and value[10] in "T " else day(value, "at")


def _format(value: str) -> str:
    if value not in MAX_LIMIT:
        raise HTTPException(400, f"unknown format {value!r}; one of {', '.join(MAX_LIMIT)}")
    return value


def _profile(weekday: int | None, hour_of_day: int | None) -> dict[str, int]:
    """The weekday × hour cell asked for (either part may be left out)."""
    asked = {"weekday": weekday, "hour_of_day": hour_of_day}
    return {k: v for k, v in asked.items() if v is not None}


@router.get("/conversations", summary="The conversations behind a report cell")
def conversation_list(
    request: Request,
    scope: Scope,
    svc: Svc,
    kpi: Annotated[str | None, Query(description="Those this KPI is measured over.")] = None,
    outcome: Annotated[str | None, Query(description="yes: the numerator; no: the rest.")] = None,
    missed: Annotated[str | None, Query(description="Those that missed this KPI's target.")] = None,
    by: Annotated[str, Query(description="The report's grouping (a period adds its column).")] = "",
    at: Annotated[
        str | None, Query(description="The cell's period: a day in it (YYYY-MM-DD).")
    ] = None,
    sort: Annotated[str | None, Query(description="A column; -column descending.")] = None,
    limit: Annotated[int | None, Query(ge=0, description="Rows per page.")] = None,
    offset: Annotated[int, Query(ge=0, description="Rows to skip (next_offset pages on).")] = 0,
    format: Annotated[str, Query(description="json, csv or xlsx.")] = "json",
    weekday: Annotated[
        int | None, Query(ge=0, le=6, description="Created on this local weekday (0 = Monday).")
    ] = None,
    hour_of_day: Annotated[
        int | None, Query(ge=0, le=23, description="Created in this local hour (0–23).")
    ] = None,
) -> Response:
    """One page of conversations with their facts; ``total`` and ``next_offset`` say how many
    there are and where the next page starts (``X-Total-Count`` on CSV)."""
    fmt = _format(format)
    size = min(
        limit if limit is not None else (100 if fmt == "json" else MAX_LIMIT["csv"]), MAX_LIMIT[fmt]
    )
    wanted, moment = _outcome(outcome), _moment(at)
    profile = {
        k: v for k, v in (("weekday", weekday), ("hour_of_day", hour_of_day)) if v is not None
    }

    def compute() -> Response:
        with svc.using_store() as store:
            result = conversations(
                store,
                svc.config,
                kpi=kpi or None,
                outcome=wanted,
                missed=missed or None,
                by=csv_list(by),
                at=moment,
                start=scope.start,
                end=scope.end,
                filters=_cell(scope.filters),
                tz=scope.tz,
                sort=sort or None,
                limit=size,
                offset=offset,
                profile=profile,
            )
        return _listed(result, fmt, size, offset)

    return cached(request, svc, scope.who, compute)


def _listed(result: Conversations, fmt: str, size: int, offset: int) -> Response:
    """One page of a drill-down as JSON or CSV."""
    following = offset + result.table.num_rows
    more = following < result.total
    if fmt in ("csv", "xlsx"):
        headers = {"X-Total-Count": str(result.total)}
        if more:
            headers["X-Next-Offset"] = str(following)
        return file_response(result.table, fmt, "conversations", headers)
    return Response(
        export.to_json(
            result.table,
            total=result.total,
            offset=offset,
            limit=size,
            next_offset=following if more else None,
            kpi=result.kpi,
            measured_over=result.measured_over,
            aggregate=result.how or None,
            column=result.column,
        ),
        media_type="application/json",
    )


@router.get("/conversations/{conversation_id}", summary="One conversation as it happened")
def conversation(
    request: Request,
    scope: Scope,
    svc: Svc,
    conversation_id: Annotated[str, Path(max_length=500)],
) -> Response:
    """Its facts, messages in order (replies and private notes marked), survey answers with
    comments and QA reviews. A vendor token gets 404 for another vendor's conversation, with
    the same message as for an id that does not exist."""
    if not conversation_id.isprintable():
        raise HTTPException(404, "no such conversation")

    def compute() -> Response:
        with svc.using_store() as store:
            try:
                found = timeline(
                    store, conversation_id, svc.config, scope.tz, scoped_vendor(scope.who, None)
                )
            except NotFound as exc:
                raise HTTPException(404, str(exc)) from None
        return json_response(found)

    return cached(request, svc, scope.who, compute)


@router.get("/comments", summary="Low-rated survey answers with comments")
def comments(
    request: Request,
    scope: Scope,
    svc: Svc,
    by: Annotated[str, Query(description="Group by (vendor, agent, a period…).")] = "vendor",
    kind: Annotated[str, Query(description="csat, nps or both.")] = "csat,nps",
    per_group: Annotated[int, Query(ge=1, le=1000)] = 10,
    format: Annotated[str, Query(description="json, csv or xlsx.")] = "json",
) -> Response:
    """The lowest CSAT and NPS answers that carry a comment, per group, lowest first."""
    fmt = _format(format)

    def compute() -> Response:
        with svc.using_store() as store:
            table = low_rated_comments(
                store,
                svc.config,
                csv_list(by),
                scope.start,
                scope.end,
                scope.filters,
                scope.tz,
                csv_list(kind),
                per_group,
            )
        if fmt != "json":
            return file_response(table, fmt, "comments")
        return Response(export.to_json(table), media_type="application/json")

    return cached(request, svc, scope.who, compute)


@router.get("/sla/breaches", summary="Conversations that missed each target")
def sla_breaches(
    request: Request,
    scope: Scope,
    svc: Svc,
    per_target: Annotated[int, Query(ge=1, le=1000)] = 10,
) -> Response:
    """Per vendor and per-conversation target, the conversations that missed it, worst
    first; a vendor token sees only its own."""
    vendor = scope.filters.get("vendor")
    one = scoped_vendor(scope.who, vendor[0] if vendor and len(vendor) == 1 else None)

    def compute() -> Response:
        with svc.using_store() as store:
            table = breaches(store, svc.config, one, scope.start, scope.end, scope.tz, per_target)
        return Response(export.to_json(table), media_type="application/json")

    return cached(request, svc, scope.who, compute)
