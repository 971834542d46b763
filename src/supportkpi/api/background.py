"""Work the server does on its own while it serves: checking alerts and running schedules,
each every so many seconds in a thread of its own, and warming the dashboard's first view,
for as long as the app runs."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from supportkpi.api.service import Service
from supportkpi.api.warmup import Warmer

log = logging.getLogger("supportkpi.api")

Job = tuple[str, float, Callable[[Service], None]]  # name, seconds between runs, the work


def _loop(svc: Service, job: Job, stop: threading.Event) -> None:
    name, every, work = job
    while not stop.wait(every):
        try:
            work(svc)
        except Exception:  # a failed run must not end the loop; the next one tries again
            log.exception("the %s run failed", name)


def lifespan(jobs: Sequence[Job], warm: bool = False) -> Any:
    """A FastAPI lifespan running each job every so many seconds while the app serves, and
    with ``warm``, the dashboard's warm-up (:mod:`supportkpi.api.warmup`, its state kept as
    ``app.state.warmer``)."""

    @asynccontextmanager
    async def running(app: Any) -> AsyncIterator[None]:
        stop = threading.Event()
        threads = [
            threading.Thread(
                target=_loop, args=(app.state.service, job, stop), name=job[0], daemon=True
            )
            for job in jobs
        ]
        if warm:
            app.state.warmer = Warmer(app)
            threads.append(
                threading.Thread(target=app.state.warmer.run, args=(stop,), name="warm-up")
            )
        for thread in threads:
            thread.daemon = True
            thread.start()
        try:
            yield
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)

    return running
