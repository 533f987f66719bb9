"""Delivery state in the database: one ``deliveries`` row per notification and endpoint, an append-only
``delivery_receipts`` row per attempt, ``delivery_audit`` for operators' actions.

Row states::

    pending ──claim──► sending ──► delivered
       ▲  ▲                 ├────► retrying ──(retry queue)──► claim again
       │  └── release ── held (school digest, until release_at)
       │                    └────► dead ──(operator replay)──► pending
    no_channel (the directory had no endpoint) ──(replay once the directory has one)──► dispatch again

The claim is what makes "never sent twice" hold with several workers: a worker sends only after it has
moved the row to ``sending`` with a lease, in a committed transaction (row lock on PostgreSQL, the
database write lock on SQLite); a row already ``delivered``, or with a delivered receipt, is never sent
again. A worker that dies mid-send leaves the lease to expire; the broker redelivers the message and
the next worker sends after the lease, which is the one case a notice can reach a recipient twice (the
outcome of the first send is unknown): webhooks carry ``Idempotency-Key``, emails a stable
``Message-ID``, AMQP messages ``message_id`` for the recipient to deduplicate on.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import Table, and_, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from gateway.delivery.channel import DeliveryResult
from gateway.store.db import transaction
from gateway.store.tables import Delivery, DeliveryAudit, DeliveryReceipt

T = TypeVar("T")

PENDING, HELD, SENDING, RETRYING, DELIVERED, DEAD, NO_CHANNEL = (
    "pending",
    "held",
    "sending",
    "retrying",
    "delivered",
    "dead",
    "no_channel",
)
UNDELIVERED = (PENDING, SENDING, RETRYING, DEAD, NO_CHANNEL)
REPLAYABLE = (DEAD, NO_CHANNEL)


def with_db_retry(fn: Callable[[], T], *, within_s: float = 30.0) -> T:
    """A database blip (restart, failover, SQLite busy) is waited out rather than turned into a
    requeue storm; past ``within_s`` the error propagates and the message is requeued."""
    retrying = Retrying(
        retry=retry_if_exception_type(OperationalError),
        wait=wait_exponential(multiplier=0.2, max=5),
        stop=stop_after_delay(within_s),
        reraise=True,
    )
    return retrying(fn)


class ClaimState(enum.Enum):
    CLAIMED = "claimed"
    DELIVERED = "delivered"  # already accepted by this endpoint: never send again
    BUSY = "busy"  # another worker holds a live lease
    STALE = "stale"  # dead, held for later, or no longer wanted: this message is a leftover copy


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    attempts: int = 0
    rounds: int = 0
    status: str = ""


def _row(
    session: Session, notification_id: uuid.UUID, endpoint: str, *, lock: bool = False
) -> Delivery | None:
    q = select(Delivery).where(Delivery.notification_id == notification_id, Delivery.endpoint == endpoint)
    if lock:
        q = q.with_for_update()
    return session.scalars(q).one_or_none()


def ensure_row(
    session: Session,
    *,
    notification_id: uuid.UUID,
    episode_id: uuid.UUID | None,
    recipient: str,
    channel: str,
    endpoint: str,
    status: str,
    now: datetime,
    release_at: datetime | None = None,
    body: dict[str, Any] | None = None,
) -> tuple[Delivery, bool]:
    """The row for (notification, endpoint), created with ``status`` if absent; (row, created)."""
    existing = _row(session, notification_id, endpoint, lock=True)
    if existing is not None:
        return existing, False
    row = Delivery(
        notification_id=notification_id,
        episode_id=episode_id,
        recipient=recipient,
        channel=channel,
        endpoint=endpoint,
        status=status,
        attempts=0,
        rounds=0,
        created_at=now,
        updated_at=now,
        release_at=release_at,
        body=body,
    )
    try:
        with session.begin_nested():  # a concurrent duplicate may have inserted it just now
            session.add(row)
    except IntegrityError:
        again = _row(session, notification_id, endpoint, lock=True)
        assert again is not None
        return again, False
    return row, True


# What the dispatcher wants for one (notification, endpoint), and what came of it (record_dispatches).
ROUTE, SEND, HOLD = "routed", "send", "hold"  # actions: delivered by the broker's binding / hand over / hold
IN_HAND = "in_hand"  # outcome: delivered, held, being retried or dead already: nothing to do


@dataclass(frozen=True)
class Wanted:
    notification_id: uuid.UUID
    episode_id: uuid.UUID | None
    recipient: str
    channel: str
    endpoint: str
    action: str  # ROUTE, SEND or HOLD
    release_at: datetime | None = None
    body: dict[str, Any] | None = None  # kept only for a hold
    detail: str = ""  # of the receipt of a routed notice
    receipt: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[uuid.UUID, str]:
        return (self.notification_id, self.endpoint)


def record_dispatches(session: Session, wanted: list[Wanted], now: datetime) -> list[str]:
    """The dispatcher's records for many notifications at once, in the caller's transaction, with a
    handful of statements whatever their number: one locking SELECT of the rows that exist, one
    ``INSERT … ON CONFLICT DO NOTHING`` for the rest, one multi-row INSERT of receipts.

    Same decisions as :func:`ensure_row` one by one: a new row is written in its final state (routed →
    ``delivered`` with its receipt, attempt 1; send → ``pending``; hold → ``held``); an existing row is
    left alone unless it is ``pending`` (routed → delivered with a receipt; otherwise handed over
    again). A row another worker inserted since the SELECT is read back locked and treated as existing,
    so the unique (notification, endpoint) row and its single delivered receipt hold under concurrency.
    Keys must be distinct. Returns, per item: ROUTE (recorded delivered now), SEND (hand it to its
    channel), HOLD (a new digest hold) or IN_HAND."""
    ids = sorted({w.notification_id for w in wanted})
    existing = {(r.notification_id, r.endpoint): r for r in _locked_rows(session, ids)}
    fresh = [w for w in wanted if w.key not in existing]
    created = _insert_new(session, fresh, now) if fresh else set()
    lost = sorted({w.notification_id for w in fresh if w.key not in created})
    if lost:  # inserted by another worker since our SELECT: its row, read like any existing one
        for r in _locked_rows(session, lost):
            existing.setdefault((r.notification_id, r.endpoint), r)
    receipts: list[dict[str, Any]] = []
    outcomes: list[str] = []
    for w in wanted:
        if w.key in created:
            if w.action == ROUTE:
                receipts.append(_receipt(w, 1, now))
            outcomes.append(w.action)
            continue
        row = existing[w.key]
        if row.status != PENDING:
            outcomes.append(IN_HAND)
        elif w.action == ROUTE:
            attempt = row.attempts + 1
            receipts.append(_receipt(w, attempt, now))
            row.status, row.attempts, row.delivered_at, row.updated_at = DELIVERED, attempt, now, now
            outcomes.append(ROUTE)
        else:
            outcomes.append(SEND)
    if receipts:  # RETURNING makes it one multi-row INSERT ("insertmanyvalues"), not one per receipt
        table = cast(Table, DeliveryReceipt.__table__)
        session.execute(insert(table).returning(table.c.id), receipts)
    return outcomes


def _locked_rows(session: Session, ids: list[uuid.UUID]) -> list[Delivery]:
    # In id order, so two workers locking overlapping rows take the locks in the same order.
    q = select(Delivery).where(Delivery.notification_id.in_(ids)).order_by(Delivery.id).with_for_update()
    return list(session.scalars(q))


def _insert_new(session: Session, fresh: list[Wanted], now: datetime) -> set[tuple[uuid.UUID, str]]:
    """Insert what does not exist yet; return the keys this statement inserted (a conflicting row was
    inserted by someone else and is skipped, not an error: no savepoint per row)."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):  # the caller falls back to ensure_row, one at a time
        raise NotImplementedError(f"record_dispatches: no ON CONFLICT support for {dialect}")
    values = [
        {
            "notification_id": w.notification_id,
            "episode_id": w.episode_id,
            "recipient": w.recipient,
            "channel": w.channel,
            "endpoint": w.endpoint,
            "status": {ROUTE: DELIVERED, SEND: PENDING, HOLD: HELD}[w.action],
            "attempts": 1 if w.action == ROUTE else 0,
            "rounds": 0,
            "created_at": now,
            "updated_at": now,
            "lease_until": None,
            "release_at": w.release_at if w.action == HOLD else None,
            "delivered_at": now if w.action == ROUTE else None,
            "reason": None,
            "body": w.body if w.action == HOLD else None,
        }
        for w in fresh
    ]
    # One single-row statement executed with many parameter sets: compiled once and cached, and sent
    # as ONE multi-row INSERT by SQLAlchemy's "insertmanyvalues" (a per-batch .values(list) would be
    # compiled again for every batch, which costs more than the database work).
    table = cast(Table, Delivery.__table__)
    unique = ["notification_id", "endpoint"]
    stmt = (
        postgresql.insert(table).on_conflict_do_nothing(index_elements=unique)
        if dialect == "postgresql"
        else sqlite.insert(table).on_conflict_do_nothing(index_elements=unique)
    )
    returned = session.execute(stmt.returning(table.c.notification_id, table.c.endpoint), values)
    return {(nid, endpoint) for nid, endpoint in returned}


