"""Work done once for everyone who asks for it at the same time: the first caller for a key
does it, the others wait for it and then look again (the answer the first one kept, or, when
it kept none, work of their own)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar, cast

T = TypeVar("T")

__all__ = ["InFlight"]


class InFlight(Generic[T]):
    """The keys whose work is under way, and the callers waiting for it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held while looking up, so a miss and a start are one step
        self._pending: dict[Hashable, threading.Event] = {}

    def once(
        self, key: Hashable, lookup: Callable[[], tuple[bool, T | None]], work: Callable[[], T]
    ) -> T:
        """``lookup()`` (whether found, and what), run holding :attr:`lock`; when nothing is
        found and no one is at work on ``key``, ``work()``, run without it; when someone is,
        wait for them, then look again."""
        while True:
            with self.lock:
                found, value = lookup()
                if found:
                    return cast(T, value)
                waiting = self._pending.get(key)
                if waiting is None:
                    mine = self._pending[key] = threading.Event()
                    break
            waiting.wait()
        try:
            return work()
        finally:
            with self.lock:
                del self._pending[key]
            mine.set()
