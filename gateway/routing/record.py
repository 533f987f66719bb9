"""Write routed notifications into the current transaction: the notification, its disclosure record
(the ICO data-sharing code's "what, to whom, when, why") and the outbox row that will carry it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.broker.topology import NOTIFICATIONS
from gateway.routing.router import Routed
from gateway.store import tables
from gateway.store.outbox import enqueue


def record_notifications(session: Session, routed: list[Routed], now: datetime) -> None:
    for r in routed:
        n = r.notification
        session.add(
            tables.Notification(
                notification_id=n.notification_id,
                episode_id=n.episode_id,
                event_id=n.event_id,
                created_at=n.created_at,
                due_by=n.due_by,
                recipient_kind=n.recipient.kind.value,
                recipient_id=n.recipient.id,
                recipient_role=n.recipient.role.value,
                routing_key=n.recipient.routing_key,
                kind=n.kind.value,
                rule_id=n.rule.id,
                profile=n.profile,
                body=n.model_dump(mode="json", by_alias=True, exclude_none=True),
            )
        )
        session.flush()  # the disclosure references the notification
        session.add(
            tables.Disclosure(
                notification_id=n.notification_id,
                episode_id=n.episode_id,
                recipient_kind=n.recipient.kind.value,
                recipient_id=n.recipient.id,
                recipient_role=n.recipient.role.value,
                fields=r.fields,
                profile=n.profile,
                rule_id=n.rule.id,
                cite=n.rule.cite,
                lawful_basis=n.lawful_basis,
                consent=r.consent,
                disclosed_at=now,
            )
        )
        enqueue(
            session,
            exchange=NOTIFICATIONS,
            routing_key=n.recipient.routing_key,
            message_id=str(n.notification_id),
            body=n.to_json(),
            headers={"x-episode-id": str(n.episode_id), "x-rule-id": n.rule.id},
            now=now,
        )
