"""The monthly review over HTTP: the same self-contained HTML file ``supportkpi review``
writes, for one vendor and month. A vendor token gets its own vendor's review whatever it
asks, as every read forces its vendor, and without the in-house comparison: a vendor token
never sees another vendor's figures, in-house's included."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from supportkpi.api.auth import Caller, Svc, scoped_vendor
from supportkpi.reports.monthly import latest_month, review_html
from supportkpi.store.access import Role

router = APIRouter(prefix="/v1", tags=["read"])


@router.get("/review", summary="A vendor's monthly review as one HTML file")
def review_route(
    who: Caller,
    svc: Svc,
    month: Annotated[
        str | None, Query(description="The month, YYYY-MM; default: the newest in the data.")
    ] = None,
    vendor: Annotated[str | None, Query(description="The vendor; a vendor token's own.")] = None,
    tz: Annotated[str | None, Query(description="Report time zone.")] = None,
) -> HTMLResponse:
    """As ``supportkpi review --vendor V --month M``: contract, volume, quality, cost, agents.
    A vendor token gets its own vendor's review whatever ``vendor`` says."""
    own = who.role is Role.VENDOR
    vendor = scoped_vendor(who, vendor)
    if not vendor:
        raise HTTPException(400, "name the vendor: ?vendor=NAME&month=YYYY-MM")
    with svc.using_store() as store:
        month = month or latest_month(store, svc.config, tz or None)
        html = review_html(store, svc.config, vendor, month, tz or None, in_house=not own)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in vendor)
    disposition = f'inline; filename="review-{safe}-{month}.html"'
    return HTMLResponse(html, headers={"Content-Disposition": disposition})
