"""The hand-written floors: the core KPIs (volume, first response time mean, median and p90,
abandonment, resolution and CSAT by vendor) as one DuckDB statement each, as an expert would
write it (durations from the instants' epoch milliseconds, not ``date_diff`` on zoned
timestamps, which DuckDB computes through its calendar, row by row, 50 times slower: the same
numbers). ``FLOOR_KEPT_SQL`` reads the per-conversation facts the store keeps (``kept_facts``),
as our reports do: the floor for the same work. ``FLOOR_SQL`` derives the facts from the raw
messages: the floor for a tool that keeps nothing. The benchmark times both against the same
KPIs through the registry, and a test holds all three to the same numbers."""

from __future__ import annotations

CORE_KPIS = ["chat_volume", "first_response_time", "abandonment_rate", "resolution_rate", "csat"]

FLOOR_SQL = """
WITH m AS (
    SELECT conversation_id,
           min(sent_at) FILTER (WHERE author_role = 'customer') AS first_customer,
           min(sent_at) FILTER (WHERE author_role = 'agent' AND NOT coalesce(private, false))
               AS first_agent
    FROM messages GROUP BY conversation_id
), c AS (
    SELECT c.*, coalesce(c.first_response_at, m.first_agent) AS responded,
           m.first_customer
    FROM conversations c LEFT JOIN m USING (conversation_id)
), d AS (
    SELECT *, epoch(responded) - epoch(CASE WHEN first_customer <= responded
                                            THEN first_customer ELSE created_at END) AS frt,
           responded IS NOT NULL OR (agent_id IS NOT NULL AND resolved_at IS NOT NULL)
               AS handled
    FROM c
), s AS (
    SELECT c.vendor,
           avg(CASE WHEN 1 + (s.score - s.scale_min) * 4 / (s.scale_max - s.scale_min) >= 4
                    THEN 1.0 ELSE 0.0 END) AS csat
    FROM surveys s JOIN conversations c USING (conversation_id)
    WHERE s.kind = 'csat' GROUP BY c.vendor
)
SELECT d.vendor, count(*) AS chat_volume,
       avg(frt) FILTER (WHERE responded IS NOT NULL) AS first_response_time,
       quantile_cont(frt, 0.5) FILTER (WHERE responded IS NOT NULL) AS frt_median,
       quantile_cont(frt, 0.9) FILTER (WHERE responded IS NOT NULL) AS frt_p90,
       avg(CASE WHEN NOT handled AND resolved_at IS NULL AND coalesce(ended_by, 'customer')
                     IN ('customer', 'timeout') THEN 1.0 ELSE 0.0 END) AS abandonment_rate,
       avg(CASE WHEN resolved_at IS NOT NULL THEN 1.0 ELSE 0.0 END)
           FILTER (WHERE handled) AS resolution_rate,
       any_value(s.csat) AS csat
FROM d LEFT JOIN s USING (vendor)
GROUP BY d.vendor ORDER BY d.vendor
"""

FLOOR_KEPT_SQL = """
WITH d AS (
    SELECT vendor, handled, abandoned, resolved_at,
           CASE WHEN handled
                THEN (epoch_ms(first_response_at) - epoch_ms(response_start)) / 1000.0
           END AS frt
    FROM kept_facts
), s AS (
    SELECT c.vendor,
           avg(CASE WHEN 1 + (s.score - s.scale_min) * 4 / (s.scale_max - s.scale_min) >= 4
                    THEN 1.0 ELSE 0.0 END) AS csat
    FROM surveys s JOIN kept_facts c USING (conversation_id)
    WHERE s.kind = 'csat' GROUP BY c.vendor
)
SELECT d.vendor, count(*) AS chat_volume,
       avg(frt) AS first_response_time,
       quantile_cont(frt, 0.5) AS frt_median,
       quantile_cont(frt, 0.9) AS frt_p90,
       avg(CASE WHEN abandoned THEN 1.0 ELSE 0.0 END) AS abandonment_rate,
       avg(CASE WHEN resolved_at IS NOT NULL THEN 1.0 ELSE 0.0 END)
           FILTER (WHERE handled) AS resolution_rate,
       any_value(s.csat) AS csat
FROM d LEFT JOIN s USING (vendor)
GROUP BY d.vendor ORDER BY d.vendor
"""
