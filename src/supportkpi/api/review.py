"""The monthly review over HTTP: the same self-contained HTML file ``supportkpi review``
writes, for one vendor and month. A vendor token may fetch only its own vendor's review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from supportkpi.api.auth import Caller, Svc
from supportkpi.reports.monthly import review_html
from supportkpi.store.access import Role

router = APIRouter(prefix="/v1", tags=["read"])


@router.get("/review", summary="A vendor's monthly review as one HTML file")
def review_route(
    who: Caller,
    svc: Svc,
    month: Annotated[str, Query(description="The month, YYYY-MM.")],
    vendor: Annotated[
        str | None, Query(description="The vendor; a vendor token's own by default.")
    ] = None,
    tz: Annotated[str | None, Query(description="Report time zone.")] = None,
) -> HTMLResponse:
    """As ``supportkpi review --vendor V --month M``: contract, volume, quality, cost, agents."""
    if who.role is Role.VENDOR:
        if vendor not in (None, who.vendor):
            raise HTTPException(403, "a vendor token may fetch only its own vendor's review")
        vendor = who.vendor
    if not vendor:
        raise HTTPException(400, "name the vendor: ?vendor=NAME&month=YYYY-MM")
    with svc.using_store() as store:
        html = review_html(store, svc.config, vendor, month, tz or None)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in vendor)
    disposition = f'inline; filename="review-{safe}-{month}.html"'
    return HTMLResponse(html, headers={"Content-Disposition": disposition})
