"""Mapping files for the exports people download from helpdesks (``load --preset NAME``)."""

from __future__ import annotations

from pathlib import Path

from supportkpi.sources.mapping import Mapping, MappingError, load_mapping

FOLDER = Path(__file__).parent


def names() -> list[str]:
    """The presets shipped with the package."""
    return sorted(p.stem for p in FOLDER.glob("*.toml"))


def describe(name: str) -> str:
    """The first comment line of a preset: what export it reads."""
    lines = path(name).read_text(encoding="utf-8").splitlines()
    return lines[0].lstrip("# ").strip() if lines else ""


def path(name: str) -> Path:
    """The file of a preset, or one clear error listing the presets."""
    file = FOLDER / f"{name}.toml"
    if not file.exists():
        raise MappingError(f"no preset {name!r}; the presets are: {', '.join(names())}")
    return file


def load_preset(name: str) -> Mapping:
    """The mapping of a preset."""
    return load_mapping(path(name)).named(f"preset {name}")
