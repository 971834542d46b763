"""Real receivers on loopback ports for the alert tests: an HTTP endpoint that records the
JSON posted to it (and can be told to fail first), and an SMTP server (aiosmtpd) that records
the mail it accepts and checks a login."""

from __future__ import annotations

import json
import ssl
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.server import free_port


@dataclass
class Hook:
    """What the webhook receiver got, and how many requests it should still refuse."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0
    requests: int = 0


@contextmanager
def webhook_receiver(port: int | None = None, fail_first: int = 0) -> Iterator[Hook]:
    """An HTTP server on 127.0.0.1 recording each POSTed JSON body; the first ``fail_first``
    requests get a 500."""
    port = port or free_port()
    hook = Hook(f"http://127.0.0.1:{port}/hook", fail_next=fail_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hook.requests += 1
            if hook.fail_next > 0:
                hook.fail_next -= 1
                self.send_response(500)
                self.end_headers()
                return
            hook.received.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    """What the SMTP server accepted."""

    port: int
    messages: list[Message] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


@contextmanager
def smtp_server(
    port: int | None = None,
    user: str = "alerts",
    password: str = "s3cret",
    tls: str | None = None,
    context: ssl.SSLContext | None = None,
) -> Iterator[Mailbox]:
    """aiosmtpd on 127.0.0.1 requiring a login. ``tls`` = "starttls" requires STARTTLS
    before the login, "ssl" speaks TLS from the first byte (both with ``context``, the
    server's certificate); without, no TLS, as on a loopback."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    box = Mailbox(port or free_port())

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            user.encode(),
            password.encode(),
        )
        if ok:
            box.logins.append(user)
        return AuthResult(success=ok)

    # aiosmtpd counts only STARTTLS as TLS for its login rule; with TLS from the first byte
    # every command, the login included, is inside TLS anyway
    options: dict[str, Any] = {"auth_require_tls": tls == "starttls"}
    if tls == "starttls":
        options |= {"tls_context": context, "require_starttls": True}
    elif tls == "ssl":
        options |= {"ssl_context": context}
    with warnings.catch_warnings():  # login without TLS: fine on a loopback test server
        warnings.simplefilter("ignore", UserWarning)
        controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=box.port,
            authenticator=authenticator,
            auth_required=True,
            **options,
        )
        controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Certificates:
    """A certificate authority made for one test, and a server certificate for 127.0.0.1 and
    localhost signed by it: the CA file a client trusts and the server's SSL context."""

    ca_file: str
    server: ssl.SSLContext


def self_signed(folder: Path) -> Certificates:
    """A fresh CA (trustme, on the cryptography package) and its server certificate."""
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    issued.configure_cert(server)
    ca_file = folder / "test-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Certificates(str(ca_file), server)
