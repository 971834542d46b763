"""Who is asking: a bearer token, or the dashboard's session cookie; and what they may do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from supportkpi.api.service import Service
from supportkpi.api.warmup import SCOPE_KEY
from supportkpi.store.access import OPEN, Principal, Role

COOKIE = "supportkpi_session"


def service(request: Request) -> Service:
    """The app's :class:`Service`."""
    return request.app.state.service


def principal(request: Request) -> Principal:
    """The caller, or 401. With ``--no-auth`` every caller is an admin."""
    svc = service(request)
    if svc.tokens is None:
        return OPEN
    inside = request.scope.get(SCOPE_KEY)  # set only by the server's own warm-up, in process
    if isinstance(inside, Principal):
        return inside
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if header:
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(401, "send the token as 'Authorization: Bearer <token>'")
        found = svc.tokens.check(token.strip())
        if found is None:
            raise HTTPException(401, "this token is not valid (unknown or revoked)")
        return found
    session = request.cookies.get(COOKIE)
    if session and (found := svc.session_principal(session)):
        return found
    query = request.query_params.get("token")
    if query and request.url.path.startswith("/v1/webhooks/"):  # platforms send no headers
        found = svc.tokens.check(query)
        if found is None:
            raise HTTPException(401, "this token is not valid (unknown or revoked)")
        return found
    raise HTTPException(401, "sign in: send 'Authorization: Bearer <token>'")


Caller = Annotated[Principal, Depends(principal)]
Svc = Annotated[Service, Depends(service)]


def writer(who: Caller) -> Principal:
    """The caller, if they may send records (admins and vendors), else 403."""
    if not who.may_write:
        raise HTTPException(403, f"a {who.role.value} token may read, not send records")
    return who


Writer = Annotated[Principal, Depends(writer)]


def scoped(who: Principal, filters: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The filters with a vendor token's vendor forced, whatever was asked."""
    out = {k: list(v) for k, v in filters.items() if v}
    if who.role is Role.VENDOR:
        assert who.vendor
        out["vendor"] = [who.vendor]
    return out


def scoped_vendor(who: Principal, vendor: str | None) -> str | None:
    """One vendor: a vendor token's own, whatever was asked."""
    return who.vendor if who.role is Role.VENDOR else vendor
