"""The canonical tables of the store: columns, types, keys and a one-line doc per column.

Every source is mapped onto these tables, every KPI reads from them. All timestamps are UTC
(``timestamp('UTC')``); input without an offset is read in the source's configured time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import ibis
import ibis.expr.datatypes as dt

Kind = Literal["text", "int", "float", "bool", "timestamp"]

IBIS_TYPES: dict[Kind, dt.DataType] = {
    "text": dt.String(),
    "int": dt.Int64(),
    "float": dt.Float64(),
    "bool": dt.Boolean(),
    "timestamp": dt.Timestamp(timezone="UTC"),
}

CHANNELS = ("chat", "email", "voice", "social", "sms", "messaging", "web", "other")
AUTHOR_ROLES = ("customer", "agent", "bot", "system")
ENDED_BY = ("customer", "agent", "system", "timeout")
SURVEY_KINDS = ("csat", "nps", "ces")
AGENT_STATES = ("available", "busy", "away", "break", "offline")
REVENUE_KINDS = ("purchase", "upsell", "cross_sell", "churn")

# The scale a survey answer is on when the row does not say.
DEFAULT_SCALES: dict[str, tuple[float, float]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}


@dataclass(frozen=True)
class Column:
    """One column of a canonical table."""

    name: str
    kind: Kind
    doc: str
    required: bool = False
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    @property
    def dtype(self) -> dt.DataType:
        """The Ibis type the store keeps this column in."""
        return IBIS_TYPES[self.kind].copy(nullable=not self.required)


@dataclass(frozen=True)
class Ordering:
    """A rule that one timestamp column may not come before another in the same row."""

    later: str
    earlier: str


@dataclass(frozen=True)
class Reference:
    """A column whose value must name an existing row of another table."""

    column: str
    table: str
    target: str
    optional: bool = False


@dataclass(frozen=True)
class Table:
    """A canonical table: its columns, its key and the row rules that hold inside it."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    orderings: tuple[Ordering, ...] = ()
    references: tuple[Reference, ...] = ()
    loadable: bool = True
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError when the table has none."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    @property
    def required(self) -> tuple[str, ...]:
        """Names of the columns every row must carry."""
        return tuple(c.name for c in self.columns if c.required)

    @property
    def ibis_schema(self) -> ibis.Schema:
        """The table as an Ibis schema."""
        return ibis.schema({c.name: c.dtype for c in self.columns})


def _c(name: str, kind: Kind, doc: str, **kw: object) -> Column:
    return Column(name, kind, doc, **kw)  # type: ignore[arg-type]


CONVERSATIONS = Table(
    "conversations",
    "One support contact: a chat session, an email thread, a call, a social thread.",
    (
        _c("conversation_id", "text", "Unique id of the conversation.", required=True),
        _c(
            "channel",
            "text",
            "Where it happened: chat, email, voice, social…",
            required=True,
            choices=CHANNELS,
        ),
        _c("created_at", "timestamp", "When the conversation began (UTC).", required=True),
        _c("customer_id", "text", "Who contacted support."),
        _c("vendor", "text", "Who staffed the agent: 'in-house' or an outsourcing partner."),
        _c("team", "text", "The agent's team."),
        _c("agent_id", "text", "The last assigned human agent."),
        _c("queue", "text", "Queue, inbox or group the conversation arrived in."),
        _c("first_response_at", "timestamp", "First agent reply; derived from messages if empty."),
        _c("resolved_at", "timestamp", "First time the conversation was marked resolved."),
        _c("closed_at", "timestamp", "When the conversation was closed."),
        _c(
            "ended_by",
            "text",
            "Who ended it: customer, agent, system or timeout.",
            choices=ENDED_BY,
        ),
        _c("escalated", "bool", "Escalated to another tier or team."),
        _c("escalation_reason", "text", "Why it was escalated."),
        _c("transfers", "int", "Times it was transferred between agents.", minimum=0),
        _c("reopens", "int", "Times it was reopened after resolution.", minimum=0),
        _c("follow_up_of", "text", "The earlier conversation this one follows up on."),
        _c("handle_seconds", "float", "Active agent time in seconds.", minimum=0),
        _c("hold_seconds", "float", "Time the customer was on hold, seconds.", minimum=0),
        _c("wrap_seconds", "float", "After-contact work, seconds.", minimum=0),
        _c("topic", "text", "Topic or category of the contact."),
        _c("engagement_score", "float", "Engagement score, 0–100.", minimum=0, maximum=100),
        _c(
            "sla_breached",
            "bool",
            "The source system's own verdict: its SLA was breached (ServiceNow's made_sla "
            "inverted, Zendesk's SLA breach flag).",
        ),
    ),
    key=("conversation_id",),
    orderings=(
        Ordering("first_response_at", "created_at"),
        Ordering("resolved_at", "created_at"),
        Ordering("closed_at", "created_at"),
    ),
)

