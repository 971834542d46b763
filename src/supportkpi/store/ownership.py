"""Which records a vendor may send: only its own, judged on the rows as they will be stored.

A vendor's records are the rows whose ``vendor`` is that vendor (conversations, agent
activity, costs) and the messages, surveys and QA reviews of its conversations. The check
runs inside the load's transaction, on the validated rows the load is about to merge (keys
trimmed and typed, exactly as the loader parsed them), so no record can look like one thing
to the check and another to the store. A row is foreign when it:

- names another vendor (or none) as its ``vendor``;
- would overwrite a stored row of another vendor's (a conversation, a message, survey or
  review of another vendor's conversation, activity of another vendor's agent);
- belongs to a conversation that is not the vendor's after the load (``conversation_id`` of
  a message, survey or review; ``follow_up_of`` of a conversation).

Revenue is recorded per customer, not per vendor, so vendors may not send it. The reasons
never tell whether an id exists at another vendor: "not one of your conversations" covers
both.
"""

from __future__ import annotations

from supportkpi.store.merge import quoted as q
from supportkpi.store.store import Store

WITH_VENDOR = ("conversations", "agent_activity", "costs")
VIA_CONVERSATION = {"messages": "message_id", "surveys": "survey_id", "qa_reviews": "review_id"}
LINE = "__line"

__all__ = ["NOT_PER_VENDOR", "foreign_rows", "vendor_may_send"]

NOT_PER_VENDOR = "{table} are not recorded per vendor; only an admin token may send them"


def vendor_may_send(table: str) -> bool:
    """Whether a vendor's token may send records of ``table`` at all."""
    return table in WITH_VENDOR or table in VIA_CONVERSATION


def foreign_rows(store: Store, staged: dict[str, str], vendor: str) -> list[tuple[str, int, str]]:
    """(table, line or record number, why) for each staged row ``vendor`` may not send.
    ``staged`` maps each canonical table to the temporary table of its validated rows (with
    a ``__line`` column). Call inside the load's transaction, before the merge."""
    out: list[tuple[str, int, str]] = []
    own = _own_conversations_sql(staged)
    for table, name in staged.items():
        if table not in WITH_VENDOR and table not in VIA_CONVERSATION:
            out += [
                (
                    table,
                    line,
                    f"{table} are not recorded per vendor; only an admin token may send them",
                )
                for (line,) in store.execute(f"SELECT {LINE} FROM {q(name)}")
            ]
            continue
        for sql in _checks(table, name, own):
            out += [
                (table, line, why) for line, why in store.execute(sql, [vendor] * sql.count("?"))
            ]
    return sorted(set(out), key=lambda r: (r[0], r[1], r[2]))


def _own_conversations_sql(staged: dict[str, str]) -> str:
    """The ids of the vendor's conversations after the load: staged rows override stored ones."""
    batch = staged.get("conversations")
    if batch is None:
        return "SELECT conversation_id FROM conversations WHERE vendor = ?"
    return (
        f"SELECT conversation_id FROM {q(batch)} WHERE vendor = ? UNION ALL "
        f"SELECT t.conversation_id FROM conversations t ANTI JOIN {q(batch)} s "
        "USING (conversation_id) WHERE t.vendor = ?"
    )


def _not_yours(column: str) -> str:
    return (
        f"'conversation ' || coalesce(s.{column}, '(none)') || ' is not one of your conversations'"
    )


def _checks(table: str, name: str, own: str) -> list[str]:
    s = q(name)
    if table == "conversations":
        return [
            f"SELECT s.{LINE}, 'vendor is ' || coalesce('''' || s.vendor || '''', 'empty') || "
            f"', not yours' FROM {s} s WHERE s.vendor IS DISTINCT FROM ?",
            f"SELECT s.{LINE}, {_not_yours('conversation_id')} FROM {s} s "
            "JOIN conversations t USING (conversation_id) WHERE t.vendor IS DISTINCT FROM ?",
            f"SELECT s.{LINE}, 'follow_up_of: ' || {_not_yours('follow_up_of')} FROM {s} s "
            f"WHERE s.follow_up_of IS NOT NULL AND s.follow_up_of NOT IN ({own})",
        ]
    if table == "agent_activity":
        return [
            f"SELECT s.{LINE}, 'vendor is ' || coalesce('''' || s.vendor || '''', 'empty') || "
            f"', not yours' FROM {s} s WHERE s.vendor IS DISTINCT FROM ?",
            f"SELECT DISTINCT s.{LINE}, 'agent ' || s.agent_id || ' is not one of your agents' "
            f"FROM {s} s JOIN agent_activity a USING (agent_id) WHERE a.vendor IS DISTINCT FROM ?",
        ]
    if table == "costs":
        return [
            f"SELECT s.{LINE}, 'vendor is ' || coalesce('''' || s.vendor || '''', 'empty') || "
            f"', not yours' FROM {s} s WHERE s.vendor IS DISTINCT FROM ?",
        ]
    key = VIA_CONVERSATION[table]
    return [
        f"SELECT s.{LINE}, {_not_yours('conversation_id')} FROM {s} s "
        f"WHERE s.conversation_id IS NULL OR s.conversation_id NOT IN ({own})",
        f"SELECT s.{LINE}, '{table[:-1]} ' || s.{key} || ' is not one of yours' FROM {s} s "
        f"JOIN {table} t USING ({key}) "
        "JOIN conversations c ON c.conversation_id = t.conversation_id "
        "WHERE c.vendor IS DISTINCT FROM ?",
    ]
