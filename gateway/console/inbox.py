"""A recipient's inbox: only the notifications its key's scopes name, each payload exactly as the
recipient's profile let it leave (the stored notification, nothing more), and acknowledgement through
the API's own route. Every view of a child's details is in the access audit."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import Response

from gateway.api.routes import notifications as api_notifications
from gateway.console.auth import FormDep, RecipientUser, Refused, audit
from gateway.console.render import page
from gateway.security.principal import Principal
from gateway.security.tables import NotificationAck
from gateway.store import tables

router = APIRouter(prefix="/console", include_in_schema=False)

INBOX_LIMIT = 200


@router.get("/inbox")
def inbox(
    request: Request, user: RecipientUser, show: str = Query(default="new", pattern="^(new|all)$")
) -> Response:
    principal = user.principal
    # The API's own filter (api/routes/notifications.py): a key sees only the recipients in its scopes.
    mine = api_notifications._mine(principal)
    with request.app.state.sessions() as s:
        rows = list(
            s.scalars(
                select(tables.Notification)
                .where(mine)
                .order_by(tables.Notification.created_at.desc())
                .limit(INBOX_LIMIT)
            )
        )
        acked = set(
            s.scalars(
                select(NotificationAck.notification_id).where(
                    NotificationAck.notification_id.in_([r.notification_id for r in rows])
                )
            )
        )
        items = [
            {"body": r.body, "acked": r.notification_id in acked, "id": r.notification_id}
            for r in rows
            if show == "all" or r.notification_id not in acked
        ]
    for episode_id in sorted({i["body"]["episode_id"] for i in items}):
        audit(request, principal, 200, "notifications.view", episode_id=uuid.UUID(episode_id))
    return page(request, "inbox.html", user, items=items, show=show)


def _own(s: Session, notification_id: uuid.UUID, principal: Principal) -> tuple[dict[str, Any], bool] | None:
    """The notification and whether it was acknowledged, if it is this recipient's; None otherwise."""
    row = s.get(tables.Notification, notification_id)
    if row is None or not principal.may_read(row.recipient_kind, row.recipient_id, row.recipient_role):
        return None
    acked = s.scalar(
        select(NotificationAck.id).where(NotificationAck.notification_id == notification_id).limit(1)
    )
    return dict(row.body), acked is not None


@router.get("/inbox/{notification_id}")
def inbox_item(
    notification_id: uuid.UUID, request: Request, user: RecipientUser, done: bool = False
) -> Response:
    with request.app.state.sessions() as s:
        found = _own(s, notification_id, user.principal)
    # Audited after the read session closes: SQLite allows one writer, and the audit writes.
    if found is None:
        # As on the API: not yours and not found look the same.
        audit(request, user.principal, 404, "refused", "console: no such notification for this recipient")
        raise Refused(404, "There is no such notification in your inbox.")
    body, acked = found
    audit(request, user.principal, 200, "notification.view", episode_id=uuid.UUID(body["episode_id"]))
    return page(request, "inbox_item.html", user, n=body, acked=acked, done=done)


@router.post("/inbox/{notification_id}/ack")
def inbox_ack(notification_id: uuid.UUID, request: Request, user: RecipientUser, _form: FormDep) -> Response:
    try:
        api_notifications.acknowledge(notification_id, request.app.state.sessions, user.principal)
    except HTTPException as exc:
        audit(request, user.principal, exc.status_code, "refused", "console: acknowledge refused")
        raise Refused(exc.status_code, "There is no such notification in your inbox.") from None
    audit(request, user.principal, 200, "notification.ack", detail=f"notification {notification_id}")
    return RedirectResponse(f"/console/inbox/{notification_id}?done=true", status_code=303)
