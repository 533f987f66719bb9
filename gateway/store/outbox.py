"""Transactional outbox: a message is written in the same transaction as the state that caused it, and
the relay publishes it afterwards with publisher confirms, so the database and the broker agree.

Delivery is at least once: a relay killed after the broker confirmed but before it marked the row
published will publish it again. Every message carries a stable ``message_id`` (the notification id)
for recipients to deduplicate on.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any, Protocol

import pika.exceptions
import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.broker.publisher import ConfirmedPublisher, PublishError
from gateway.broker.topology import NOTIFICATIONS
from gateway.store.db import transaction
from gateway.store.tables import Outbox

log = structlog.get_logger(__name__)


def outbox_row(
    *,
    exchange: str,
    routing_key: str,
    message_id: str,
    body: bytes,
    headers: dict[str, Any] | None = None,
    now: datetime,
) -> dict[str, Any]:
    """The column values of one outbox row (for a multi-row insert: gateway/store/pending.py)."""
    return {
        "exchange": exchange,
        "routing_key": routing_key,
        "message_id": message_id,
        "body": body,
        "headers": headers or {},
        "created_at": now,
        "published_at": None,
        "attempts": 0,
        "last_error": None,
    }


def enqueue(
    session: Session,
    *,
    exchange: str,
    routing_key: str,
    message_id: str,
    body: bytes,
    headers: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    row = outbox_row(
        exchange=exchange, routing_key=routing_key, message_id=message_id, body=body, headers=headers, now=now
    )
    session.add(Outbox(**row))


class QueueEnsurer(Protocol):
    """Makes sure what the relay is about to publish has somewhere to go (a topic exchange drops a
    message no queue is bound for). The delivery layer's ``DirectoryQueues`` is the implementation:
    the delivery dispatch queue (bound ``#``) and each AMQP recipient's own queue from the directory."""

    def ensure(self, routing_keys: set[str]) -> None: ...

    def close(self) -> None: ...


class OutboxRelay:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        publisher: ConfirmedPublisher,
        queues: QueueEnsurer | None,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.2,
        confirm_timeout: float = 30.0,
    ):
        self._sessions = sessions
        self._publisher = publisher
        self._queues = queues
        self._batch = batch_size
        self._poll = poll_interval
        self._confirm_timeout = confirm_timeout
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.published = 0

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows, so they go out now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once()
            except (SQLAlchemyError, pika.exceptions.AMQPError, OSError) as exc:
                log.warning("outbox.relay_failed", error=type(exc).__name__)
                sent = 0
                self._stop.wait(1.0)
            if sent < self._batch:
                self._wake.wait(self._poll)
                self._wake.clear()

    def run_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="gateway-outbox-relay", daemon=True)
        thread.start()
        return thread

    def run_once(self) -> int:
        """Publish one batch; return how many rows were confirmed."""
        with transaction(self._sessions) as session:
            # SKIP LOCKED lets several relays share the table on PostgreSQL without sending a row twice
            # at the same time; SQLite ignores it (one writer at a time anyway).
            rows = session.scalars(
                select(Outbox)
                .where(Outbox.published_at.is_(None))
                .order_by(Outbox.id)
                .limit(self._batch)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            if self._queues is not None:
                self._queues.ensure({r.routing_key for r in rows if r.exchange == NOTIFICATIONS})
            futures = [
                self._publisher.publish(
                    r.exchange,
                    r.routing_key,
                    r.body,
                    message_id=r.message_id,
                    headers=r.headers or None,
                    mandatory=True,
                )
                for r in rows
            ]
            now = datetime.now(UTC)
            confirmed = 0
            for row, future in zip(rows, futures, strict=True):
                try:
                    future.result(timeout=self._confirm_timeout)
                except (PublishError, TimeoutError) as exc:
                    future.cancel()
                    row.attempts += 1
                    row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                    continue
                row.published_at = now
                row.attempts += 1
                confirmed += 1
        self.published += confirmed
        return confirmed