def _receipt(w: Wanted, attempt: int, now: datetime) -> dict[str, Any]:
    return {
        "notification_id": w.notification_id,
        "recipient": w.recipient,
        "channel": w.channel,
        "endpoint": w.endpoint,
        "attempt": attempt,
        "outcome": "delivered",
        "detail": w.detail[:1000],
        "receipt": w.receipt,
        "at": now,
    }


def claim(
    sessions: sessionmaker[Session],
    *,
    notification_id: uuid.UUID,
    episode_id: uuid.UUID | None,
    recipient: str,
    channel: str,
    endpoint: str,
    now: datetime,
    lease: timedelta,
) -> Claim:
    def run() -> Claim:
        with transaction(sessions) as s:
            row, _ = ensure_row(
                s,
                notification_id=notification_id,
                episode_id=episode_id,
                recipient=recipient,
                channel=channel,
                endpoint=endpoint,
                status=PENDING,
                now=now,
            )
            delivered_before = s.scalar(
                select(func.count())
                .select_from(DeliveryReceipt)
                .where(
                    DeliveryReceipt.notification_id == notification_id,
                    DeliveryReceipt.endpoint == endpoint,
                    DeliveryReceipt.outcome == "delivered",
                )
            )
            if row.status == DELIVERED or delivered_before:
                return Claim(ClaimState.DELIVERED, row.attempts, row.rounds, row.status)
            if row.status == SENDING and row.lease_until is not None and row.lease_until > now:
                return Claim(ClaimState.BUSY, row.attempts, row.rounds, row.status)
            if row.status in (DEAD, NO_CHANNEL) or (
                row.status == HELD and row.release_at is not None and row.release_at > now
            ):
                return Claim(ClaimState.STALE, row.attempts, row.rounds, row.status)
            row.status = SENDING
            row.lease_until = now + lease
            row.updated_at = now
            return Claim(ClaimState.CLAIMED, row.attempts, row.rounds, SENDING)

    return with_db_retry(run)


