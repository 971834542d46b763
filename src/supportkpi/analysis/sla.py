"""Vendor contracts and the in-house comparison, built on the report service.

:func:`sla` lists, for each vendor, every target it is held to (its contract, else the general
targets): the achieved value, the attainment (share of conversations meeting a per-conversation
target), the compliance and whether it was met, worst first; where the data carries the source
system's own SLA verdict, each vendor's ``source_sla_attainment`` follows, status
``reported``, to reconcile with ours. :func:`compare` puts each vendor
beside the in-house team on the KPIs a buyer of outsourced support compares.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache

import ibis
import pyarrow as pa

from supportkpi.analysis.query import PERIODS, QueryError, Report, report, run
from supportkpi.analysis.targets import (
    GENERAL,
    Target,
    compliance,
    contract,
    held_to,
    meets,
    target_bounds,
)
from supportkpi.config import Config
from supportkpi.kpis import REGISTRY, Direction, Kpi, Output, Unit
from supportkpi.kpis.registry import share
from supportkpi.store.memo import remembered
from supportkpi.store.store import Store

IN_HOUSE = "in-house"
COMPARED = (
    "cost_per_contact",
    "first_response_time",
    "first_contact_resolution",
    "csat",
    "nps",
    "escalation_rate",
)
SHAPED = ("channel", "team")


def vendors(store: Store) -> list[str]:
    """Every vendor with conversations, sorted (worked out once per store generation)."""
    return list(remembered(store, "vendors", lambda: _vendors(store)))


def _vendors(store: Store) -> list[str]:
    c = store.table("conversations")
    rows = c.filter(c.vendor.notnull()).select("vendor").distinct().order_by("vendor")
    return rows.to_pyarrow()["vendor"].to_pylist()


@lru_cache(maxsize=1024)  # the same record for the same target: one report shape
def _attainment(target: Target, index: int) -> Kpi | None:
    kpi = REGISTRY[target.kpi]
    if kpi.per_row is None:
        return None
    name, column = f"attainment_{index}", kpi.per_row

    def measure(t: ibis.Table) -> dict[str, ibis.Expr]:
        value = t[column]
        met = meets(target, value)
        return {name: share(met, value.notnull())}

    return Kpi(
        name,
        f"{kpi.label} attainment",
        Unit.RATE,
        Direction.HIGHER,
        kpi.family,
        f"Share of {kpi.over} meeting {target.describe()}.",
        kpi.grain,
        kpi.needs,
        measure,
        (Output(name, Unit.RATE, "attainment"),),
        over=kpi.over,
    )


def sla(
    store: Store,
    config: Config,
    vendor: str | None = None,
    period: str | None = None,
    start: date | None = None,
    end: date | None = None,
    tz: str | None = None,
    filters: Mapping[str, Sequence[str]] | None = None,
) -> pa.Table:
    """Every vendor's targets with achieved, attainment, compliance and status, worst first.
    ``filters`` (channel, team, agent, queue, topic) narrow the conversations every target is
    judged over, as in a report; a target scoped to a value the filter leaves out is not
    listed (a chat target has nothing to judge in an e-mail view)."""
    if period and period not in PERIODS:
        raise QueryError(f"unknown period {period!r}; one of {', '.join(PERIODS)}")
    narrowed = {d: list(v) for d, v in (filters or {}).items() if v and d != "vendor"}
    names = [vendor] if vendor else vendors(store)
    held = [
        (v, t)
        for v in names
        for t in contract(config, v)
        if all(
            getattr(t, d, None) is None or getattr(t, d) in values for d, values in narrowed.items()
        )
    ]
    rows: list[dict] = []
    for shape in dict.fromkeys(_shape(t) for _, t in held):
        items = [(i, v, t) for i, (v, t) in enumerate(held) if _shape(t) == shape]
        extra = [k for i, _, t in items if (k := _attainment(t, i))]
        chosen = [_value_only(REGISTRY[n]) for n in dict.fromkeys(t.kpi for _, _, t in items)]
        chosen += extra
        result = run(
            store,
            chosen,
            ["vendor", *shape],
            period,
            start,
            end,
            {**narrowed, "vendor": names},
            tz,
            config,
        )
        rows += _rows(result, items, shape, period)
    rows += _source_verdicts(store, config, names, period, start, end, tz, narrowed)
    rows.sort(key=_worst_first)
    return pa.Table.from_pylist(rows, schema=_schema(period))


def _worst_first(row: dict) -> tuple:
    """Missed before the rest, the lowest compliance first, then by name."""
    compliance = row["compliance"] if row["compliance"] is not None else 2.0
    return (row["status"] != "missed", compliance, row["vendor"], row["kpi"], row["scope"])


def _shape(target: Target) -> tuple[str, ...]:
    """The dimensions besides vendor a target is scoped to (a chat target: channel)."""
    return tuple(d for d in SHAPED if getattr(target, d))


@lru_cache(maxsize=1024)  # the same record for the same KPI: one report shape
def _value_only(kpi: Kpi) -> Kpi:
    """``kpi`` measuring its main value alone: a target judges that, not the median or
    90th percentile beside it (exact quantiles are most of a duration's cost)."""
    main = tuple(o for o in kpi.outputs if o.column == kpi.name)
    if len(kpi.outputs) == 1 or not main:
        return kpi

    def measure(t: ibis.Table) -> dict[str, ibis.Expr]:
        return {kpi.name: kpi.measure(t)[kpi.name]}

    return replace(kpi, measure=measure, outputs=main)


def standings_of(
    store: Store,
    config: Config,
    result: Report,
    start: date | None = None,
    end: date | None = None,
    tz: str | None = None,
    also: Sequence[Report | None] = (),
) -> list[Standing]:
    """:func:`standings` of the vendors of a report by vendor (over ``start``–``end``, with no
    filter but vendor), counted as :func:`sla` counts them, from numbers already computed: a
    target is judged on ``result``'s value, or on that of a report in ``also`` grouped by
    vendor and the target's scope (the headline's KPIs per vendor and channel,
    :func:`~supportkpi.analysis.views.channel_split`). Only the targets none of them can
    judge (a KPI outside the headline) are computed, in one query per scope, their main
    value alone, without the attainment ``sla`` adds."""
    if result.group != ("vendor",):
        raise QueryError("standings are counted from a report by vendor")
    shown = [v for v in result.table["vendor"].to_pylist() if v is not None]
    held = [(v, t) for v in shown for t in contract(config, v)]
    known = {
        r.group[1:]: r for r in [result, *also] if r is not None and r.group[:1] == ("vendor",)
    }
    rows: list[dict] = []
    rest = []
    for index, (vendor, target) in enumerate(held):
        shape = _shape(target)
        judged = known.get(shape)
        if judged is not None and target.kpi in {k.name for k in judged.kpis}:
            rows += _rows(judged, [(index, vendor, target)], shape, None)
        else:
            rest.append((index, vendor, target))
    for shape in dict.fromkeys(_shape(t) for _, _, t in rest):
        mine = [(i, v, t) for i, v, t in rest if _shape(t) == shape]
        chosen = [_value_only(REGISTRY[n]) for n in dict.fromkeys(t.kpi for _, _, t in mine)]
        extra = run(
            store, chosen, ["vendor", *shape], None, start, end, {"vendor": shown}, tz, config
        )
        rows += _rows(extra, mine, shape, None)
    rows.sort(key=_worst_first)
    return standings(config, rows)


def _rows(
    result: Report, items: list[tuple[int, str, Target]], shape: tuple[str, ...], period: str | None
) -> list[dict]:
    out = []
    table = result.table.to_pylist()
    for index, vendor, target in items:
        scope = tuple(getattr(target, d) for d in shape)
        for row in table:
            if row["vendor"] != vendor or tuple(row[d] for d in shape) != scope:
                continue
            achieved = row.get(target.kpi)
            ratio = compliance(target.op, target.value, achieved) if achieved is not None else None
            out.append(
                {
                    "vendor": vendor,
                    **({period: row[period]} if period else {}),
                    "kpi": target.kpi,
                    "scope": ", ".join(f"{d} {getattr(target, d)}" for d in shape) or "all",
                    "target": target.describe(),
                    "target_op": target.op,
                    "target_value": target_bounds(target)[0],
                    "target_high": target_bounds(target)[1],
                    "unit": REGISTRY[target.kpi].unit.value,
                    "achieved": achieved,
                    "attainment": row.get(f"attainment_{index}"),
                    "compliance": ratio,
                    "status": "missing" if ratio is None else "met" if ratio >= 1 else "missed",
                    "source": target.source,
                    "reason": result.missing.get(target.kpi),
                }
            )
    return out


SOURCE_SLA = "source_sla_attainment"


def _source_verdicts(
    store: Store,
    config: Config,
    names: list[str],
    period: str | None,
    start: date | None,
    end: date | None,
    tz: str | None,
    narrowed: Mapping[str, Sequence[str]] | None = None,
) -> list[dict]:
    """Each vendor's share of conversations its source system counts as within SLA, beside
    our own attainment, so the two can be reconciled; nothing when no source verdict was
    loaded. Status ``reported``: the source's targets are its own, not a contract's."""
    if not names or "sla_breached" not in store.filled("conversations", ["sla_breached"]):
        return []
    result = run(
        store,
        [REGISTRY[SOURCE_SLA]],
        ["vendor"],
        period,
        start,
        end,
        {**(narrowed or {}), "vendor": names},
        tz,
        config,
    )
    return [
        {
            "vendor": row["vendor"],
            **({period: row[period]} if period else {}),
            "kpi": SOURCE_SLA,
            "scope": "all",
            "target": "the source system's own SLA",
            "target_op": None,
            "target_value": None,
            "target_high": None,
            "unit": Unit.RATE.value,
            "achieved": row[SOURCE_SLA],
            "attainment": row[SOURCE_SLA],
            "compliance": None,
            "status": "reported",
            "source": "source system",
            "reason": None if row[SOURCE_SLA] is not None else "no verdict in the data",
        }
        for row in result.table.to_pylist()
        if row["vendor"] in names
    ]


def _schema(period: str | None) -> pa.Schema:
    fields = [("vendor", pa.string())] + ([(period, pa.timestamp("us"))] if period else [])
    fields += [
        ("kpi", pa.string()),
        ("scope", pa.string()),
        ("target", pa.string()),
        ("target_op", pa.string()),
        ("target_value", pa.float64()),
        ("target_high", pa.float64()),
        ("unit", pa.string()),
        ("achieved", pa.float64()),
        ("attainment", pa.float64()),
        ("compliance", pa.float64()),
        ("status", pa.string()),
        ("source", pa.string()),
        ("reason", pa.string()),
    ]
    return pa.schema(fields)


@dataclass(frozen=True)
class Standing:
    """How a vendor stands against the one set of targets it is held to (:func:`held_to`),
    counted from :func:`sla`'s rows: every surface that says "misses N targets" says this."""

    vendor: str
    held_to: str
    targets: int
    met: int
    missed: tuple[str, ...]
    unmeasured: int

    @property
    def words(self) -> str:
        """'its 4 contract targets', 'the 8 general targets'."""
        if self.held_to == GENERAL:
            return f"the {self.targets} general targets"
        return f"its {self.targets} contract targets"

    def summary(self) -> str:
        """'northwind: 3 of its 4 contract targets missed'."""
        missed = f"{len(self.missed)} of {self.words} missed" if self.targets else "no target"
        return f"{self.vendor}: {missed}"

    def sentence(self) -> str:
        """'northwind misses 3 of its 4 contract targets: CSAT, …'."""
        if not self.targets:
            return f"{self.vendor} is held to no target."
        if not self.missed:
            none = f" ({self.unmeasured} not measured)" if self.unmeasured else ""
            return f"{self.vendor} meets {self.met} of {self.words}{none}."
        return f"{self.vendor} misses {len(self.missed)} of {self.words}: {', '.join(self.missed)}."


def standings(config: Config, table: pa.Table | Sequence[dict]) -> list[Standing]:
    """Each vendor of an :func:`sla` table (or its rows), judged over one period, in the
    table's order: its targets met and missed. The source system's own verdicts are not
    targets."""
    rows: dict[str, list[dict]] = {}
    for row in table.to_pylist() if isinstance(table, pa.Table) else table:
        if row["status"] != "reported":
            rows.setdefault(row["vendor"], []).append(row)
    out = []
    for vendor, mine in rows.items():
        missed = tuple(_named(r) for r in mine if r["status"] == "missed")
        out.append(
            Standing(
                vendor,
                held_to(config, vendor).name,
                len(mine),
                sum(r["status"] == "met" for r in mine),
                missed,
                sum(r["status"] == "missing" for r in mine),
            )
        )
    return out


def legend(config: Config, shown: Sequence[str | None]) -> str:
    """Which set of targets the ✓ and ✗ of a scorecard by vendor judge, in words."""
    names = [v for v in shown if v is not None]
    bound = [v for v in names if held_to(config, v).name != GENERAL]
    rest = [v for v in names if v not in bound]
    parts = []
    if bound:
        parts.append(f"{_and(bound)} against {'its' if len(bound) == 1 else 'their'} contract")
    if rest:
        parts.append(f"{_and(rest)} against the general targets")
    return f"✓ met, ✗ missed: {'; '.join(parts)}." if parts else ""


def _and(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _named(row: dict) -> str:
    label = REGISTRY[row["kpi"]].label if row["kpi"] in REGISTRY else row["kpi"]
    scope = row["scope"].replace("channel ", "")
    return label if row["scope"] == "all" else f"{label} ({scope})"


def compare(
    store: Store,
    config: Config,
    kpis: Sequence[str] = COMPARED,
    start: date | None = None,
    end: date | None = None,
    tz: str | None = None,
    channel: Sequence[str] | None = None,
    baseline: str = IN_HOUSE,
) -> pa.Table:
    """One row per KPI: the baseline (in-house), then each vendor, its difference from the
    baseline and whether that is better or worse given the KPI's direction."""
    result = report(
        store, kpis, ["vendor"], None, start, end, {"channel": list(channel or [])}, tz, config
    )
    rows = {r["vendor"]: r for r in result.table.to_pylist()}
    if baseline not in rows:
        raise QueryError(f"no {baseline!r} conversations to compare the vendors with")
    others = [v for v in rows if v is not None and v != baseline]
    columns: dict[str, list] = {"kpi": [], "unit": [], baseline: []}
    for v in others:
        columns |= {v: [], f"{v}_difference": [], f"{v}_verdict": []}
    for name in kpis:
        kpi = REGISTRY[name]
        base = rows[baseline].get(name)
        columns["kpi"].append(name)
        columns["unit"].append(kpi.unit.value)
        columns[baseline].append(base)
        for v in others:
            value = rows[v].get(name)
            diff = value - base if value is not None and base is not None else None
            columns[v].append(value)
            columns[f"{v}_difference"].append(diff)
            columns[f"{v}_verdict"].append(_verdict(kpi, diff))
    return pa.table(columns)


def _verdict(kpi: Kpi, difference: float | None) -> str | None:
    if difference is None or kpi.direction in (Direction.NONE, Direction.BAND):
        return None
    if difference == 0:
        return "same"
    better = difference > 0 if kpi.direction is Direction.HIGHER else difference < 0
    return "better" if better else "worse"
