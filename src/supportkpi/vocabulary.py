"""The words a report is asked in: the dimensions it groups by, the periods, the profiles and
the KPI families. Plain constants without any import, so that the command line can name them
in its help without loading the engine."""

from __future__ import annotations

from enum import StrEnum

DIMENSIONS = ("vendor", "team", "agent", "channel", "queue", "topic")
PERIODS = {"hour": "h", "day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
# Seasonal profiles: the local hour of the day (0–23) and day of the week (0 = Monday) of what
# is counted, groupable beside the dimensions and a period.
PROFILES = ("hour_of_day", "weekday")
# What reports and exports are written as.
FORMATS = ("table", "json", "csv", "parquet", "xlsx")


class Family(StrEnum):
    """The KPIS.md section a KPI belongs to."""

    EFFICIENCY = "efficiency"
    EFFECTIVENESS = "effectiveness"
    QUALITY = "quality"
    COST_VALUE = "cost_value"


__all__ = ["DIMENSIONS", "FORMATS", "PERIODS", "PROFILES", "Family"]
