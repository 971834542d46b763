"""Load: validation, quarantine and transactional loading of files and records into the store,
and the receivers of pushed records. Imports ``sources``, ``store`` and below; never KPIs,
analysis or interfaces."""
