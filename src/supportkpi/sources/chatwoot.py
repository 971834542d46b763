"""Chatwoot (open-source support platform): its webhook payloads and API objects as canonical
records.

The shapes follow Chatwoot's own serializers: webhook conversations are
``Conversation#webhook_data`` (the push data, with ``id`` replaced by the internal id and
``account_id`` added; times as epoch seconds, ``first_reply_created_at`` as ISO text), webhook
messages ``Message#webhook_data`` (``created_at`` as ISO text, ``message_type`` as
``incoming``/``outgoing``/``activity``/``template``, ``sender`` with a ``type``); the REST API
gives conversations with their ``display_id`` as ``id`` and epoch times, messages with
``message_type`` as 0–3 and the conversation's ``display_id``, and CSAT survey responses.

Mapping:

- A conversation's key is ``cw<account>-<display id>`` (what Chatwoot shows and its API uses).
  A webhook carries the display id only inside the conversation's last message; an event on a
  conversation without messages yet is acknowledged and skipped, since the conversation gets
  its record from the event of its first message.
- Contact → customer (``cw<account>-c<id>``), assignee → agent (``cw<account>-u<id>``), team →
  team (its name), inbox → queue (its name), channel ``Channel::WebWidget`` → ``chat``,
  ``Channel::Email`` → ``email``, others by their name (``whatsapp``, ``sms``…).
- Messages: ``incoming`` → customer; ``outgoing`` by a user → agent (private ones are private
  notes); ``outgoing`` by a bot or automation and ``template`` → bot; ``activity`` → system.
- Status ``resolved`` → resolved at the event's time (for imports, the conversation's last
  activity, the best time the API gives); a change from resolved back to open is a reopen.
- CSAT responses → ``csat`` surveys on a 1–5 scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CONVERSATION_EVENTS = (
    "conversation_created",
    "conversation_updated",
    "conversation_status_changed",
)
MESSAGE_EVENTS = ("message_created", "message_updated")
EVENTS = CONVERSATION_EVENTS + MESSAGE_EVENTS
MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}


class ChatwootError(ValueError):
    """A payload that is not a Chatwoot object of the expected shape."""


@dataclass
class Converted:
    """Canonical records from one payload, per table, and what else it says."""

    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reopened: str | None = None  # a conversation that went from resolved back to open
    skipped: str | None = None  # why nothing was recorded

    def add(self, table: str, record: dict[str, Any]) -> None:
        self.records.setdefault(table, []).append(record)


def _iso(value: Any) -> str | None:
    """Epoch seconds (int, float, numeric text) or ISO text as ISO-8601 UTC; 0 and None: None."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    text = str(value).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).astimezone(UTC).isoformat()
    except ValueError:
        raise ChatwootError(f"{value!r} is not a time") from None


def channel_name(channel_type: str | None) -> str:
    """``Channel::WebWidget`` → chat, ``Channel::Email`` → email, ``Channel::Sms`` → sms."""
    name = (channel_type or "").removeprefix("Channel::")
    return {"WebWidget": "chat", "Email": "email", "": "chat"}.get(name, name.lower())


def conversation_key(account: Any, display_id: Any) -> str:
    return f"cw{account}-{display_id}"


def _person(account: Any, who: Mapping[str, Any] | None) -> str | None:
    if not who or who.get("id") is None:
        return None
    kind = "c" if who.get("type") == "contact" else "u"
    return f"cw{account}-{kind}{who['id']}"


def _display_id(conversation: Mapping[str, Any]) -> Any:
    for message in conversation.get("messages") or []:
        if message.get("conversation_id") is not None:
            return message["conversation_id"]
    return None


def _conversation_record(
    account: Any, c: Mapping[str, Any], display_id: Any, vendor: str | None
) -> dict[str, Any]:
    meta = c.get("meta") or {}
    assignee = meta.get("assignee")
    human = assignee if assignee and assignee.get("type", "user") == "user" else None
    record = {
        "conversation_id": conversation_key(account, display_id),
        "channel": channel_name(c.get("channel") or meta.get("channel")),
        "created_at": _iso(c.get("created_at")),
        "customer_id": _person(account, {**(meta.get("sender") or {}), "type": "contact"})
        if meta.get("sender")
        else None,
        "team": (meta.get("team") or {}).get("name"),
        "agent_id": f"cw{account}-u{human['id']}" if human else None,
        "first_response_at": _iso(c.get("first_reply_created_at")),
    }
    if vendor:
        record["vendor"] = vendor
    return record


