"""The canonical schema: complete, documented, and as DESIGN.md lists it."""

from __future__ import annotations

from pathlib import Path

import ibis.expr.datatypes as dt

from supportkpi.store import schema

DOCS = Path(__file__).resolve().parents[1] / "docs" / "schema.md"

DESIGNED = {
    "conversations": "conversation_id channel created_at customer_id vendor team agent_id queue "
    "first_response_at resolved_at closed_at ended_by escalated escalation_reason "
    "transfers reopens follow_up_of handle_seconds hold_seconds wrap_seconds "
    "topic engagement_score "
    # KPIS.md, "Reconciling with the helpdesk": the source system's own SLA verdict
    "sla_breached",
    "messages": "message_id conversation_id sent_at author_role author_id private text",
    "surveys": "survey_id conversation_id customer_id kind score scale_min scale_max "
    "answered_at comment",
    "agent_activity": "agent_id vendor team state started_at ended_at",
    "qa_reviews": "review_id conversation_id reviewer_id score reviewed_at",
    "costs": "vendor period_start period_end amount currency kind",
    "revenue_events": "event_id customer_id occurred_at amount kind conversation_id",
}


def test_every_designed_table_and_column_exists():
    for name, columns in DESIGNED.items():
        assert schema.table(name).column_names == tuple(columns.split())
    assert "quarantine" in schema.TABLES


def test_keys_are_required_and_timestamps_utc():
    for spec in schema.TABLES.values():
        for key in spec.key:
            if spec.name != "costs" or key != "kind":
                assert spec.column(key).required, (spec.name, key)
        for col in spec.columns:
            assert col.doc.strip(), (spec.name, col.name)
            assert col.dtype.nullable is (not col.required)
            if col.kind == "timestamp":
                assert col.dtype == dt.Timestamp(timezone="UTC", nullable=not col.required)


def test_only_a_few_columns_are_required():
    conv = schema.table("conversations")
    assert conv.required == ("conversation_id", "channel", "created_at")


def test_docs_are_generated_from_the_schema():
    assert DOCS.read_text() == schema.markdown(), (
        'docs/schema.md is stale: python -c "from supportkpi.store import schema; '
        "open('docs/schema.md','w').write(schema.markdown())\""
    )
