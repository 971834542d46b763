"""Quality KPIs: the customer's view (KPIS.md, "Quality")."""

from __future__ import annotations

from supportkpi.kpis.registry import Direction, Family, Kpi, Output, Unit, register, share

Q = Family.QUALITY
SURVEYS = ("surveys", "conversations")
# Normalised scores are compared with a little slack so that e.g. 8 on 1–10 → 4.11 is not
# lost to rounding, and 4 on 1–5 (exactly 4.0) is a top-two-box answer.
EPS = 1e-9
BUCKETS = (("under_1m", None, 60), ("1_3m", 60, 180), ("3_10m", 180, 600), ("over_10m", 600, None))
BUCKET_LABELS = {
    "under_1m": "under 1 min",
    "1_3m": "1–3 min",
    "3_10m": "3–10 min",
    "over_10m": "over 10 min",
}


def _csat(t):
    return share(t.csat_score >= 4 - EPS, t.csat_score.notnull())


def _bucket(t, low: float | None, high: float | None):
    inside = t.frt_seconds.notnull()
    if low is not None:
        inside &= t.frt_seconds >= low
    if high is not None:
        inside &= t.frt_seconds < high
    return share(t.csat_score >= 4 - EPS, t.csat_score.notnull() & inside)


def _nps(t):
    answered = t.nps_score.notnull()
    promoters = share(t.nps_score >= 9 - EPS, answered)
    detractors = share(t.nps_score <= 6 + EPS, answered)
    return {
        "nps": (promoters - detractors) * 100,
        "nps_promoters": promoters,
        "nps_passives": share((t.nps_score > 6 + EPS) & (t.nps_score < 9 - EPS), answered),
        "nps_detractors": detractors,
    }


register(
    Kpi(
        "csat",
        "CSAT",
        Unit.RATE,
        Direction.HIGHER,
        Q,
        "Share of CSAT answers in the top two boxes (4–5 on a 1–5 scale; other scales are "
        "normalised to 1–5 first).",
        "surveys",
        SURVEYS,
        lambda t: {"csat": _csat(t)},
        (Output("csat", Unit.RATE, "top-two-box share"),),
        qualitative=True,
        target="≥ 0.90",
        over="CSAT answers",
    ),
    Kpi(
        "csat_mean",
        "CSAT mean",
        Unit.SCORE,
        Direction.HIGHER,
        Q,
        "Mean CSAT answer on the 1–5 scale (other scales normalised).",
        "surveys",
        SURVEYS,
        lambda t: {"csat_mean": t.csat_score.mean()},
        (Output("csat_mean", Unit.SCORE, "mean, 1–5"),),
        qualitative=True,
        over="CSAT answers",
    ),
    Kpi(
        "nps",
        "NPS",
        Unit.SCORE,
        Direction.HIGHER,
        Q,
        "% promoters (9–10) − % detractors (0–6) of NPS answers, −100…100; also the shares of "
        "promoters, passives and detractors.",
        "surveys",
        SURVEYS,
        _nps,
        (
            Output("nps", Unit.SCORE, "−100…100"),
            Output("nps_promoters", Unit.RATE, "promoters"),
            Output("nps_passives", Unit.RATE, "passives"),
            Output("nps_detractors", Unit.RATE, "detractors"),
        ),
        qualitative=True,
        over="NPS answers",
    ),
    Kpi(
        "ces",
        "Customer effort",
        Unit.SCORE,
        Direction.LOWER,
        Q,
        "Mean Customer Effort Score on 1–7 (1 = very low effort; other scales normalised).",
        "surveys",
        SURVEYS,
        lambda t: {"ces": t.ces_score.mean()},
        (Output("ces", Unit.SCORE, "mean, 1–7"),),
        qualitative=True,
        over="CES answers",
    ),
    Kpi(
        "qa_score",
        "QA score",
        Unit.SCORE,
        Direction.HIGHER,
        Q,
        "Mean quality-assurance review score, 0–100.",
        "qa_reviews",
        ("qa_reviews", "conversations"),
        lambda t: {"qa_score": t.score.mean()},
        (Output("qa_score", Unit.SCORE, "mean, 0–100"),),
        qualitative=True,
        over="QA reviews",
    ),
    Kpi(
        "survey_response_rate",
        "Survey response rate",
        Unit.RATE,
        Direction.HIGHER,
        Q,
        "Handled conversations with at least one survey answer ÷ handled.",
        "conversations",
        ("conversations", "surveys"),
        lambda t: {"survey_response_rate": share(t.surveys_answered > 0, t.handled)},
        (Output("survey_response_rate", Unit.RATE, "share answered"),),
        qualitative=True,
        over="handled conversations",
    ),
    Kpi(
        "csat_by_response_bucket",
        "CSAT by first-response time",
        Unit.RATE,
        Direction.NONE,
        Q,
        "csat for conversations whose first response came in under 1 min, 1–3 min, 3–10 min, "
        "over 10 min.",
        "surveys",
        SURVEYS,
        lambda t: {
            f"csat_by_response_bucket_{name}": _bucket(t, lo, hi) for name, lo, hi in BUCKETS
        },
        tuple(
            Output(
                f"csat_by_response_bucket_{name}",
                Unit.RATE,
                f"csat, first response {BUCKET_LABELS[name]}",
            )
            for name, _, _ in BUCKETS
        ),
        qualitative=True,
        over="CSAT answers on conversations with a first response",
    ),
)
