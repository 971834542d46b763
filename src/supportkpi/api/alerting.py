"""``serve --alerts``: the server checks the alert rules itself, every interval, in a thread
(:mod:`supportkpi.api.background`).

The store is held (the service's lock) only to evaluate the rules and to record deliveries;
sending, with its retries and pauses, happens without it, so a slow mail server never stalls
the API.
"""

from __future__ import annotations

import logging

from supportkpi.api.service import Service
from supportkpi.reports.alerts import FIRING, evaluate, record, send
from supportkpi.store import alert_log

log = logging.getLogger("supportkpi.alerts")


def check_once(svc: Service) -> None:
    """One check of every rule, as ``supportkpi alerts check`` does."""
    with svc.using_store(write=True) as store:
        outcomes = evaluate(store, svc.config)
        pending = alert_log.undelivered(store)
    results = send(svc.config, pending)
    with svc.using_store(write=True) as store:
        record(store, results)
    for o in outcomes:
        if o.status in FIRING or o.status == "resolved":
            log.warning("alert %s: %s (%s, target %s)", o.rule, o.status, o.value, o.threshold)
