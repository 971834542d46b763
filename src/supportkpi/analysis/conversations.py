"""Drill-down: the conversations behind a report's number.

:func:`conversations` lists one row per conversation with its facts as the KPIs see them
(read from the store's kept facts when they fit, else derived, exactly as reports do): ids,
dimensions, the local time it was created, handled, abandoned, resolved, first response,
resolution, handle time and time to abandon (calendar and, when configured, business hours),
replies, escalation and its reason, transfers, reopens, follow-ups, first-contact resolution,
survey scores and comment, QA score, and each per-conversation target it was held to with
whether it met it.

The selection is a report cell: the same dates, filters, zone and grouping as a report row,
with the cell's period given by ``at``. ``kpi`` keeps the rows the KPI is measured over (its
denominator) and adds ``value``, what each row contributes; the report's number is the mean
of ``value`` over the rows (the count of rows for a volume). ``outcome`` keeps the rows in a
rate's numerator (True) or the rest of its denominator (False); ``missed`` the conversations
that missed their target for a KPI. For KPIs over survey answers or QA reviews there is one
row per answer or review (``survey_id``, ``review_id``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from supportkpi.analysis.compiled import Compiled, CompiledCache, runs_compiled
from supportkpi.analysis.frame import QueryError, build_frame
from supportkpi.analysis.inputs import inputs_of
from supportkpi.analysis.measured import PER_ROW_GRAINS, PerRow, check_per_row, per_row
from supportkpi.analysis.result import Frames
from supportkpi.analysis.row_targets import target_columns
from supportkpi.analysis.shared_facts import hold
from supportkpi.analysis.sla import vendors
from supportkpi.config import Config
from supportkpi.kpis import REGISTRY, Kpi, all_kpis
from supportkpi.kpis.grains import DIMENSIONS, GRAINS, PERIODS, Frame
from supportkpi.store.store import Store

__all__ = [
    "LISTED",
    "Conversations",
    "Selection",
    "conversations",
    "drillable",
    "select",
    "without_clocks",
]

IDS = ("conversation_id", "customer_id")
# listed name ← fact column, after the dimensions
STATES = {"handled": "handled", "abandoned": "abandoned"}
MEASURES = {
    "first_response_seconds": "frt_seconds",
    "first_response_bh_seconds": "frt_bh_seconds",
    "resolution_seconds": "resolution_seconds",
    "resolution_bh_seconds": "resolution_bh_seconds",
    "handle_time_seconds": "aht_seconds",
    "handle_time_bh_seconds": "aht_bh_seconds",
    "time_to_abandon_seconds": "abandon_seconds",
    "time_to_abandon_bh_seconds": "abandon_bh_seconds",
    "replies": "agent_messages",
    "customer_messages": "customer_messages",
    "escalated": "escalated",
    "escalation_reason": "escalation_reason",
    "transfers": "transfers",
    "reopens": "reopens",
    "follow_up_of": "follow_up_of",
    "followed_up": "followed_up",
}
# fact column → listed name, for a KPI's per-row column
LISTED = {fact: name for name, fact in MEASURES.items()}
FCR = "first_contact_resolution"
DEFAULT_LIMIT = 100
# listed columns from the conversations' survey answers and QA reviews
# pages up to this many rows list only their own conversations' columns; longer ones
# (exports) compute every row's
PAGED = 5_000
ANSWERS = ("csat_score", "nps_score", "ces_score", "survey_comment", "qa_score")


@dataclass(frozen=True)
class Conversations(Frames):
    """A drill-down: one page of conversation rows, how many the selection holds in all, and
    what they are: the KPI, what it is measured over, ``how`` the report aggregates
    ``value`` (mean or count), whether the report leaves it empty in a group where no row
    carries its input (``guarded``), the report column that is that aggregate (``column``),
    and the selection asked for."""

    table: pa.Table
    total: int
    kpi: str | None = None
    measured_over: str = "conversations"
    how: str = ""
    guarded: bool = False
    column: str | None = None
    selection: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection:
    """The rows of a drill-down as an expression, before paging, with what they stand on."""

    rows: ir.Table
    frame: Frame
    kpi: Kpi | None
    measured: PerRow | None


def select(
    store: Store,
    config: Config,
    *,
    kpi: str | None = None,
    outcome: bool | None = None,
    missed: str | None = None,
    by: Sequence[str] = (),
    at: date | datetime | None = None,
    start: date | None = None,
    end: date | None = None,
    filters: Mapping[str, Sequence[str | None]] | None = None,
    tz: str | None = None,
    ids: Sequence[str] | ir.StringColumn | None = None,
    profile: Mapping[str, int] | None = None,
    needs: Sequence[str] | None = None,
) -> Selection:
    """The drill-down's rows as an Ibis expression (:func:`conversations` pages them);
    ``ids`` keeps only these conversations; ``profile`` a cell of the weekday × hour profile
    (``{"weekday": 0, "hour_of_day": 9}``: Mondays, 09:00–09:59 local). ``needs`` (listed
    column names) asks only for the same rows with at least those columns: what is not
    needed to choose the rows or give those columns (business-hour clocks, survey and QA
    columns, targets) is left out."""
    chosen = _kpi(store, config, kpi)
    if outcome is not None and chosen is None:
        raise QueryError("an outcome needs a KPI (kpi=abandonment_rate, outcome=yes)")
    plain, nulls = _split_filters(filters or {})
    period = "day" if at is not None and not any(b in PERIODS for b in by) else None
    wants = _Wants.of(config, chosen, missed, needs)
    frame = build_frame(store, config, by, period, start, end, plain, tz, wants.clocks)
    rows, measured = _rows(store, frame, chosen, ids, wants)
    rows = _select_cell(rows, frame, nulls, at)
    rows = _select_profile(rows, profile or {})
    if outcome is not None:
        assert measured is not None
        if not measured.indicator:
            raise QueryError(
                f"{kpi} is not a rate: it has no outcome to keep; use missed= for a target"
            )
        rows = rows.filter((rows.value == 1) if outcome else (rows.value == 0))
    if missed is not None:
        column = f"{missed}_met"
        if column not in rows.columns:
            raise QueryError(f"no per-conversation target is set for {missed!r}")
        rows = rows.filter(rows[column] == False)  # noqa: E712 - an Ibis comparison
    return Selection(rows, frame, chosen, measured)


def conversations(
    store: Store,
    config: Config | None = None,
    *,
    kpi: str | None = None,
    outcome: bool | None = None,
    missed: str | None = None,
    by: Sequence[str] = (),
    at: date | datetime | None = None,
    start: date | None = None,
    end: date | None = None,
    filters: Mapping[str, Sequence[str | None]] | None = None,
    tz: str | None = None,
    sort: str | None = None,
    limit: int | None = DEFAULT_LIMIT,
    offset: int = 0,
    ids: Sequence[str] | None = None,
    profile: Mapping[str, int] | None = None,
) -> Conversations:
    """The conversations of one report cell; see the module doc. ``by`` is the report's
    grouping (a period in it adds its column; ``at`` picks the cell's period, the day when
    ``by`` has none), ``filters``
    the cell's values (``None`` among a dimension's values: the conversations without one),
    ``sort`` a listed column, ``-`` first for descending; ``limit=None``: every row."""
    config = config or Config()
    asked = dict(
        kpi=kpi,
        outcome=outcome,
        missed=missed,
        by=by,
        at=at,
        start=start,
        end=end,
        filters=filters,
        tz=tz,
        profile=profile,
    )
    column = (sort or "created").removeprefix("-")
    # First only what chooses and orders the rows: how many there are and which are on the
    # page; then every column, for the page's conversations alone.
    light = select(store, config, **asked, ids=ids, needs=[column])
    if limit is None or limit > PAGED or column not in light.rows.columns:
        chosen = select(store, config, **asked, ids=ids)
        page, total = _whole(store, chosen.rows, sort, limit, offset)
    else:
        keys = _keys(light)
        narrow = light.rows.select(*dict.fromkeys([*keys, column]))
        on_page, total = _counted_page(store, narrow, sort, limit, offset, keys[1:])
        listed = on_page["conversation_id"].to_pylist()
        if listed and runs_compiled(store):
            chosen, page = light, _columns(store, config, light, keys, on_page, kpi, by, at, tz)
        else:
            chosen = select(store, config, **asked, ids=listed or None)
            rows = chosen.rows
            for key in keys[1:] if listed else ():  # the page's answers or reviews
                rows = rows.filter(rows[key].isin(_id_table(on_page[key].to_pylist())))
            page = _page(rows, sort, limit if listed else 0, 0, keys[1:]).to_pyarrow()
    measured, k = chosen.measured, chosen.kpi
    return Conversations(
        page,
        total,
        kpi,
        k.over if k else "conversations",
        measured.how if measured else "",
        measured.guarded if measured else False,
        k.columns[0] if k else None,
        {"kpi": kpi, "outcome": outcome, "missed": missed, "at": at, "by": list(by)},
    )


def _counted_page(
    store: Store, rows: ir.Table, sort: str | None, limit: int, offset: int, ties: Sequence[str]
) -> tuple[pa.Table, int]:
    """One page of ``rows`` and how many rows there are, in one query where the engine
    runs compiled SQL: the rows are chosen once, and both counted and ordered from there."""
    if not runs_compiled(store):
        return _page(rows, sort, limit, offset, ties).to_pyarrow(), _count(rows)
    total = rows.aggregate(**{TOTAL: rows.count()}).as_scalar()
    counted = _page(rows.mutate(**{TOTAL: total}), sort, limit, offset, ties)
    page = Compiled.of(store, counted, materialized=True).run(store, {})
    if page.num_rows == 0:  # past the last row: nothing carries the count
        return page.drop_columns([TOTAL]), _count(rows)
    return page.drop_columns([TOTAL]), int(page[TOTAL][0].as_py())


def _count(rows: ir.Table) -> int:
    return int(rows.count().to_pyarrow().as_py())


# the page's rows, as the compiled listing reads them
PAGE_ROWS = "__listing_page"
POSITION = "__position"
TOTAL = "__total"
_COMPILED: CompiledCache[Compiled] = CompiledCache()


def _columns(
    store: Store,
    config: Config,
    light: Selection,
    keys: Sequence[str],
    on_page: pa.Table,
    kpi: str | None,
    by: Sequence[str],
    at: date | datetime | None,
    tz: str | None,
) -> pa.Table:
    """Every column of the page's rows (``on_page``: their keys, in the page's order).

    A row's columns do not depend on the filters, dates, outcome or target that chose it,
    only on the zone, the period column, the KPI, the settings and the store: the query is
    compiled once for those (:mod:`supportkpi.analysis.compiled`) and run on each page."""
    periods = [b for b in by if b in PERIODS]
    if at is not None and not periods:
        periods = ["day"]
    frame = light.frame
    key = (
        config.model_dump_json(),
        tz,
        tuple(periods),
        kpi,
        tuple(keys),
        frame.days,
        tuple(frame.offsets),
        frame.kept is not None,
        tuple(vendors(store)),  # remembered per store generation
        type(store.con.compiler),
    )

    def build() -> Compiled:
        schema = {k: "string" for k in keys} | {POSITION: "int64"}
        rows = ibis.table(schema, name=PAGE_ROWS)
        chosen = select(store, config, kpi=kpi, by=periods, tz=tz, ids=rows.conversation_id)
        listed = chosen.rows.join(rows, list(keys))
        return Compiled.kept(store, listed.order_by(POSITION).drop(POSITION))

    compiled = _COMPILED.get(key, build)
    page = on_page.select(list(keys)).append_column(
        POSITION, pa.array(range(on_page.num_rows), pa.int64())
    )
    return compiled.run(store, {PAGE_ROWS: page})


def _whole(
    store: Store, rows: ir.Table, sort: str | None, limit: int | None, offset: int
) -> tuple[pa.Table, int]:
    """One page of ``rows`` and how many there are, computing every row once."""
    _page(rows, sort, limit, offset)  # checks the sort before any work
    name = store.temp_name("drill")
    try:
        held = hold(store, name, rows)
        total = int(held.count().to_pyarrow().as_py())
        return _page(held, sort, limit, offset).to_pyarrow(), total
    finally:
        store.drop_temp(name)


def drillable(store: Store, config: Config | None = None) -> list[str]:
    """The KPIs whose conversations can be listed on this store: a per-conversation value
    and the inputs to compute it (nothing is run but the frame's checks)."""
    config = config or Config()
    bh = config.business_hours.configured
    frame = build_frame(store, config, (), None, None, None, {}, None, bh, kept=False)
    candidates = [
        k for k in all_kpis() if k.grain in PER_ROW_GRAINS and (bh or not k.business_hours)
    ]
    held = inputs_of(store, candidates)
    names = []
    grains: dict[str, ir.Table] = {}
    for kpi in candidates:
        if held.why_missing(kpi, config):
            continue
        if kpi.grain not in grains:
            on = frame if kpi.grain == "conversations" else without_clocks(frame)
            grains[kpi.grain] = GRAINS[kpi.grain](on)
        try:
            per_row(kpi, grains[kpi.grain])
        except QueryError:
            continue
        names.append(kpi.name)
    return names


def _kpi(store: Store, config: Config, name: str | None) -> Kpi | None:
    if name is None:
        return None
    if name not in REGISTRY:
        raise QueryError(f"unknown KPI {name!r}; `supportkpi kpis` lists them")
    kpi = REGISTRY[name]
    check_per_row(kpi)
    why = inputs_of(store, [kpi]).why_missing(kpi, config)
    if why:
        raise QueryError(f"{name} cannot be computed from this store: {why}")
    return kpi


def _split_filters(
    filters: Mapping[str, Sequence[str | None]],
) -> tuple[dict[str, list[str]], dict[str, list[str | None]]]:
    """Filters the frame applies, and those naming ``None`` (no value), applied here."""
    unknown = [f for f in filters if f not in DIMENSIONS]
    if unknown:
        raise QueryError(
            f"cannot filter by {', '.join(unknown)}; filter by {', '.join(DIMENSIONS)}"
        )
    plain = {k: list(v) for k, v in filters.items() if v and None not in v}
    nulls = {k: list(v) for k, v in filters.items() if v and None in v}
    return plain, nulls


@dataclass(frozen=True)
class _Wants:
    """What a selection must compute: business-hour clocks, targets, survey and QA columns;
    ``shown``: the columns as listed (else ``created`` may keep its zone: the same order)."""

    clocks: bool
    targets: bool
    answers: bool
    shown: bool = False

    @classmethod
    def of(
        cls, config: Config, kpi: Kpi | None, missed: str | None, needs: Sequence[str] | None
    ) -> _Wants:
        """Everything for a full listing (``needs`` None), else what choosing the rows and
        the ``needs`` columns take."""
        bh = config.business_hours.configured
        if needs is None:
            return cls(bh, True, True, shown=True)
        bh_kpis = [k for k in (kpi, REGISTRY.get(missed or "")) if k is not None]
        clocks = bh and (any(k.business_hours for k in bh_kpis) or any("_bh_" in n for n in needs))
        targets = missed is not None or any(n.endswith(("_target", "_met")) for n in needs)
        return cls(clocks, targets, any(n in ANSWERS for n in needs))


def _keys(selection: Selection) -> list[str]:
    """The columns that tell the selection's rows apart."""
    grain = selection.kpi.grain if selection.kpi else "conversations"
    extra = {"surveys": ["survey_id"], "qa_reviews": ["review_id"]}.get(grain, [])
    return ["conversation_id", *extra]


def _only(frame: Frame, ids: Sequence[str] | ir.StringColumn) -> Frame:
    """The frame narrowed to the conversations ``ids`` before anything is computed, where
    that changes nothing: their kept facts are per conversation (follow-ups included)."""
    if frame.kept is None:
        return frame
    wanted = _id_table(ids)
    tables = dict(frame.tables)
    for name in ("surveys", "qa_reviews"):
        tables[name] = tables[name].filter(tables[name].conversation_id.isin(wanted))
    kept = frame.kept.filter(frame.kept.conversation_id.isin(wanted))
    answers = frame.kept_surveys
    if answers is not None:
        answers = answers.filter(answers.conversation_id.isin(wanted))
    return replace(frame, tables=tables, kept=kept, kept_surveys=answers)


def _id_table(ids: Sequence[str] | ir.StringColumn) -> ir.StringColumn:
    """``ids`` as a column of a table of their own (an engine reads a long list of values
    faster as a table than spelled out in the query); a column is one already."""
    if isinstance(ids, ir.Column):
        return ids
    return ibis.memtable(pa.table({"id": pa.array(list(ids), pa.string())})).id


def _rows(
    store: Store,
    frame: Frame,
    kpi: Kpi | None,
    ids: Sequence[str] | ir.StringColumn | None,
    wants: _Wants,
) -> tuple[ir.Table, PerRow | None]:
    """The listing, and with a KPI, its rows (the grain's) with ``value``."""
    if ids is not None:
        frame = _only(frame, ids)
    grain = GRAINS["conversations"](frame)
    if ids is not None:
        grain = grain.filter(grain.conversation_id.isin(_id_table(ids)))
    fcr = per_row(REGISTRY[FCR], grain)
    extra: dict[str, ir.Value] = {
        "__fcr": ibis.ifelse(fcr.among, fcr.value == 1, ibis.null("boolean"))
    }
    measured = None
    if kpi is not None and kpi.grain == "conversations":
        measured = per_row(kpi, grain)
        extra |= {"value": measured.value.cast("float64"), "__among": measured.among}
    grain = grain.mutate(**extra)
    if measured is not None:
        grain = grain.filter(grain.__among)
    listing = _listing(store, frame, grain, wants)
    if kpi is not None and kpi.grain != "conversations":
        answers = GRAINS[kpi.grain](without_clocks(frame))
        measured = per_row(kpi, answers)
        key = "survey_id" if kpi.grain == "surveys" else "review_id"
        answers = answers.filter(measured.among).select(
            "conversation_id", key, value=measured.value.cast("float64")
        )
        listing = listing.join(answers, "conversation_id")
    return listing, measured


def _listing(store: Store, frame: Frame, grain: ir.Table, wants: _Wants) -> ir.Table:
    """The listed columns of the grain's conversations, with surveys, QA and targets (as
    far as ``wants`` asks)."""
    bh = frame.spans is not None
    g = grain
    if wants.targets:
        g = g.mutate(**target_columns(grain, frame.config, vendors(store), bh))
    period = [frame.period] if frame.period else []
    measures = {k: v for k, v in MEASURES.items() if bh or "_bh_" not in k}
    targets = [c for c in g.columns if c.endswith(("_target", "_met"))]
    kept = ["value"] if "value" in g.columns else []
    created = frame.local(g.created_at)
    g = g.select(
        *IDS,
        # the cast (a wall-clock time without a zone) keeps the order, and costs
        created=created.cast(dt.Timestamp(scale=6)) if wants.shown else created,
        **{p: g[p] for p in period},
        **{d: g[d] for d in DIMENSIONS},
        **{name: g[fact] for name, fact in STATES.items()},
        resolved=g.resolved_at.notnull(),
        **{name: _plain(g[fact]) for name, fact in measures.items()},
        first_contact_resolved=g.__fcr,
        **{c: g[c] for c in [*targets, *kept]},
    )
    return _with_answers(g, frame) if wants.answers else g


def _with_answers(rows: ir.Table, frame: Frame) -> ir.Table:
    """Survey scores (normalised: CSAT 1–5, NPS 0–10, CES 1–7; the mean of several), the
    latest comment, and the mean QA score."""
    s = GRAINS["surveys"](without_clocks(frame))
    scores = s.group_by("conversation_id").aggregate(
        csat_score=s.csat_score.mean(),
        nps_score=s.nps_score.mean(),
        ces_score=s.ces_score.mean(),
        survey_comment=s.comment.argmax(s.answered_at, where=s.comment.notnull()),
    )
    q = GRAINS["qa_reviews"](without_clocks(frame))
    qa = q.group_by("conversation_id").aggregate(qa_score=q.score.mean())
    out = rows.left_join(scores, "conversation_id").drop("conversation_id_right")
    out = out.left_join(qa, "conversation_id").drop("conversation_id_right")
    order = [c for c in rows.columns if c != "value"]
    at = order.index("first_contact_resolved") + 1
    columns = [*order[:at], "csat_score", "nps_score", "ces_score", "survey_comment"]
    columns += ["qa_score", *order[at:], *(["value"] if "value" in rows.columns else [])]
    return out.select(*columns)


def _select_cell(
    rows: ir.Table, frame: Frame, nulls: Mapping[str, list[str | None]], at: date | datetime | None
) -> ir.Table:
    """Rows of the cell: dimensions without a value where asked, and the period of ``at``."""
    for dim, values in nulls.items():
        named = [v for v in values if v is not None]
        rows = rows.filter(rows[dim].isnull() | rows[dim].isin(named or [""]))
    if at is not None and frame.period:
        moment = at if isinstance(at, datetime) else datetime.combine(at, datetime.min.time())
        start = ibis.timestamp(moment.replace(tzinfo=None)).truncate(PERIODS[frame.period])
        rows = rows.filter(rows[frame.period] == start)
    return rows


PROFILE_RANGE = {"weekday": range(7), "hour_of_day": range(24)}


def _select_profile(rows: ir.Table, profile: Mapping[str, int]) -> ir.Table:
    """Rows created (local time) on a weekday (0 = Monday) and/or in an hour of the day, as
    the weekday × hour profile counts them."""
    for name, value in profile.items():
        if name not in PROFILE_RANGE or value not in PROFILE_RANGE[name]:
            known = ", ".join(f"{k} {r.start}–{r.stop - 1}" for k, r in PROFILE_RANGE.items())
            raise QueryError(f"profile {name}={value!r} is not one of {known}")
        local = rows.created
        part = local.day_of_week.index() if name == "weekday" else local.hour()
        rows = rows.filter(part.cast("int64") == value)
    return rows


def _page(
    rows: ir.Table, sort: str | None, limit: int | None, offset: int, ties: Sequence[str] = ()
) -> ir.Table:
    """Rows in order (``sort``: a column, ``-`` first for descending; default the time
    created; then the conversation and ``ties``), one page of them."""
    key = sort or "created"
    descending = key.startswith("-")
    column = key.removeprefix("-")
    if column not in rows.columns:
        raise QueryError(f"cannot sort by {column!r}; sort by one of {', '.join(rows.columns)}")
    if (limit is not None and limit < 0) or offset < 0:
        raise QueryError("limit and offset are counts: 0 or more")
    first = ibis.desc(column, nulls_first=False) if descending else ibis.asc(column)
    then = [c for c in dict.fromkeys(["conversation_id", *ties]) if c != column]
    ordered = rows.order_by([first, *then])
    if limit is None:
        return ordered[offset:] if offset else ordered
    return ordered.limit(limit, offset=offset)


def _plain(value: ir.Value) -> ir.Value:
    """Counts as 64-bit integers (an engine may sum them into decimals)."""
    return value.cast("int64") if isinstance(value.type(), dt.Decimal) else value


def without_clocks(frame: Frame) -> Frame:
    """The frame for survey answers and QA reviews: they read no business-hour clock, and
    the conversations they join to need none worked out."""
    return replace(frame, spans=None)
