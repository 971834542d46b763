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
        first = _most_telling(exc.errors())
        key = ".".join(str(p) for p in first["loc"] if not _branch(p)) or "(top level)"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise error(f"{what} {path}: {key}: {message}") from None


def _branch(part: object) -> bool:
    """A location part naming a branch of a union (``str``, ``Computed``), not a key."""
    return isinstance(part, str) and (part in ("str", "int", "float", "bool") or part[:1].isupper())


def _most_telling(errors: list[Any]) -> Any:
    """Of a union's errors, the one of the branch the value was meant for: a check of ours,
    then a table's own fields, before "should be a valid string"."""
    for wanted in ("value_error", "missing", "extra_forbidden"):
        for e in errors:
            if e["type"] == wanted:
                return e
    return errors[0]
