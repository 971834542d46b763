"""Reports kept on disk by shape, so a new process neither builds nor compiles them again.

A report whose dates are bound when it runs is built once per shape in a process
(:mod:`supportkpi.analysis.shapes`), but a process just started (a server restarted, a
command) builds every shape it answers: about a quarter of a second of CPU for the
dashboard's first page at any store size, on top of the statements themselves, and the
expressions are as costly to read back from a pickle as to build. What a run needs is only
the SQL, the schema of its rows and the names of the values it binds; they depend on nothing
but the shape key and the code, so they are kept beside the compiled SQL
(:mod:`supportkpi.analysis.kept_sql`: the same directory, rules and checks), under a name
made of both, and read back by any later process. The live strip's queries are kept the same
way (:mod:`supportkpi.analysis.live`).

- **Name:** a digest of the key written the same way in every process (:func:`name_of`)
  and of the code: the versions of Python, supportkpi and the libraries an expression is
  made of, the source of every supportkpi module as this process imported it, and the KPI
  and grain registries as they stand. In the key, a function of supportkpi's (a KPI's
  measure, made for a report or in the registry) stands for its module, name and code with
  the values it closes over; a class for its name; a settings model for its JSON. Anything
  whose code is not supportkpi's, Ibis's or Python's own (a KPI or grain registered by a
  program, a callable object of its own) makes the key unnameable, and nothing is kept: its
  code is not in the digest.
- **What:** the report's SQL, the schema of its rows (each type as Ibis writes it), the
  values it binds and the KPIs its grains could not compute (with why), as JSON: reading a
  file runs no code, and a file is only read from a directory of the user's own that no one
  else can write to, as for the SQL.
- **Never in the way:** a key that cannot be written down, a file that is not whole or not
  a report's: each is the same as no file, and the report is built as before.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import os
import pickle
import sys
import types
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import ibis
import ibis.expr.schema as sch
import pyarrow as pa
import pydantic

import supportkpi
from supportkpi.analysis import kept_sql
from supportkpi.kpis.grains import GRAINS
from supportkpi.kpis.registry import REGISTRY

__all__ = ["KIND", "SUFFIX", "Kept", "find", "keep", "name_of"]

SUFFIX = ".queries"
KIND = "built queries"
# where the classes and functions a key may hold come from: code in the digest, or Python's
_KNOWN = ("supportkpi", "ibis", "builtins", "datetime", "decimal", "collections", "functools")
# where supportkpi's own functions are written: the code the digest holds
_ROOT = Path(supportkpi.__file__).parent
_SOURCE = str(_ROOT) + os.sep
log = logging.getLogger(__name__)


class _Unnameable(Exception):
    """A part of a key whose meaning the digest cannot hold."""


def _stands_for(*parts: object) -> None:
    """What a function, class or settings model stands for in a key (never called: keys are
    written, not read back)."""
    raise TypeError("a key is not read back")


def _code(code: types.CodeType) -> tuple[object, ...]:
    consts = tuple(_code(c) if isinstance(c, types.CodeType) else c for c in code.co_consts)
    return code.co_firstlineno, code.co_code, code.co_names, consts


def _home(module: str | None) -> str:
    """``module``, when it is one whose code a key may stand on; else :class:`_Unnameable`."""
    root = (module or "").partition(".")[0]
    if root not in _KNOWN:
        raise _Unnameable(module)
    return module or ""


class _KeyPickler(pickle.Pickler):
    """Writes a key the same way in every process with the same code: every object in full
    (``fast``: no object written once and referred to after, which would depend on which
    equal objects are the same object), functions by their code."""

    def __init__(self, out: io.BytesIO) -> None:
        super().__init__(out, protocol=5)
        self.fast = True

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type):
            return _stands_for, (f"{_home(obj.__module__)}.{obj.__qualname__}",)
        if isinstance(obj, types.FunctionType) and obj is not _stands_for:
            if not obj.__code__.co_filename.startswith(_SOURCE):
                # its code is not in the digest (a wrapper of a program's own says it is of
                # the module it wraps: its code says where it is)
                raise _Unnameable(obj.__qualname__)
            try:
                cells = tuple(cell.cell_contents for cell in obj.__closure__ or ())
            except ValueError as exc:  # a cell not yet filled
                raise _Unnameable(obj.__qualname__) from exc
            return _stands_for, (
                obj.__module__,
                obj.__qualname__,
                _code(obj.__code__),
                obj.__defaults__,
                obj.__kwdefaults__,
                cells,
            )
        if isinstance(obj, functools._lru_cache_wrapper):
            return _stands_for, (obj.__wrapped__,)  # type: ignore[attr-defined]
        if isinstance(obj, pydantic.BaseModel):
            return _stands_for, (type(obj), obj.model_dump_json())
        _home(getattr(type(obj), "__module__", None))  # a class of code not in the digest
        return NotImplemented


def _written(thing: object) -> bytes:
    out = io.BytesIO()
    _KeyPickler(out).dump(thing)
    return out.getvalue()


def _code_digest() -> bytes | None:
    """What the compiled SQL stands on (:func:`kept_sql.code`: the versions of supportkpi,
    Ibis, sqlglot and DuckDB, the compiling modules' source), with the rest an expression is
    built from: Python's and the other libraries' versions and the source of every
    supportkpi module; None when a source cannot be read (nothing is kept)."""
    compiling = kept_sql.code()
    if compiling is None:
        return None
    digest = hashlib.blake2b(compiling, digest_size=20)
    versions = [sys.version, f"pyarrow {pa.__version__}", f"pydantic {pydantic.VERSION}"]
    digest.update("\n".join(versions).encode())
    try:
        for path in sorted(_ROOT.rglob("*.py")):
            digest.update(path.relative_to(_ROOT).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    except OSError:  # run from an archive or a frozen build
        return None
    return digest.digest()


# read as the modules are imported: a package upgraded under a running process must not have
# this process's queries kept under the new code's name
_CODE = _code_digest()
_REGISTRIES_SEEN: tuple[tuple[object, ...], bytes | None] = ((), None)
# ValueError: a cycle, which a key written in full cannot hold
_UNWRITABLE = (
    _Unnameable,
    pickle.PicklingError,
    TypeError,
    AttributeError,
    RecursionError,
    ValueError,
)


def _registries_digest() -> bytes | None:
    """The KPI and grain registries as they stand (a program may register its own), worked
    out again only when they changed; None when an entry cannot be named."""
    global _REGISTRIES_SEEN
    now = (*REGISTRY.items(), *GRAINS.items())
    seen, digest = _REGISTRIES_SEEN
    same = len(now) == len(seen)
    if same and all(a[0] == b[0] and a[1] is b[1] for a, b in zip(now, seen, strict=True)):
        return digest
    try:
        digest = hashlib.blake2b(_written(now), digest_size=20).digest()
    except _UNWRITABLE:
        digest = None
    _REGISTRIES_SEEN = (now, digest)
    return digest


def name_of(key: Hashable) -> str | None:
    """The name the queries built for ``key`` are kept under, or None when it cannot be
    named (a part of it cannot be written down, or the code cannot be read)."""
    registries = _registries_digest()
    if _CODE is None or registries is None:
        return None
    try:
        data = _written(key)
    except _UNWRITABLE:
        return None
    digest = hashlib.blake2b(_CODE + registries, digest_size=20)
    digest.update(data)
    return digest.hexdigest()


class Kept(NamedTuple):
    """Queries kept on disk: each query's SQL, the schema of its rows and the values it binds
    when it runs, and the KPIs the report's grains could not compute (with why)."""

    queries: tuple[tuple[str, sch.Schema, frozenset[str]], ...]
    missing: Mapping[str, str]


def find(key: Hashable) -> Kept | None:
    """The queries kept for ``key`` by this or an earlier process, or None."""
    name = name_of(key)
    data = kept_sql.read_kept(name, SUFFIX, KIND) if name else None
    if data is None:
        return None
    try:
        return _read(json.loads(data))
    except Exception:  # not a report's (the types are parsed by Ibis): built again
        log.debug("kept queries %s could not be read", name, exc_info=True)
        return None


def keep(key: Hashable, kept: Kept) -> None:
    """Keep ``kept`` for ``key``; nothing happens when the key cannot be named, a type
    cannot be written down or the file cannot be written."""
    name = name_of(key)
    if name is None:
        return
    queries = []
    for sql, schema, needed in kept.queries:
        types_ = {column: str(dtype) for column, dtype in schema.items()}
        try:
            if any(ibis.dtype(text) != schema[column] for column, text in types_.items()):
                return  # a type its text does not give back
        except Exception:  # a type Ibis cannot read back from its own text
            return
        queries.append({"sql": sql, "schema": list(types_.items()), "needed": sorted(needed)})
    data = {"queries": queries, "missing": dict(kept.missing)}
    kept_sql.write_kept(name, SUFFIX, KIND, json.dumps(data).encode())


def _read(data: dict[str, Any]) -> Kept | None:
    missing = data["missing"]
    if not isinstance(missing, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in missing.items()
    ):
        return None
    queries = []
    for query in data["queries"]:
        sql, needed = query["sql"], query["needed"]
        if not isinstance(sql, str) or not all(isinstance(n, str) for n in needed):
            return None
        schema = sch.Schema({str(column): ibis.dtype(text) for column, text in query["schema"]})
        queries.append((sql, schema, frozenset(needed)))
    return Kept(tuple(queries), missing)
