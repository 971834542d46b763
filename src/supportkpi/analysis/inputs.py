"""What the store holds for a report's KPIs: which tables have rows and which columns have a
value anywhere. A KPI whose inputs are absent is missing with the reason, never 0; a KPI
computed from part of its inputs (FCR without follow-up data) carries a note saying which
part it could not check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from supportkpi.config import Config
from supportkpi.kpis import Kpi
from supportkpi.store.memo import remembered
from supportkpi.store.store import Store

__all__ = ["Inputs", "inputs_of", "spec_columns", "unknown_filter_values"]


def _parts(spec: str) -> list[tuple[str, str]]:
    """``table.a|b|other.c`` → [(table, a), (table, b), (other, c)]: columns of which any
    will do; a bare column belongs to the table named before it."""
    out: list[tuple[str, str]] = []
    table = ""
    for part in spec.split("|"):
        if "." in part:
            table, part = part.split(".", 1)
        out.append((table, part))
    return out


def spec_columns(spec: str) -> list[str]:
    """The column names of ``spec`` (``table.a|b`` → [a, b]), whatever their tables."""
    return [column for _, column in _parts(spec)]


def _named(spec: str) -> str:
    """How a person reads ``spec``: its columns, and another table's by the table's name."""
    parts = _parts(spec)
    first = parts[0][0]
    return " or ".join(column if table == first else table for table, column in parts)


@dataclass(frozen=True)
class Inputs:
    """Row counts per table and the columns (``table.column``) holding any value."""

    counts: dict[str, int]
    filled: frozenset[str]

    def has(self, spec: str) -> bool:
        """Whether any of the columns ``table.a|b`` holds a value."""
        return any(f"{table}.{column}" in self.filled for table, column in _parts(spec))

    def why_missing(self, kpi: Kpi, config: Config) -> str | None:
        """Why ``kpi`` cannot be computed from this store, or None."""
        empty = [t for t in kpi.needs if not self.counts.get(t)]
        if empty:
            return f"no {' or '.join(t.replace('_', ' ') for t in empty)} loaded"
        absent = [spec for spec in kpi.needs_values if not self.has(spec)]
        if absent:
            table = _parts(absent[0])[0][0]
            named = " nor ".join(_named(spec) for spec in absent)
            return f"the loaded {table} hold no {named}"
        if kpi.business_hours and not config.business_hours.configured:
            return "no business hours configured ([business_hours] in supportkpi.toml)"
        return None

    def gaps(self, kpi: Kpi) -> tuple[str, ...]:
        """What each of ``kpi``'s checks tells, for the checks no loaded row can make."""
        return tuple(what for spec, what in kpi.checks if not self.has(spec))

    def unchecked(self, kpi: Kpi) -> str | None:
        """What a computable ``kpi`` could not check, for want of data, or None."""
        gaps = self.gaps(kpi)
        if not gaps:
            return None
        return "computed without checking " + ", ".join(gaps) + ": no such data loaded"


def inputs_of(store: Store, kpis: Iterable[Kpi]) -> Inputs:
    """The :class:`Inputs` the given KPIs ask about."""
    kpis = list(kpis)
    wanted: dict[str, list[str]] = {}
    for kpi in kpis:
        for spec in [*kpi.needs_values, *(s for s, _ in kpi.checks)]:
            for table, column in _parts(spec):
                wanted.setdefault(table, []).append(column)
    filled = {
        f"{table}.{column}"
        for table, columns in wanted.items()
        for column in remembered(
            store, ("filled", table, tuple(columns)), lambda t=table, c=columns: store.filled(t, c)
        )
    }
    return Inputs(remembered(store, "counts", store.counts), frozenset(filled))


def unknown_filter_values(store: Store, filters: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """A note per filter naming values no conversation has (a typo filters everything out
    silently otherwise), with the known values and the closest one."""
    key = ("unknown filter values", tuple((d, tuple(v)) for d, v in filters.items()))
    return dict(remembered(store, key, lambda: _unknown_filter_values(store, filters)))


def _unknown_filter_values(store: Store, filters: Mapping[str, Sequence[str]]) -> dict[str, str]:
    import difflib

    notes = {}
    table = store.table("conversations")
    for dim, values in filters.items():
        column = "agent_id" if dim == "agent" else dim
        if not values or column not in table.columns:
            continue
        found = table.filter(table[column].isin(list(values))).select(column).distinct()
        present = set(found.to_pyarrow()[column].to_pylist())
        absent = [v for v in values if v not in present]
        if not absent:
            continue
        known_table = table.filter(table[column].notnull()).select(column).distinct()
        known = sorted(known_table.limit(1000).to_pyarrow()[column].to_pylist())
        close = difflib.get_close_matches(absent[0], known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
        what = "no conversation has" if len(absent) == 1 else "no conversations have"
        notes[f"{dim} filter"] = (
            f"{what} {dim} {', '.join(map(repr, absent))} (the {dim} values: {shown}){hint}"
        )
    return notes
