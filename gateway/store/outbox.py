"""Transactional outbox: a message is written in the same transaction as the state that caused it, and
the relay publishes it afterwards with publisher confirms, so the database and the broker agree.

Delivery is at least once: a relay killed after the broker confirmed but before it marked the row
published will publish it again. Every message carries a stable ``message_id`` (the notification id)
for recipients to deduplicate on.
"""

from __future__ import annotations

import concurrent.futures
import threading
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, Protocol

import pika.exceptions
import structlog
from sqlalchemy import select, update
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
    """Publishes committed outbox rows with confirms and marks them published.

    Per batch: one SELECT (``FOR UPDATE SKIP LOCKED``), every row published without waiting (the
    publisher streams them and the broker confirms many at once), ONE wait for all their confirms, then
    one set-based UPDATE for the confirmed rows (and one per distinct error for the rest) in the same
    transaction. The row locks are held until then, so a second relay never sends a row at the same
    time; a relay killed between the confirms and the commit sends its batch again (at least once).
    """

    # Ids per UPDATE … WHERE id IN (…): well under SQLite's and PostgreSQL's bound-parameter limits.
    MARK_CHUNK = 1_000

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
            # Cleared before the batch, not after the wait: a wake that comes while a batch is going
            # out makes the next wait return at once instead of being lost until the next poll.
            self._wake.clear()
            try:
                sent = self.run_once()
            except (SQLAlchemyError, pika.exceptions.AMQPError, OSError) as exc:
                log.warning("outbox.relay_failed", error=type(exc).__name__)
                sent = 0
                self._stop.wait(1.0)
            if sent < self._batch:
                self._wake.wait(self._poll)

    def run_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="gateway-outbox-relay", daemon=True)
        thread.start()
        return thread

    def run_once(self) -> int:
        """Publish one batch; return how many rows were confirmed."""
        with transaction(self._sessions) as session:
            # SKIP LOCKED lets several relays share the table on PostgreSQL without sending a row twice
            # at the same time; SQLite ignores it (one writer at a time anyway). Plain columns, not ORM
            # objects: nothing here needs identity tracking, and the marks below are set-based.
            rows = session.execute(
                select(
                    Outbox.id,
                    Outbox.exchange,
                    Outbox.routing_key,
                    Outbox.message_id,
                    Outbox.body,
                    Outbox.headers,
                )
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
            # One deadline for the whole batch (the broker confirms in bulk), not one wait per message.
            concurrent.futures.wait(futures, timeout=self._confirm_timeout)
            confirmed: list[int] = []
            failed: dict[str, list[int]] = {}
            for row, future in zip(rows, futures, strict=True):
                error = _publish_error(future)
                if error is None:
                    confirmed.append(row.id)
                else:
                    failed.setdefault(error, []).append(row.id)
            now = datetime.now(UTC)
            self._mark(session, confirmed, published_at=now)
            for error, ids in failed.items():
                self._mark(session, ids, last_error=error)
        self.published += len(confirmed)
        return len(confirmed)

    def _mark(self, session: Session, ids: list[int], **values: Any) -> None:
        """One UPDATE per chunk of ids: the attempt is counted, and the row published or its error kept."""
        for i in range(0, len(ids), self.MARK_CHUNK):
            session.execute(
                update(Outbox)
                .where(Outbox.id.in_(ids[i : i + self.MARK_CHUNK]))
                .values(attempts=Outbox.attempts + 1, **values)
                .execution_options(synchronize_session=False)
            )


def _publish_error(future: Future[None]) -> str | None:
    """None if the broker confirmed the message; else why not (type and message, for operators)."""
    if not future.done():
        future.cancel()  # not sent yet: the publisher skips it; if already on the wire, a repeat
        exc: BaseException = TimeoutError("not confirmed in time")
    else:
        try:
            future.result(timeout=0)
            return None
        except (PublishError, concurrent.futures.CancelledError) as err:
            exc = err
    return f"{type(exc).__name__}: {exc}"[:500]
