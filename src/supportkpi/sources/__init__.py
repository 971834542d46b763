"""Input formats: files (CSV, JSON Lines, JSON, Parquet, Excel), column mappings, presets
and the readers of helpdesk exports and APIs.

Imports the canonical schema of ``store`` and the settings; never loading, KPIs or above."""
