"""Records pushed by support platforms (webhooks) into the store.

A delivery is converted by its source module, checked against what a vendor may send, and
loaded in one transaction. Each delivery is remembered by the digest of its event (the
parsed JSON, keys sorted: not the bytes), so a platform that delivers the same event again,
however serialised (Chatwoot retries), changes nothing, reopen counts included.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from supportkpi.load.ingest import ForeignRecords, LoadError, load_records
from supportkpi.sources import chatwoot
from supportkpi.store.store import Store

_SEEN = "received_deliveries"


class DeliveryError(ValueError):
    """A delivery that cannot be recorded; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def chatwoot_delivery(
    store: Store, body: bytes, vendor: str | None, forced: bool
) -> dict[str, Any]:
    """Record one Chatwoot webhook delivery. ``vendor`` is set on its conversations; ``forced``
    (a vendor token) also refuses records of another vendor's conversations."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DeliveryError(f"the body is not JSON: {exc}") from None
    except RecursionError:
        raise DeliveryError("the body is nested too deeply to be a webhook delivery") from None
    if not isinstance(payload, dict):
        raise DeliveryError("a delivery is a JSON object with an event", 422)
    try:
        converted = chatwoot.webhook(payload, vendor)
    except chatwoot.ChatwootError as exc:
        raise DeliveryError(str(exc), 422) from None
    except (AttributeError, TypeError, KeyError, ValueError, IndexError) as exc:
        # a field of another shape than Chatwoot sends: refused, never a server error
        raise DeliveryError(
            f"not a Chatwoot delivery: a field has an unexpected shape ({type(exc).__name__})", 422
        ) from None
    # the event, not its bytes: the same delivery serialised another way is the same event
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    answer: dict[str, Any] = {"event": payload.get("event"), "delivery": digest[:16]}
    if _seen(store, digest):
        return answer | {"duplicate": True, "loaded": {}}
    if converted.skipped:
        return answer | {"skipped": converted.skipped, "loaded": {}}
    if converted.reopened:
        _count_reopen(store, converted)
    label = f"chatwoot:{digest[:16]}"
    batches = {t: json.dumps(r).encode() for t, r in converted.records.items()}
    try:
        summary = load_records(store, batches, label, vendor=vendor if forced else None)
    except ForeignRecords as exc:
        raise DeliveryError(str(exc), 403) from None
    except LoadError as exc:
        raise DeliveryError(str(exc)) from None
    store.execute(f"INSERT INTO {_SEEN} VALUES (?, ?, now())", ["chatwoot", digest])
    return answer | {
        "loaded": {t: c.new + c.updated + c.unchanged for t, c in summary.tables.items()},
        "quarantined": sum(summary.quarantined.values()),
        "errors": [
            {"table": t, "column": col, "rule": rule, "reason": reason}
            for t in batches
            for _, col, rule, reason in store.quarantined_from(f"{label}/{t}")
        ],
    }


def _seen(store: Store, digest: str) -> bool:
    store.execute(
        f"CREATE TABLE IF NOT EXISTS {_SEEN} (source TEXT, digest TEXT, received_at TIMESTAMPTZ, "
        "PRIMARY KEY (source, digest))"
    )
    return bool(store.execute(f"SELECT 1 FROM {_SEEN} WHERE digest = ?", [digest]))


def _count_reopen(store: Store, converted: chatwoot.Converted) -> None:
    row = store.execute(
        "SELECT coalesce(reopens, 0) FROM conversations WHERE conversation_id = ?",
        [converted.reopened],
    )
    for record in converted.records["conversations"]:
        record["reopens"] = (row[0][0] if row else 0) + 1
