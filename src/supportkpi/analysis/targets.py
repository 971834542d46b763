"""Targets and SLAs: the default benchmarks, overrides from the config, vendor contracts.

A target is a KPI, a comparison (``<=``, ``>=``, ``between``), a value and an optional scope
(vendor, channel, team). For one group of a report the most specific target of the set the
group is held to that fits it applies: a target scoped to more dimensions before one scoped to
fewer. A target scoped to a channel judges only groups known to be of that
channel (grouped or filtered by it).

``sla_compliance`` (KPIS.md): 1.0 when met; otherwise achieved ÷ target for a higher-is-better
KPI and target ÷ achieved for a lower-is-better one (for a band, the nearer edge counts).
``sla_attainment`` is the share of conversations (or replies) meeting a per-conversation target.

One set per vendor (:func:`held_to`): a vendor with a contract is held to its contract alone,
any other to the general targets; the operation as a whole to the general targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import ibis
import ibis.expr.types as ir

from supportkpi.config import Config, ConfigError, TargetSpec
from supportkpi.kpis import REGISTRY
from supportkpi.kpis.registry import humanise

N = TypeVar("N", float, ir.NumericValue)

Op = Literal["<=", ">=", "between"]
SCOPES = ("vendor", "channel", "team")


@dataclass(frozen=True)
class Target:
    """One target, with where it came from (default, config, or a vendor's contract)."""

    kpi: str
    op: Op
    value: float | tuple[float, float]
    vendor: str | None = None
    channel: str | None = None
    team: str | None = None
    source: str = "default"

    @property
    def scope(self) -> dict[str, str]:
        """The dimensions the target is limited to."""
        return {d: v for d in SCOPES if (v := getattr(self, d)) is not None}

    @property
    def specificity(self) -> tuple[int, int]:
        """Contracts first, then the more dimensions the better."""
        return (self.source.startswith("contract"), len(self.scope))

    def describe(self) -> str:
        """'≤ 1m 00s', '≥ 90.0 %', '70.0 %–80.0 %'."""
        unit = REGISTRY[self.kpi].unit
        if isinstance(self.value, tuple):
            return f"{humanise(self.value[0], unit)}–{humanise(self.value[1], unit)}"
        return f"{'≤' if self.op == '<=' else '≥'} {humanise(self.value, unit)}"

    def met(self, achieved: float) -> bool:
        """Whether ``achieved`` meets the target."""
        return bool(compliance(self.op, self.value, achieved) >= 1.0)


def _where(condition: Any, then: Any, otherwise: Any) -> Any:
    if isinstance(condition, ir.Expr):
        return ibis.ifelse(condition, then, otherwise)
    return then if condition else otherwise


def compliance(op: Op, target: float | tuple[float, float], achieved: N) -> N:
    """sla_compliance of one aggregate target (KPIS.md), for a number or an Ibis column.
    A target met is 1.0; a missed one the share of the target reached, 0 when nothing was
    (a division by zero never happens: a "≤" target is met by 0, a "≥ 0" target by
    anything)."""
    if not isinstance(achieved, ir.Expr):
        return _compliance_of(op, target, float(achieved))  # type: ignore[return-value]
    if op == "between":
        assert isinstance(target, tuple)
        low, high = target
        above = _where(achieved > high, high / achieved.nullif(0), 1.0)
        return _where(achieved < low, achieved / ibis.literal(float(low)).nullif(0.0), above)
    assert not isinstance(target, tuple)
    if op == ">=":
        return _where(achieved >= target, 1.0, achieved / ibis.literal(float(target)).nullif(0.0))
    return _where(achieved <= target, 1.0, target / achieved.nullif(0))


def _compliance_of(op: Op, target: float | tuple[float, float], achieved: float) -> float:
    if op == "between":
        assert isinstance(target, tuple)
        low, high = target
        if achieved < low:
            return max(achieved / low, 0.0) if low > 0 else 0.0
        return high / achieved if achieved > high and achieved > 0 else 1.0
    assert not isinstance(target, tuple)
    if op == ">=":
        if achieved >= target:
            return 1.0
        return max(achieved / target, 0.0) if target > 0 else 0.0
    if achieved <= target:
        return 1.0
    return max(target / achieved, 0.0) if achieved > 0 else 0.0


DEFAULTS: tuple[Target, ...] = (
    Target("first_response_time", "<=", 60, channel="chat"),
    Target("first_response_time", "<=", 3600, channel="email"),
    Target("resolution_time", "<=", 86400, channel="email"),
    Target("csat", ">=", 0.90),
    Target("first_contact_resolution", ">=", 0.70),
    Target("agent_utilization", "between", (0.70, 0.80)),
    Target("abandonment_rate", "<=", 0.05),
    Target("resolution_rate", ">=", 0.90),
)


def _from_spec(spec: TargetSpec, key: str, source: str, vendor: str | None) -> Target:
    if spec.kpi not in REGISTRY:
        raise ConfigError(f"{key}.kpi: unknown KPI {spec.kpi!r}; `supportkpi kpis` lists them")
    return Target(
        spec.kpi, spec.op, spec.value, vendor or spec.vendor, spec.channel, spec.team, source
    )


def all_targets(config: Config) -> list[Target]:
    """Defaults, replaced or extended by the config's targets, then every contract."""
    general: dict[tuple, Target] = {(t.kpi, t.vendor, t.channel, t.team): t for t in DEFAULTS}
    for i, spec in enumerate(config.targets):
        t = _from_spec(spec, f"targets[{i}]", "config", None)
        general[(t.kpi, t.vendor, t.channel, t.team)] = t
    out = list(general.values())
    for vendor, specs in config.contracts.items():
        out += [
            _from_spec(s, f"contracts.{vendor}[{i}]", f"contract:{vendor}", vendor)
            for i, s in enumerate(specs)
        ]
    return out


@dataclass(frozen=True)
class TargetSet:
    """The one set of targets a vendor (or the operation as a whole) is held to, and its name
    as people read it: "northwind's contract", "the general targets"."""

    name: str
    targets: tuple[Target, ...]

    @property
    def kpis(self) -> list[str]:
        """The KPIs the set names, each once, in the set's order."""
        return list(dict.fromkeys(t.kpi for t in self.targets))


GENERAL = "the general targets"


def held_to(config: Config, vendor: str | None = None) -> TargetSet:
    """The targets ``vendor`` is held to: its contract when it has one, else the general
    targets (defaults and the config's ``[[targets]]``, those scoped to another vendor left
    out). Without a vendor: the general targets unscoped to any vendor. Every surface that
    judges a vendor (report status, story, sla, review, drill-down, alerts, dashboard) counts
    over this one set."""
    targets = all_targets(config)
    if vendor is not None:
        own = tuple(t for t in targets if t.source == f"contract:{vendor}")
        if own:
            return TargetSet(f"{vendor}'s contract", own)
    general = tuple(
        t for t in targets if t.vendor in (None, vendor) and not t.source.startswith("contract")
    )
    return TargetSet(GENERAL, general)


def contract(config: Config, vendor: str) -> list[Target]:
    """The targets a vendor is held to (:func:`held_to`), as a list."""
    return list(held_to(config, vendor).targets)


def contracted(targets: Sequence[Target]) -> list[str]:
    """The vendors with a contract among ``targets``, sorted."""
    prefix = "contract:"
    return sorted({t.source[len(prefix) :] for t in targets if t.source.startswith(prefix)})


def status_columns(
    table: ir.Table,
    group: Sequence[str],
    filters: Mapping[str, Sequence[str]],
    targets: list[Target],
    kpis: Sequence[str],
) -> dict[str, ir.Value]:
    """``<kpi>_target``, ``<kpi>_status`` (met, missed, missing, no target) and
    ``<kpi>_compliance`` for each KPI column of a report expression."""
    out: dict[str, ir.Value] = {}
    for kpi in kpis:
        if kpi not in table.columns:
            continue
        candidates = sorted(
            (t for t in targets if t.kpi == kpi), key=lambda t: t.specificity, reverse=True
        )
        if not candidates:
            continue
        bound = contracted(targets)
        fitting = [
            (fits, t)
            for t in candidates
            if (fits := _fits(table, group, filters, t, bound)) is not None
        ]
        achieved = table[kpi]
        if not fitting:
            target, ratio = ibis.null("string"), ibis.null("float64")
            op, low, high = ibis.null("string"), ibis.null("float64"), ibis.null("float64")
        else:
            target = ibis.cases(
                *((f, ibis.literal(t.describe())) for f, t in fitting), else_=ibis.null("string")
            )
            ratio = ibis.cases(
                *((f, compliance(t.op, t.value, achieved.cast("float64"))) for f, t in fitting),
                else_=ibis.null("float64"),
            )
            op = ibis.cases(*((f, ibis.literal(t.op)) for f, t in fitting), else_=None)
            low = ibis.cases(*((f, _double(target_bounds(t)[0])) for f, t in fitting), else_=None)
            high = ibis.cases(
                *((f, _double(target_bounds(t)[1])) for f, t in fitting),
                else_=None,
            )
        out[f"{kpi}_target"] = target
        # the same target as numbers, for machines: op is <=, >= or between (value to high)
        out[f"{kpi}_target_op"] = op.cast("string")
        out[f"{kpi}_target_value"] = low.cast("float64")
        out[f"{kpi}_target_high"] = high.cast("float64")
        out[f"{kpi}_status"] = ibis.cases(
            (target.isnull(), "no target"),
            (achieved.isnull(), "missing"),
            (ratio >= 1.0, "met"),
            else_="missed",
        )
        out[f"{kpi}_compliance"] = ratio
    return out


def meets(target: Target, value: ir.NumericValue) -> ir.BooleanValue:
    """Whether a per-conversation ``value`` meets ``target`` (NULL when it has no value)."""
    if target.op == "between":
        assert isinstance(target.value, tuple)
        return value.between(*target.value)
    assert not isinstance(target.value, tuple)
    return value <= target.value if target.op == "<=" else value >= target.value


def target_bounds(target: Target) -> tuple[float, float | None]:
    """A target's value, and its upper bound when it is a range."""
    if isinstance(target.value, tuple):
        return _clean(target.value[0]), _clean(target.value[1])
    return _clean(target.value), None


def _double(value: float | None) -> ir.Value:
    """A number as a double in the engine: a bare 0.7 is a decimal there, and a CASE of
    decimals of several scales turns it into 0.7000000000000001."""
    if value is None:
        return ibis.null("float64")
    return ibis.literal(repr(value)).cast("float64")


def _clean(value: float) -> float:
    """A target as written (0.7, not 0.7000000000000001 from 70 %)."""
    return float(f"{float(value):.12g}")


def _fits(
    table: ir.Table,
    group: Sequence[str],
    filters: Mapping[str, Sequence[str]],
    target: Target,
    bound: Sequence[str] = (),
) -> ir.BooleanValue | None:
    """Which groups a target judges; None when it judges none of them. A general target
    does not judge the groups of a vendor in ``bound`` (one with a contract): that vendor is
    held to its contract alone (:func:`held_to`)."""
    fits: ir.BooleanValue = ibis.literal(True)
    if bound and not target.source.startswith("contract"):
        if "vendor" in group:
            fits &= ~table["vendor"].fill_null("").isin(list(bound))
        elif len(chosen := list(filters.get("vendor") or [])) == 1 and chosen[0] in bound:
            return None
    for dim, value in target.scope.items():
        if dim in group:
            fits &= table[dim].fill_null("") == value
        elif list(filters.get(dim) or []) != [value]:
            return None
    return fits


__all__ = [
    "DEFAULTS",
    "GENERAL",
    "Target",
    "TargetSet",
    "all_targets",
    "compliance",
    "contract",
    "held_to",
    "status_columns",
]
