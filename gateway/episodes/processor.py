"""The processor: ONE database transaction per event (DESIGN.md "Message flow").

dedupe on idempotency_key → correlate → update Episode → route → insert notifications, disclosure
audit and outbox rows → commit. The caller acks the broker only after this returns, so a crash at any
point before the commit leaves nothing behind and a crash after it is harmless: the redelivered event
finds its idempotency key and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import (
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from gateway.episodes import lifecycle, repository
from gateway.episodes.correlate import (
    Thresholds,
    correlate,
    identity_locks,
    known_sources,
    lock_identities,
)
from gateway.episodes.history import DEFAULT_WINDOWS
from gateway.episodes.review import open_review, with_history
from gateway.faults import failpoint
from gateway.metrics import PROCESSING_SECONDS
from gateway.model import MissingEpisodeEvent
from gateway.routing.record import record_notifications
from gateway.routing.router import Router
from gateway.store import pending, tables
from gateway.store.db import transaction
from gateway.timers.messages import TimerMessage  # sharing-rules issue: process_timer

log = structlog.get_logger(__name__)
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class ProcessResult:
    event_id: uuid.UUID
    duplicate: bool
    episode_id: uuid.UUID | None = None
    notification_ids: list[uuid.UUID] = field(default_factory=list)
    correlation: str | None = None  # how the episode was found (for the log line)


class EventProcessor:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        router: Router,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_commit: Callable[[], None] | None = None,
        transient_retry_s: float = 300.0,
        thresholds: Thresholds | None = None,
        windows: tuple[int, ...] = DEFAULT_WINDOWS,
    ):
        self._thresholds = thresholds or Thresholds()
        self._windows = windows
        self._sessions = sessions
        self._router = router
        self._clock = clock
        self._on_commit = on_commit
        self._transient_retry_s = transient_retry_s

    def _in_transaction(self, once: Callable[[T], R], message: T) -> R:
        """Run ``once`` (one transaction) until it commits.

        A unique-key race with another processor (the same event, or a new episode for the same
        record at the same moment) is settled by trying again: the second try sees the winner's rows.
        A database that is down or restarting is waited for with back-off while the message stays
        unacked (not counted against the queue's delivery limit)."""
        race = Retrying(
            retry=retry_if_exception_type(IntegrityError), stop=stop_after_attempt(3), reraise=True
        )
        outage = Retrying(
            retry=retry_if_exception_type(OperationalError),
            stop=stop_after_delay(self._transient_retry_s),
            wait=wait_exponential(multiplier=0.2, max=5.0) + wait_random(0, 0.2),
            reraise=True,
            before_sleep=lambda s: log.warning("processor.database_unavailable", attempt=s.attempt_number),
        )
        return outage(lambda: race(once, message))

    def process(self, event: MissingEpisodeEvent) -> ProcessResult:
        result = self._in_transaction(self._process_once, event)
        failpoint("processor.after_commit")
        if not result.duplicate:
            # Ingest-to-committed: what a partner waits for before the recipients' notices exist.
            PROCESSING_SECONDS.observe(max((self._clock() - event.received_at).total_seconds(), 0.0))
        if result.notification_ids and self._on_commit:
            self._on_commit()
        return result

    def process_batch(self, events: list[MissingEpisodeEvent]) -> list[ProcessResult]:
        """Several events in ONE transaction (one commit, one fsync), in order: the same steps as
        :meth:`process` for each. All or nothing: if any event fails the whole batch rolls back and
        the caller processes the events one by one, so a bad event is retried or dead-lettered alone.
        An event that repeats an earlier one in the same batch is a duplicate (the session flushes the
        first one's row before the second's lookup)."""
        results = self._in_transaction(self._process_many_once, events)
        failpoint("processor.after_commit")
        now = self._clock()
        for event, result in zip(events, results, strict=True):
            if not result.duplicate:
                PROCESSING_SECONDS.observe(max((now - event.received_at).total_seconds(), 0.0))
        if any(r.notification_ids for r in results) and self._on_commit:
            self._on_commit()
        return results

    def _process_once(self, event: MissingEpisodeEvent) -> ProcessResult:
        return self._process_many_once([event])[0]

    def _process_many_once(self, events: list[MissingEpisodeEvent]) -> list[ProcessResult]:
        now = self._clock()
        with transaction(self._sessions) as session:
            rows = pending.PendingRows()
            pending.attach(session, rows)
            try:
                # Every identity of the batch locked at once, in one order (no deadlock between
                # processors); then one lookup for the batch's repeats.
                lock_identities(session, set().union(*(identity_locks(e) for e in events)))
                taken = self._taken(session, events)
                # Under the locks no other processor can add these records' rows until we commit.
                rows.sources.update(known_sources(session, events))
                rows.sources_complete = True
                results = [self._apply(session, event, now, rows, taken) for event in events]
                rows.write(session)
            finally:
                pending.detach(session)
            failpoint("processor.before_commit")
        for event, r in zip(events, results, strict=True):
            if not r.duplicate:
                log.info(
                    "processor.processed",
                    correlation=r.correlation,
                    event_id=str(event.event_id),
                    episode_id=str(r.episode_id),
                    event_type=event.event_type.value,
                    notifications=len(r.notification_ids),
                )
        return results

    @staticmethod
    def _taken(session: Session, events: list[MissingEpisodeEvent]) -> dict[str, uuid.UUID]:
        """Events of the batch already stored (a redelivery, a partner's repeat): idempotency key → id."""
        keys = list({e.idempotency_key for e in events})
        found = session.execute(
            select(tables.Event.idempotency_key, tables.Event.event_id).where(
                tables.Event.idempotency_key.in_(keys)
            )
        )
        return {k: v for k, v in found}

    def _apply(
        self,
        session: Session,
        event: MissingEpisodeEvent,
        now: datetime,
        rows: pending.PendingRows,
        taken: dict[str, uuid.UUID],
    ) -> ProcessResult:
        seen = taken.get(event.idempotency_key) or rows.idempotency_keys.get(event.idempotency_key)
        if seen is not None:
            log.info("processor.duplicate", event_id=str(event.event_id), first_event_id=str(seen))
            return ProcessResult(event.event_id, duplicate=True)
        rows.idempotency_keys[event.idempotency_key] = event.event_id
        rows.fresh_causes.add(f"event:{event.event_id}")
        match = correlate(session, event, self._thresholds)
        row = match.episode
        times: dict[str, str]
        if row is None:
            episode, times = lifecycle.new_episode(uuid.uuid4(), event), {}
            rows.new_episodes[episode.episode_id] = []
        else:
            episode, times = repository.load(row)
        episode = lifecycle.apply_event(episode, times, event)
        episode = with_history(session, episode, self._windows)
        new = row is None
        row = repository.save(session, row, episode, times, now)
        repository.sync_keys(session, episode, new=new)
        repository.add_source(session, episode.episode_id, event, exists=match.how == "source_record")
        if match.review is not None:
            open_review(session, episode.episode_id, match.review, now)
        rows.add(
            tables.Event,
            {
                "event_id": event.event_id,
                "idempotency_key": event.idempotency_key,
                "episode_id": episode.episode_id,
                "event_type": event.event_type.value,
                "source_system": event.source.system.value,
                "source_instance": event.source.instance,
                "source_record_id": event.source.record_id,
                "occurred_at": event.occurred_at,
                "received_at": event.received_at,
                "processed_at": now,
                "body": event.model_dump(mode="json", by_alias=True, exclude_none=True),
            },
        )
        routed = self._router.route(session, episode, event, now)
        if not routed:
            log.warning(
                "processor.no_recipient", episode_id=str(episode.episode_id), event_id=str(event.event_id)
            )
        record_notifications(session, routed, now)
        return ProcessResult(
            event.event_id,
            duplicate=False,
            episode_id=episode.episode_id,
            notification_ids=[r.notification.notification_id for r in routed],
            correlation=match.how,
        )

    # --- timers (sharing-rules issue) -------------------------------------------------------------
    # A due timer, handed on by gateway/timers/scheduler.py as a message on missing.inbound. ONE
    # transaction: lock the episode (before the timer: the order events use, so the two cannot
    # deadlock), skip a timer that already fired or was cancelled (a repeat message), let the router
    # re-check the rule against the episode as it stands and build the notifications, record them.

    def process_timer(self, message: TimerMessage) -> TimerResult:
        result = self._in_transaction(self._process_timer_once, message)
        failpoint("timer.after_commit")
        if result.notification_ids and self._on_commit:
            self._on_commit()
        return result

    def _process_timer_once(self, message: TimerMessage) -> TimerResult:
        now = self._clock()
        with transaction(self._sessions) as session:

            def lock_episode(episode_id: uuid.UUID) -> tables.Episode | None:
                return session.scalar(
                    select(tables.Episode).where(tables.Episode.episode_id == episode_id).with_for_update()
                )

            row = lock_episode(message.episode_id)
            timer = session.scalar(
                select(tables.Timer).where(tables.Timer.id == message.timer_id).with_for_update()
            )
            if timer is None or timer.status not in ("pending", "firing"):
                log.info(
                    "processor.timer_duplicate",
                    timer_id=str(message.timer_id),
                    status=timer.status if timer is not None else None,
                )
                return TimerResult(message.timer_id, duplicate=True)
            if row is None or row.episode_id != timer.episode_id:  # moved by a merge since it was sent
                row = lock_episode(timer.episode_id)
            if row is None:
                raise LookupError(f"timer {timer.id} refers to a missing episode")
            episode, _ = repository.load(row)
            routed = self._router.fire(session, episode, timer, now)
            record_notifications(session, routed, now)
            failpoint("timer.before_commit")
        log.info(
            "processor.timer_processed",
            timer_id=str(message.timer_id),
            rule_id=message.rule_id,
            episode_id=str(episode.episode_id),
            notifications=len(routed),
        )
        return TimerResult(
            message.timer_id,
            duplicate=False,
            episode_id=episode.episode_id,
            notification_ids=[r.notification.notification_id for r in routed],
        )


@dataclass
class TimerResult:
    timer_id: uuid.UUID
    duplicate: bool
    episode_id: uuid.UUID | None = None
    notification_ids: list[uuid.UUID] = field(default_factory=list)
