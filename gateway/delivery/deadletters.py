"""Dead letters of delivery: list, show, replay (shared by ``gateway dead`` and the API).

The ``deliveries`` table is the operator's list: a ``dead`` row (an endpoint gave up) or a
``no_channel`` row (the directory had no endpoint for the recipient) holds the notification until it is
replayed. ``missing.dead`` on the broker gets a copy of each too, for alerting and as the broker-level
trail; replay works from the table, so the two never need reconciling by hand.

Replay sends to the chosen endpoint only (one endpoint of one recipient: nobody else gets the notice
again). A ``no_channel`` notice replayed without an endpoint is dispatched again through the directory
(which must now have the recipient). Every replay is audited (``delivery_audit``: who, when, what, why)
and resets the endpoint's round count, so the notice gets the full retry schedule again.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.broker.publisher import ConfirmedPublisher, wait_confirmed
from gateway.delivery import store
from gateway.delivery.directory import NO_CHANNEL, Directory
from gateway.delivery.topology import DELIVERY, DISPATCH_QUEUE
from gateway.delivery.worker import REPLAY_HEADER, endpoint_headers, handoff_message_id
from gateway.model import Notification
from gateway.store.db import transaction
from gateway.store.tables import Delivery, DeliveryAudit, DeliveryReceipt

log = structlog.get_logger(__name__)

RESOLVED = "resolved"  # a no_channel row after its notice was dispatched again


class ReplayError(Exception):
    pass


def _summary(row: Delivery) -> dict[str, Any]:
    return {
        "notification_id": str(row.notification_id),
        "episode_id": str(row.episode_id) if row.episode_id else None,
        "recipient": row.recipient,
        "channel": row.channel,
        "endpoint": row.endpoint,
        "status": row.status,
        "attempts": row.attempts,
        "rounds": row.rounds,
        "reason": row.reason,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "release_at": row.release_at.isoformat() if row.release_at else None,
        "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
    }


def list_dead(
    session: Session, *, recipient: str | None = None, status: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    wanted = (status,) if status else store.REPLAYABLE
    q = select(Delivery).where(Delivery.status.in_(wanted))
    if recipient:
        q = q.where(Delivery.recipient == recipient)
    rows = session.scalars(q.order_by(Delivery.updated_at, Delivery.id).limit(limit))
    return [_summary(r) for r in rows]


def show(
    session: Session, notification_id: uuid.UUID, *, include_body: bool = False
) -> dict[str, Any] | None:
    rows = list(
        session.scalars(
            select(Delivery).where(Delivery.notification_id == notification_id).order_by(Delivery.id)
        )
    )
    if not rows:
        return None
    receipts = session.scalars(
        select(DeliveryReceipt)
        .where(DeliveryReceipt.notification_id == notification_id)
        .order_by(DeliveryReceipt.at, DeliveryReceipt.id)
    )
    audit = session.scalars(
        select(DeliveryAudit)
        .where(DeliveryAudit.notification_id == notification_id)
        .order_by(DeliveryAudit.id)
    )
    out: dict[str, Any] = {
        "notification_id": str(notification_id),
        "endpoints": [_summary(r) for r in rows],
        "receipts": [
            {
                "endpoint": r.endpoint,
                "channel": r.channel,
                "attempt": r.attempt,
                "outcome": r.outcome,
                "detail": r.detail,
                "receipt": r.receipt,
                "at": r.at.isoformat(),
            }
            for r in receipts
        ],
        "audit": [
            {
                "action": a.action,
                "actor": a.actor,
                "at": a.at.isoformat(),
                "endpoint": a.endpoint,
                "details": a.details,
            }
            for a in audit
        ],
    }
    if include_body:
        body = next((r.body for r in rows if r.body), None)
        out["notification"] = body
    return out


@dataclass(frozen=True)
class Replayed:
    notification_id: str
    recipient: str
    endpoint: str
    channel: str
    how: str  # "endpoint" (to one endpoint) or "dispatch" (through the directory again)


def replay(
    sessions: sessionmaker[Session],
    publisher: ConfirmedPublisher,
    directory: Directory,
    notification_id: uuid.UUID,
    *,
    actor: str,
    now: datetime,
    endpoint: str | None = None,
    note: str | None = None,
    confirm_timeout: float = 30.0,
) -> list[Replayed]:
    """Replay one notification's dead letters (all its replayable endpoints, or only ``endpoint``)."""
    if not actor.strip():
        raise ReplayError("say who is replaying (it is audited)")
    done: list[Replayed] = []
    # One transaction: mark, audit, publish and wait for the broker's confirm, then commit. If the
    # broker refuses, nothing is marked; the delivery worker's claim waits on the row lock, so it sees
    # the row as pending only once this commits.
    with transaction(sessions) as s:
        rows = list(
            s.scalars(
                select(Delivery)
                .where(Delivery.notification_id == notification_id, Delivery.status.in_(store.REPLAYABLE))
                .order_by(Delivery.id)
                .with_for_update()
            )
        )
        if not rows:
            raise ReplayError(f"no dead letter for notification {notification_id}")
        futures = []
        for row in rows:
            if row.body is None:
                raise ReplayError(f"notification {notification_id}: the stored notice is missing")
            n = Notification.model_validate(row.body)
            body = json.dumps(row.body, separators=(",", ":")).encode()
            entry = directory.by_routing_key(row.recipient)
            if row.status == store.NO_CHANNEL:
                if entry is None:
                    raise ReplayError(
                        f"{row.recipient} still has no endpoint in the recipient directory: add one first"
                    )
                if endpoint is not None:
                    ep = entry.endpoint(endpoint)
                    if ep is None:
                        raise ReplayError(f"{row.recipient} has no endpoint {endpoint!r}")
                    targets = [(ep.id, ep.channel)]
                else:
                    targets = []
                row.status, row.updated_at = RESOLVED, now
                row.reason = f"replayed by {actor}"[:1000]
                if targets:
                    for ep_id, channel in targets:
                        store.ensure_row(
                            s,
                            notification_id=n.notification_id,
                            episode_id=n.episode_id,
                            recipient=row.recipient,
                            channel=channel,
                            endpoint=ep_id,
                            status=store.PENDING,
                            now=now,
                        )
                        futures.append(_to_endpoint(publisher, n, body, ep_id, channel, actor))
                        done.append(
                            Replayed(str(n.notification_id), row.recipient, ep_id, channel, "endpoint")
                        )
                else:
                    # Straight into the dispatch queue (not missing.notifications: AMQP queues that
                    # already have it must not get it twice); the dispatcher sends to every endpoint.
                    futures.append(
                        publisher.publish(
                            "",
                            DISPATCH_QUEUE,
                            body,
                            message_id=str(n.notification_id),
                            headers={REPLAY_HEADER: actor[:128]},
                            mandatory=True,
                        )
                    )
                    done.append(
                        Replayed(str(n.notification_id), row.recipient, NO_CHANNEL, NO_CHANNEL, "dispatch")
                    )
                store.audit(
                    s,
                    action="replay",
                    actor=actor,
                    now=now,
                    notification_id=n.notification_id,
                    recipient=row.recipient,
                    endpoint=endpoint or NO_CHANNEL,
                    details={
                        "from_status": store.NO_CHANNEL,
                        "note": note,
                        "to": [t[0] for t in targets] or "dispatch",
                    },
                )
                continue
            if endpoint is not None and row.endpoint != endpoint:
                continue
            if entry is None or entry.endpoint(row.endpoint) is None:
                raise ReplayError(f"{row.recipient} no longer has endpoint {row.endpoint!r} in the directory")
            previous = row.reason
            row.status, row.rounds, row.updated_at = store.PENDING, 0, now
            row.reason = f"replayed by {actor}"[:1000]
            futures.append(_to_endpoint(publisher, n, body, row.endpoint, row.channel, actor))
            store.audit(
                s,
                action="replay",
                actor=actor,
                now=now,
                notification_id=n.notification_id,
                recipient=row.recipient,
                endpoint=row.endpoint,
                details={"from_status": store.DEAD, "previous_reason": previous, "note": note},
            )
            done.append(
                Replayed(str(n.notification_id), row.recipient, row.endpoint, row.channel, "endpoint")
            )
        if not done:
            raise ReplayError(f"notification {notification_id} has no dead letter for endpoint {endpoint!r}")
        wait_confirmed(futures, confirm_timeout)
    for r in done:
        log.info(
            "delivery.replayed",
            notification_id=r.notification_id,
            recipient=r.recipient,
            endpoint=r.endpoint,
            how=r.how,
            actor=actor,
        )
    return done


