"""Reports kept on disk by shape, so a new process neither builds nor compiles them again.

A report whose dates are bound when it runs is built once per shape in a process
(:mod:`supportkpi.analysis.shapes`), but a process just started (a server restarted, a
command) builds every shape it answers: about a quarter of a second of CPU for the
dashboard's first page at any store size, on top of the statements themselves, and the
expressions are as costly to read back from a pickle as to build. What a run needs is only
the SQL, the schema of its rows and the names of the values it binds; they depend on nothing
but the shape key and the code, so they are kept beside the compiled SQL
(:mod:`supportkpi.analysis.kept_sql`: the same directory, rules and checks), under a name
made of both, and read back by any later process.

- **Name:** a digest of the shape key written deterministically (:func:`name_of`) and of the
  code: the versions of Python, supportkpi and the libraries an expression is made of, the
  source of every supportkpi module, and the KPI registry as it stands. In the key, a
  function (a KPI's measure, made for a report or in the registry) stands for its module,
  name and code with the values it closes over; a class for its name; a settings model for
  its JSON. A function from outside supportkpi (a KPI registered by a user's own code) makes
  the key unnameable and nothing is kept: its code is not in the digest.
- **What:** the report's SQL, the schema of its rows, the values it binds and the KPIs its
  grains could not compute (with why), pickled. Reading a file unpickles it, which is why
  only a directory of the user's own that no one else can write to is used, as for the SQL.
- **Never in the way:** a key that cannot be written down, a file that is not whole or
  does not unpickle to a report: each is the same as no file, and the report is built as
  before.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import io
import logging
import pickle
import sys
import types
from collections.abc import Hashable
from pathlib import Path
from typing import Any, NamedTuple

import ibis.expr.schema as sch
from pydantic import BaseModel

import supportkpi
from supportkpi.analysis import kept_sql
from supportkpi.kpis.registry import REGISTRY

__all__ = ["KIND", "SUFFIX", "Kept", "find", "keep", "name_of"]

SUFFIX = ".queries"
KIND = "built queries"
_LIBRARIES = ("ibis-framework", "sqlglot", "duckdb", "pyarrow", "pydantic")
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


class _KeyPickler(pickle.Pickler):
    """Pickles a key the same way in every process with the same code."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type):
            return _stands_for, (f"{obj.__module__}.{obj.__qualname__}",)
        if isinstance(obj, types.FunctionType) and obj is not _stands_for:
            module = obj.__module__ or ""
            if module != "supportkpi" and not module.startswith("supportkpi."):
                raise _Unnameable(f"{module}.{obj.__qualname__}")
            try:
                cells = tuple(cell.cell_contents for cell in obj.__closure__ or ())
            except ValueError as exc:  # a cell not yet filled
                raise _Unnameable(obj.__qualname__) from exc
            return _stands_for, (
                module,
                obj.__qualname__,
                _code(obj.__code__),
                obj.__defaults__,
                obj.__kwdefaults__,
                cells,
            )
        if isinstance(obj, BaseModel):
            return _stands_for, (type(obj), obj.model_dump_json())
        return NotImplemented


def _written(thing: object) -> bytes:
    out = io.BytesIO()
    _KeyPickler(out, protocol=5).dump(thing)
    return out.getvalue()


@functools.cache
def _code_digest() -> bytes | None:
    """Versions and the source of every supportkpi module; None when a source cannot be read
    (nothing is kept)."""
    digest = hashlib.blake2b(digest_size=20)
    parts = [sys.version, supportkpi.__version__]
    for library in _LIBRARIES:
        try:
            parts.append(f"{library} {importlib.metadata.version(library)}")
        except importlib.metadata.PackageNotFoundError:
            return None
    digest.update("\n".join(parts).encode())
    root = Path(supportkpi.__file__).parent
    try:
        for path in sorted(root.rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    except OSError:  # run from an archive or a frozen build
        return None
    return digest.digest()


_REGISTRY_SEEN: tuple[tuple[int, ...], bytes | None] = ((), None)


def _registry_digest() -> bytes | None:
    """The registry as it stands (a program may register KPIs of its own), worked out again
    only when it changed; None when a KPI in it cannot be named."""
    global _REGISTRY_SEEN
    now = tuple(map(id, REGISTRY.values()))
    seen, digest = _REGISTRY_SEEN
    if now == seen and digest is not None:
        return digest
    try:
        digest = hashlib.blake2b(_written(list(REGISTRY.items())), digest_size=20).digest()
    except (_Unnameable, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        digest = None
    _REGISTRY_SEEN = (now, digest)
    return digest


def name_of(key: Hashable) -> str | None:
    """The name the report built for shape ``key`` is kept under, or None when it cannot be
    named (a part of it cannot be written down, or the code cannot be read)."""
    code, registry = _code_digest(), _registry_digest()
    if code is None or registry is None:
        return None
    try:
        data = _written(key)
    except (_Unnameable, pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return None
    digest = hashlib.blake2b(code + registry, digest_size=20)
    digest.update(data)
    return digest.hexdigest()


class Kept(NamedTuple):
    """Queries kept on disk: each query's SQL, the schema of its rows and the values it binds
    when it runs, and the KPIs the report's grains could not compute (with why)."""

    queries: tuple[tuple[str, sch.Schema, frozenset[str]], ...]
    missing: dict[str, str]


def _whole(found: Kept) -> bool:
    shapes = (str, sch.Schema, frozenset)
    queries = isinstance(found.queries, tuple) and all(
        isinstance(q, tuple) and len(q) == len(shapes) and all(map(isinstance, q, shapes))
        for q in found.queries
    )
    return queries and isinstance(found.missing, dict)


def find(key: Hashable) -> Kept | None:
    """The queries kept for ``key`` by this or an earlier process, or None."""
    name = name_of(key)
    data = kept_sql.read_kept(name, SUFFIX, KIND) if name else None
    if data is None:
        return None
    try:
        found = Kept(*pickle.loads(data))  # a directory of the user's own only
    except Exception:  # a file of another version or damaged: built again
        log.debug("kept queries %s could not be read", name, exc_info=True)
        return None
    return found if _whole(found) else None


def keep(key: Hashable, kept: Kept) -> None:
    """Keep ``kept`` for ``key``; nothing happens when the key cannot be named or the file
    cannot be written."""
    name = name_of(key)
    if name is None:
        return
    try:
        data = pickle.dumps(tuple(kept), protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return
    kept_sql.write_kept(name, SUFFIX, KIND, data)
