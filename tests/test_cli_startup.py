"""`supportkpi --help` and `supportkpi <command> --help` start without the engine: the heavy
modules (Ibis, DuckDB, Arrow, pandas, the web server…) are imported inside the commands that
use them. Checked on the modules a help loads, in a fresh interpreter, not on a clock."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from supportkpi.cli import app
from supportkpi.cli._common import ENV_DB
from supportkpi.store.store import ENV_DB as STORE_ENV_DB

HEAVY = (
    "ibis",
    "duckdb",
    "pyarrow",
    "pandas",
    "polars",
    "numpy",
    "scipy",
    "statsmodels",
    "sqlglot",
    "fastapi",
    "uvicorn",
    "plotly",
    "openpyxl",
    "playwright",
    "supportkpi.analysis",
    "supportkpi.store",
    "supportkpi.load",
    "supportkpi.workforce",
    "supportkpi.reports",
)

PROBE = """
import json, sys
sys.argv = ["supportkpi", *json.loads(sys.argv[1])]
from supportkpi.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def loaded_by(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(args))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip(), done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))


def test_the_main_help_loads_no_heavy_module():
    assert heavy_in(loaded_by("--help")) == []
    assert heavy_in(loaded_by("--version")) == []


@pytest.mark.parametrize("command", sorted(c.name or "" for c in app.registered_commands))
def test_each_commands_help_loads_no_heavy_module(command):
    assert heavy_in(loaded_by(command, "--help")) == [], command


def test_the_probe_sees_heavy_modules_when_a_command_runs():
    # the same probe, running a command that needs the registry, does see Ibis: it can fail
    assert "ibis" in heavy_in(loaded_by("kpis"))


def test_the_help_names_the_stores_environment_variable():
    assert ENV_DB == STORE_ENV_DB
