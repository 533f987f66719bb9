"""Liveness (process up; the one unauthenticated route) and readiness (database and broker reachable;
any valid key, so a probe needs a credential like everything else)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from gateway.api.deps import SessionsDep
from gateway.security.deps import PrincipalDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, sessions: SessionsDep, _: PrincipalDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with sessions() as s:
            s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports, never raises
        checks["database"] = type(exc).__name__
    checks["broker"] = "ok" if request.app.state.publisher.connected else "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(status_code=200 if ready else 503, content={"ready": ready, **checks})
