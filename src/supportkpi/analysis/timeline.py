"""One conversation as it happened: its facts (as the drill-down lists them), every message in
order (which count as agent replies, which are private notes), its survey answers with their
comments and its QA reviews. Times are local to the report's zone.

A caller limited to one vendor asks with ``vendor``: another vendor's conversation is not
found, with the same message as an id that does not exist, so the answer never tells whether
an id exists elsewhere.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from supportkpi.analysis.conversations import conversations, without_clocks
from supportkpi.analysis.frame import build_frame
from supportkpi.config import Config
from supportkpi.kpis.grains import GRAINS, Frame
from supportkpi.store.store import Store

__all__ = ["NotFound", "timeline"]


class NotFound(LookupError):
    """No such conversation (or none the caller may see)."""


def timeline(
    store: Store,
    conversation_id: str,
    config: Config | None = None,
    tz: str | None = None,
    vendor: str | None = None,
) -> dict[str, Any]:
    """``{"conversation": facts, "messages": [...], "surveys": [...], "qa_reviews": [...]}``
    for one conversation; :class:`NotFound` when there is none (for ``vendor``: none of its
    own)."""
    config = config or Config()
    listed = conversations(
        store,
        config,
        filters={"vendor": [vendor]} if vendor is not None else None,
        tz=tz,
        ids=[conversation_id],
        limit=1,
    )
    if not listed.total:
        raise NotFound("no conversation with this id")
    frame = build_frame(store, config, (), None, None, None, {}, tz, False)
    return {
        "conversation": listed.table.to_pylist()[0],
        "messages": _messages(store, frame, conversation_id),
        "surveys": _surveys(frame, conversation_id),
        "qa_reviews": _reviews(store, frame, conversation_id),
    }


def _local(frame: Frame, column: ir.TimestampValue) -> ir.Value:
    return frame.local(column).cast(dt.Timestamp(scale=6))


def _messages(store: Store, frame: Frame, conversation_id: str) -> list[dict[str, Any]]:
    """Every message in order; ``reply``: a public message by a human agent, the only kind
    the KPIs count as an answer (bots, system messages and private notes never are)."""
    m = store.table("messages")
    m = m.filter(m.conversation_id == conversation_id)
    private = m.private.fill_null(False)
    rows = m.select(
        "message_id",
        sent_at=_local(frame, m.sent_at),
        author_role=m.author_role,
        author_id=m.author_id,
        private=private,
        reply=(m.author_role == "agent") & ~private,
        text=m.text,
    )
    return rows.order_by(["sent_at", "message_id"]).to_pyarrow().to_pylist()


def _surveys(frame: Frame, conversation_id: str) -> list[dict[str, Any]]:
    """Each survey answer: kind, score on its own scale and normalised, comment."""
    s = GRAINS["surveys"](without_clocks(frame))
    s = s.filter(s.conversation_id == conversation_id)
    rows = s.select(
        "survey_id",
        "kind",
        "score",
        "scale_min",
        "scale_max",
        normalised=ibis.coalesce(s.csat_score, s.nps_score, s.ces_score),
        answered_at=_local(frame, s.answered_at),
        comment=s.comment,
    )
    return rows.order_by(["answered_at", "survey_id"]).to_pyarrow().to_pylist()


def _reviews(store: Store, frame: Frame, conversation_id: str) -> list[dict[str, Any]]:
    """Each QA review: reviewer, score (0–100), when."""
    q = store.table("qa_reviews")
    q = q.filter(q.conversation_id == conversation_id)
    rows = q.select("review_id", "reviewer_id", "score", reviewed_at=_local(frame, q.reviewed_at))
    return rows.order_by(["reviewed_at", "review_id"]).to_pyarrow().to_pylist()
