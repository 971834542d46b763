"""Store: the canonical schema, the database that holds it, the kept facts refreshed in each
load's transaction, record ownership and API tokens. Imports the settings and ``facts``
(to keep the facts it stores); never sources, loading, KPIs, analysis or interfaces."""
