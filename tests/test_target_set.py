"""One set of targets per vendor: its contract when it has one, else the general targets.
The report's ✓/✗, the story under the headline, ``sla``, the review and alerts all judge a
vendor by that set, and say which set it is. Hand-worked on the KPI fixture (tests/test_kpis)."""

from __future__ import annotations

from datetime import date

from supportkpi.analysis import render, views
from supportkpi.analysis.query import HEADLINE, report
from supportkpi.analysis.sla import legend, sla, standings, standings_of
from supportkpi.analysis.targets import GENERAL, held_to
from supportkpi.config import Config, TargetSpec, load_config
from supportkpi.store.store import Store
from tests.test_kpis import loaded  # noqa: F401 - the KPI fixture, reused

CONTRACT = Config(
    contracts={
        "acme": (
            TargetSpec(kpi="first_contact_resolution", op=">=", value=0.9),
            TargetSpec(kpi="abandonment_rate", op="<=", value=0.25),
            TargetSpec(kpi="agent_utilization", op="between", value=(0.80, 0.90)),
            TargetSpec(kpi="first_response_time", op="<=", value=60, channel="chat"),
        )
    }
)


def test_a_vendor_with_a_contract_is_held_to_it_alone():
    acme = held_to(CONTRACT, "acme")
    assert acme.name == "acme's contract" and len(acme.targets) == 4
    assert held_to(CONTRACT, "in-house").name == GENERAL
    assert held_to(CONTRACT, None).name == GENERAL
    assert all(t.source == "default" for t in held_to(CONTRACT, "in-house").targets)


def test_the_report_judges_each_vendor_by_its_own_set(loaded):  # noqa: F811
    rows = {
        r["vendor"]: r
        for r in report(
            loaded,
            ["first_contact_resolution", "abandonment_rate", "resolution_rate"],
            by=["vendor"],
            targets=True,
            config=CONTRACT,
        ).table.to_pylist()
    }
    # resolution rate is in the general targets (≥ 90 %), not in acme's contract
    assert rows["acme"]["resolution_rate_status"] == "no target"
    assert rows["acme"]["resolution_rate_target"] is None
    assert rows["in-house"]["resolution_rate_target"] == "≥ 90.0 %"
    assert rows["acme"]["abandonment_rate_target"] == "≤ 25.0 %"
    only_acme = report(
        loaded,
        ["resolution_rate"],
        by=[],
        filters={"vendor": ["acme"]},
        targets=True,
        config=CONTRACT,
    ).table.to_pylist()[0]
    assert only_acme["resolution_rate_status"] == "no target"


def test_story_sla_and_legend_count_the_same_set(loaded):  # noqa: F811
    judged = sla(loaded, CONTRACT)
    by_vendor = {s.vendor: s for s in standings(CONTRACT, judged)}
    acme = by_vendor["acme"]
    # FCR 1.0 ≥ 0.9 met; abandonment 1/3 > 0.25, utilization 0.778 < 0.80, chat FRT 90 s > 60
    assert (acme.targets, acme.met, len(acme.missed)) == (4, 1, 3)
    assert acme.held_to == "acme's contract"
    assert "First response time (chat)" in acme.missed
    assert acme.sentence().startswith("acme misses 3 of its 4 contract targets: ")
    assert by_vendor["in-house"].held_to == GENERAL
    assert by_vendor["in-house"].targets == len(held_to(CONTRACT, "in-house").targets)
    # the same count, independently: every sla row of acme that is not met
    rows = [r for r in judged.to_pylist() if r["vendor"] == "acme"]
    assert sum(r["status"] == "missed" for r in rows) == 3
    result = report(
        loaded, ["abandonment_rate", "csat"], by=["vendor"], targets=True, config=CONTRACT
    )
    lines = render.story(result, list(by_vendor.values()), legend(CONTRACT, ["acme", "in-house"]))
    assert lines[0] == (
        "✓ met, ✗ missed: acme against its contract; in-house against the general targets."
    )
    assert acme.sentence() in lines
    assert by_vendor["in-house"].sentence() in lines


def test_the_story_counts_from_the_headline_what_sla_counts(loaded):  # noqa: F811
    """The headline's story judges each vendor from the headline's own numbers, computing
    only what it lacks (acme's chat target, utilization): the same standings as ``sla``."""
    headline = report(loaded, list(HEADLINE), by=["vendor"], targets=True, config=CONTRACT)
    judged = standings(CONTRACT, sla(loaded, CONTRACT))
    assert standings_of(loaded, CONTRACT, headline) == judged
    # the chat target judged on the headline's values per channel, as the terminal shows them
    channels = views.channel_split(loaded, headline, config=CONTRACT)
    assert channels is not None and channels.group == ("vendor", "channel")
    assert standings_of(loaded, CONTRACT, headline, also=[channels]) == judged
    acme = next(s for s in judged if s.vendor == "acme")
    assert (acme.targets, acme.met, len(acme.missed)) == (4, 1, 3)
    # a headline narrowed to one vendor tells that vendor's standing alone
    only = report(
        loaded,
        list(HEADLINE),
        by=["vendor"],
        filters={"vendor": ["acme"]},
        targets=True,
        config=CONTRACT,
    )
    assert standings_of(loaded, CONTRACT, only) == [acme]


def test_the_demo_story_counts_what_sla_counts(small_demo):
    """On the demo, over a part of its range: the story's counts (and their order, worst
    first) are ``sla``'s."""
    db, config_path = small_demo
    config = load_config(config_path)
    start, end = date(2026, 7, 1), date(2026, 7, 31)
    with Store.open(db, read_only=True) as store:
        headline = report(
            store, list(HEADLINE), ["vendor"], None, start, end, config=config, targets=True
        )
        channels = views.channel_split(store, headline, start, end, config=config)
        folded = standings_of(store, config, headline, start, end, also=[channels])
        judged = standings(config, sla(store, config, None, None, start, end))
    assert folded == judged
    assert {s.vendor for s in folded} == {"atlas", "in-house", "northwind"}
    assert any(s.missed for s in folded)
