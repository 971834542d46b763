"""Workforce planning: arrival forecasts, queueing models and staffing plans.

Imports the analysis service (for the history it plans from), the store, the facts' calendar
and the settings; never the interfaces."""
