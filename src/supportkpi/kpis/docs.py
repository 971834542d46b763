"""docs/kpis.md, generated from the registry (a test keeps the file in sync)."""

from __future__ import annotations

from supportkpi.kpis.registry import Kpi, all_kpis

_FAMILIES = {
    "efficiency": "Efficiency",
    "effectiveness": "Effectiveness",
    "quality": "Quality (the customer's view)",
    "cost_value": "Cost and value",
}


def markdown() -> str:
    """Every KPI: definition, unit, direction, default target and report columns."""
    lines = [
        "# KPIs",
        "",
        "Generated from the registry (`src/supportkpi/kpis/`): `supportkpi kpis` prints "
        "the same. Durations are seconds, rates fractions (0–1). Every duration KPI has "
        "mean, `_median` and `_p90` columns and a `_bh` twin that counts business hours "
        "only.",
        "",
        "## Ticket exports without messages",
        "",
        "Most helpdesk exports (ServiceNow, Zendesk Support, Freshdesk) have one row per "
        "ticket and no messages. Every KPI below says how it behaves on them. The rules "
        "they share:",
        "",
        "- A conversation is **handled** when an agent answered it, by the best evidence "
        "the data has: an agent message; else a `first_response_at`; else an assigned "
        "`agent_id` with a `resolved_at`.",
        "- A conversation is **abandoned** when it is not handled, not resolved, and ended by "
        "the customer or a timeout (an empty `ended_by` counts as the customer leaving). A "
        "resolved conversation is never abandoned.",
        "- A KPI whose input column holds no value in the loaded data is missing with the "
        "reason, never 0; a rate whose input says nothing in one group is empty there. A "
        "KPI computed from part of its inputs (FCR without follow-up data) carries a note "
        "naming what it could not check; where only some groups lack the data (a queue "
        "where no caller is identified), its `<kpi>_unchecked` column names it row by row "
        "and the terminal marks the value with `*`.",
        "",
    ]
    kpis = all_kpis()
    for family, title in _FAMILIES.items():
        members = [k for k in kpis if k.family == family]
        if not members:
            continue
        lines += [
            f"## {title}",
            "",
            "| name | definition | unit | better | default target | columns | without messages |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [_row(k) for k in members]
        lines.append("")
    return "\n".join(lines)


def _row(kpi: Kpi) -> str:
    better = kpi.direction.value
    if kpi.band:
        better = f"band {kpi.band[0]:g}–{kpi.band[1]:g}"
    columns = ", ".join(f"`{c}`" for c in kpi.columns)
    return (
        f"| `{kpi.name}` | {kpi.description} Measured over {kpi.over}. | {kpi.unit.value} "
        f"| {better} | {kpi.target or ''} | {columns} | {without_messages(kpi)} |"
    )


def without_messages(kpi: Kpi) -> str:
    """How ``kpi`` behaves on ticket-level data without messages."""
    if kpi.without_messages:
        return kpi.without_messages
    if "messages" in kpi.needs:
        return "Not computed: it needs messages."
    others = [t.replace("_", " ") for t in kpi.needs if t != "conversations"]
    if others:
        return f"Unchanged: read from {' and '.join(others)}; needs them loaded."
    return "Unchanged: read from the conversation columns."
