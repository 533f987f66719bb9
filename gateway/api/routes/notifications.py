"""Recipients pull their own notifications over HTTP (an alternative to reading their AMQP queue):
cursor-paged, oldest first, until acknowledged. A key sees only the recipients in its scopes."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from gateway.api.deps import SessionsDep
from gateway.security.audit import record_access
from gateway.security.deps import RecipientDep
from gateway.security.principal import Principal
from gateway.security.tables import NotificationAck
from gateway.store import tables
from gateway.store.db import transaction

router = APIRouter(tags=["notifications"])


def _mine(principal: Principal) -> Any:
    clauses = []
    for kind, rid, role in principal.recipients():
        c = and_(tables.Notification.recipient_kind == kind, tables.Notification.recipient_id == rid)
        clauses.append(and_(c, tables.Notification.recipient_role == role) if role else c)
    return or_(*clauses)


def _cursor(created_at: datetime, notification_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{notification_id}".encode()).decode()


def _parse_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        when, nid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(when), uuid.UUID(nid)
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(status_code=422, detail="invalid cursor") from None


@router.get("/notifications")
def pull_notifications(
    request: Request,
    sessions: SessionsDep,
    principal: RecipientDep,
    cursor: str | None = Query(default=None, max_length=200),
    limit: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    acked = select(NotificationAck.notification_id).where(
        NotificationAck.recipient.in_({f"{k}.{i}" for k, i, _ in principal.recipients()})
    )
    query = (
        select(tables.Notification)
        .where(_mine(principal), tables.Notification.notification_id.not_in(acked))
        .order_by(tables.Notification.created_at, tables.Notification.notification_id)
        .limit(limit)
    )
    if cursor:
        when, nid = _parse_cursor(cursor)
        query = query.where(
            or_(
                tables.Notification.created_at > when,
                and_(tables.Notification.created_at == when, tables.Notification.notification_id > nid),
            )
        )
    with sessions() as s:
        rows = s.scalars(query).all()
        items = [r.body for r in rows]
        episodes = sorted({r.episode_id for r in rows})
        next_cursor = _cursor(rows[-1].created_at, rows[-1].notification_id) if len(rows) == limit else None
    for episode_id in episodes:
        record_access(
            sessions,
            principal=principal.id,
            role=principal.role,
            method="GET",
            path=request.url.path,
            status=200,
            action="notifications.pull",
            episode_id=episode_id,
        )
    return {"items": items, "next_cursor": next_cursor}


@router.post("/notifications/{notification_id}/ack")
def acknowledge(notification_id: uuid.UUID, sessions: SessionsDep, principal: RecipientDep) -> dict[str, str]:
    with sessions() as s:
        row = s.get(tables.Notification, notification_id)
        if row is None or not principal.may_read(row.recipient_kind, row.recipient_id, row.recipient_role):
            # Not yours and not found look the same: a key cannot probe other recipients' ids.
            raise HTTPException(status_code=404, detail="no such notification for this recipient")
        recipient = f"{row.recipient_kind}.{row.recipient_id}"
    try:
        with transaction(sessions) as s:
            s.add(
                NotificationAck(
                    notification_id=notification_id,
                    recipient=recipient,
                    principal=principal.id,
                    acked_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        pass  # acknowledging twice is harmless
    return {"status": "acknowledged"}
