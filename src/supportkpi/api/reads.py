"""The read routes: the registry, the report, SLAs, breakdowns, headline cards and live."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from supportkpi.analysis import live, render, views
from supportkpi.analysis.conversations import drillable
from supportkpi.analysis.query import PERIODS, PROFILES, report
from supportkpi.analysis.samples import THIN_BELOW
from supportkpi.analysis.sla import sla, standings, vendors
from supportkpi.api.auth import Caller, Svc, scoped_vendor
from supportkpi.api.cache import cached
from supportkpi.api.files import file_response, table_format
from supportkpi.api.params import Scope, csv_list
from supportkpi.api.params import day as parse_day
from supportkpi.kpis import all_kpis
from supportkpi.store.access import Role

router = APIRouter(prefix="/v1", tags=["read"])

HEADLINE = (
    "first_response_time",
    "csat",
    "first_contact_resolution",
    "abandonment_rate",
    "average_handle_time",
    "nps",
    "cost_per_contact",
)


def json_response(data: Any) -> Response:
    """JSON exactly as the CLI writes it (NaN and infinities as null)."""
    return Response(
        json.dumps(render.jsonable(data), ensure_ascii=False), media_type="application/json"
    )


@router.get("/kpis", summary="Every KPI of the registry")
def kpis(who: Caller) -> list[dict[str, Any]]:
    """Name, label, unit, direction, family, definition, default target and output columns."""
    return [
        {
            "name": k.name,
            "label": k.label,
            "unit": k.unit.value,
            "direction": k.direction.value,
            "family": k.family.value,
            "definition": k.description,
            "target": k.target,
            "columns": [
                {"column": o.column, "unit": o.unit.value, "meaning": o.meaning} for o in k.outputs
            ],
        }
        for k in all_kpis()
    ]


@router.get("/me", summary="Who the token or session belongs to")
def me(who: Caller, svc: Svc) -> dict[str, Any]:
    """The caller's role and vendor, and whether the server checks tokens at all."""
    return {
        "name": who.name,
        "role": who.role.value,
        "vendor": who.vendor,
        "auth": svc.tokens is not None,
    }


@router.get("/meta", summary="What there is to filter by")
def meta(request: Request, scope: Scope, svc: Svc) -> Response:
    """The data's first and last day, the time zone, the vendors, channels and teams, and the
    KPIs whose conversations can be listed (``/v1/conversations?kpi=``)."""

    def compute() -> Response:
        with svc.using_store() as store:
            values = views.filter_values(store, ("vendor", "channel", "team"), scope.filters)
            first, last = views.data_days(store, scope.tz, svc.config)
            listed = drillable(store, svc.config)
        return json_response(
            {
                "first_day": first.isoformat() if first else None,
                "last_day": last.isoformat() if last else None,
                "timezone": svc.config.timezone,
                "periods": list(PERIODS),
                "profiles": list(PROFILES),
                "drillable": listed,
                **values,
            }
        )

    return cached(request, svc, scope.who, compute)


@router.get("/report", summary="KPIs per group, as supportkpi report --format json")
def report_route(
    request: Request,
    scope: Scope,
    svc: Svc,
    kpi: Annotated[str | None, Query(description="KPIs, comma-separated.")] = None,
    family: Annotated[str | None, Query(description="Only one family.")] = None,
    by: Annotated[str, Query(description="Group by, comma-separated; empty: overall.")] = "vendor",
    trend: bool = False,
    targets: bool = False,
    samples: Annotated[
        bool,
        Query(
            description="Also each KPI's sample size (<kpi>__sample) and whether it is too "
            f"small to read as a fact (<kpi>__thin: fewer than {THIN_BELOW} rows)."
        ),
    ] = False,
    format: Annotated[str, Query(description="json, csv or xlsx.")] = "json",
) -> Response:
    """The same rows and columns as ``supportkpi report --format json`` (or csv, xlsx)."""
    table_format(format)

    def compute() -> Response:
        with svc.using_store() as store:
            result = report(
                store,
                csv_list(kpi),
                csv_list(by),
                None,
                scope.start,
                scope.end,
                scope.filters,
                scope.tz,
                svc.config,
                family,
                targets=targets,
                trend=trend,
                explain=False,
                samples=samples,
            )
        headers = {_header_name("X-Missing-", k): _header(v) for k, v in result.missing.items()}
        headers |= {_header_name("X-Note-", k): _header(v) for k, v in result.notes.items()}
        if format == "csv":
            return PlainTextResponse(render.to_csv(result), media_type="text/csv", headers=headers)
        if format == "xlsx":
            return file_response(result.table, format, "report", headers)
        return Response(render.to_json(result), media_type="application/json", headers=headers)

    return cached(request, svc, scope.who, compute)


@router.get("/headline", summary="Headline KPIs against target and the previous period")
def headline(
    request: Request,
    scope: Scope,
    svc: Svc,
    kpi: Annotated[str | None, Query(description="KPIs, comma-separated.")] = None,
) -> Response:
    """Each KPI over from–to with target status, and the same-length period before it."""

    def compute() -> Response:
        with svc.using_store() as store:
            start, end = scope.start, scope.end
            if start is None or end is None:
                first, last = views.data_days(store, scope.tz, svc.config)
                if last is None or first is None:
                    return json_response({"cards": []})
                end = end or last
                start = start or max(first, end - timedelta(days=27))
            data = views.headline(
                store, csv_list(kpi) or HEADLINE, start, end, scope.filters, scope.tz, svc.config
            )
        return json_response(data)

    return cached(request, svc, scope.who, compute)


