"""The ingestion route: canonical records in, validated, upserted, the bad ones quarantined."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from starlette.concurrency import run_in_threadpool

from supportkpi.api.auth import Svc, Writer
from supportkpi.api.service import Service
from supportkpi.load.ingest import ForeignRecords, LoadError, load_records
from supportkpi.store import schema
from supportkpi.store.access import Principal, Role
from supportkpi.store.ownership import NOT_PER_VENDOR, vendor_may_send

router = APIRouter(prefix="/v1", tags=["ingest"])


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is larger than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the body is {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the body is over the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/records/{table}",
    summary="Send canonical records (JSON array or JSON Lines)",
    responses={413: {"description": "The body is over the size limit"}},
)
async def post_records(
    table: Annotated[str, Path(description="A canonical table: conversations, messages…")],
    request: Request,
    who: Writer,
    svc: Svc,
) -> dict[str, Any]:
    """Validates with the same rules as file loading, upserts the good records in one
    transaction (durable before the answer) and quarantines the bad ones; the answer counts
    them and says what was wrong with each bad record. Sending the same batch again changes
    nothing."""
    if table not in schema.TABLES or table == "quarantine":
        raise HTTPException(404, f"no table {table!r}; one of {', '.join(schema.LOAD_ORDER)}")
    body = await read_body(request, svc.max_body)
    if not body.strip() or body.strip() == b"[]":
        raise HTTPException(400, "no records: send a JSON array of objects or JSON Lines")
    label = f"api:{hashlib.sha256(body).hexdigest()[:16]}"
    return await run_in_threadpool(_load_now, svc, who, table, body, label)


def _load_now(
    svc: Service,
    who: Principal,
    table: str,
    body: bytes,
    label: str,
) -> dict[str, Any]:
    vendor = (who.vendor or "") if who.role is Role.VENDOR else None
    if vendor is not None and not vendor_may_send(table):
        raise HTTPException(403, NOT_PER_VENDOR.format(table=table))
    with svc.using_store(write=True) as store:
        try:
            summary = load_records(store, {table: body}, label, vendor=vendor)
        except ForeignRecords as exc:
            raise HTTPException(403, str(exc)) from None
        except LoadError as exc:
            raise HTTPException(400, str(exc)) from None
        errors = store.quarantined_from(f"{label}/{table}")
    counts = summary.tables.get(table)
    result = summary.files[0]
    return {
        "table": table,
        "source": f"{label}/{table}",
        "records": result.rows,
        "new": counts.new if counts else 0,
        "updated": counts.updated if counts else 0,
        "unchanged": counts.unchanged if counts else 0,
        "quarantined": len({e[0] for e in errors}),
        "errors": [
            {"record": line, "column": column, "rule": rule, "reason": reason}
            for line, column, rule, reason in errors
        ],
    }
