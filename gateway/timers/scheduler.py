"""The timer scheduler: finds due timers, claims each atomically, hands it on as a timer message.

Runs as a thread in the worker (``gateway worker`` / ``gateway run``), standalone (``gateway timers
run``), or in-process under ``gateway simulate`` with a virtual clock. Any number may run at once:

- a claim is a conditional UPDATE (``status`` pending → firing); only one scheduler's UPDATE can match,
  on SQLite and PostgreSQL alike, and on PostgreSQL ``FOR UPDATE SKIP LOCKED`` keeps schedulers from
  queueing behind each other;
- the message is published with a broker confirm; no confirm → the claim is released and the timer is
  due again at once;
- a claim older than the lease (a scheduler killed after claiming, a message lost or dead-lettered) is
  taken again; the processor ignores a timer that already fired and notification ids are stable, so a
  second message for one timer changes nothing;
- a timer claimed ``max_attempts`` times without being processed is marked ``failed`` and logged as an
  error: something is wrong and an operator must look (it is never retried for ever silently).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pika.exceptions
import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gateway.broker.publisher import ConfirmedPublisher, PublishError
from gateway.broker.topology import INBOUND
from gateway.routing.metrics import TIMERS
from gateway.store import tables
from gateway.store.db import transaction
from gateway.timers import store
from gateway.timers.messages import KIND_HEADER, TIMER_KIND, TIMER_ROUTING_KEY, TimerMessage

log = structlog.get_logger(__name__)
FAILED = "failed"


class TimerTransport(Protocol):
    def send(self, messages: list[TimerMessage]) -> list[bool]:
        """Hand each message on; True for each one that is safely delivered."""


class AmqpTransport:
    """Publish to ``missing.inbound`` with confirms: the same path as any event."""

    def __init__(self, publisher: ConfirmedPublisher, *, confirm_timeout: float = 30.0):
        self._publisher = publisher
        self._timeout = confirm_timeout

    def send(self, messages: list[TimerMessage]) -> list[bool]:
        futures: list[Future[None] | None] = []
        for m in messages:
            try:
                futures.append(
                    self._publisher.publish(
                        INBOUND,
                        TIMER_ROUTING_KEY,
                        m.to_json(),
                        message_id=f"timer-{m.timer_id}",
                        headers={
                            KIND_HEADER: TIMER_KIND,
                            "x-episode-id": str(m.episode_id),
                            "x-rule-id": m.rule_id,
                        },
                        mandatory=True,
                    )
                )
            except PublishError:
                futures.append(None)
        results = []
        for f in futures:
            if f is None:
                results.append(False)
                continue
            try:
                f.result(timeout=self._timeout)
                results.append(True)
            except (PublishError, TimeoutError):
                f.cancel()
                results.append(False)
        return results


class DirectTransport:
    """Call the processor in this thread (``gateway simulate``; tests)."""

    def __init__(self, handle: Callable[[TimerMessage], Any], *, raise_errors: bool = True):
        self._handle = handle
        self._raise = raise_errors

    def send(self, messages: list[TimerMessage]) -> list[bool]:
        results = []
        for m in messages:
            try:
                self._handle(m)
                results.append(True)
            except Exception:
                if self._raise:
                    raise
                log.exception("timers.direct_failed", timer_id=str(m.timer_id))
                results.append(False)
        return results


class TimerScheduler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        transport: TimerTransport,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_interval: float = 1.0,
        lease: timedelta = timedelta(minutes=10),
        batch_size: int = 200,
        max_attempts: int = 10,
        name: str = "gateway-timers",
    ):
        self._sessions = sessions
        self._transport = transport
        self._clock = clock
        self._poll = poll_interval
        self._lease = lease
        self._batch = batch_size
        self._max_attempts = max_attempts
        self.name = name
        self._stop = threading.Event()
        self.sent = 0

    def run_once(self, now: datetime | None = None) -> int:
        """Claim what is due at ``now`` and hand it on; return how many were handed on."""
        now = now or self._clock()
        messages: list[TimerMessage] = []
        with transaction(self._sessions) as session:
            for tid in store.due_ids(session, now, self._lease, self._batch):
                if not store.claim(session, tid, now, self._lease):
                    continue  # another scheduler took it
                attempts = store.note_attempt(session, tid, self.name)
                timer = session.get(tables.Timer, tid)
                if timer is None:
                    continue
                if attempts > self._max_attempts:
                    timer.status = FAILED
                    timer.payload = {**(timer.payload or {}), "failed_at": now.isoformat()}
                    TIMERS.labels(outcome="failed").inc()
                    log.error(
                        "timers.failed", timer_id=str(tid), rule_id=timer.rule_id, attempts=attempts - 1
                    )
                    continue
                TIMERS.labels(outcome="claimed").inc()
                messages.append(TimerMessage.of(tid, timer.episode_id, timer.rule_id, timer.due_at))
        if not messages:
            return 0
        results = self._transport.send(messages)
        failed = [m for m, ok in zip(messages, results, strict=True) if not ok]
        if failed:
            with transaction(self._sessions) as session:
                for m in failed:
                    store.release(session, m.timer_id, now)
            log.warning(
                "timers.not_handed_over", count=len(failed), timer_ids=[str(m.timer_id) for m in failed]
            )
        sent = len(messages) - len(failed)
        self.sent += sent
        return sent

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once()
            except (SQLAlchemyError, pika.exceptions.AMQPError, OSError) as exc:
                log.warning("timers.scheduler_failed", scheduler=self.name, error=type(exc).__name__)
                sent = 0
            if sent < self._batch:
                self._stop.wait(self._poll)

    def run_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
