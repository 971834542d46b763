"""Which records a vendor may send: only its own.

A vendor's records are the rows whose ``vendor`` is that vendor (conversations, agent
activity, costs) and the messages, surveys and QA reviews of its conversations. A record is
foreign when it names another vendor, when it belongs to a conversation that is not the
vendor's, or when it would overwrite a stored row that belongs to another vendor. Revenue is
recorded per customer, not per vendor, so vendors may not send it.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from supportkpi.store import schema
from supportkpi.store.store import Store

WITH_VENDOR = ("conversations", "agent_activity", "costs")
VIA_CONVERSATION = {"messages": "message_id", "surveys": "survey_id", "qa_reviews": "review_id"}


def foreign_records(
    store: Store, table: str, records: list[dict[str, Any] | None], vendor: str
) -> list[tuple[int, str]]:
    """(record number from 1, why) for each record ``vendor`` may not send to ``table``.
    Records that are not objects are left to validation, which quarantines them."""
    schema.table(table)
    if table not in WITH_VENDOR and table not in VIA_CONVERSATION:
        return [(1, f"{table} are not recorded per vendor; only an admin token may send them")]
    out: list[tuple[int, str]] = []
    if table in WITH_VENDOR:
        for number, r in enumerate(records, start=1):
            if r is not None and _text(r.get("vendor")) != vendor:
                out.append((number, f"vendor is {r.get('vendor')!r}, not {vendor!r}"))
    if table != "costs":  # costs are keyed by vendor: no other vendor's row can be overwritten
        out += _stored_owners(store, table, records, vendor)
    return sorted(set(out))


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _stored_owners(
    store: Store, table: str, records: list[dict[str, Any] | None], vendor: str
) -> list[tuple[int, str]]:
    """Records whose conversation, key or agent belongs to another vendor in the store."""
    sent = pa.table(
        {
            "n": [i for i, r in enumerate(records, start=1) if r is not None],
            "conversation_id": [_text(r.get("conversation_id")) for r in records if r is not None],
            "key": [_text(r.get(_key(table))) for r in records if r is not None],
            "agent_id": [_text(r.get("agent_id")) for r in records if r is not None],
        },
        schema=pa.schema(
            [
                ("n", pa.int64()),
                ("conversation_id", pa.string()),
                ("key", pa.string()),
                ("agent_id", pa.string()),
            ]
        ),
    )
    name = store.temp_name("sent")
    store.stage(name, sent)
    try:
        sql = _owner_sql(table, name)
        return [(n, why) for n, why in store.execute(sql, [vendor] * sql.count("?"))]
    finally:
        store.drop_temp(name)


def _key(table: str) -> str:
    return VIA_CONVERSATION.get(table, "conversation_id")


def _owner_sql(table: str, sent: str) -> str:
    if table == "conversations":
        return (
            f"SELECT s.n, 'conversation ' || s.key || ' belongs to another vendor' FROM {sent} s "
            "JOIN conversations c ON c.conversation_id = s.key "
            "WHERE c.vendor IS DISTINCT FROM ?"
        )
    if table == "agent_activity":
        return (
            f"SELECT DISTINCT s.n, 'agent ' || s.agent_id || ' works for another vendor' "
            f"FROM {sent} s JOIN agent_activity a ON a.agent_id = s.agent_id "
            "WHERE a.vendor IS DISTINCT FROM ?"
        )
    return (
        f"SELECT s.n, CASE WHEN c.conversation_id IS NULL THEN 'conversation ' || "
        "coalesce(s.conversation_id, '(none)') || ' is not one of your conversations' "
        "ELSE 'conversation ' || s.conversation_id || ' belongs to another vendor' END "
        f"FROM {sent} s LEFT JOIN conversations c ON c.conversation_id = s.conversation_id "
        "WHERE c.vendor IS DISTINCT FROM ? "
        f"UNION SELECT s.n, '{table} ' || s.key || ' belongs to another vendor''s conversation' "
        f"FROM {sent} s JOIN {table} t ON t.{_key(table)} = s.key "
        "JOIN conversations c ON c.conversation_id = t.conversation_id "
        "WHERE c.vendor IS DISTINCT FROM ?"
    )
