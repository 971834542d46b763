"""Webhook receivers: support platforms push their events here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from supportkpi.api.auth import Svc, Writer
from supportkpi.api.records import read_body
from supportkpi.api.service import Service
from supportkpi.load.receive import DeliveryError, chatwoot_delivery
from supportkpi.store.access import Principal, Role

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post("/chatwoot", summary="Receive Chatwoot webhook events")
async def chatwoot_webhook(
    request: Request,
    who: Writer,
    svc: Svc,
    vendor: Annotated[
        str | None, Query(description="The vendor whose inbox this is (a vendor token's own).")
    ] = None,
) -> dict[str, Any]:
    """``conversation_created``, ``conversation_updated``, ``conversation_status_changed``,
    ``message_created`` and ``message_updated``, as Chatwoot sends them, onto the canonical
    tables. Point a Chatwoot webhook at ``/v1/webhooks/chatwoot?token=<token>`` (Chatwoot
    cannot send headers) or send ``Authorization: Bearer``. A delivery sent again changes
    nothing."""
    body = await read_body(request, svc.max_body)
    return await run_in_threadpool(_receive, svc, who, body, vendor)


def _receive(svc: Service, who: Principal, body: bytes, vendor: str | None) -> dict[str, Any]:
    forced = who.role is Role.VENDOR
    with svc.using_store(write=True) as store:
        try:
            return chatwoot_delivery(store, body, who.vendor if forced else vendor, forced)
        except DeliveryError as exc:
            raise HTTPException(exc.status, str(exc)) from None
