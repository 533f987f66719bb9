"""FastAPI dependencies: who is calling (401 when nobody or an invalid key), may they (403), and the
audit of both refusals. Keys are sent as ``Authorization: Bearer <key or JWT>`` (or ``X-API-Key``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.security.audit import record_access
from gateway.security.keys import KEY_PREFIX, verify_key
from gateway.security.principal import Principal
from gateway.store.db import transaction

bearer = HTTPBearer(auto_error=False, description="An API key (mgw_…) or an OAuth2 client-credentials JWT")


def _refuse(request: Request, status: int, why: str, principal: Principal | None = None) -> HTTPException:
    record_access(
        request.app.state.sessions,
        principal=principal.id if principal else "anonymous",
        role=principal.role if principal else None,
        method=request.method,
        path=request.url.path,
        status=status,
        action="refused",
        detail=why,
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status_code=status, detail=why, headers=headers)


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    token = credentials.credentials if credentials else request.headers.get("x-api-key")
    if not token:
        raise _refuse(request, 401, "authentication required")
    principal: Principal | None = None
    if token.startswith(KEY_PREFIX):
        with transaction(request.app.state.sessions) as s:
            principal = verify_key(s, token)
    elif request.app.state.jwt is not None:
        principal = request.app.state.jwt.verify(token)
    if principal is None:
        raise _refuse(request, 401, "invalid, expired or revoked credentials")
    if not request.app.state.ratelimit.allow(principal.id):
        raise HTTPException(status_code=429, detail="rate limit exceeded", headers={"Retry-After": "10"})
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_operator(request: Request, principal: PrincipalDep) -> Principal:
    if principal.role != "operator":
        raise _refuse(request, 403, "operator role required", principal)
    return principal


def require_recipient(request: Request, principal: PrincipalDep) -> Principal:
    if principal.role != "recipient" or not principal.recipients():
        raise _refuse(request, 403, "recipient role required", principal)
    return principal


def require_ingest(request: Request, system: str, instance: str, principal: PrincipalDep) -> Principal:
    if not principal.may_ingest(system, instance):
        raise _refuse(request, 403, f"this key may not ingest for {system}/{instance}"[:200], principal)
    return principal


OperatorDep = Annotated[Principal, Depends(require_operator)]
RecipientDep = Annotated[Principal, Depends(require_recipient)]
IngestPrincipalDep = Annotated[Principal, Depends(require_ingest)]
