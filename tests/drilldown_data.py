"""A small store of two vendors whose words are easy to spot: every text of zed's carries
ZEDSECRET, and one of acme's survey comments is a spreadsheet formula."""

from __future__ import annotations

import json
from pathlib import Path

from supportkpi.load.ingest import load_records
from supportkpi.store.store import Store

SECRET = "ZEDSECRET"
FORMULA = '=HYPERLINK("http://evil.example","click")'

CONVERSATIONS = [
    {"conversation_id": "a-1", "channel": "chat", "created_at": "2026-05-04T09:00:00Z",
     "vendor": "acme", "agent_id": "ac-01", "customer_id": "u1",
     "resolved_at": "2026-05-04T09:20:00Z", "ended_by": "agent"},
    {"conversation_id": "a-2", "channel": "email", "created_at": "2026-05-05T09:00:00Z",
     "vendor": "acme", "customer_id": "u3", "ended_by": "customer"},
    {"conversation_id": "z-1", "channel": "chat", "created_at": "2026-05-04T10:00:00Z",
     "vendor": "zed", "agent_id": "ze-01", "customer_id": "u2",
     "resolved_at": "2026-05-04T11:00:00Z", "ended_by": "agent"},
    {"conversation_id": "z-2", "channel": "chat", "created_at": "2026-05-06T10:00:00Z",
     "vendor": "zed", "agent_id": "ze-01", "customer_id": "u4",
     "resolved_at": "2026-05-06T10:30:00Z", "ended_by": "agent"},
]  # fmt: skip
MESSAGES = [
    {"message_id": "am1", "conversation_id": "a-1", "sent_at": "2026-05-04T09:00:05Z",
     "author_role": "customer", "text": "Where is my parcel?"},
    {"message_id": "am2", "conversation_id": "a-1", "sent_at": "2026-05-04T09:01:05Z",
     "author_role": "agent", "author_id": "ac-01", "private": True,
     "text": "checking the courier"},
    {"message_id": "am3", "conversation_id": "a-1", "sent_at": "2026-05-04T09:02:05Z",
     "author_role": "agent", "author_id": "ac-01", "text": "It arrives tomorrow."},
    {"message_id": "am4", "conversation_id": "a-2", "sent_at": "2026-05-05T09:00:05Z",
     "author_role": "customer", "text": "Hello?"},
    {"message_id": "zm1", "conversation_id": "z-1", "sent_at": "2026-05-04T10:00:05Z",
     "author_role": "customer", "text": f"{SECRET} customer words"},
    {"message_id": "zm2", "conversation_id": "z-1", "sent_at": "2026-05-04T10:03:05Z",
     "author_role": "agent", "author_id": "ze-01", "private": True, "text": f"{SECRET} note"},
    {"message_id": "zm3", "conversation_id": "z-1", "sent_at": "2026-05-04T10:05:05Z",
     "author_role": "agent", "author_id": "ze-01", "text": f"{SECRET} reply"},
    {"message_id": "zm4", "conversation_id": "z-2", "sent_at": "2026-05-06T10:00:05Z",
     "author_role": "customer", "text": f"{SECRET} again"},
    {"message_id": "zm5", "conversation_id": "z-2", "sent_at": "2026-05-06T10:10:05Z",
     "author_role": "agent", "author_id": "ze-01", "text": f"{SECRET} answer"},
]  # fmt: skip
SURVEYS = [
    {"survey_id": "as1", "conversation_id": "a-1", "kind": "csat", "score": 2,
     "answered_at": "2026-05-04T12:00:00Z", "comment": FORMULA},
    {"survey_id": "zs1", "conversation_id": "z-1", "kind": "csat", "score": 1,
     "answered_at": "2026-05-04T12:00:00Z", "comment": f"{SECRET} was awful"},
    {"survey_id": "zs2", "conversation_id": "z-2", "kind": "nps", "score": 3,
     "answered_at": "2026-05-06T12:00:00Z", "comment": f"{SECRET} too slow"},
]  # fmt: skip


def two_vendor_store(path: Path) -> Path:
    """Write the store at ``path``."""
    with Store.open(path) as store:
        load_records(
            store,
            {
                "conversations": json.dumps(CONVERSATIONS).encode(),
                "messages": json.dumps(MESSAGES).encode(),
                "surveys": json.dumps(SURVEYS).encode(),
            },
            "fixture",
        )
    return path
