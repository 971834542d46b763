"""The one-way flow of the design, checked on the imports.

The package is a stack of layers, one folder each (plus the settings modules at the bottom
and the Python client at the top). A module may import its own layer and the layers *below*
it, never a layer above or a sibling on the same floor. Beyond the floors, the KPI and facts
layers stay backend-neutral (no engine driver), and the interfaces reach the data only through
the query and load services, never through grains, Ibis, the engine or the facts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "supportkpi"

# Floors from the bottom up; the layers on one floor do not import each other.
FLOORS: list[tuple[str, ...]] = [
    ("tomlfile", "demo", "vocabulary", "inflight"),
    ("config",),
    ("facts",),
    ("store", "kpis"),
    ("sources",),
    ("load",),
    ("analysis",),
    ("workforce",),
    # Documents and notices made from the query service and the workforce plans: the monthly
    # vendor review (HTML, PDF) and alerts with their delivery. Above analysis and workforce,
    # which they read; below the interfaces, which serve and schedule them.
    ("reports",),
    ("api",),
    ("cli", "client"),
]
FLOOR = {layer: level for level, layers in enumerate(FLOORS) for layer in layers}
# Folders without Python that the layers serve as package data.
DATA_ONLY = {"web"}

FORBIDDEN = {
    "facts": ("duckdb",),
    "kpis": ("duckdb",),
    "cli": (
        "supportkpi.kpis.grains",
        "ibis",
        "duckdb",
        "supportkpi.facts",
        "supportkpi.analysis.targets",
    ),
    "api": (
        "supportkpi.kpis.grains",
        "ibis",
        "duckdb",
        "supportkpi.facts",
        "supportkpi.analysis.targets",
    ),
    "client": ("supportkpi.kpis.grains", "ibis", "duckdb", "supportkpi.facts"),
    "reports": ("supportkpi.kpis.grains", "ibis", "duckdb", "supportkpi.facts"),
    "analysis/render.py": ("supportkpi.kpis.grains", "ibis", "duckdb", "supportkpi.store"),
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path.name}: relative import of {node.module}"
            base = node.module
            names.add(base)
            if base == "supportkpi":
                names |= {f"supportkpi.{a.name}" for a in node.names}
    return names


def _layer_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE) != Path("__init__.py"))


def test_every_module_belongs_to_a_layer():
    stray = {_layer_of(p) for p in _modules()} - set(FLOOR) - DATA_ONLY
    assert not stray, f"modules outside the stated layers: {sorted(stray)}"
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders - set(FLOOR) <= DATA_ONLY


@pytest.mark.parametrize("layer", sorted(FLOOR))
def test_layer_imports_only_layers_below(layer):
    files = [p for p in _modules() if _layer_of(p) == layer]
    assert files, f"layer {layer} has no modules"
    for file in files:
        for name in _imports(file):
            parts = name.split(".")
            if parts[0] != "supportkpi" or len(parts) < 2 or parts[1] == "__version__":
                continue
            target = parts[1]
            if target == layer:
                continue
            assert target in FLOOR, f"{file.relative_to(PACKAGE)} imports unknown {name}"
            assert FLOOR[target] < FLOOR[layer], (
                f"{file.relative_to(PACKAGE)} ({layer}, floor {FLOOR[layer]}) imports {name} "
                f"({target}, floor {FLOOR[target]}): only lower floors may be imported"
            )


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_layer_keeps_its_own_rules(part):
    target = PACKAGE / part
    files = (
        sorted(target.rglob("*.py"))
        if target.is_dir()
        else [target if target.suffix == ".py" else target.with_suffix(".py")]
    )
    assert files and all(f.exists() for f in files)
    for file in files:
        for name in _imports(file):
            for banned in FORBIDDEN[part]:
                assert not (name == banned or name.startswith(banned + ".")), (
                    f"{file.relative_to(PACKAGE)} imports {name}"
                )


def test_each_layer_says_what_it_may_import():
    for folder in sorted(set(FLOOR) - {"config", "tomlfile", "client", "vocabulary", "inflight"}):
        init = PACKAGE / folder / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "import" in doc.lower(), (
            f"{folder}/__init__.py: say what the layer may import"
        )
