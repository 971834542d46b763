"""The KPI registry: every KPI of KPIS.md, declared once (see :mod:`registry`)."""

from __future__ import annotations

from supportkpi.kpis import effectiveness, efficiency, quality, value  # noqa: F401 - register
from supportkpi.kpis.registry import REGISTRY, Direction, Family, Kpi, Output, Unit, all_kpis

__all__ = ["REGISTRY", "Direction", "Family", "Kpi", "Output", "Unit", "all_kpis"]
