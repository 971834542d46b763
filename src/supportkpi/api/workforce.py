"""Workforce over HTTP: the roster of the staffing plan, the published plans, and a plan held
against what happened — the same services as ``supportkpi roster`` and ``supportkpi plan``.

A vendor token sees only its own vendor: its roster is planned by vendor and the other
vendors' groups are dropped; a plan not made by vendor is refused to it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from supportkpi.analysis import render
from supportkpi.api.auth import Caller, Svc
from supportkpi.api.params import csv_list
from supportkpi.store.access import Principal, Role

router = APIRouter(prefix="/v1", tags=["workforce"])


def _own(who: Principal, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if who.role is not Role.VENDOR:
        return rows
    return [r for r in rows if r.get("vendor") == who.vendor]


@router.get("/roster", summary="Least-cost shifts covering the staffing plan, per group")
def roster_route(
    who: Caller,
    svc: Svc,
    days: Annotated[int, Query(ge=1, le=31, description="Days to roster.")] = 7,
    interval: Annotated[int, Query(description="Interval minutes: 15, 30 or 60.")] = 30,
    by: Annotated[str, Query(description="channel, vendor and/or queue.")] = "channel",
    starts: Annotated[str | None, Query(description='"07:00,09:00" or "every 60".')] = None,
    lengths: Annotated[str | None, Query(description="Shift lengths in hours: 4,8.")] = None,
    max_agents: Annotated[int | None, Query(ge=0, description="Agents at once at most.")] = None,
    max_days: Annotated[int | None, Query(ge=1, le=7, description="Days in a row.")] = None,
    min_days_off: Annotated[int | None, Query(ge=0, le=6, description="Days off a week.")] = None,
) -> list[dict[str, Any]]:
    """As ``supportkpi roster --format json``: per group the shifts, coverage per interval,
    cost, shortfall, the solver's word and (with days off) each agent's shifts. Rules not
    given come from the config's ``[workforce.roster]``."""
    from supportkpi.workforce.roster import rules_from
    from supportkpi.workforce.staffing import plan, roster_records, rosters

    keys = csv_list(by) or ["channel"]
    if who.role is Role.VENDOR and "vendor" not in keys:
        keys.append("vendor")
    try:
        rules = rules_from(
            svc.config.workforce.roster,
            starts=starts,
            lengths=[float(v) for v in csv_list(lengths)] if lengths else None,
            max_agents=max_agents,
            max_days=max_days,
            min_days_off=min_days_off,
        )
        with svc.using_store() as store:
            made = plan(store, svc.config, days, interval, keys)
        result = rosters(made, keys, rules)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return _own(who, roster_records(result, keys))


@router.get("/plans", summary="The published staffing plans, newest first")
def plans_route(who: Caller, svc: Svc) -> list[dict[str, Any]]:
    """As ``supportkpi plan list``; a vendor token sees the plans made by vendor."""
    from supportkpi.workforce.actual import plans

    with svc.using_store() as store:
        found = plans(store)
    if who.role is Role.VENDOR:
        found = [p for p in found if "vendor" in p["by"].split(",")]
    return render.jsonable(found)


@router.get("/plans/actual", summary="A published plan against what happened")
def plan_actual_route(
    who: Caller,
    svc: Svc,
    plan: Annotated[str | None, Query(description="The plan's id; default: the latest.")] = None,
) -> dict[str, Any]:
    """As ``supportkpi plan actual --format json``: summary per group (MAPE, WAPE, bias,
    service level planned and achieved), per day and per interval."""
    from supportkpi.workforce.actual import compare, describe, plans

    with svc.using_store() as store:
        if plan is None and not plans(store):  # nothing yet: an empty answer that says why
            empty: list[Any] = []
            note = "no plan has been published: supportkpi plan publish"
            return {"plan": None, "summary": empty, "days": [], "intervals": [], "notes": [note]}
        try:
            found = describe(compare(store, svc.config, plan))
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from None
    if who.role is Role.VENDOR:
        if "vendor" not in found["plan"]["by"].split(","):
            raise HTTPException(403, "this plan is not made per vendor")
        for part in ("summary", "days", "intervals"):
            found[part] = _own(who, found[part])
    return found
