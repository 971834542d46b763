"""Every table the CLI draws reads at 80 columns: no line wider than the terminal, nothing cut
short with an ellipsis, and no header word broken across lines because its column was made
narrower than the word."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from supportkpi.cli import app
from supportkpi.kpis import all_kpis
from supportkpi.vocabulary import DIMENSIONS, PERIODS

runner = CliRunner()
# words a narrow layout may print that a wide one shows otherwise (a KPI's parts as columns)
VOCABULARY = {"KPI", *DIMENSIONS, *PERIODS} | {
    w
    for k in all_kpis()
    for text in (k.label, *(o.meaning for o in k.outputs))
    for w in f"{k.label}: {text}".split()
}

COMMANDS = [
    ["report"],
    ["report", "--all"],
    ["report", "--by", "agent"],
    ["report", "--by", "vendor,month", "--kpi", "csat,first_response_time,cost_per_contact"],
    ["report", "--by", "hour_of_day", "--kpi", "chat_volume,service_level"],
    ["sla"],
    ["sla", "--period", "month", "--vendor", "northwind"],
    ["sla", "--breaches", "--per-target", "3"],
    ["compare"],
    ["escalations"],
    ["tables"],
    ["quarantine"],
    ["conversations", "--kpi", "first_response_time", "--limit", "5"],
    ["comments"],
    ["erlang", "--arrivals", "100", "--aht", "180", "--concurrency", "2", "--patience", "90"],
]


def header_words(lines: list[str]) -> list[str]:
    """The words of every table header (the lines between ┏ and ┡), as drawn."""
    words, inside = [], False
    for line in lines:
        if line.startswith("┏"):
            inside = True
        elif line.startswith("┡"):
            inside = False
        elif inside:
            words += [w for cell in line.split("┃")[1:-1] for w in cell.split()]
    return words


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_table_reads_at_80_columns(small_demo, args):
    db, config = small_demo
    extra = [] if args[0] == "erlang" else ["--db", str(db)]
    if args[0] not in ("erlang", "tables", "quarantine"):
        extra += ["--config", str(config)]
    result = runner.invoke(app, [*args, *extra], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # the same command on a wide terminal: every word it prints, whole
    wide_run = runner.invoke(app, [*args, *extra], env={"COLUMNS": "400"})
    whole = set(wide_run.stdout.split()) | VOCABULARY
    assert lines, "nothing printed"
    wide = [line for line in lines if len(line.rstrip()) > 80]
    assert not wide, wide[:3]
    drawn = [line for line in lines if line[:1] in "┃│"]
    box = "┏┓┗┛┡┩┃│└┘┌┐├┤┣┫╇┼"
    cropped = [line for line in lines if line[:1] in box and line.rstrip()[-1] not in box]
    assert not cropped, f"a table cropped at its right edge: {cropped[:2]}"
    assert not [line for line in drawn if "…" in line], "a value cut short"
    broken = [w for w in header_words(lines) if w not in whole]
    assert not broken, f"header words broken at 80 columns: {broken[:8]}"
