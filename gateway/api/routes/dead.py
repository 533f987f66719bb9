"""Dead letters of delivery and recipients with no channel (operators only).

- ``GET  /dead-letters?recipient=&status=``            what was given up on (``dead``) or had nowhere to
                                                        go (``no_channel``), oldest first
- ``GET  /dead-letters/{notification_id}``             every endpoint's state, every attempt's receipt,
                                                        the audit; ``?include_body=true`` adds the notice
- ``POST /dead-letters/{notification_id}/replay``      to its dead endpoints, or only ``endpoint``
- ``POST /dead-letters/replay``                        every dead letter of one ``recipient``
- ``GET  /delivery/no-channel``                        notifications for recipients the directory lacks

Each replay is audited twice: in ``delivery_audit`` (what was replayed, to which endpoint) and in the
access audit; the actor is the authenticated operator, never a name typed into the request.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gateway.api.deps import SessionsDep, SettingsDep
from gateway.delivery import store
from gateway.delivery.deadletters import ReplayError, list_dead, replay, replay_recipient, show
from gateway.delivery.directory import Directory, directory_from_settings
from gateway.security.audit import record_access
from gateway.security.deps import OperatorDep

router = APIRouter(tags=["delivery"])


class ReplayRequest(BaseModel):
    endpoint: str | None = Field(
        default=None, max_length=64, description="only this endpoint of the recipient"
    )
    note: str | None = Field(default=None, max_length=2000)


class ReplayRecipientRequest(ReplayRequest):
    recipient: str = Field(
        min_length=3,
        max_length=128,
        pattern=r"^[a-z]+\.[A-Za-z0-9-]+\.[a-z_]+$",
        description="routing key, e.g. school.123456.school_dsl",
    )


def _directory(request: Request, settings: Any) -> Directory:
    # Loaded on first use and kept: an operator who changed the directory restarts the API with it.
    directory = getattr(request.app.state, "directory", None)
    if directory is None:
        directory = directory_from_settings(settings)
        request.app.state.directory = directory
    return directory


@router.get("/dead-letters")
def list_dead_letters(
    sessions: SessionsDep,
    _: OperatorDep,
    recipient: str | None = None,
    status: str | None = Query(default=None, pattern="^(dead|no_channel)$"),
    limit: int = Query(default=500, ge=1, le=5000),
) -> list[dict[str, Any]]:
    with sessions() as s:
        return list_dead(s, recipient=recipient, status=status, limit=limit)


@router.get("/delivery/no-channel")
def list_no_channel(sessions: SessionsDep, _: OperatorDep) -> list[dict[str, Any]]:
    with sessions() as s:
        return list_dead(s, status=store.NO_CHANNEL)


@router.get("/dead-letters/{notification_id}")
def show_dead_letter(
    notification_id: uuid.UUID,
    request: Request,
    sessions: SessionsDep,
    principal: OperatorDep,
    include_body: bool = False,
) -> dict[str, Any]:
    with sessions() as s:
        found = show(s, notification_id, include_body=include_body)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no delivery record for {notification_id}")
    if include_body:  # a child's details were shown: the access audit records who saw them
        record_access(
            sessions,
            principal=principal.id,
            role=principal.role,
            method=request.method,
            path=request.url.path,
            status=200,
            action="delivery.show_body",
            detail=f"notification {notification_id}",
        )
    return found


def _audit(request: Request, sessions: Any, principal: Any, action: str, detail: str) -> None:
    record_access(
        sessions,
        principal=principal.id,
        role=principal.role,
        method=request.method,
        path=request.url.path,
        status=200,
        action=action,
        detail=detail,
    )


@router.post("/dead-letters/{notification_id}/replay")
async def replay_one(
    notification_id: uuid.UUID,
    body: ReplayRequest,
    request: Request,
    sessions: SessionsDep,
    settings: SettingsDep,
    principal: OperatorDep,
) -> dict[str, Any]:
    directory = _directory(request, settings)
    try:
        done = await run_in_threadpool(
            replay,
            sessions,
            request.app.state.publisher,
            directory,
            notification_id,
            actor=principal.id,
            now=datetime.now(UTC),
            endpoint=body.endpoint,
            note=body.note,
            confirm_timeout=settings.publish_confirm_timeout_s,
        )
    except ReplayError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    _audit(request, sessions, principal, "delivery.replay", f"notification {notification_id}")
    return {"replayed": [r.__dict__ for r in done]}


@router.post("/dead-letters/replay")
async def replay_for_recipient(
    body: ReplayRecipientRequest,
    request: Request,
    sessions: SessionsDep,
    settings: SettingsDep,
    principal: OperatorDep,
) -> dict[str, Any]:
    directory = _directory(request, settings)
    done, skipped = await run_in_threadpool(
        replay_recipient,
        sessions,
        request.app.state.publisher,
        directory,
        body.recipient,
        actor=principal.id,
        now=datetime.now(UTC),
        endpoint=body.endpoint,
        note=body.note,
        confirm_timeout=settings.publish_confirm_timeout_s,
    )
    _audit(request, sessions, principal, "delivery.replay_recipient", f"recipient {body.recipient}")
    return {
        "replayed": [r.__dict__ for r in done],
        "skipped": [{"notification_id": n, "why": why} for n, why in skipped],
    }
