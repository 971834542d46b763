"""The SLA view follows the channel and team filters as every other view does: each contract
target judged over the filtered conversations, targets scoped to another channel left out,
in the query service, the CLI and the HTTP API alike."""

from __future__ import annotations

import json

import duckdb
import pytest
from typer.testing import CliRunner

from supportkpi.analysis.query import report
from supportkpi.analysis.sla import sla
from supportkpi.cli import app
from supportkpi.config import load_config
from supportkpi.store.store import Store


def _csat_by_sql(db, vendor: str, channel: str) -> float:
    """Top-two-box share of the vendor's CSAT answers on one channel, in plain SQL over the
    raw tables (scores put on 1–5 first, as KPIS.md says)."""
    with duckdb.connect(str(db), read_only=True) as con:
        (share,) = con.execute(
            """
            SELECT avg(CASE WHEN 1 + (s.score - s.scale_min) * 4.0 / (s.scale_max - s.scale_min)
                                 >= 4 - 1e-9 THEN 1.0 ELSE 0.0 END)
            FROM surveys s JOIN conversations c USING (conversation_id)
            WHERE s.kind = 'csat' AND c.vendor = ? AND c.channel = ? AND s.score IS NOT NULL
            """,
            [vendor, channel],
        ).fetchone()
    return share


def test_sla_judges_each_target_over_the_filtered_conversations(small_demo):
    db, config_path = small_demo
    config = load_config(config_path)
    with Store.open(db, read_only=True) as store:
        email = sla(store, config, "northwind", filters={"channel": ["email"]}).to_pylist()
        chat = sla(store, config, "northwind", filters={"channel": ["chat"]}).to_pylist()
        whole = sla(store, config, "northwind").to_pylist()
        expected = report(
            store,
            ["csat"],
            ["vendor"],
            filters={"vendor": ["northwind"], "channel": ["email"]},
            config=config,
        ).table.to_pylist()[0]["csat"]
    kpis = lambda rows: sorted(r["kpi"] for r in rows)  # noqa: E731
    # the chat-only first response target has no place in an e-mail view
    assert kpis(whole) == kpis(chat)
    assert "first_response_time" not in kpis(email)
    assert kpis(email) == sorted(k for k in kpis(whole) if k != "first_response_time")
    csat = next(r for r in email if r["kpi"] == "csat")
    assert csat["achieved"] == pytest.approx(expected)
    assert csat["achieved"] == pytest.approx(_csat_by_sql(db, "northwind", "email"))
    assert csat["achieved"] != pytest.approx(
        next(r for r in whole if r["kpi"] == "csat")["achieved"]
    )
    frt = next(r for r in chat if r["kpi"] == "first_response_time")
    assert frt == next(r for r in whole if r["kpi"] == "first_response_time")


def test_the_cli_and_the_api_filter_the_sla_alike(small_demo, tmp_path):
    from tests.server import make_token, serving

    db, config_path = small_demo
    args = ["sla", "--db", str(db), "--config", str(config_path), "--format", "json"]
    shown = CliRunner().invoke(app, [*args, "--channel", "email"])
    assert shown.exit_code == 0, shown.output
    cli_rows = json.loads(shown.stdout)
    assert cli_rows and {r["scope"] for r in cli_rows} <= {"all", "channel email"}
    served = tmp_path / "served.duckdb"
    served.write_bytes(db.read_bytes())
    token = make_token(served, "viewer")
    with serving(served, "--config", config_path) as server, server.client(token) as http:
        answer = http.get("/v1/sla", params={"channel": "email"})
        assert answer.status_code == 200, answer.text
        api_rows = answer.json()
    key = lambda r: (r["vendor"], r["kpi"], r["scope"])  # noqa: E731
    assert sorted(map(key, api_rows)) == sorted(map(key, cli_rows))
    for ours, theirs in zip(sorted(api_rows, key=key), sorted(cli_rows, key=key), strict=True):
        assert ours["achieved"] == pytest.approx(theirs["achieved"])


def test_the_sla_view_without_kept_facts_reads_what_each_target_needs(demo_store):
    """With no kept facts for the settings (another follow-up window), a report with three
    grains on the facts computes them once into a table holding only the columns it reads. A
    target judges its KPI's main value alone, from a record that still builds every output
    of the KPI (the escalation rate's share of slow first responses reads the thresholds):
    the table holds those columns too, and each value is the report's."""
    store, _, config_path = demo_store
    settings = load_config(config_path).model_copy(update={"follow_up_days": 8})
    rows = sla(store, settings).to_pylist()
    escalations = {r["vendor"]: r["achieved"] for r in rows if r["kpi"] == "escalation_rate"}
    assert escalations
    expected = report(store, ["escalation_rate"], ["vendor"], config=settings).table.to_pylist()
    for row in expected:
        if row["vendor"] in escalations:
            assert escalations[row["vendor"]] == pytest.approx(row["escalation_rate"], rel=1e-9)