MESSAGES = Table(
    "messages",
    "One message of a conversation, by the customer, an agent, a bot or the system.",
    (
        _c("message_id", "text", "Unique id of the message.", required=True),
        _c("conversation_id", "text", "The conversation it belongs to.", required=True),
        _c("sent_at", "timestamp", "When it was sent (UTC).", required=True),
        _c(
            "author_role",
            "text",
            "customer, agent, bot or system.",
            required=True,
            choices=AUTHOR_ROLES,
        ),
        _c("author_id", "text", "Who wrote it (agent id for agents)."),
        _c("private", "bool", "An internal note, not seen by the customer."),
        _c("text", "text", "The message body."),
    ),
    key=("message_id",),
    references=(Reference("conversation_id", "conversations", "conversation_id"),),
)

SURVEYS = Table(
    "surveys",
    "One survey answer: CSAT, NPS or CES.",
    (
        _c("survey_id", "text", "Unique id of the answer.", required=True),
        _c("conversation_id", "text", "The conversation it rates, if any."),
        _c("customer_id", "text", "Who answered."),
        _c("kind", "text", "csat, nps or ces.", required=True, choices=SURVEY_KINDS),
        _c("score", "float", "The answer, on the survey's scale.", required=True),
        _c("scale_min", "float", "Lowest possible answer (default by kind: 1, 0, 1)."),
        _c("scale_max", "float", "Highest possible answer (default by kind: 5, 10, 7)."),
        _c("answered_at", "timestamp", "When it was answered (UTC)."),
        _c("comment", "text", "Free-text comment."),
    ),
    key=("survey_id",),
    references=(Reference("conversation_id", "conversations", "conversation_id", optional=True),),
)

AGENT_ACTIVITY = Table(
    "agent_activity",
    "A span of time an agent spent in one state (available, busy, away, break, offline).",
    (
        _c("agent_id", "text", "The agent.", required=True),
        _c("vendor", "text", "The agent's vendor."),
        _c("team", "text", "The agent's team."),
        _c(
            "state",
            "text",
            "available, busy, away, break or offline.",
            required=True,
            choices=AGENT_STATES,
        ),
        _c("started_at", "timestamp", "When the state began (UTC).", required=True),
        _c("ended_at", "timestamp", "When it ended (UTC); empty while it lasts."),
    ),
    key=("agent_id", "started_at"),
    orderings=(Ordering("ended_at", "started_at"),),
)

QA_REVIEWS = Table(
    "qa_reviews",
    "A quality-assurance review of a conversation.",
    (
        _c("review_id", "text", "Unique id of the review.", required=True),
        _c("conversation_id", "text", "The reviewed conversation.", required=True),
        _c("reviewer_id", "text", "Who reviewed it."),
        _c("score", "float", "Review score, 0–100.", required=True, minimum=0, maximum=100),
        _c("reviewed_at", "timestamp", "When it was reviewed (UTC)."),
    ),
    key=("review_id",),
    references=(Reference("conversation_id", "conversations", "conversation_id"),),
)

