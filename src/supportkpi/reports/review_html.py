"""The monthly review as one self-contained HTML file: styles inline, charts as inline SVG, no
script and no reference to anything outside the file, so it can be mailed, opened offline and
printed to PDF as it is.

Every text from the data (vendor, agent, reason names) is escaped; each number cell carries its
exact value in ``data-value`` beside the humanised text, so a reader (or a test) can check it
against ``supportkpi sla`` and ``supportkpi report``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from html import escape

from supportkpi.analysis.review import Change, ContractLine, Review
from supportkpi.analysis.targets import GENERAL
from supportkpi.kpis import REGISTRY, Unit
from supportkpi.kpis.registry import humanise
from supportkpi.reports import charts

STYLE = """
*{box-sizing:border-box}
body{font-family:-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2937;
 margin:0 auto;max-width:980px;padding:24px;line-height:1.4;font-size:14px}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #e5e7eb;padding-bottom:4px}
.sub{color:#6b7280;margin:0 0 16px}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{padding:5px 8px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:middle}
th{font-size:12px;color:#6b7280;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.met{background:#dcfce7;color:#166534}.missed{background:#fee2e2;color:#991b1b}
.missing,.reported{background:#f3f4f6;color:#374151}
.improved{color:#166534}.worsened{color:#991b1b}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #e5e7eb;border-radius:8px;padding:8px 12px;min-width:140px}
.card b{display:block;font-size:20px}.card span{color:#6b7280;font-size:12px}
.note{color:#6b7280;font-size:12px}
svg{max-width:100%;height:auto}
@page{size:A4;margin:14mm}
@media print{body{padding:0;max-width:none}tr,.card,svg{break-inside:avoid}h2,h3{break-after:avoid}}
"""


def _fmt(value: float | int | None, unit: str | Unit) -> str:
    return humanise(value, Unit(unit))


def _num(value: float | int | None, unit: str | Unit, field: str = "", kpi: str = "") -> str:
    """A number cell: humanised text, exact value in data-value."""
    attrs = f' data-field="{escape(field)}"' if field else ""
    attrs += f' data-kpi="{escape(kpi)}"' if kpi else ""
    exact = "" if value is None else repr(float(value))
    return f'<td class="num"{attrs} data-value="{exact}">{escape(_fmt(value, unit))}</td>'


def _table(head: Sequence[str], rows: Iterable[str], numeric_from: int = 1) -> str:
    cells = "".join(
        f'<th class="{"num" if i >= numeric_from else ""}">{escape(h)}</th>'
        for i, h in enumerate(head)
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _change(value: float | None, unit: str, trend: str | None) -> str:
    if value is None:
        return '<td class="num">–</td>'
    if unit == Unit.RATE.value:
        text = f"{value * 100:+.1f} pts".replace("-", "−")
    else:
        text = ("+" if value >= 0 else "−") + _fmt(abs(value), unit)
    word = f" ({trend})" if trend else ""
    cls = f' class="num {trend}"' if trend else ' class="num"'
    return f'<td{cls} data-value="{value!r}">{escape(text + word)}</td>'


def _contract_row(line: ContractLine) -> str:
    breaches = (
        f'<td class="num" data-field="breaches" data-value="{line.breaches}">'
        f"{line.breaches:,} of {line.measured:,}</td>"
        if line.breaches is not None and line.measured is not None
        else '<td class="num">–</td>'
    )
    spark = charts.sparkline([v for _, v in line.history], f"{line.label}, last six months")
    return (
        f'<tr data-kpi="{escape(line.kpi)}" data-scope="{escape(line.scope)}">'
        f"<td>{escape(line.label)}</td><td>{escape(line.scope)}</td>"
        f'<td class="num">{escape(line.target)}</td>'
        + _num(line.achieved, line.unit, "achieved")
        + _num(line.attainment, Unit.RATE, "attainment")
        + _num(line.compliance, Unit.RATE, "compliance")
        + f'<td class="num"><span class="status {escape(line.status)}">'
        f"{escape(line.status)}</span></td>"
        + _num(line.previous, line.unit, "previous")
        + _change(line.change, line.unit, line.trend)
        + f'<td class="num">{spark}</td>'
        + breaches
        + "</tr>"
    )


def _contract(review: Review) -> str:
    if not review.contract:
        return "<p>No target applies to this vendor.</p>"
    met = sum(line.status == "met" for line in review.contract)
    head = (
        "KPI",
        "scope",
        "target",
        "achieved",
        "attainment",
        "compliance",
        "status",
        review.previous_month,
        "change",
        "6 months",
        "breaches",
    )
    reasons = "".join(
        f'<p class="note">{escape(line.label)}: {escape(line.reason)}</p>'
        for line in review.contract
        if line.reason
    )
    return (
        f"<p>{escape(_standing(review, met))} Attainment: the share of "
        "conversations meeting a per-conversation target; compliance: achieved against the "
        "target, 100 % when met.</p>"
        + _table(head, (_contract_row(line) for line in review.contract), 3)
        + reasons
    )


def _contract_heading(review: Review) -> str:
    general = review.standing is not None and review.standing.held_to == GENERAL
    return "Targets (no contract: the general targets)" if general else "Contract"


def _standing(review: Review, met: int) -> str:
    """The contract's verdict in words, counted as ``supportkpi sla`` and the headline do."""
    if review.standing is None:
        return f"{met} of {len(review.contract)} targets met."
    return review.standing.sentence()


def _changes(changes: Sequence[Change]) -> str:
    if not changes:
        return "<p>Nothing comparable in the previous month.</p>"
    items = "".join(
        f'<li class="{escape(c.trend or "")}" data-kpi="{escape(c.kpi)}">{escape(c.sentence)}</li>'
        for c in changes
    )
    return f"<ul>{items}</ul>"


def _card(label: str, value: float | int | None, unit: str | Unit, kpi: str, note: str) -> str:
    exact = "" if value is None else repr(float(value))
    return (
        f'<div class="card" data-kpi="{escape(kpi)}" data-value="{exact}">'
        f"<span>{escape(label)}</span><b>{escape(_fmt(value, unit))}</b>"
        f"<span>{escape(note)}</span></div>"
    )


def _volume(review: Review) -> str:
    k = review.kpis
    cards = _card("Conversations", k.get("chat_volume"), Unit.COUNT, "chat_volume", "created")
    cards += _card(
        "Handled", k.get("chat_volume_handled"), Unit.COUNT, "chat_volume_handled", "by an agent"
    )
    cards += _card(
        "Resolved", k.get("chat_volume_resolved"), Unit.COUNT, "chat_volume_resolved", ""
    )
    days = [(d.strftime("%d %b"), float(n)) for d, n in review.volume_by_day]
    return (
        f'<div class="cards">{cards}</div><h3>By day</h3>'
        + charts.bars(days, "Conversations per day")
        + f"<h3>By weekday and hour ({escape(review.timezone)})</h3>"
        + charts.heatmap(review.heatmap, "Conversations by weekday and hour")
    )


def _quality(review: Review) -> str:
    rows = []
    for name in ("csat", "csat_mean", "nps", "ces", "qa_score", "survey_response_rate"):
        kpi = REGISTRY[name]
        sample = review.samples.get(name)
        why = review.missing.get(name, "")
        rows.append(
            f'<tr data-kpi="{name}"><td>{escape(kpi.label)}</td>'
            + _num(review.kpis.get(name), kpi.unit, "achieved", name)
            + _num(review.previous_kpis.get(name), kpi.unit, "previous", name)
            + f'<td class="num">{"" if sample is None else f"{sample:,}"}</td>'
            + f'<td class="note">{escape(kpi.over)}{"; " + escape(why) if why else ""}</td></tr>'
        )
    table = _table(("KPI", "this month", review.previous_month, "sample", "measured over"), rows)
    reasons = [
        f"<tr><td>{escape(r['escalation_reason'])}</td>"
        f'<td class="num" data-value="{r["escalations"]}">{r["escalations"]:,}</td>'
        + _num(r["share_of_escalations"], Unit.RATE)
        + _num(r["rate"], Unit.RATE)
        + "</tr>"
        for r in review.escalations
    ]
    esc = review.kpis.get("escalation_rate")
    return (
        table
        + f"<h3>Escalations: {escape(_fmt(esc, Unit.RATE))} of handled conversations</h3>"
        + (
            _table(("reason", "escalations", "share", "rate per handled"), reasons)
            if reasons
            else "<p>No escalations.</p>"
        )
    )


def _cost(review: Review) -> str:
    cost = review.cost
    if cost.get("missing"):
        return f"<p>Not computed: {escape(cost['missing'])}.</p>"
    rows = [
        f"<tr><td>{escape(name)}{' (this review)' if name == review.vendor else ''}</td>"
        + _num(value, Unit.MONEY, "cost_per_contact", "cost_per_contact")
        + "</tr>"
        for name, value in sorted(cost["vendors"].items(), key=lambda x: str(x[0]))
        if name is not None
    ]
    said = []
    if cost.get("vs_in_house") is not None and review.vendor != "in-house":
        diff = cost["vs_in_house"]
        said.append(
            f"{abs(diff) * 100:.1f} % {'below' if diff < 0 else 'above'} in-house per contact."
        )
    if cost.get("target"):
        said.append(f"Contract: {cost['target']} ({cost['status']}).")
    return _table(("vendor", "cost per contact"), rows) + f"<p>{escape(' '.join(said))}</p>"


AGENT_COLUMNS = (
    ("chat_volume_handled", "handled", Unit.COUNT, None),
    ("first_response_time_median", "first response (median)", Unit.SECONDS, None),
    ("average_handle_time", "handle time", Unit.SECONDS, None),
    ("first_contact_resolution", "FCR", Unit.RATE, "first_contact_resolution"),
    ("csat", "CSAT", Unit.RATE, "csat"),
    ("qa_score", "QA", Unit.SCORE, "qa_score"),
)


def _agents(review: Review) -> str:
    if not review.agents:
        return "<p>No agent is named on this vendor's conversations.</p>"
    rows = []
    for agent in review.agents:
        cells = f"<td>{escape(str(agent['agent']))}</td>"
        for column, _, unit, sampled in AGENT_COLUMNS:
            cells += _num(agent.get(column), unit, column)
            if sampled:
                n = agent.get(f"{sampled}__sample")
                cells += f'<td class="num note">{"" if n is None else f"n={n:,}"}</td>'
        rows.append(f'<tr data-agent="{escape(str(agent["agent"]))}">{cells}</tr>')
    head = ["agent"]
    for _, label, _, sampled in AGENT_COLUMNS:
        head += [label, "sample"] if sampled else [label]
    return (
        _table(head, rows)
        + '<p class="note">n: resolved conversations (FCR), CSAT answers, QA reviews. '
        "Few answers make a share move a lot.</p>"
    )


def _forecast(review: Review) -> str:
    if not review.forecast:
        return ""
    f = review.forecast
    return (
        "<h2>Next month</h2>"
        f'<p data-field="forecast" data-value="{f["conversations"]!r}">Expected volume for '
        f"{escape(f['month'])}: about <b>{f['conversations']:,.0f}</b> conversations "
        f"({escape(f['method'])}).</p>"
    )


def _month_name(start: date) -> str:
    return start.strftime("%B %Y")


def render_review(review: Review) -> str:
    """The review as one HTML document (a string); see the module doc."""
    title = f"{review.vendor}: support review, {_month_name(review.start)}"
    body = (
        f"<h1>{escape(title)}</h1>"
        f'<p class="sub">{review.start:%d %b %Y} – {review.end:%d %b %Y}, days in '
        f"{escape(review.timezone)}; compared with {escape(review.previous_month)}. "
        f"Generated {review.generated_at:%Y-%m-%d %H:%M} UTC by supportkpi.</p>"
        f"<h2>{_contract_heading(review)}</h2>{_contract(review)}"
        f"<h2>What changed</h2>{_changes(review.changes)}"
        f"<h2>Volume</h2>{_volume(review)}"
        f"<h2>Quality</h2>{_quality(review)}"
        f"<h2>Cost per contact</h2>{_cost(review)}"
        f"<h2>Agents</h2>{_agents(review)}"
        f"{_forecast(review)}"
        f'<p class="note">The same numbers as <code>supportkpi sla --vendor '
        f"{escape(review.vendor)} --from {review.start} --to {review.end}</code> and "
        "<code>supportkpi report</code> over that month; a conversation counts in the month "
        "it was created.</p>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
