"""Timer rows: arming, re-arming, cancelling, claiming. Always inside the caller's transaction.

A timer is identified by ``(episode_id, rule_id, kind, key)`` (kind ``after``: key = occurrence number;
kind ``digest``: key = event id and action). New rows get an id derived from that identity, so arming
twice is a no-op; rows moved between episodes by a merge keep their ids and are matched by identity.

Status: ``pending`` → ``firing`` (claimed by a scheduler and handed to the broker; ``fired_at`` is when)
→ ``fired`` (processed: ``fired_at`` is when) or ``cancelled`` (``payload.cancel_reason`` says why).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from gateway.routing.metrics import TIMERS
from gateway.store import pending, tables

TIMER_NS = uuid.UUID("5b3f7f0e-0c1e-4b7a-9d55-2a7f5f9b8c01")
PENDING, FIRING, FIRED, CANCELLED = "pending", "firing", "fired", "cancelled"
LIVE = (PENDING, FIRING)


def timer_id(episode_id: uuid.UUID, rule_id: str, kind: str, key: str) -> uuid.UUID:
    return uuid.uuid5(TIMER_NS, f"{episode_id}|{rule_id}|{kind}|{key}")


def identity(t: tables.Timer) -> tuple[str, str, str]:
    payload = t.payload or {}
    return t.rule_id, str(payload.get("kind", "after")), str(payload.get("key", "0"))


def timers_of(session: Session, episode_id: uuid.UUID) -> list[tables.Timer]:
    """Every timer of an episode, locked (PostgreSQL) so a concurrent claim waits for this transaction."""
    return list(
        session.scalars(
            select(tables.Timer)
            .where(tables.Timer.episode_id == episode_id)
            .order_by(tables.Timer.due_at, tables.Timer.id)
            .with_for_update()
        )
    )


def timers_in_session(armed: list[tables.Timer]) -> list[tables.Timer]:
    """The timers of an episode created in this transaction, from the list of those armed for it here
    (its id is new, so no others can exist: nothing to read or lock). Same order as :func:`timers_of`.
    A list kept by the caller, not the session's identity map: that holds objects weakly."""
    return sorted({t.id: t for t in armed}.values(), key=lambda t: (t.due_at, t.id))


def arm(
    session: Session,
    episode_id: uuid.UUID,
    rule_id: str,
    kind: str,
    key: str,
    due_at: datetime,
    now: datetime,
    payload: dict[str, Any],
    *,
    absent: bool = False,
) -> tables.Timer:
    """Arm a timer unless it exists. ``absent``: the caller has just read (and locked) all the
    episode's timers and this one is not among them, so there is nothing to look up."""
    tid = timer_id(episode_id, rule_id, kind, key)
    existing = None if absent else session.get(tables.Timer, tid)
    if existing is not None:
        return existing
    row = tables.Timer(
        id=tid,
        episode_id=episode_id,
        rule_id=rule_id,
        due_at=due_at,
        status=PENDING,
        created_at=now,
        fired_at=None,
        payload={**payload, "kind": kind, "key": key},
    )
    session.add(row)
    written = pending.of(session)
    if written is not None and episode_id in written.new_episodes:
        written.new_episodes[episode_id].append(row)
    TIMERS.labels(outcome="armed").inc()
    return row


def _with(t: tables.Timer, **changes: Any) -> None:
    # A JSON column is only written when a new object is assigned (in-place edits are not tracked).
    t.payload = {**(t.payload or {}), **changes}


def cancel(t: tables.Timer, now: datetime, reason: str) -> None:
    t.status = CANCELLED
    _with(t, cancel_reason=reason[:300], cancelled_at=now.isoformat())
    TIMERS.labels(outcome="cancelled").inc()


def rearm(t: tables.Timer, due_at: datetime, now: datetime) -> None:
    t.status = PENDING
    t.due_at = due_at
    t.fired_at = None
    payload = dict(t.payload or {})
    payload.pop("cancel_reason", None)
    payload.pop("cancelled_at", None)
    payload["rearmed_at"] = now.isoformat()
    t.payload = payload
    TIMERS.labels(outcome="rearmed").inc()


def reschedule(t: tables.Timer, due_at: datetime) -> None:
    t.due_at = due_at
    TIMERS.labels(outcome="rescheduled").inc()


def mark_fired(t: tables.Timer, now: datetime, by: uuid.UUID) -> None:
    t.status = FIRED
    _with(t, processed_by_timer=str(by), handed_over_at=t.fired_at.isoformat() if t.fired_at else None)
    t.fired_at = now
    TIMERS.labels(outcome="fired").inc()


# --- the scheduler's side ---------------------------------------------------------------------


def due_ids(session: Session, now: datetime, lease: timedelta, limit: int) -> Sequence[uuid.UUID]:
    """Timers due by ``now``, and ones claimed longer than ``lease`` ago whose message evidently never
    got processed (a scheduler that died after claiming, a message dead-lettered)."""
    stale_before = now - lease
    return session.scalars(
        select(tables.Timer.id)
        .where(
            or_(
                and_(tables.Timer.status == PENDING, tables.Timer.due_at <= now),
                and_(tables.Timer.status == FIRING, tables.Timer.fired_at < stale_before),
            )
        )
        .order_by(tables.Timer.due_at, tables.Timer.id)
        .limit(limit)
        # PostgreSQL: two schedulers skip each other's rows instead of queueing behind them.
        .with_for_update(skip_locked=True)
    ).all()


def claim(session: Session, tid: uuid.UUID, now: datetime, lease: timedelta) -> bool:
    """Atomically take a due timer: only one of several schedulers can change its status from pending
    (or from a stale firing) to firing, whatever the isolation level (the WHERE re-checks the status)."""
    result = session.execute(
        update(tables.Timer)
        .where(
            tables.Timer.id == tid,
            or_(
                tables.Timer.status == PENDING,
                and_(tables.Timer.status == FIRING, tables.Timer.fired_at < now - lease),
            ),
        )
        .values(status=FIRING, fired_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def release(session: Session, tid: uuid.UUID, claimed_at: datetime) -> None:
    """Give a claim back (the broker did not confirm the message): the timer is due again at once."""
    session.execute(
        update(tables.Timer)
        .where(tables.Timer.id == tid, tables.Timer.status == FIRING, tables.Timer.fired_at == claimed_at)
        .values(status=PENDING, fired_at=None)
        .execution_options(synchronize_session=False)
    )
    TIMERS.labels(outcome="released").inc()


def note_attempt(session: Session, tid: uuid.UUID, claimed_by: str) -> int:
    t = session.get(tables.Timer, tid)
    if t is None:
        return 0
    attempts = int((t.payload or {}).get("attempts", 0)) + 1
    _with(t, attempts=attempts, claimed_by=claimed_by)
    return attempts