def webhook(payload: Mapping[str, Any], vendor: str | None = None) -> Converted:
    """One webhook delivery as canonical records; see the module doc."""
    event = payload.get("event")
    if event not in EVENTS:
        raise ChatwootError(f"event {event!r} is not one of {', '.join(EVENTS)}; nothing to record")
    out = Converted()
    if event in CONVERSATION_EVENTS:
        _conversation_event(payload, vendor, out)
    else:
        _message_event(payload, vendor, out)
    return out


def _conversation_event(c: Mapping[str, Any], vendor: str | None, out: Converted) -> None:
    account, display_id = c.get("account_id"), _display_id(c)
    if account is None or display_id is None:
        out.skipped = "the conversation has no message yet, so no display id to key it by"
        return
    record = _conversation_record(account, c, display_id, vendor)
    status = c.get("status")
    changed = {k: v for change in c.get("changed_attributes") or [] for k, v in change.items()}
    if status == "resolved":
        record["resolved_at"] = _iso(c.get("updated_at")) or _iso(c.get("last_activity_at"))
    elif (changed.get("status") or {}).get("previous_value") == "resolved":
        record["resolved_at"] = None
        out.reopened = record["conversation_id"]
    out.add("conversations", record)


def _message_event(m: Mapping[str, Any], vendor: str | None, out: Converted) -> None:
    conversation = m.get("conversation") or {}
    account = conversation.get("account_id") or (m.get("account") or {}).get("id")
    display_id = _display_id(conversation)
    if account is None or display_id is None:
        raise ChatwootError("the message's conversation carries no account or display id")
    record = _conversation_record(account, conversation, display_id, vendor)
    inbox = m.get("inbox") or {}
    if inbox.get("name"):
        record["queue"] = inbox["name"]
    out.add("conversations", record)
    out.add("messages", message_record(account, m, display_id))


def message_record(account: Any, m: Mapping[str, Any], display_id: Any) -> dict[str, Any]:
    """A message (webhook or API shape) as a canonical message."""
    kind = m.get("message_type")
    kind = MESSAGE_TYPES.get(kind, kind) if isinstance(kind, int) else kind
    sender = m.get("sender") or {}
    if kind == "incoming":
        role = "customer"
    elif kind == "outgoing" and sender.get("type") == "user":
        role = "agent"
    elif kind == "activity":
        role = "system"
    else:
        role = "bot"
    author = _person(account, sender) if role in ("customer", "agent") else sender.get("name")
    return {
        "message_id": f"cw{account}-m{m.get('id')}",
        "conversation_id": conversation_key(account, display_id),
        "sent_at": _iso(m.get("created_at")),
        "author_role": role,
        "author_id": author,
        "private": bool(m.get("private")),
        "text": m.get("content"),
    }


def api_conversation(
    account: Any, c: Mapping[str, Any], inboxes: Mapping[Any, str], vendor: str | None = None
) -> dict[str, Any]:
    """A conversation of the REST API (``id`` is the display id) as a canonical one."""
    record = _conversation_record(account, c, c.get("id"), vendor)
    record["queue"] = inboxes.get(c.get("inbox_id"))
    resolved = c.get("status") == "resolved"
    record["resolved_at"] = (
        _iso(c.get("last_activity_at") or c.get("timestamp")) if resolved else None
    )
    return record


def api_survey(account: Any, s: Mapping[str, Any]) -> dict[str, Any]:
    """A CSAT survey response of the REST API as a canonical survey (1–5)."""
    return {
        "survey_id": f"cw{account}-s{s.get('id')}",
        "conversation_id": conversation_key(account, s.get("conversation_id")),
        "customer_id": _person(account, {**(s.get("contact") or {}), "type": "contact"})
        if s.get("contact")
        else None,
        "kind": "csat",
        "score": s.get("rating"),
        "scale_min": 1,
        "scale_max": 5,
        "answered_at": _iso(s.get("created_at")),
        "comment": s.get("feedback_message"),
    }
