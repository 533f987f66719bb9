"""Quarantine for operators: see why an input was refused, retry it after a mapping fix, or discard it
with a reason. Every action is audited."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select

from gateway.api.deps import IngestDep, SessionsDep
from gateway.ingest.service import PublishFailed, Rejected
from gateway.security.audit import record_access
from gateway.security.deps import OperatorDep
from gateway.store import tables
from gateway.store.db import transaction

router = APIRouter(tags=["quarantine"])


class Discard(BaseModel):
    reason: str = Field(min_length=3, max_length=2000)


def _view(q: tables.Quarantine) -> dict[str, Any]:
    return {
        "id": str(q.id),
        "raw_input_id": str(q.raw_input_id),
        "system": q.system,
        "instance": q.instance,
        "error": q.error_code,
        "reason": q.reason,
        "record_id": q.record_id,
        "created_at": q.created_at.isoformat(),
        "status": q.status,
        "resolved_at": q.resolved_at.isoformat() if q.resolved_at else None,
        "resolution": q.resolution,
    }


def _audit(
    request: Request, sessions: SessionsDep, status: int, action: str, detail: str | None = None
) -> None:
    p = request.state.principal
    record_access(
        sessions,
        principal=p.id,
        role=p.role,
        method=request.method,
        path=request.url.path,
        status=status,
        action=action,
        detail=detail,
    )


@router.get("/quarantine")
def list_quarantine(
    sessions: SessionsDep,
    _: OperatorDep,
    status: str = Query(default="open", max_length=16),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    with sessions() as s:
        rows = s.scalars(
            select(tables.Quarantine)
            .where(tables.Quarantine.status == status)
            .order_by(tables.Quarantine.created_at.desc())
            .limit(limit)
        ).all()
        return [_view(q) for q in rows]


@router.get("/quarantine/{item_id}")
def show_quarantine(
    item_id: uuid.UUID, request: Request, sessions: SessionsDep, _: OperatorDep, include_raw: bool = False
) -> dict[str, Any]:
    """The item and its raw input's metadata; ``include_raw`` adds the bytes (base64), audited."""
    with sessions() as s:
        q = s.get(tables.Quarantine, item_id)
        if q is None:
            raise HTTPException(status_code=404, detail="no such quarantine item")
        raw = s.get(tables.RawInput, q.raw_input_id)
        out = _view(q) | {
            "raw": {
                "content_type": raw.content_type,
                "filename": raw.filename,
                "size": raw.size,
                "sha256": raw.sha256,
                "channel": raw.channel,
                "received_at": raw.received_at.isoformat(),
            }
            if raw
            else None
        }
        if include_raw and raw is not None:
            out["raw"]["body_base64"] = base64.b64encode(raw.body).decode()
    _audit(request, sessions, 200, "quarantine.show_raw" if include_raw else "quarantine.show", str(item_id))
    return out


@router.post("/quarantine/{item_id}/retry")
async def retry_quarantine(
    item_id: uuid.UUID, request: Request, sessions: SessionsDep, ingest: IngestDep, _: OperatorDep
) -> dict[str, Any]:
    """Run the stored input through its adapter again (after a mapping fix)."""
    with sessions() as s:
        q = s.get(tables.Quarantine, item_id)
        if q is None:
            raise HTTPException(status_code=404, detail="no such quarantine item")
        if q.status != "open":
            raise HTTPException(status_code=409, detail=f"this item is already {q.status}")
        raw = s.get(tables.RawInput, q.raw_input_id)
        system, instance = q.system, q.instance
        body, content_type, filename = raw.body, raw.content_type, raw.filename  # type: ignore[union-attr]
    try:
        result = await run_in_threadpool(
            ingest.ingest,
            system,
            instance,
            body,
            content_type=content_type,
            filename=filename,
            channel="retry",
            retry_of=item_id,
        )
    except Rejected as exc:
        _resolve(
            sessions, item_id, "superseded", f"retried: still refused, now quarantine {exc.quarantine_id}"
        )
        _audit(request, sessions, 422, "quarantine.retry", str(item_id))
        raise HTTPException(
            status_code=422, detail={"reason": exc.reason, "quarantine_id": str(exc.quarantine_id)}
        ) from None
    except PublishFailed:
        raise HTTPException(status_code=503, detail="broker unavailable: try again") from None
    _resolve(sessions, item_id, "retried", f"accepted as raw input {result.raw_input_id}")
    _audit(request, sessions, 200, "quarantine.retry", str(item_id))
    return {
        "status": "accepted",
        "raw_input_id": str(result.raw_input_id),
        "event_ids": [str(e) for e in result.event_ids],
    }


@router.post("/quarantine/{item_id}/discard")
def discard_quarantine(
    item_id: uuid.UUID, body: Discard, request: Request, sessions: SessionsDep, _: OperatorDep
) -> dict[str, str]:
    with sessions() as s:
        q = s.get(tables.Quarantine, item_id)
        if q is None:
            raise HTTPException(status_code=404, detail="no such quarantine item")
        if q.status != "open":
            raise HTTPException(status_code=409, detail=f"this item is already {q.status}")
    _resolve(sessions, item_id, "discarded", body.reason)
    _audit(request, sessions, 200, "quarantine.discard", str(item_id))
    return {"status": "discarded"}


def _resolve(sessions: SessionsDep, item_id: uuid.UUID, status: str, resolution: str) -> None:
    with transaction(sessions) as s:
        q = s.get(tables.Quarantine, item_id)
        if q is not None:
            q.status, q.resolved_at, q.resolution = status, datetime.now(UTC), resolution
