"""Write routed notifications into the current transaction: the notification, its disclosure record
(the ICO data-sharing code's "what, to whom, when, why") and the outbox row that will carry it.

The disclosure row names the primary rule and cite, every contributing rule with its cite in
``rules``, and every lawful basis; the notification it points to also carries any disagreement between
rules in ``body.conflicts`` (see :func:`disclosure_record`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.broker.topology import NOTIFICATIONS as NOTIFICATIONS_EXCHANGE
from gateway.metrics import NOTIFICATIONS
from gateway.routing.merge import Routed
from gateway.store import pending, tables
from gateway.store.outbox import outbox_row


def record_notifications(session: Session, routed: list[Routed], now: datetime) -> None:
    """Add the rows of ``routed`` to the transaction's pending rows (the processor's: written with the
    rest of its batch), or write them now in one multi-row INSERT per table when there are none."""
    shared = pending.of(session)
    rows = shared if shared is not None else pending.PendingRows()
    for r in routed:
        n = r.notification
        NOTIFICATIONS.labels(n.recipient.kind.value, n.kind.value).inc()
        rows.notification_ids.add(n.notification_id)
        rows.add(
            tables.Notification,
            {
                "notification_id": n.notification_id,
                "episode_id": n.episode_id,
                "event_id": n.event_id,
                "created_at": n.created_at,
                "due_by": n.due_by,
                "recipient_kind": n.recipient.kind.value,
                "recipient_id": n.recipient.id,
                "recipient_role": n.recipient.role.value,
                "routing_key": n.recipient.routing_key,
                "kind": n.kind.value,
                "rule_id": n.rule.id,
                "profile": n.profile,
                "body": n.document(),
            },
        )
        rows.add(
            tables.Disclosure,
            {
                "notification_id": n.notification_id,
                "episode_id": n.episode_id,
                "recipient_kind": n.recipient.kind.value,
                "recipient_id": n.recipient.id,
                "recipient_role": n.recipient.role.value,
                "fields": r.fields,
                "profile": n.profile,
                "rule_id": n.rule.id,
                "cite": n.rule.cite,
                "rules": [c.model_dump(mode="json", exclude_none=True) for c in n.rules]
                or [n.rule.model_dump(mode="json")],
                "lawful_basis": n.lawful_basis,
                "consent": r.consent,
                "disclosed_at": now,
            },
        )
        rows.add(
            tables.Outbox,
            outbox_row(
                exchange=NOTIFICATIONS_EXCHANGE,
                routing_key=n.recipient.routing_key,
                message_id=str(n.notification_id),
                body=n.to_json(),
                headers={
                    "x-episode-id": str(n.episode_id),
                    "x-rule-id": n.rule.id,
                    "x-rule-ids": ",".join(r.id for r in n.rules) or n.rule.id,
                },
                now=now,
            ),
        )
    if shared is None and routed:
        rows.write(session)


def disclosure_record(session: Session, notification_id: uuid.UUID) -> dict[str, Any] | None:
    """The full ICO data-sharing record of one disclosure: fields sent, recipient, when, every rule id
    and cite that asked for it, the lawful bases and the consent position."""
    row = session.scalar(
        select(tables.Disclosure).where(tables.Disclosure.notification_id == notification_id)
    )
    note = session.get(tables.Notification, notification_id)
    if row is None or note is None:
        return None
    rules = list(row.rules or []) or note.body.get("rules") or [{"id": row.rule_id, "cite": row.cite}]
    return {
        "notification_id": str(notification_id),
        "episode_id": str(row.episode_id),
        "recipient": {"kind": row.recipient_kind, "id": row.recipient_id, "role": row.recipient_role},
        "disclosed_at": row.disclosed_at.isoformat(),
        "fields": list(row.fields),
        "profile": row.profile,
        "rules": rules,
        "rule_ids": [r["id"] for r in rules],
        "cites": [r["cite"] for r in rules],
        "lawful_basis": row.lawful_basis,
        "consent": row.consent,
        "conflicts": note.body.get("conflicts", []),
    }
