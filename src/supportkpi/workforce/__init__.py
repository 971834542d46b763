"""Workforce planning: arrival forecasts, queueing models and staffing plans."""
