"""Reading a TOML settings file into a Pydantic model, with errors that name the key."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


def read_model(path: Path, model: type[M], what: str, error: type[ValueError]) -> M:
    """``model`` from the TOML file at ``path``; ``error`` names the file (as ``what``), the
    key at fault and the problem."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{what} {path} is not valid TOML: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise error(f"{what} {path}: {key}: {first['msg']}") from None
