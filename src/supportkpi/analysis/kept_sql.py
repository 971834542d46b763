"""Compiled SQL kept on disk, so a new process does not compile it again.

Compiling a report's expression to SQL is the largest share of the first answers a new
process gives (a command, a server just started): about 0.5 s of a dashboard page's CPU at
any store size, where the same page costs 1 s when its SQL is already compiled. The SQL
depends on nothing but the expression (which holds the tables' names and schemas, the
store's vendors and settings, every filter) and on the code that compiles it, so it can be
kept under a name made of both and read back by any later process, whatever store it opens.

- **Name:** a digest of the expression on its tables' names (pickled: pickling writes every
  node and value of the expression, so two expressions with the same pickle are the same
  expression), of the compiler that compiles it (its class and dialect) and of the code:
  the versions of supportkpi, Ibis, sqlglot and DuckDB and the source of the modules that
  compile (:data:`COMPILER_MODULES`). An expression that pickles differently in another
  process (a set in another order) only misses and is compiled. An expression that reads
  rows made for one report (business-hour spans) is not kept.
- **Where:** ``$SUPPORTKPI_SQL_CACHE``, else ``sql`` in the user's cache directory for
  supportkpi as the system names it (``platformdirs``: ``$XDG_CACHE_HOME/supportkpi``, else
  ``~/.cache/supportkpi`` on Linux; ``~/Library/Caches/supportkpi`` on macOS; the local
  app data on Windows); ``SUPPORTKPI_SQL_CACHE=off`` keeps nothing. The directory
  must belong to the user running the process and be writable by no one else, and so must
  each file read (a plain file, not a link): the SQL in it is run on the store. One file
  per query (a few KB), written whole and then renamed into place, its header holding its
  name and a digest of its SQL; the least recently used are removed past :data:`KEEP`
  files. The reports kept by shape (:mod:`supportkpi.analysis.kept_queries`) are kept in
  the same directory, in files of their own, by the same functions (:func:`read_kept`,
  :func:`write_kept`).
- **Never in the way:** a directory that cannot be written or is not the user's own, a file
  that cannot be read, is not the user's own or whose SQL does not match its digest, a
  source that cannot be read: each is the same as no file, and the query is compiled as
  before.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import pickle
import stat
import tempfile
import time
from pathlib import Path

import duckdb
import ibis
import ibis.expr.types as ir
import platformdirs
import sqlglot

import supportkpi

__all__ = [
    "COMPILER_MODULES",
    "ENV",
    "KEEP",
    "code",
    "directory",
    "name_of",
    "read",
    "read_kept",
    "write",
    "write_kept",
]

ENV = "SUPPORTKPI_SQL_CACHE"
KEEP = 2000
STALE_PART_SECONDS = 3600
COMPILER_MODULES = (
    "supportkpi.store.duckdb_sql",
    "supportkpi.facts.bound",
    "supportkpi.analysis.compiled",
)
_OFF = {"off", "0", "false", "no", "none"}
_REFUSED: set[Path] = set()
log = logging.getLogger(__name__)
_SUFFIX = ".sql"
_KIND = "compiled query"


def directory() -> Path | None:
    """Where compiled SQL is to be kept, or None when it is not (``SUPPORTKPI_SQL_CACHE=off``,
    or no home directory to put it under)."""
    chosen = os.environ.get(ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in _OFF or not chosen.strip() else Path(chosen)
    try:
        return platformdirs.user_cache_path("supportkpi") / "sql"
    except (RuntimeError, KeyError):  # no home directory to be found
        return None


def code() -> bytes | None:
    """What the SQL depends on besides the expression and the compiler's class: versions and
    the compiling modules' source as this process imported them; None when a source cannot
    be read (nothing is kept)."""
    return _CODE


def _code() -> bytes | None:
    parts = [supportkpi.__version__, ibis.__version__, sqlglot.__version__, duckdb.__version__]
    for module in COMPILER_MODULES:
        found = importlib.util.find_spec(module)  # not imported here: one of them imports this
        source = found.origin if found else None
        try:
            parts.append(hashlib.sha256(Path(source or "").read_bytes()).hexdigest())
        except OSError:  # run from an archive or a frozen build: no source to tell versions apart
            return None
    return "\n".join(parts).encode()


# read as the modules are imported: a package upgraded under a running process must not have
# this process's SQL kept under the new code's name
_CODE = _code()


def _label(thing: object) -> str:
    """A class by its full name, anything else as text (a dialect is a class or a name)."""
    if isinstance(thing, type):
        return f"{thing.__module__}.{thing.__qualname__}"
    return str(thing)


def name_of(compiler: object, dialect: object, expr: ir.Table, *, materialized: bool) -> str | None:
    """The name the SQL of ``expr`` is kept under, as ``compiler`` compiles it for ``dialect``
    (with ``materialized`` common table expressions or not); None when it cannot be named
    (the expression cannot be pickled, or the compiling source cannot be read)."""
    source = code()
    if source is None:
        return None
    try:
        data = pickle.dumps(expr.unbind().op(), protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError, ValueError, RecursionError):
        return None
    digest = hashlib.blake2b(source, digest_size=20)
    for part in (_label(type(compiler)), _label(dialect), str(materialized)):
        digest.update(part.encode() + b"\0")
    digest.update(data)
    return digest.hexdigest()


def _checksum(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _header(kind: str, name: str, data: bytes) -> bytes:
    return f"-- supportkpi {kind} {name} {_checksum(data)}\n".encode()


def _private(found: os.stat_result) -> bool:
    """Whether what ``found`` describes is the user's own and no one else can write to it,
    where the system says (POSIX owners and modes; on Windows the mode only tells whether a
    file is read-only, and the user's own profile holds the cache directory)."""
    if not hasattr(os, "getuid"):
        return True
    return found.st_uid == os.getuid() and not found.st_mode & 0o022


def _own(where: Path) -> bool:
    """Whether ``where`` is a directory of this user's that no one else can write to; said
    once in the log when it is not."""
    try:
        found = where.stat()
    except OSError:
        return False
    if stat.S_ISDIR(found.st_mode) and _private(found):
        return True
    if where not in _REFUSED:
        _REFUSED.add(where)
        log.warning(
            "compiled SQL is not kept in %s: it is not a directory of this user's that no one "
            "else can write to (chmod go-w, or set %s)",
            where,
            ENV,
        )
    return False


def read(name: str) -> str | None:
    """The SQL kept under ``name``, or None (not kept, unreadable, not whole, or in a
    directory others can write to)."""
    data = read_kept(name, _SUFFIX, _KIND)
    try:
        return None if data is None else data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def write(name: str, sql: str) -> None:
    """Keep ``sql`` under ``name``: written to a file of its own and renamed into place, so a
    reader finds the whole query or none; nothing happens when it cannot be written."""
    write_kept(name, _SUFFIX, _KIND, sql.encode("utf-8"))


def read_kept(name: str, suffix: str, kind: str) -> bytes | None:
    """What is kept under ``name`` in the file ending in ``suffix`` whose header says
    ``kind``, or None (not kept, unreadable, not whole, not a plain file of the user's own
    that no one else can write to, or in a directory others can write to)."""
    where = directory()
    if where is None or not _own(where):
        return None
    path = where / f"{name}{suffix}"
    try:
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
        handle = os.open(path, flags)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as file:
        try:
            found = os.fstat(file.fileno())
            if not stat.S_ISREG(found.st_mode) or not _private(found):
                return None
            text = file.read()
        except OSError:
            return None
    header, _, data = text.partition(b"\n")
    if not data or header + b"\n" != _header(kind, name, data):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # used now: the last to be removed
    return data


def write_kept(name: str, suffix: str, kind: str, data: bytes) -> None:
    """Keep ``data`` under ``name`` in a file ending in ``suffix``, its header saying
    ``kind``: written to a file of its own and renamed into place, so a reader finds all of
    it or nothing; nothing happens when it cannot be written."""
    where = directory()
    if where is None:
        return
    try:
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not _own(where):
            return
        handle, part = tempfile.mkstemp(dir=where, prefix=f".{name}.", suffix=".part")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(_header(kind, name, data) + data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, where / f"{name}{suffix}")
        _prune(where, suffix)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(part)


def _prune(where: Path, suffix: str) -> None:
    """Remove the least recently used files ending in ``suffix`` past :data:`KEEP` (a tenth
    more at once, so pruning is rare), and parts a stopped process left behind."""
    for part in where.glob(".*.part"):
        with contextlib.suppress(OSError):
            if time.time() - part.stat().st_mtime > STALE_PART_SECONDS:
                part.unlink()
    kept = list(where.glob(f"*{suffix}"))
    if len(kept) <= KEEP:
        return

    def used(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    for path in sorted(kept, key=used)[: len(kept) - KEEP + KEEP // 10]:
        path.unlink(missing_ok=True)
