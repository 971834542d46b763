"""What every route shares: the store, the settings, the tokens, and the writers' lock.

Each request works on a store of its own over the same database (a DuckDB cursor, or a
connection from a PostgreSQL store's pool whose statements time out), so a slow report never
holds up another request. Reads run side by side, each on the data as committed; requests
that write (loads, webhooks, alert checks) take the lock, so they come one at a time, and a
load's check of what a vendor owns and the load itself stay one step.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from supportkpi.config import Config
from supportkpi.store.access import Principal, TokenStore
from supportkpi.store.store import Store

SESSION_SECONDS = 12 * 3600
DEFAULT_MAX_BODY = 16 * 1024 * 1024


@dataclass
class Service:
    """The server's state; one per app."""

    store: Store
    config: Config
    tokens: TokenStore | None  # None: --no-auth, everyone is an admin
    max_body: int = DEFAULT_MAX_BODY
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: dict[str, tuple[str, float]] = field(default_factory=dict)

    @contextmanager
    def using_store(self, write: bool = False) -> Iterator[Store]:
        """A store for this request alone; with ``write``, also the writers' lock."""
        if write:
            with self.lock, self.store.session() as store:
                yield store
            return
        with self.store.session() as store:
            yield store

    def open_session(self, principal: Principal) -> str:
        """A new dashboard session for a signed-in token; the id goes in the cookie."""
        session = secrets.token_urlsafe(32)
        self.sessions[session] = (principal.id, time.monotonic() + SESSION_SECONDS)
        return session

    def session_principal(self, session: str) -> Principal | None:
        """The token behind a live session, if the session and the token are both valid."""
        found = self.sessions.get(session)
        if found is None or self.tokens is None:
            return None
        token_id, expires = found
        if time.monotonic() > expires:
            self.sessions.pop(session, None)
            return None
        return self.tokens.principal(token_id)

    def close_session(self, session: str) -> None:
        """Sign out."""
        self.sessions.pop(session, None)
