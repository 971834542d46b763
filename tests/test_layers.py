"""The one-way flow of the design, checked on the imports.

sources, kpis and store do not import each other; the interfaces (cli, render, client) reach
the data only through the query and load services, never through grains, Ibis or the engine.
The HTTP API is an interface like the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "supportkpi"

FORBIDDEN = {
    "sources": (
        "supportkpi.store",
        "supportkpi.kpis",
        "supportkpi.ingest",
        "supportkpi.query",
        "supportkpi.validate",
        "supportkpi.derive",
    ),
    "kpis": (
        "supportkpi.store",
        "supportkpi.kept",
        "supportkpi.sources",
        "supportkpi.ingest",
        "supportkpi.query",
        "supportkpi.validate",
        "duckdb",
    ),
    "store.py": (
        "supportkpi.sources",
        "supportkpi.kpis",
        "supportkpi.ingest",
        "supportkpi.query",
        "supportkpi.validate",
        "supportkpi.derive",
    ),
    "kept.py": (
        "supportkpi.sources",
        "supportkpi.kpis",
        "supportkpi.ingest",
        "supportkpi.query",
        "supportkpi.validate",
    ),
    "validate.py": ("supportkpi.store", "supportkpi.kpis", "supportkpi.query", "supportkpi.ingest"),
    "derive.py": (
        "supportkpi.store",
        "supportkpi.sources",
        "supportkpi.kpis",
        "supportkpi.query",
        "duckdb",
    ),
    "cli": ("supportkpi.kpis.grains", "ibis", "duckdb", "supportkpi.derive", "supportkpi.targets"),
    "render.py": ("supportkpi.kpis.grains", "ibis", "duckdb", "supportkpi.store"),
    "client.py": ("supportkpi.kpis.grains", "ibis", "duckdb"),
    "api": ("supportkpi.kpis.grains", "ibis", "duckdb", "supportkpi.derive", "supportkpi.targets"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_layer_does_not_reach_back(part):
    target = PACKAGE / part
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    assert files
    for file in files:
        for name in _imports(file):
            for banned in FORBIDDEN[part]:
                assert not (name == banned or name.startswith(banned + ".")), (
                    f"{file.relative_to(PACKAGE)} imports {name}"
                )
