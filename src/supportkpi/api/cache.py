"""Answers of the read routes, kept while the store's generation has not moved.

The dashboard asks the same questions on every view and every reload; an answer depends on
the route, its query parameters, what the caller may see (a vendor token sees only its own
vendor, so its vendor is part of the key; admins and viewers see the same) and the data,
which changes only when a load commits and raises the store's generation
(:mod:`supportkpi.store.generation`). An answer is reused only for the same route,
parameters, vendor scope and generation; the first request that sees a new generation drops
every older answer. The server may ask for some answers itself before anyone does
(:mod:`supportkpi.api.warmup`).

Thread-safe: requests may be answered concurrently. Two identical requests arriving together
compute the answer once; the second waits for the first.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response

from supportkpi.api.service import Service
from supportkpi.inflight import InFlight
from supportkpi.store import generation
from supportkpi.store.access import Principal, Role

DEFAULT_ENTRIES = 512
DEFAULT_BYTES = 256 * 1024 * 1024
Key = tuple[object, ...]

__all__ = ["AnswerCache", "Kept", "cached", "request_key"]


@dataclass(frozen=True)
class Kept:
    """A response as kept: body, status, media type and headers."""

    body: bytes
    status: int
    media_type: str | None
    headers: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, response: Response) -> Kept:
        """What to keep of ``response`` (its length is worked out again when it is sent)."""
        headers = tuple(
            (k, v) for k, v in response.headers.items() if k.lower() != "content-length"
        )
        return cls(bytes(response.body), response.status_code, response.media_type, headers)

    def response(self) -> Response:
        """A fresh response with the kept content."""
        return Response(self.body, self.status, dict(self.headers), self.media_type)


def request_key(request: Request, who: Principal) -> Key:
    """Route, query parameters in a canonical order, and what the caller may see: one
    vendor's data (a vendor token) or every vendor's (admins and viewers read the same)."""
    params = tuple(sorted(request.query_params.multi_items()))
    seen = ("vendor", who.vendor) if who.role is Role.VENDOR else ("every vendor", None)
    return (request.url.path, params, *seen)


class AnswerCache:
    """Responses by key and store generation, at most ``entries`` of them and ``max_bytes``
    of bodies, the least recently used dropped first. At most ``slots`` answers are computed
    at once (by default one per core): each is a whole aggregation that uses every core, so
    more at once only share the cores, and the first to finish waits for all the others (at
    10M conversations, a cold dashboard page of eight such answers took 23 s of CPU two at a
    time and 27 s all at once)."""

    def __init__(
        self,
        entries: int = DEFAULT_ENTRIES,
        max_bytes: int = DEFAULT_BYTES,
        slots: int | None = None,
    ) -> None:
        self.entries = entries
        self.max_bytes = max_bytes
        self._computing = threading.BoundedSemaphore(slots or len(os.sched_getaffinity(0)))
        self._flights: InFlight[Response] = InFlight()
        self._lock = self._flights.lock  # the kept answers' and the requests under way
        self._kept: OrderedDict[Key, Kept] = OrderedDict()
        self._size = 0
        self._generation: int | None = None
        self.hits = 0
        self.misses = 0

    def answer(self, key: Key, generation: int, compute: Callable[[], Response]) -> Response:
        """The kept answer for ``key`` at ``generation``, else ``compute()`` (kept when it
        succeeded: a 2xx answer)."""

        def lookup() -> tuple[bool, Response | None]:
            self._at(generation)
            found = self._kept.get(key)
            if found is None:
                return False, None
            self._kept.move_to_end(key)
            self.hits += 1
            return True, found.response()

        def work() -> Response:
            with self._lock:
                self.misses += 1
            with self._computing:
                response = compute()
            if 200 <= response.status_code < 300 and hasattr(response, "body"):
                self._keep(key, generation, Kept.of(response))
            return response

        # the same request being answered meanwhile: wait, and take its answer
        return self._flights.once(key, lookup, work)

    def clear(self) -> None:
        """Forget every answer."""
        with self._lock:
            self._kept.clear()
            self._size = 0

    def __len__(self) -> int:
        return len(self._kept)

    def _at(self, generation: int) -> None:
        """Drop every answer of another generation (hold the lock)."""
        if generation != self._generation:
            self._kept.clear()
            self._size = 0
            self._generation = generation

    def _keep(self, key: Key, generation: int, kept: Kept) -> None:
        if len(kept.body) > self.max_bytes // 4:
            return  # a very large export is not worth holding
        with self._lock:
            if generation != self._generation:
                return  # the data moved on while this was computed
            old = self._kept.pop(key, None)
            self._size -= len(old.body) if old else 0
            self._kept[key] = kept
            self._size += len(kept.body)
            while self._kept and (len(self._kept) > self.entries or self._size > self.max_bytes):
                _, dropped = self._kept.popitem(last=False)
                self._size -= len(dropped.body)


def cached(
    request: Request, svc: Service, who: Principal, compute: Callable[[], Response]
) -> Response:
    """The answer to ``request`` from the app's cache at the store's current generation, or
    ``compute()``'s (which then is kept)."""
    cache: AnswerCache = request.app.state.answers
    with svc.using_store() as store:
        now = generation.current(store)
    return cache.answer(request_key(request, who), now, compute)
