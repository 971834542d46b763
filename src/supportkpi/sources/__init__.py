"""Input formats: files (CSV, JSON Lines, JSON, Parquet, Excel) and column mappings."""
