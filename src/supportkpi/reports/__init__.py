"""Reports: documents and notices made from the query service, the monthly vendor review
(self-contained HTML, PDF through headless Chromium) and alerts with their delivery (webhook,
e-mail). Imports ``analysis``, ``workforce``, ``store`` (alert state) and the settings; never
grains, Ibis, the engine, the facts or the interfaces."""
