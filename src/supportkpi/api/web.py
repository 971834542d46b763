"""The dashboard: its page and assets (plotly.js from Plotly's own package, served locally),
and signing in with a token for a session cookie; the API's description, to token holders,
with Swagger UI and ReDoc from the fastapi-offline package, served locally too: no CDN,
the documentation works offline."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from supportkpi.api.auth import COOKIE, Svc, principal
from supportkpi.api.service import SESSION_SECONDS
from supportkpi.store import generation

router = APIRouter()
WEB = Path(str(resources.files("supportkpi") / "web"))


def plotly_js() -> Path:
    """Plotly's bundled plotly.min.js, from the installed plotly package."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


DOCS_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")


def docs_asset(name: str) -> Path:
    """A file of Swagger UI or ReDoc, from the installed fastapi-offline package."""
    return Path(str(resources.files("fastapi_offline") / "static" / name))


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The dashboard page; it signs in and fetches its data from the API."""
    return FileResponse(WEB / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/static/{name}", include_in_schema=False)
def static(name: str) -> FileResponse:
    """The dashboard's own script and styles, and plotly.js."""
    if name == "plotly.min.js":
        return FileResponse(plotly_js(), headers={"Cache-Control": "max-age=86400"})
    if name in DOCS_ASSETS:
        return FileResponse(docs_asset(name), headers={"Cache-Control": "max-age=86400"})
    path = WEB / "static" / name
    if "/" in name or name.startswith(".") or not path.is_file():
        raise HTTPException(404, f"no file {name!r}")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})


@router.get("/health", include_in_schema=False)
def health(request: Request, svc: Svc) -> dict[str, Any]:
    """For load balancers and tests: the server is up, the store's generation (how many loads
    it has committed), where the warm-up of the dashboard's first view is
    (:mod:`supportkpi.api.warmup`), and how many answers are kept and were reused (hits) or
    computed (misses)."""
    warmer = getattr(request.app.state, "warmer", None)
    answers = request.app.state.answers
    with svc.using_store() as store:
        now = generation.current(store)
    return {
        "status": "ok",
        "generation": now,
        "warm": warmer.status() if warmer else {"state": "off"},
        "answers": {"kept": len(answers), "hits": answers.hits, "misses": answers.misses},
    }


@router.get("/openapi.json", include_in_schema=False, dependencies=[Depends(principal)])
def openapi(request: Request) -> JSONResponse:
    """The API's OpenAPI description (a token, or the dashboard's session, is needed)."""
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False, dependencies=[Depends(principal)])
def docs() -> HTMLResponse:
    """The API's interactive documentation (Swagger UI) over ``/openapi.json``, offline."""
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="supportkpi API",
        swagger_js_url="/static/swagger-ui-bundle.js",
        swagger_css_url="/static/swagger-ui.css",
        swagger_favicon_url="/static/favicon.svg",
        swagger_ui_parameters={"validatorUrl": None},  # no call to an outside validator
    )


@router.get("/redoc", include_in_schema=False, dependencies=[Depends(principal)])
def redoc() -> HTMLResponse:
    """The API's documentation as one page (ReDoc) over ``/openapi.json``, offline."""
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="supportkpi API",
        redoc_js_url="/static/redoc.standalone.js",
        redoc_favicon_url="/static/favicon.svg",
        with_google_fonts=False,
    )


@router.post("/v1/session", tags=["session"], summary="Sign in with a token")
def sign_in(
    request: Request,
    svc: Svc,
    token: Annotated[str, Body(embed=True, description="An access token.")],
) -> Response:
    """Checks the token and sets a secure, HTTP-only session cookie for the dashboard."""
    if svc.tokens is None:
        return JSONResponse({"role": "admin", "vendor": None, "auth": False})
    who = svc.tokens.check(token.strip())
    if who is None:
        raise HTTPException(401, "this token is not valid (unknown or revoked)")
    response = JSONResponse({"role": who.role.value, "vendor": who.vendor, "auth": True})
    response.set_cookie(
        COOKIE,
        svc.open_session(who),
        max_age=SESSION_SECONDS,
        httponly=True,
        secure=True,
        samesite="strict",
    )
    return response


@router.delete("/v1/session", tags=["session"], summary="Sign out")
def sign_out(request: Request, svc: Svc) -> Response:
    """Ends the session and clears its cookie."""
    session = request.cookies.get(COOKIE)
    if session:
        svc.close_session(session)
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE, httponly=True, secure=True, samesite="strict")
    return response
