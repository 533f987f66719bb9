"""``POST /ingest/{system}/{instance}``: the raw body in, 202 with event ids once the broker confirmed."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.api.deps import IngestDep, SettingsDep
from gateway.ingest.service import PublishFailed, Rejected
from gateway.security.deps import IngestPrincipalDep

router = APIRouter(tags=["ingest"])


class Accepted(BaseModel):
    raw_input_id: UUID
    event_ids: list[UUID]


class Problem(BaseModel):
    error: str
    reason: str
    raw_input_id: UUID | None = None
    quarantine_id: UUID | None = None


async def _read_limited(request: Request, limit: int) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/ingest/{system}/{instance}",
    status_code=202,
    response_model=Accepted,
    responses={
        400: {"model": Problem},
        401: {"model": Problem},
        404: {"model": Problem},
        413: {"model": Problem},
        422: {"model": Problem},
        503: {"model": Problem},
    },
)
async def ingest(
    system: str,
    instance: str,
    request: Request,
    service: IngestDep,
    settings: SettingsDep,
    principal: IngestPrincipalDep,
) -> Accepted | JSONResponse:
    body = await _read_limited(request, settings.max_body_bytes)
    if body is None:
        return JSONResponse(
            status_code=413,
            content=Problem(
                error="too_large", reason=f"body exceeds {settings.max_body_bytes} bytes"
            ).model_dump(mode="json"),
        )
    from starlette.concurrency import run_in_threadpool  # the service blocks on the DB and broker confirms

    try:
        result = await run_in_threadpool(
            service.ingest,
            system,
            instance,
            body,
            content_type=request.headers.get("content-type"),
            filename=request.headers.get("x-filename"),
            headers=dict(request.headers),
            channel="http",
        )
    except Rejected as exc:
        return JSONResponse(
            status_code=exc.http_status,
            content=Problem(
                error=exc.code,
                reason=exc.reason,
                raw_input_id=exc.raw_input_id,
                quarantine_id=exc.quarantine_id,
            ).model_dump(mode="json"),
        )
    except PublishFailed as exc:
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": "5"},
            content=Problem(
                error="broker_unavailable",
                reason="stored but not yet accepted by the broker: send again",
                raw_input_id=exc.raw_input_id,
            ).model_dump(mode="json"),
        )
    return Accepted(raw_input_id=result.raw_input_id, event_ids=result.event_ids)
