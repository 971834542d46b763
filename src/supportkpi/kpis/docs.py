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
    ]
    kpis = all_kpis()
    for family, title in _FAMILIES.items():
        members = [k for k in kpis if k.family == family]
        if not members:
            continue
        lines += [
            f"## {title}",
            "",
            "| name | definition | unit | better | default target | columns |",
            "|---|---|---|---|---|---|",
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
        f"| {better} | {kpi.target or ''} | {columns} |"
    )
