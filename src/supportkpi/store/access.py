"""Access tokens and what each role may see and send.

Tokens live in a small JSON file beside the store (``supportkpi.tokens.json`` for
``supportkpi.duckdb``), beside the config for a store on a server (``supportkpi.tokens.json``
for ``supportkpi.toml``), or where ``$SUPPORTKPI_TOKENS`` or ``--tokens`` say, so they can be
created and revoked while the server runs. Only a SHA-256 digest of each token is kept: tokens
are 256 random bits, so a fast digest is as safe as a slow password hash and the check stays
cheap.

Roles: ``admin`` reads everything and may send records; ``viewer`` reads everything; ``vendor``
reads only its vendor's rows and may send only records of its vendor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from supportkpi.config import CONFIG_FILE, ENV_CONFIG

ENV_TOKENS = "SUPPORTKPI_TOKENS"
PREFIX = "skpi_"


class AccessError(ValueError):
    """A token request that cannot be carried out (unknown role, missing vendor…)."""


class Role(StrEnum):
    """What a token may do."""

    ADMIN = "admin"
    VIEWER = "viewer"
    VENDOR = "vendor"


@dataclass(frozen=True)
class Principal:
    """Who is asking: the token's id, name, role and, for a vendor token, its vendor."""

    id: str
    name: str
    role: Role
    vendor: str | None = None

    @property
    def may_write(self) -> bool:
        """Admins and vendors may send records; viewers only read."""
        return self.role in (Role.ADMIN, Role.VENDOR)


OPEN = Principal("open", "no authentication", Role.ADMIN)
"""The principal of every request when the server runs with ``--no-auth``."""


@dataclass(frozen=True)
class TokenRecord:
    """A stored token: never the token itself, only its digest."""

    id: str
    name: str
    role: str
    vendor: str | None
    digest: str
    created_at: str
    revoked_at: str | None = None


def tokens_path(
    db: str | None,
    explicit: str | os.PathLike[str] | None = None,
    config: str | os.PathLike[str] | None = None,
) -> Path:
    """The token file: ``explicit``, else ``$SUPPORTKPI_TOKENS``, else beside the store file,
    or for a store on a server (``postgresql://…``) beside the config file (``config``, else
    ``$SUPPORTKPI_CONFIG``, else ./supportkpi.toml): never a path made from a URL."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_TOKENS):
        return Path(os.environ[ENV_TOKENS])
    if db and "://" in db and not db.startswith("duckdb://"):
        settings = Path(config or os.environ.get(ENV_CONFIG) or CONFIG_FILE)
        return settings.with_suffix(".tokens.json")
    path = (db or "supportkpi.duckdb").removeprefix("duckdb:///").removeprefix("duckdb://")
    if path in ("", ":memory:"):
        raise AccessError(f"an in-memory store needs a token file: --tokens FILE or ${ENV_TOKENS}")
    return Path(path).with_suffix(".tokens.json")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    """The token file: create, list, revoke and check tokens. Re-read when it changes, so a
    running server sees tokens created or revoked by another process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._records: list[TokenRecord] = []

    def records(self) -> list[TokenRecord]:
        """Every token ever created, revoked ones included."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._stamp:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._records = [TokenRecord(**r) for r in data["tokens"]]
            self._stamp = stamp
        return list(self._records)

    def create(self, role: str, vendor: str | None = None, name: str | None = None) -> str:
        """A new token; the only time it is ever shown. Vendor tokens need their vendor."""
        try:
            kind = Role(role)
        except ValueError:
            raise AccessError(f"unknown role {role!r}; one of admin, viewer, vendor") from None
        if kind is Role.VENDOR and not vendor:
            raise AccessError("a vendor token needs --vendor NAME")
        if kind is not Role.VENDOR and vendor:
            raise AccessError(f"--vendor is only for vendor tokens, not {kind.value}")
        token = PREFIX + secrets.token_urlsafe(32)
        record = TokenRecord(
            id=secrets.token_hex(4),
            name=name or f"{kind.value}{' ' + vendor if vendor else ''}",
            role=kind.value,
            vendor=vendor,
            digest=_digest(token),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with self._locked():
            self._write([*self._read(), record])
        return token

    def revoke(self, token_id: str) -> TokenRecord:
        """Revoke a token by id (or name); it stops working at once, sessions included."""
        with self._locked():
            records = self._read()
            found = [r for r in records if token_id in (r.id, r.name) and r.revoked_at is None]
            if len(found) != 1:
                what = "no active token" if not found else "several active tokens"
                raise AccessError(f"{what} with id or name {token_id!r}; `token list` shows them")
            now = datetime.now(UTC).isoformat(timespec="seconds")
            self._write(
                [
                    TokenRecord(**{**asdict(r), "revoked_at": now}) if r is found[0] else r
                    for r in records
                ]
            )
        return found[0]

    def check(self, token: str) -> Principal | None:
        """The principal of a valid, unrevoked token; None otherwise."""
        digest = _digest(token)
        for r in self.records():
            if r.revoked_at is None and hmac.compare_digest(r.digest, digest):
                return Principal(r.id, r.name, Role(r.role), r.vendor)
        return None

    def principal(self, token_id: str) -> Principal | None:
        """The principal of an unrevoked token by id (for sessions)."""
        for r in self.records():
            if r.id == token_id and r.revoked_at is None:
                return Principal(r.id, r.name, Role(r.role), r.vendor)
        return None

    def _read(self) -> list[TokenRecord]:
        """The file as it is now, whatever was read before (call holding the lock)."""
        self._stamp = None
        return self.records()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the token file's lock: one change at a time, each on the latest file, so no
        creation is lost and a revocation is never overwritten by a concurrent creation."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        with open(lock, "a+b") as handle:
            _lock_file(handle)
            try:
                yield
            finally:
                _unlock_file(handle)

    def _write(self, records: list[TokenRecord]) -> None:
        """Replace the file atomically, readable by its owner only."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"tokens": [asdict(r) for r in records]}, indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


def _lock_file(handle: BinaryIO) -> None:
    """Block until this process holds the exclusive lock on ``handle``."""
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        while True:
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                return
            except OSError:
                continue
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)


def _unlock_file(handle: BinaryIO) -> None:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
