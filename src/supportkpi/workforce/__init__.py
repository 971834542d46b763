"""Workforce planning: arrival forecasts, queueing models, staffing plans and rosters.

Imports the analysis service (for the history it plans from), the store, the facts' calendar
and the settings; never the interfaces."""