@router.get("/sla", summary="Each vendor's contract, KPI by KPI")
def sla_route(
    request: Request,
    scope: Scope,
    svc: Svc,
    period: Annotated[str | None, Query(description="Judge each period apart.")] = None,
    standing: Annotated[
        bool, Query(description="Also each vendor's targets met and missed, in words.")
    ] = False,
    format: Annotated[str, Query(description="json, csv or xlsx (the rows).")] = "json",
) -> Response:
    """As ``supportkpi sla --format json``; a vendor token sees only its own contract. With
    ``standing``: ``{"rows": […], "standing": […]}``, how each vendor stands against the one
    set of targets it is held to, counted as the CLI and the review count."""
    table_format(format)
    vendor = scope.filters.get("vendor")
    one = scoped_vendor(scope.who, vendor[0] if vendor and len(vendor) == 1 else None)

    def compute() -> Response:
        with svc.using_store() as store:
            table = sla(
                store, svc.config, one, period, scope.start, scope.end, scope.tz, scope.filters
            )
        if format != "json":
            return file_response(table, format, "sla")
        rows = render.plain_records(table)
        if not standing:
            return json_response(rows)
        said = [
            {**asdict(s), "summary": s.summary(), "sentence": s.sentence()}
            for s in ([] if period else standings(svc.config, table))
        ]
        return json_response({"rows": rows, "standing": said})

    return cached(request, svc, scope.who, compute)


@router.get("/escalations", summary="Escalations by reason")
def escalations(
    request: Request,
    scope: Scope,
    svc: Svc,
    by: Annotated[str, Query(description="Group by, comma-separated.")] = "",
) -> Response:
    """Count, share of escalations and rate per handled conversation, per reason."""

    def compute() -> Response:
        with svc.using_store() as store:
            table = views.escalation_reasons(
                store,
                csv_list(by),
                None,
                scope.start,
                scope.end,
                scope.filters,
                scope.tz,
                svc.config,
            )
        return json_response(render.plain_records(table))

    return cached(request, svc, scope.who, compute)


@router.get("/peaks", summary="Conversations by weekday and hour")
def peaks(request: Request, scope: Scope, svc: Svc) -> Response:
    """Conversations created per local weekday (0 = Monday) and hour."""

    def compute() -> Response:
        with svc.using_store() as store:
            table = views.weekday_hour_volume(
                store, scope.start, scope.end, scope.filters, scope.tz, svc.config
            )
        return json_response(table.to_pylist())

    return cached(request, svc, scope.who, compute)


@router.get("/live", summary="The operation now")
def live_route(
    request: Request,
    scope: Scope,
    svc: Svc,
    at: Annotated[
        str | None, Query(description="As of this ISO time instead of now (a replay).")
    ] = None,
    day: Annotated[
        str | None,
        Query(
            description="As of the end of this local day (YYYY-MM-DD), e.g. the last day "
            "with data: a replay of that day as it closed."
        ),
    ] = None,
) -> Response:
    """Waiting conversations and the longest wait, open conversations per agent, agents online,
    and today's first response time, abandonment and volume so far against target."""
    moment = None
    if at:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise HTTPException(400, f"at={at!r} is not an ISO date-time") from None
        if moment.tzinfo is None:
            raise HTTPException(400, f"at={at!r} needs its offset (Z or +01:00)")
    if day:
        if at:
            raise HTTPException(400, "give at or day, not both")
        moment = live.day_end(parse_day(day, "day"), scope.tz, svc.config)

    def compute() -> Response:
        with svc.using_store() as store:
            data = live.snapshot(store, scope.filters, svc.config, scope.tz, moment)
        return json_response(data)

    # now moves on by itself: only a replay (an ``at``) is the same answer until a load
    return cached(request, svc, scope.who, compute) if moment else compute()


@router.get("/vendors", summary="The vendors the caller may see")
def vendor_list(request: Request, who: Caller, svc: Svc) -> Response:
    """Every vendor with conversations, or only a vendor token's own."""
    if who.role is Role.VENDOR:
        return JSONResponse([who.vendor or ""])

    def compute() -> Response:
        with svc.using_store() as store:
            return JSONResponse(vendors(store))

    return cached(request, svc, who, compute)


def _header_name(prefix: str, key: str) -> str:
    """``prefix`` and ``key`` as an HTTP header name: a note on a filter ("vendor filter")
    has a space, which no header name may hold (the server would drop the connection)."""
    return prefix + re.sub(r"[^A-Za-z0-9_-]", "-", key)


def _header(text: str) -> str:
    """``text`` as an HTTP header value: ASCII, one line, at most 200 characters."""
    plain = text.replace("…", "...").replace("–", "-").replace("−", "-").replace("×", "x")
    plain = plain.encode("ascii", "replace").decode()
    return " ".join(plain.split())[:200]