def record_attempt(
    sessions: sessionmaker[Session],
    *,
    notification_id: uuid.UUID,
    recipient: str,
    channel: str,
    endpoint: str,
    attempt: int,
    result: DeliveryResult,
    now: datetime,
) -> None:
    def run() -> None:
        with transaction(sessions) as s:
            s.add(
                DeliveryReceipt(
                    notification_id=notification_id,
                    recipient=recipient,
                    channel=channel,
                    endpoint=endpoint,
                    attempt=attempt,
                    outcome=result.outcome,
                    detail=result.detail[:1000],
                    receipt=result.receipt,
                    at=now,
                )
            )
            row = _row(s, notification_id, endpoint, lock=True)
            if row is not None:
                row.attempts = max(row.attempts, attempt)
                row.updated_at = now
                if result.outcome == "delivered":
                    # Recorded with the receipt, in one transaction: a crash right after cannot leave
                    # a delivered notice looking unsent.
                    row.status = DELIVERED
                    row.delivered_at = now
                    row.lease_until = None
                    row.reason = None
                    row.body = None

    with_db_retry(run)


def mark(
    sessions: sessionmaker[Session],
    notification_id: uuid.UUID,
    endpoint: str,
    status: str,
    now: datetime,
    *,
    reason: str | None = None,
    body: dict[str, Any] | None = None,
    add_round: bool = False,
) -> None:
    def run() -> None:
        with transaction(sessions) as s:
            row = _row(s, notification_id, endpoint, lock=True)
            if row is None or row.status == DELIVERED:
                return
            row.status = status
            row.updated_at = now
            row.lease_until = None
            if reason is not None:
                row.reason = reason[:1000]
            if add_round:
                row.rounds += 1
            if status in (DEAD, NO_CHANNEL, HELD) and body is not None:
                row.body = body

    with_db_retry(run)


def audit(
    session: Session,
    *,
    action: str,
    actor: str,
    now: datetime,
    notification_id: uuid.UUID | None = None,
    recipient: str | None = None,
    endpoint: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    session.add(
        DeliveryAudit(
            action=action,
            actor=actor,
            at=now,
            notification_id=notification_id,
            recipient=recipient,
            endpoint=endpoint,
            details=details or {},
        )
    )


def due_for_release(session: Session, now: datetime, limit: int = 200) -> list[Delivery]:
    return list(
        session.scalars(
            select(Delivery)
            .where(Delivery.status == HELD, Delivery.release_at <= now)
            .order_by(Delivery.release_at, Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def oldest_undelivered(session: Session, now: datetime) -> dict[tuple[str, str], float]:
    """Seconds since the oldest undelivered notice, per (channel, recipient). A digest hold counts
    from its release time once that has passed (holding it is the point until then)."""
    out: dict[tuple[str, str], float] = {}
    rows = session.execute(
        select(Delivery.channel, Delivery.recipient, func.min(Delivery.created_at))
        .where(Delivery.status.in_(UNDELIVERED))
        .group_by(Delivery.channel, Delivery.recipient)
    ).all()
    for channel, recipient, oldest in rows:
        out[(channel, recipient)] = max(0.0, (now - oldest).total_seconds())
    late = session.execute(
        select(Delivery.channel, Delivery.recipient, func.min(Delivery.release_at))
        .where(and_(Delivery.status == HELD, Delivery.release_at <= now))
        .group_by(Delivery.channel, Delivery.recipient)
    ).all()
    for channel, recipient, released in late:
        if released is None:
            continue
        age = max(0.0, (now - released).total_seconds())
        out[(channel, recipient)] = max(out.get((channel, recipient), 0.0), age)
    return out
