"""The FastAPI application: routes, JSON errors and security headers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from supportkpi import __version__
from supportkpi.analysis.query import QueryError
from supportkpi.api import (
    alerting,
    background,
    drilldown,
    reads,
    records,
    review,
    scheduling,
    web,
    webhooks,
    workforce,
)
from supportkpi.api.cache import AnswerCache
from supportkpi.api.service import DEFAULT_MAX_BODY, Service
from supportkpi.config import Config, ConfigError
from supportkpi.store.access import AccessError, TokenStore
from supportkpi.store.store import Store

log = logging.getLogger("supportkpi.api")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def create_app(
    store: Store,
    config: Config | None = None,
    tokens: TokenStore | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    alert_every: float | None = None,
    schedule_every: float | None = None,
    warm: bool = False,
) -> FastAPI:
    """The app over ``store``. ``tokens=None`` serves without authentication;
    ``alert_every`` (seconds) checks the config's alert rules that often while serving,
    ``schedule_every`` runs its schedules that often, and ``warm`` answers the dashboard's
    first view at start and after every load (:mod:`supportkpi.api.warmup`)."""
    jobs: list[background.Job] = []
    if alert_every:
        jobs.append(("alerts", alert_every, alerting.check_once))
    if schedule_every:
        jobs.append(("schedules", schedule_every, scheduling.run_once))
    app = FastAPI(
        lifespan=background.lifespan(jobs, warm) if jobs or warm else None,
        title="supportkpi",
        version=__version__,
        description="Customer-support KPIs per vendor, team, agent and channel: "
        "ingestion, reports, SLAs and the live view. Send 'Authorization: Bearer <token>'.",
        # served by api/web.py to token holders, as every other read is
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = Service(store, config or Config(), tokens, max_body)
    app.state.answers = AnswerCache()
    for router in (
        reads.router,
        drilldown.router,
        review.router,
        workforce.router,
        records.router,
        webhooks.router,
        web.router,
    ):
        app.include_router(router)
    _errors(app)

    @app.middleware("http")
    async def headers(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        if not request.url.path.startswith("/docs"):  # Swagger UI loads its own assets
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
        return response

    return app


def _error(status: int, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": message, "status": status}, status, headers=headers)


def _errors(app: FastAPI) -> None:
    """Every error as ``{"error": message, "status": code}``."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.url.path}; see /docs"
        return _error(exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = [
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in exc.errors()
        ]
        return _error(422, "; ".join(parts))

    @app.exception_handler(QueryError)
    @app.exception_handler(ConfigError)
    @app.exception_handler(AccessError)
    async def bad_query(request: Request, exc: Exception) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return _error(500, f"internal error ({type(exc).__name__}); the server log has more")
