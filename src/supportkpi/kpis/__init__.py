"""The KPI registry: every KPI of KPIS.md, declared once (see :mod:`registry`).

Backend-neutral Ibis expressions over the facts: imports ``facts`` and the settings only;
never the store, loading, analysis or an engine driver."""

from __future__ import annotations

from supportkpi.kpis import effectiveness, efficiency, quality, value  # noqa: F401 - register
from supportkpi.kpis.registry import REGISTRY, Direction, Family, Kpi, Output, Unit, all_kpis

__all__ = ["REGISTRY", "Direction", "Family", "Kpi", "Output", "Unit", "all_kpis"]
