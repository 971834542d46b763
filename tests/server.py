"""A real ``supportkpi serve`` process on a loopback port, for the API and browser tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

CLI = Path(sys.executable).parent / "supportkpi"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running server: its base URL, its process and what it printed."""

    url: str
    process: subprocess.Popen
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def cli(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run the ``supportkpi`` command."""
    return subprocess.run(
        [str(CLI), *map(str, args)], capture_output=True, text=True, check=check, timeout=300
    )


def make_token(db: Path, role: str, vendor: str | None = None) -> str:
    """A new token from ``supportkpi token create``."""
    args = ["token", "create", "--role", role, "--db", db]
    if vendor:
        args += ["--vendor", vendor]
    return cli(*args).stdout.strip()


@contextmanager
def serving(db: Path, *args: str | Path) -> Iterator[Server]:
    """Start ``supportkpi serve --db db`` with ``args`` and wait until it answers. The
    dashboard's warm-up is off unless ``args`` has ``--warm``: a test counts what it asks."""
    port = free_port()
    if "--warm" not in args:
        args = (*args, "--no-warm")
    log = db.parent / f"serve-{port}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(CLI), "serve", "--db", str(db), "--port", str(port), *map(str, args)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(url, process, log)
        yield Server(url, process, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within 60 s: {log.read_text()}")
