"""Alerts: each ``[[alerts]]`` rule of the config, checked once.

A rule watches a KPI over a recent window in a scope against a threshold (its own, or the
target that applies there). It *fires* when the KPI misses it over at least ``min_sample``
rows, once per episode: while the KPI stays on the wrong side nothing more is sent, and when
it is back a *resolved* notice goes out. A new episode does not fire within ``cooldown`` of
the last firing (a flapping KPI sends one alert, not one a minute). Every firing and
resolution is recorded in the store with its deliveries (:mod:`supportkpi.store.alert_log`)
before anything is sent; a delivery that fails is tried again, at once and then at every
check, until it goes through, so nothing is silently lost and a restart repeats nothing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from supportkpi.analysis.targets import Target
from supportkpi.analysis.window import Reading, applicable_target, bounds, reading
from supportkpi.config import AlertRule, Config
from supportkpi.kpis import REGISTRY
from supportkpi.kpis.registry import humanise
from supportkpi.reports.delivery import deliver
from supportkpi.store import alert_log
from supportkpi.store.alert_log import State
from supportkpi.store.store import Store

FIRING = ("fired", "firing")


@dataclass(frozen=True)
class Outcome:
    """What one check found for one rule: ``fired`` (a new episode, notified), ``firing``
    (still), ``resolved`` (back, notified), ``ok``, ``suppressed`` (missed within the
    cooldown), ``too few`` (under the minimum sample) or ``no target``."""

    rule: str
    status: str
    value: float | None
    threshold: str | None
    sample: int
    text: str


def check(
    store: Store,
    config: Config,
    at: datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Outcome]:
    """Check every rule at ``at`` (default now), record what changed, and deliver every
    notice not yet delivered (earlier failures too)."""
    outcomes = evaluate(store, config, at)
    record(store, send(config, alert_log.undelivered(store), sleep))
    return outcomes


def evaluate(store: Store, config: Config, at: datetime | None = None) -> list[Outcome]:
    """Check every rule at ``at`` (default now) and record firings and resolutions with
    their pending deliveries; send nothing."""
    at = (at or datetime.now(UTC)).astimezone(UTC)
    alert_log.ensure(store)
    return [_check_rule(store, config, rule, at) for rule in config.alerts]


Sent = tuple[str, str, bool, int, str | None]


def send(
    config: Config,
    pending: list[tuple[dict[str, Any], str]],
    sleep: Callable[[float], None] = time.sleep,
) -> list[Sent]:
    """Deliver each (event, channel): (event id, channel, sent, attempts, last error). Needs
    no store, so a server sends without holding it."""
    return [
        (event["event_id"], channel, *deliver(config.notify, channel, event, sleep))
        for event, channel in pending
    ]


def record(store: Store, results: list[Sent]) -> None:
    """Keep the outcome of each delivery in the store."""
    for event_id, channel, sent, attempts, error in results:
        alert_log.record_delivery(
            store, event_id, channel, sent, attempts, error, datetime.now(UTC)
        )


def _threshold(config: Config, rule: AlertRule) -> Target | None:
    if rule.op is not None and rule.value is not None:
        return Target(rule.kpi, rule.op, rule.value, source=f"alert:{rule.name}")
    return applicable_target(config, rule.kpi, rule.scope)


def _check_rule(store: Store, config: Config, rule: AlertRule, at: datetime) -> Outcome:
    target = _threshold(config, rule)
    since, until = bounds(at, rule.window, config.timezone)
    found = reading(store, config, rule.kpi, rule.scope, since, until)
    if target is None:
        return Outcome(rule.name, "no target", found.value, None, found.sample, "")
    shown = target.describe()
    if found.value is None or found.sample < rule.min_sample:
        why = f"{found.sample} of the {rule.min_sample} needed"
        return Outcome(rule.name, "too few", found.value, shown, found.sample, why)
    prior = alert_log.state(store, rule.name)
    missed = not target.met(found.value)
    status = _next(prior, missed, rule, at)
    if status in ("fired", "resolved"):
        event = _event(rule, found, shown, status, at)
        new = (
            State(rule.name, True, at, at)
            if status == "fired"
            else State(rule.name, False, None, prior.last_fired_at)
        )
        with store.transaction():
            alert_log.record_event(store, event, list(rule.notify))
            alert_log.save_state(store, new, found.value, at)
        return Outcome(rule.name, status, found.value, shown, found.sample, event["text"])
    return Outcome(rule.name, status, found.value, shown, found.sample, "")


def _next(prior: State, missed: bool, rule: AlertRule, at: datetime) -> str:
    """The rule's status after this check, from its state before it."""
    if missed and prior.firing:
        return "firing"
    if missed:
        recent = prior.last_fired_at and at - prior.last_fired_at < rule.cooldown_delta
        return "suppressed" if recent else "fired"
    return "resolved" if prior.firing else "ok"


def _event(
    rule: AlertRule, found: Reading, threshold: str, status: str, at: datetime
) -> dict[str, Any]:
    kpi = REGISTRY[rule.kpi]
    value = humanise(found.value, kpi.unit)
    scope = ", ".join(f"{d} {v}" for d, v in rule.scope.items()) or "everyone"
    window = "today so far" if rule.window == "today" else f"the last {rule.window}"
    if status == "fired":
        text = f"[supportkpi] FIRING {rule.name}: {kpi.label} {value}, target {threshold}"
    else:
        text = f"[supportkpi] RESOLVED {rule.name}: {kpi.label} back to {value}, target {threshold}"
    details = (
        f"{text}\n\n{kpi.label} for {scope} over {window} ({found.since:%Y-%m-%d %H:%M} to "
        f"{found.until:%H:%M} UTC): {value}, measured over {found.sample} {kpi.over}.\n"
        f"Target: {threshold}.\nChecked at {at:%Y-%m-%d %H:%M:%S} UTC.\n"
    )
    return {
        "event_id": uuid.uuid4().hex,
        "text": text,
        "details": details,
        "status": status,
        "rule": rule.name,
        "kpi": rule.kpi,
        "scope": rule.scope,
        "window": rule.window,
        "value": found.value,
        "threshold": threshold,
        "sample": found.sample,
        "since": found.since.isoformat(),
        "until": found.until.isoformat(),
        "at": at.isoformat(),
    }
