"""Compiled SQL kept on disk, so a new process does not compile it again.

Compiling a report's expression to SQL is the largest share of the first answers a new
process gives (a command, a server just started): about 0.5 s of a dashboard page's CPU at
any store size, where the same page costs 1 s when its SQL is already compiled. The SQL
depends on nothing but the expression (which holds the tables' names and schemas, the
store's vendors and settings, every filter) and on the code that compiles it, so it can be
kept under a name made of both and read back by any later process, whatever store it opens.

- **Name:** a digest of the expression, pickled (pickling writes every node and value of
  the expression, so two expressions with the same pickle are the same expression), and of
  the compiler: the versions of supportkpi, Ibis, sqlglot and DuckDB and the source of the
  modules that compile (:data:`COMPILER_MODULES`). An expression that pickles differently
  in another process (a set in another order) only misses and is compiled.
- **Where:** ``$SUPPORTKPI_SQL_CACHE``, else ``$XDG_CACHE_HOME/supportkpi/sql``, else
  ``~/.cache/supportkpi/sql``; ``SUPPORTKPI_SQL_CACHE=off`` keeps nothing. One file per
  query (a few KB), written whole or not at all; the least recently used are removed past
  :data:`KEEP` files.
- **Never in the way:** a directory that cannot be written, a file that cannot be read or
  does not start with its own name is the same as no file: the query is compiled as before.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import os
import pickle
import threading
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import sqlglot

import supportkpi

__all__ = ["COMPILER_MODULES", "ENV", "KEEP", "directory", "name_of", "read", "write"]

ENV = "SUPPORTKPI_SQL_CACHE"
KEEP = 2000
COMPILER_MODULES = (
    "supportkpi.store.duckdb_sql",
    "supportkpi.facts.bound",
    "supportkpi.analysis.compiled",
)
_OFF = {"off", "0", "false", "no", "none"}
_SUFFIX = ".sql"


def directory() -> Path | None:
    """Where compiled SQL is kept, or None when it is not (``SUPPORTKPI_SQL_CACHE=off``, or
    no home directory to put it under)."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in _OFF or not chosen.strip() else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:  # no home directory to be found
            return None
    return Path(base) / "supportkpi" / "sql"


@functools.cache
def _compiler() -> bytes:
    """What the SQL depends on besides the expression: versions and the compiling source."""
    parts = [supportkpi.__version__, ibis.__version__, sqlglot.__version__, duckdb.__version__]
    for module in COMPILER_MODULES:
        source = importlib.import_module(module).__file__
        parts.append(hashlib.sha256(Path(source).read_bytes()).hexdigest() if source else module)
    return "\n".join(parts).encode()


def name_of(expr: ir.Table, *, materialized: bool = False) -> str | None:
    """The name ``expr``'s SQL is kept under (compiled with ``materialized`` common table
    expressions or not), or None when the expression cannot be pickled."""
    try:
        data = pickle.dumps(expr.op(), protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError):
        return None
    digest = hashlib.blake2b(_compiler(), digest_size=20)
    digest.update(b"materialized" if materialized else b"plain")
    digest.update(data)
    return digest.hexdigest()


def _header(name: str) -> str:
    return f"-- supportkpi compiled query {name}\n"


def read(name: str) -> str | None:
    """The SQL kept under ``name``, or None (not kept, unreadable, or not whole)."""
    where = directory()
    if where is None:
        return None
    path = where / f"{name}{_SUFFIX}"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    header = _header(name)
    if not text.startswith(header) or len(text) == len(header):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used now: the last to be removed
    return text[len(header) :]


def write(name: str, sql: str) -> None:
    """Keep ``sql`` under ``name``: written to a file of its own and renamed into place, so a
    reader finds the whole query or none; nothing happens when it cannot be written."""
    where = directory()
    if where is None:
        return
    part = where / f".{name}.{os.getpid()}.{threading.get_ident()}.part"
    try:
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        part.write_text(_header(name) + sql, encoding="utf-8")
        os.replace(part, where / f"{name}{_SUFFIX}")
        _prune(where)
    except OSError:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)


def _prune(where: Path) -> None:
    """Remove the least recently used files past :data:`KEEP` (a tenth more at once, so
    pruning is rare)."""
    kept = list(where.glob(f"*{_SUFFIX}"))
    if len(kept) <= KEEP:
        return

    def used(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    for path in sorted(kept, key=used)[: len(kept) - KEEP + KEEP // 10]:
        path.unlink(missing_ok=True)
