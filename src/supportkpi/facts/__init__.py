"""Facts: the per-conversation facts and business-hours clocks the KPIs stand on, as Ibis
expressions over the canonical tables. Imports only the settings (``config``); never the
engine, the store or anything above."""