COSTS = Table(
    "costs",
    "What a vendor (or the in-house team) cost over a period, e.g. a monthly invoice.",
    (
        _c("vendor", "text", "The vendor, or 'in-house'.", required=True),
        _c("period_start", "timestamp", "First instant of the period (UTC).", required=True),
        _c("period_end", "timestamp", "End of the period, exclusive (UTC).", required=True),
        _c("amount", "float", "The cost.", required=True),
        _c("currency", "text", "ISO currency code."),
        _c("kind", "text", "What the cost is for: invoice, salaries, tooling…"),
    ),
    key=("vendor", "period_start", "period_end", "kind"),
    orderings=(Ordering("period_end", "period_start"),),
)

REVENUE_EVENTS = Table(
    "revenue_events",
    "A purchase, upsell, cross-sell or churn of a customer.",
    (
        _c("event_id", "text", "Unique id of the event.", required=True),
        _c("customer_id", "text", "The customer.", required=True),
        _c("occurred_at", "timestamp", "When it happened (UTC).", required=True),
        _c("amount", "float", "Revenue amount (0 for churn)."),
        _c(
            "kind",
            "text",
            "purchase, upsell, cross_sell or churn.",
            required=True,
            choices=REVENUE_KINDS,
        ),
        _c("conversation_id", "text", "The conversation it is attributed to, if known."),
    ),
    key=("event_id",),
    references=(Reference("conversation_id", "conversations", "conversation_id", optional=True),),
)

QUARANTINE = Table(
    "quarantine",
    "Every rejected input row, with where it came from, why, and the record as it was.",
    (
        _c("source", "text", "The file (or API batch) the row came from.", required=True),
        _c(
            "line",
            "int",
            "Line (CSV, JSON Lines, Excel) or record number (Parquet, JSON).",
            required=True,
        ),
        _c("table_name", "text", "The table the row was meant for.", required=True),
        _c("column_name", "text", "The column at fault, as named in the source."),
        _c("rule", "text", "Short code of the rule that failed.", required=True),
        _c("reason", "text", "What was wrong, in words.", required=True),
        _c("raw", "text", "The record as it was read, as JSON."),
        _c("quarantined_at", "timestamp", "When it was rejected (UTC).", required=True),
    ),
    key=("source", "line"),
    loadable=False,
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        CONVERSATIONS,
        MESSAGES,
        SURVEYS,
        AGENT_ACTIVITY,
        QA_REVIEWS,
        COSTS,
        REVENUE_EVENTS,
        QUARANTINE,
    )
}

# Tables loaded in this order within one load, so that references resolve.
LOAD_ORDER: tuple[str, ...] = tuple(t for t in TABLES if TABLES[t].loadable)


def table(name: str) -> Table:
    """The canonical table called ``name``, with a clear error for an unknown one."""
    try:
        return TABLES[name]
    except KeyError:
        known = ", ".join(LOAD_ORDER)
        raise KeyError(f"unknown table {name!r}; the tables are: {known}") from None


def markdown() -> str:
    """The canonical tables as Markdown (docs/schema.md is this, kept in sync by a test)."""
    lines = [
        "# The canonical tables",
        "",
        "Generated from `src/supportkpi/schema.py`; every timestamp is stored in UTC.",
        "",
    ]
    for spec in TABLES.values():
        lines += [
            f"## `{spec.name}`",
            "",
            spec.doc,
            "",
            f"Key: {', '.join(f'`{k}`' for k in spec.key)}."
            + (
                " Loaded from files and the API."
                if spec.loadable
                else " Written by the loader, never loaded."
            ),
            "",
            "| column | type | required | meaning |",
            "|---|---|---|---|",
        ]
        for col in spec.columns:
            allowed = f" One of: {', '.join(col.choices)}." if col.choices else ""
            lines.append(
                f"| `{col.name}` | {col.kind} | {'yes' if col.required else ''} | "
                f"{col.doc}{allowed} |"
            )
        lines.append("")
    return "\n".join(lines)
