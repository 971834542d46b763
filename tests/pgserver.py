"""A real PostgreSQL server the tests own: Debian's binaries, a fresh cluster in a temporary
directory, listening on a free loopback port, stopped when the tests end.

PostgreSQL refuses to run as root; as root (CI containers) the cluster belongs to the
unprivileged ``nobody`` and its programs run through ``runuser``. Where the binaries are
missing the Postgres tests fail in CI (``.ci/run`` installs them) and are skipped elsewhere.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

UNPRIVILEGED = "nobody"


def binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory, if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


def missing_reason() -> str | None:
    """Why no server can be started here, or None when one can."""
    if binaries() is None:
        return "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/initdb); .ci/run installs it"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL cannot be started as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class PgServer:
    """A running server: its port and a URL per database."""

    port: int
    bin: Path
    as_user: tuple[str, ...]

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        subprocess.run(
            [
                *self.as_user,
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                name,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self.url(name)


@contextmanager
def running() -> Iterator[PgServer]:
    """Initialise a cluster in a fresh temporary directory (under /tmp, which the
    unprivileged user can reach) and run it until the block ends; then remove it."""
    directory = Path(tempfile.mkdtemp(prefix="supportkpi-pg-"))
    try:
        with _cluster(directory) as server:
            yield server
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _cluster(directory: Path) -> Iterator[PgServer]:
    bin_dir = binaries()
    assert bin_dir is not None, missing_reason()
    as_user: tuple[str, ...] = ()
    if os.geteuid() == 0:
        as_user = ("runuser", "-u", UNPRIVILEGED, "--")
        shutil.chown(directory, UNPRIVILEGED)
        directory.chmod(0o700)
    data = directory / "data"
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
         "--no-sync", "-E", "UTF8", "--locale", "C"],
        check=True,
        capture_output=True,
        timeout=120,
        cwd=directory,
    )  # fmt: skip
    port = _free_port()
    log = directory / "postgres.log"
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
    )
    subprocess.run(
        [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
         "-w", "-t", "60", "start"],
        check=True,
        capture_output=True,
        timeout=90,
        cwd=directory,
    )  # fmt: skip
    try:
        _wait(port)
        yield PgServer(port, bin_dir, as_user)
    finally:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            cwd=directory,
        )


def _wait(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