def _to_endpoint(
    publisher: ConfirmedPublisher, n: Notification, body: bytes, endpoint: str, channel: str, actor: str
) -> Any:
    return publisher.publish(
        DELIVERY,
        channel,
        body,
        message_id=handoff_message_id(n.notification_id, endpoint),
        headers={**endpoint_headers(n, endpoint, channel), REPLAY_HEADER: actor[:128]},
        mandatory=True,
    )


def replay_recipient(
    sessions: sessionmaker[Session],
    publisher: ConfirmedPublisher,
    directory: Directory,
    recipient: str,
    *,
    actor: str,
    now: datetime,
    endpoint: str | None = None,
    note: str | None = None,
    confirm_timeout: float = 30.0,
) -> tuple[list[Replayed], list[tuple[str, str]]]:
    """Replay every dead letter of one recipient; (replayed, [(notification_id, why not)])."""
    with sessions() as s:
        ids = list(
            dict.fromkeys(
                s.scalars(
                    select(Delivery.notification_id)
                    .where(Delivery.recipient == recipient, Delivery.status.in_(store.REPLAYABLE))
                    .order_by(Delivery.id)
                )
            )
        )
    done: list[Replayed] = []
    skipped: list[tuple[str, str]] = []
    for nid in ids:
        try:
            done.extend(
                replay(
                    sessions,
                    publisher,
                    directory,
                    nid,
                    actor=actor,
                    now=now,
                    endpoint=endpoint,
                    note=note,
                    confirm_timeout=confirm_timeout,
                )
            )
        except ReplayError as exc:
            skipped.append((str(nid), str(exc)))
    return done, skipped
