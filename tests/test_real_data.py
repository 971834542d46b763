"""Real public data (../shared/data): nothing handed to the loader is lost."""

from __future__ import annotations

import csv
import gzip
import statistics
from datetime import UTC, datetime

import pytest

from supportkpi.analysis.query import report
from supportkpi.analysis.sla import sla
from supportkpi.config import Config
from supportkpi.load.ingest import load
from supportkpi.sources.presets import load_preset
from supportkpi.store.store import Store
from tests.conftest import shared_data


def test_servicenow_incident_log_loads_whole_through_a_mapping(store):
    path = shared_data("incidents/incident_event_log.csv.gz")
    with gzip.open(path, "rt") as f:
        events = sum(1 for _ in f) - 1
    mapping = load_preset("servicenow-incidents")
    summary = load(store, [path], mapping=mapping)
    loaded = summary.tables["conversations"].new
    assert events == 141_712
    assert loaded == 24_918
    # every row accounted for: the earlier updates of an incident are superseded, not broken
    assert summary.quarantined == {}
    assert summary.files[0].left_out == {
        'earlier rows of the same conversation_id, superseded by its last (keep = "last")': (
            events - loaded
        )
    }
    # The last update of an incident is kept: 0000047 began in group 70 and was reassigned
    # once, to group 24, before it was resolved on 1 March and closed on 6 March.
    assert store.execute(
        "SELECT channel, team, agent_id, transfers, created_at, resolved_at, closed_at, vendor "
        "FROM conversations WHERE conversation_id = '0000047'"
    ) == [
        (
            "voice",
            "24",
            "89",
            1,
            datetime(2016, 2, 29, 4, 40, tzinfo=UTC),
            datetime(2016, 3, 1, 9, 52, tzinfo=UTC),
            datetime(2016, 3, 6, 10, 0, tzinfo=UTC),
            "in-house",
        )
    ]
    assert store.execute("SELECT count(*) FROM conversations WHERE channel IS NULL") == [(0,)]


# ------------------------------------------------------------ reconciliation with the raw file


@pytest.fixture(scope="module")
def servicenow(tmp_path_factory):
    """The incident log loaded through its mapping, and each incident's last row read from
    the raw file in plain Python, as the independent truth."""
    path = shared_data("incidents/incident_event_log.csv.gz")
    with gzip.open(path, "rt", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        last: dict[str, dict[str, str]] = {}
        for row in reader:  # later rows of an incident supersede earlier ones
            last[row[0]] = dict(zip(header, row, strict=False))  # first 'category' is kept
    store = Store.open(tmp_path_factory.mktemp("servicenow") / "store.duckdb")
    load(store, [path], mapping=load_preset("servicenow-incidents"))
    yield store, list(last.values())
    store.close()


def _when(text: str) -> datetime:
    return datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=UTC)


def _p90(values: list[float]) -> float:
    """Linear interpolation between order statistics, position (n − 1) × 0.9."""
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def test_servicenow_kpis_reconcile_with_the_raw_file(servicenow):
    store, incidents = servicenow
    known = [i for i in incidents if i["resolved_at"] != "?"]
    hours = [(_when(i["resolved_at"]) - _when(i["opened_at"])).total_seconds() for i in known]
    # handled: an assigned agent with a resolution (the log has no first replies);
    # abandoned: neither answered nor resolved, nothing says who ended it
    handled = [i for i in known if i["assigned_to"] != "?"]
    unresolved = [i for i in incidents if i["resolved_at"] == "?"]
    verdicts = [i["made_sla"] for i in incidents if i["made_sla"] in ("true", "false")]
    kpis = [
        "chat_volume",
        "resolution_time",
        "reopen_rate",
        "transfer_rate",
        "abandonment_rate",
        "source_sla_attainment",
    ]
    result = report(store, kpis, by=())
    row = result.table.to_pylist()[0]
    assert row["chat_volume"] == len(incidents) == 24_918
    assert row["chat_volume_resolved"] == len(known) == 23_362
    assert row["chat_volume_handled"] == len(handled)
    assert row["resolution_time"] == pytest.approx(statistics.fmean(hours))
    assert row["resolution_time_median"] == pytest.approx(statistics.median(hours))
    assert row["resolution_time_p90"] == pytest.approx(_p90(hours))
    reopened = [i for i in known if i["reopen_count"] not in ("?", "0")]
    assert row["reopen_rate"] == pytest.approx(len(reopened) / len(known))
    moved = [i for i in handled if i["reassignment_count"] not in ("?", "0")]
    assert row["transfer_rate"] == pytest.approx(len(moved) / len(handled))
    # a resolved incident is never abandoned
    assert row["abandonment_rate"] == pytest.approx(len(unresolved) / len(incidents))
    assert row["abandonment_rate"] < 0.07
    met = verdicts.count("true")
    assert row["source_sla_attainment"] == pytest.approx(met / len(verdicts))
    assert not {"transfer_rate", "abandonment_rate", "source_sla_attainment"} & set(result.missing)


def test_servicenow_sla_lists_the_source_verdict_beside_our_targets(servicenow):
    store, incidents = servicenow
    listed = {r["kpi"]: r for r in sla(store, Config()).to_pylist()}
    source = listed["source_sla_attainment"]
    verdicts = [i["made_sla"] for i in incidents if i["made_sla"] in ("true", "false")]
    assert source["achieved"] == pytest.approx(verdicts.count("true") / len(verdicts))
    assert source["status"] == "reported"
    assert listed["resolution_rate"]["status"] == "missing"  # no first replies to tell it by
