"""Analysis: the query service every interface calls (reports, targets, SLA verdicts, views,
the live view) and the rendering of its results to tables and files. Imports ``kpis``,
``store``, ``facts`` and the settings; never loading internals or interfaces."""
