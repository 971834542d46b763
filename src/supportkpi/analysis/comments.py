"""Low-rated survey answers with comments: what unhappy customers wrote, per vendor, agent and
period. An answer is low-rated when it is not in CSAT's top two boxes (under 4 on the 1–5
scale) or is an NPS detractor (0–6), the same cut-offs as ``csat`` and ``nps``. Answers
belong to their conversation's vendor, team, agent and period, as everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import ibis
import pyarrow as pa

from supportkpi.analysis.conversations import without_clocks
from supportkpi.analysis.frame import QueryError, build_frame
from supportkpi.config import Config
from supportkpi.kpis.grains import GRAINS
from supportkpi.kpis.quality import EPS
from supportkpi.store.store import Store

__all__ = ["KINDS", "low_rated_comments"]

KINDS = ("csat", "nps")


def low_rated_comments(
    store: Store,
    config: Config | None = None,
    by: Sequence[str] = (),
    start: date | None = None,
    end: date | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
    tz: str | None = None,
    kinds: Sequence[str] = KINDS,
    per_group: int = 10,
) -> pa.Table:
    """The lowest-rated CSAT and NPS answers that carry a comment, at most ``per_group`` per
    group of ``by`` (vendor, agent, a period…), lowest first, the latest first among equals.
    ``rating`` is the answer on a 0–1 scale, so CSAT and NPS answers sort together."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise QueryError(f"comments are read from {' and '.join(KINDS)} answers, not {unknown[0]}")
    if per_group < 1:
        raise QueryError("per_group is a count of at least 1")
    config = config or Config()
    frame = build_frame(store, config, by, None, start, end, filters, tz, False)
    s = GRAINS["surveys"](without_clocks(frame))
    group = list(frame.group)
    c = frame.tables["conversations"]
    shown = {"vendor": c.vendor, "agent": c.agent_id, "channel": c.channel}
    s = s.join(
        c.select("conversation_id", **{d: v for d, v in shown.items() if d not in group}),
        "conversation_id",
    )
    low = ((s.kind == "csat") & (s.csat_score < 4 - EPS)) | (
        (s.kind == "nps") & (s.nps_score <= 6 + EPS)
    )
    text = s.comment.strip()
    s = s.filter(low, s.kind.isin(list(kinds)), text.notnull(), text.length() > 0)
    s = s.mutate(
        rating=(s.score - s.scale_min) / (s.scale_max - s.scale_min),
        answered=frame.local(s.answered_at).cast("timestamp"),
    )
    order = [s.rating, ibis.desc(s.answered), s.survey_id]
    w = ibis.window(group_by=[s[g] for g in group] or None, order_by=order)
    s = s.mutate(__rank=ibis.row_number().over(w)).filter(ibis._.__rank < per_group)
    columns = [*group, *(d for d in shown if d not in group)]
    out = s.select(
        *columns,
        "conversation_id",
        "survey_id",
        "kind",
        "score",
        "scale_max",
        "rating",
        "answered",
        "comment",
    )
    return out.order_by([*group, "rating", ibis.desc("answered"), "survey_id"]).to_pyarrow()
