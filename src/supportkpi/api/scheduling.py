"""``serve --schedules``: the server runs the ``[[schedules]]`` itself, every interval.

The store is held (the service's lock) to make and record what is due and to record
deliveries; sending, with its retries, happens without it.
"""

from __future__ import annotations

import logging

from supportkpi.api.service import Service
from supportkpi.reports.schedules import prepare, record, send
from supportkpi.store import schedule_log

log = logging.getLogger("supportkpi.schedules")


def run_once(svc: Service) -> None:
    """One run of every schedule, as ``supportkpi schedule run`` does."""
    with svc.using_store() as store:
        outcomes = prepare(store, svc.config)
        pending = schedule_log.undelivered(store)
    results = send(svc.config, pending)
    with svc.using_store() as store:
        record(store, results)
    for o in outcomes:
        if o.status == "made":
            log.warning("schedule %s: made %s", o.schedule, ", ".join(o.items))
