"""Delivery workers: the dispatcher, one consumer per channel, and the housekeeper.

- **Dispatcher** (``delivery.dispatch``, bound ``#`` on ``missing.notifications``): looks each
  notification's recipient up in the directory. No entry → a ``no_channel`` row, an error log line with
  the ids, a counter, a copy on ``missing.dead``: listed by ``gateway dead list`` and the API, never a
  silent drop. Otherwise one ``deliveries`` row per endpoint: AMQP endpoints were delivered by the
  broker's own binding (receipt recorded), school digests are held, the rest are handed to
  ``missing.delivery`` with the channel as routing key.
- **Channel handler** (``delivery.<channel>``): claims the row (never sends what was delivered, never
  sends what another worker is sending), tries the channel once plus ``delivery_quick_retries`` quick
  in-process retries (tenacity) for transient failures, records a receipt per attempt, then: delivered
  → ack; permanent failure → ``missing.dead`` at once; still transient → the retry queue of the next
  tier (``delivery.<channel>.retry.<ms>ms``, which dead-letters back after its TTL), until
  ``delivery_max_attempts`` rounds, then ``missing.dead``.
- **Housekeeper**: releases due school digests and refreshes the oldest-undelivered gauge.

Logs carry ids (notification, episode), routing keys, channel and endpoint names, status codes and
error types: never the notification's content.
"""

from __future__ import annotations

import concurrent.futures
import importlib
import json
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker
from tenacity import Retrying, retry_if_result, stop_after_attempt, wait_exponential, wait_random

from gateway.broker.consumer import Consumer, Delivery, Settle
from gateway.broker.publisher import ConfirmedPublisher, PublishError, wait_confirmed
from gateway.broker.topology import DEAD, NOTIFICATIONS, RETRY
from gateway.delivery import store
from gateway.delivery.amqp import QueueChecker
from gateway.delivery.channel import Channel, ChannelContext, DeliveryResult, channel_class, channels
from gateway.delivery.digest import hold_until, parse_time
from gateway.delivery.directory import CHANNEL_NAMES, NO_CHANNEL, Directory, Endpoint, RecipientEntry
from gateway.delivery.metrics import DEAD as DEAD_COUNT
from gateway.delivery.metrics import (
    FAILED,
    HELD,
    OLDEST,
    RETRYING,
    SENT,
    FailureRateAlarm,
)
from gateway.delivery.metrics import (
    NO_CHANNEL as NO_CHANNEL_COUNT,
)
from gateway.delivery.topology import (
    DELIVERY,
    DISPATCH_QUEUE,
    channel_queue,
    dead_key,
    declare_delivery,
    retry_key,
)
from gateway.episodes.handler import ERROR_HEADER, safe_reason
from gateway.model import Notification
from gateway.rules.calendars import Calendars, load_calendars
from gateway.store.db import transaction
from gateway.store.tables import DeliveryReceipt

log = structlog.get_logger(__name__)

ENDPOINT_HEADER = "x-gateway-endpoint"
RECIPIENT_HEADER = "x-gateway-recipient"
CHANNEL_HEADER = "x-gateway-channel"
REPLAY_HEADER = "x-gateway-replayed-by"
BUILTIN_CHANNEL_MODULES = ("gateway.delivery.amqp", "gateway.delivery.webhook", "gateway.delivery.email")
# The NHS adapter's channels live in their own modules; loaded when present.
OPTIONAL_CHANNEL_MODULES = ("gateway.delivery.fhir", "gateway.delivery.mesh")

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def load_channel_modules() -> None:
    for module in BUILTIN_CHANNEL_MODULES:
        importlib.import_module(module)
    for module in OPTIONAL_CHANNEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # the module exists but something it needs does not: say so
                log.error("delivery.channel_module_broken", module=module, missing=exc.name)


def endpoint_headers(n: Notification, ep_id: str, channel: str) -> dict[str, Any]:
    return {
        ENDPOINT_HEADER: ep_id,
        RECIPIENT_HEADER: n.recipient.routing_key,
        CHANNEL_HEADER: channel,
        "x-episode-id": str(n.episode_id),
    }


def handoff_message_id(notification_id: Any, endpoint: str) -> str:
    return f"{notification_id}:{endpoint}"


def _dead_letter(
    publisher: ConfirmedPublisher,
    *,
    routing_key: str,
    body: bytes,
    message_id: str,
    reason: str,
    headers: dict[str, Any],
    timeout: float,
) -> bool:
    try:
        publisher.publish_and_wait(
            DEAD,
            routing_key,
            body,
            message_id=message_id,
            headers={
                **headers,
                ERROR_HEADER: reason,
                "x-gateway-failed-at": utcnow().isoformat(),
            },
            mandatory=True,
            timeout=timeout,
        )
    except PublishError:
        return False
    return True


def _refuse_unreadable(
    publisher: ConfirmedPublisher,
    d: Delivery,
    exc: ValidationError,
    routing_key: str,
    queue: str,
    timeout: float,
) -> Settle:
    """A body that is not a notification can never be delivered: dead-letter it with the reason at once."""
    reason = safe_reason(exc)
    log.error("delivery.unreadable_notification", message_id=d.properties.message_id, error=reason)
    ok = _dead_letter(
        publisher,
        routing_key=routing_key,
        body=d.body,
        message_id=d.properties.message_id or f"unreadable-{d.delivery_tag}",
        reason=reason,
        headers={"x-gateway-queue": queue},
        timeout=timeout,
    )
    return Settle.ACK if ok else Settle.REJECT


def _routed_receipt(n: Notification, ep: Endpoint, attempt: int, now: datetime) -> dict[str, Any]:
    """The receipt of a notice the broker routed to an AMQP recipient's queue by its binding."""
    queue = ep.settings()["queue"]
    return {
        "notification_id": n.notification_id,
        "recipient": n.recipient.routing_key,
        "channel": "amqp",
        "endpoint": ep.id,
        "attempt": attempt,
        "outcome": "delivered",
        "detail": f"routed to queue {queue} by its binding",
        "receipt": {"queue": queue, "via": NOTIFICATIONS},
        "at": now,
    }


Plan = list[tuple[Endpoint, str, datetime | None]]  # (endpoint, store.ROUTE/SEND/HOLD, hold until)


@dataclass
class _Dispatch:
    """One notification of a batch on its way through :meth:`Dispatcher.batch`."""

    index: int
    delivery: Delivery
    notification: Notification
    plan: Plan
    to_send: list[Endpoint] = field(default_factory=list)
    routed: list[Endpoint] = field(default_factory=list)
    held: list[tuple[Endpoint, datetime]] = field(default_factory=list)
    futures: list[Future[None]] = field(default_factory=list)


class Dispatcher:
    """Consumer handler of ``delivery.dispatch``: recipient → endpoints (module docstring).

    One message at a time (``__call__``: one transaction each), or, in the consumer's batch mode,
    everything already delivered (``batch``): the records of the whole batch in ONE transaction of a
    few set-based statements, acks after its commit; anything that cannot go that way (unreadable, no
    channel, a repeat copy in the same batch) and every message of a batch whose transaction failed is
    handled one by one, so dead letters and requeues stay per message."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        publisher: ConfirmedPublisher,
        directory: Directory,
        queues: QueueChecker,
        calendars: Calendars,
        *,
        digest_time: str = "08:00",
        confirm_timeout: float = 30.0,
        clock: Clock = utcnow,
    ):
        self._sessions = sessions
        self._publisher = publisher
        self._directory = directory
        self._queues = queues
        self._calendars = calendars
        self._digest_time = parse_time(digest_time)
        self._timeout = confirm_timeout
        self._clock = clock

    def __call__(self, d: Delivery) -> Settle:
        try:
            n = Notification.model_validate_json(d.body)
        except ValidationError as exc:
            return _refuse_unreadable(
                self._publisher, d, exc, "delivery.unreadable", DISPATCH_QUEUE, self._timeout
            )
        now = self._clock()
        rk = n.recipient.routing_key
        entry = self._directory.by_routing_key(rk)
        if entry is None:
            return self._no_channel(n, d, now)

        plan = self._plan(n, entry, d, now)
        body = n.document()
        one = _Dispatch(0, d, n, plan)

        def record() -> None:
            one.to_send.clear()
            one.routed.clear()
            one.held.clear()
            with transaction(self._sessions) as s:
                for ep, action, when in plan:
                    row, created = store.ensure_row(
                        s,
                        notification_id=n.notification_id,
                        episode_id=n.episode_id,
                        recipient=rk,
                        channel=ep.channel,
                        endpoint=ep.id,
                        status=store.HELD if action == store.HOLD else store.PENDING,
                        now=now,
                        release_at=when,
                        body=body if action == store.HOLD else None,
                    )
                    if created and action == store.HOLD and when is not None:
                        one.held.append((ep, when))
                    if row.status != store.PENDING:
                        continue  # delivered, held, being retried, dead: already in hand
                    if action == store.ROUTE:
                        attempt = row.attempts + 1
                        s.add(DeliveryReceipt(**_routed_receipt(n, ep, attempt, now)))
                        row.status, row.attempts, row.delivered_at, row.updated_at = (
                            store.DELIVERED,
                            attempt,
                            now,
                            now,
                        )
                        one.routed.append(ep)
                    else:
                        one.to_send.append(ep)

        store.with_db_retry(record)
        self._counted(one)
        self._hand_over([one])
        return self._settled(one)

    def batch(self, deliveries: list[Delivery]) -> list[Settle]:
        """Several deliveries at once (the consumer's batch mode): see the class docstring."""
        now = self._clock()
        decisions: list[Settle | None] = [None] * len(deliveries)
        batch: list[_Dispatch] = []
        seen: set[uuid.UUID] = set()
        for i, d in enumerate(deliveries):
            try:
                n = Notification.model_validate_json(d.body)
            except ValidationError:
                continue  # one by one below: dead-lettered with its reason
            entry = self._directory.by_routing_key(n.recipient.routing_key)
            if entry is None or n.notification_id in seen:
                continue  # no channel (loud, copied to missing.dead) / a repeat copy: one by one, after
            seen.add(n.notification_id)
            batch.append(_Dispatch(i, d, n, self._plan(n, entry, d, now)))
        if batch:
            try:
                self._record_batch(batch, now)
            except Exception as exc:  # rolled back: one by one below, each with its own outcome
                log.warning(
                    "delivery.dispatch_batch_failed", notifications=len(batch), error=safe_reason(exc)
                )
            else:
                for one in batch:
                    self._counted(one)
                self._hand_over(batch)
                for one in batch:
                    decisions[one.index] = self._settled(one)
        return [decision or self._alone(d) for decision, d in zip(decisions, deliveries, strict=True)]

    def _alone(self, d: Delivery) -> Settle:
        """One message of a batch handled by itself: its failure requeues it alone, as the consumer does
        for a message in single mode, not the whole batch (whose others may be settled already)."""
        try:
            return self(d)
        except Exception:
            log.exception("delivery.dispatch_failed", message_id=d.properties.message_id)
            return Settle.REQUEUE

    # --- internals ----------------------------------------------------------------------------
    def _plan(self, n: Notification, entry: RecipientEntry, d: Delivery, now: datetime) -> Plan:
        # Broker checks before the database transaction: never hold the write lock across network I/O
        # that is not needed to keep the two in step.
        plan: Plan = []
        for ep in entry.endpoints():
            if ep.channel == "amqp":
                queue = str(ep.settings()["queue"])
                routed = d.exchange == NOTIFICATIONS and self._queues.exists(queue)
                plan.append((ep, store.ROUTE if routed else store.SEND, None))
                continue
            when = hold_until(n, entry, ep.channel, now, self._calendars, self._digest_time)
            plan.append((ep, store.HOLD if when else store.SEND, when))
        return plan

    def _record_batch(self, batch: list[_Dispatch], now: datetime) -> None:
        wanted: list[store.Wanted] = []
        for one in batch:
            n = one.notification
            body = n.document() if any(action == store.HOLD for _, action, _ in one.plan) else None
            for ep, action, when in one.plan:
                routed = _routed_receipt(n, ep, 1, now) if action == store.ROUTE else {}
                wanted.append(
                    store.Wanted(
                        notification_id=n.notification_id,
                        episode_id=n.episode_id,
                        recipient=n.recipient.routing_key,
                        channel=ep.channel,
                        endpoint=ep.id,
                        action=action,
                        release_at=when,
                        body=body if action == store.HOLD else None,
                        detail=routed.get("detail", ""),
                        receipt=routed.get("receipt", {}),
                    )
                )
        with transaction(self._sessions) as s:
            outcomes = iter(store.record_dispatches(s, wanted, now))
        # Committed: only now is anything counted, handed over or acked.
        for one in batch:
            for ep, _, when in one.plan:
                outcome = next(outcomes)
                if outcome == store.ROUTE:
                    one.routed.append(ep)
                elif outcome == store.SEND:
                    one.to_send.append(ep)
                elif outcome == store.HOLD and when is not None:
                    one.held.append((ep, when))

    def _counted(self, one: _Dispatch) -> None:
        rk = one.notification.recipient.routing_key
        for _ in one.routed:
            SENT.labels("amqp", rk).inc()
        for ep, when in one.held:
            HELD.labels(ep.channel, rk).inc()
            log.info(
                "delivery.digest_held",
                notification_id=str(one.notification.notification_id),
                recipient=rk,
                endpoint=ep.id,
                release_at=when.isoformat(),
            )

    def _hand_over(self, batch: list[_Dispatch]) -> None:
        """Every pending endpoint to its channel queue: all published at once, ONE wait for the confirms."""
        for one in batch:
            n = one.notification
            one.futures = [
                self._publisher.publish(
                    DELIVERY,
                    ep.channel,
                    one.delivery.body,
                    message_id=handoff_message_id(n.notification_id, ep.id),
                    headers=endpoint_headers(n, ep.id, ep.channel),
                    mandatory=True,
                )
                for ep in one.to_send
            ]
        everything = [f for one in batch for f in one.futures]
        if everything:
            concurrent.futures.wait(everything, timeout=self._timeout)

    def _settled(self, one: _Dispatch) -> Settle:
        n = one.notification
        try:
            wait_confirmed(one.futures, 0)  # already waited for: cancels and raises for any not confirmed
        except PublishError as exc:
            # The rows stay pending: the redelivered message hands them over again.
            log.warning(
                "delivery.handoff_failed", notification_id=str(n.notification_id), error=type(exc).__name__
            )
            return Settle.REQUEUE
        log.info(
            "delivery.dispatched",
            notification_id=str(n.notification_id),
            episode_id=str(n.episode_id),
            recipient=n.recipient.routing_key,
            sent_to=[ep.id for ep in one.to_send],
            routed=[ep.id for ep in one.routed],
            held=[ep.id for ep, _ in one.held],
        )
        return Settle.ACK

    def _no_channel(self, n: Notification, d: Delivery, now: datetime) -> Settle:
        rk = n.recipient.routing_key

        def record() -> bool:
            with transaction(self._sessions) as s:
                _, created = store.ensure_row(
                    s,
                    notification_id=n.notification_id,
                    episode_id=n.episode_id,
                    recipient=rk,
                    channel=NO_CHANNEL,
                    endpoint=NO_CHANNEL,
                    status=store.NO_CHANNEL,
                    now=now,
                    body=n.document(),
                )
                return created

        created = store.with_db_retry(record)
        # Loud every time it is seen; counted and copied to missing.dead once.
        log.error(
            "delivery.no_channel",
            notification_id=str(n.notification_id),
            episode_id=str(n.episode_id),
            recipient=rk,
            rule_id=n.rule.id,
        )
        if created:
            NO_CHANNEL_COUNT.labels(rk).inc()
            if not _dead_letter(
                self._publisher,
                routing_key="delivery.no_channel",
                body=d.body,
                message_id=str(n.notification_id),
                reason=f"no endpoint in the recipient directory for {rk}",
                headers={RECIPIENT_HEADER: rk, "x-gateway-queue": DISPATCH_QUEUE},
                timeout=self._timeout,
            ):
                log.warning("delivery.no_channel_not_copied_to_dead", notification_id=str(n.notification_id))
        return Settle.ACK


@dataclass(frozen=True)
class RetryPolicy:
    max_rounds: int
    delays_ms: list[int]
    quick_retries: int
    lease: timedelta
    quick_wait_max_s: float = 4.0


class ChannelHandler:
    """Consumer handler of ``delivery.<channel>`` (module docstring)."""

    def __init__(
        self,
        name: str,
        channel: Channel,
        sessions: sessionmaker[Session],
        publisher: ConfirmedPublisher,
        directory: Directory,
        policy: RetryPolicy,
        alarm: FailureRateAlarm,
        *,
        confirm_timeout: float = 30.0,
        clock: Clock = utcnow,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.name = name
        self._channel = channel
        self._sessions = sessions
        self._publisher = publisher
        self._directory = directory
        self._policy = policy
        self._alarm = alarm
        self._timeout = confirm_timeout
        self._clock = clock
        self._sleep = sleep

    def __call__(self, d: Delivery) -> Settle:
        try:
            n = Notification.model_validate_json(d.body)
        except ValidationError as exc:
            return _refuse_unreadable(
                self._publisher, d, exc, dead_key(self.name), channel_queue(self.name), self._timeout
            )
        endpoint_id = str(d.headers.get(ENDPOINT_HEADER) or self.name)
        rk = n.recipient.routing_key
        ids = {
            "notification_id": str(n.notification_id),
            "recipient": rk,
            "channel": self.name,
            "endpoint": endpoint_id,
        }
        entry = self._directory.by_routing_key(rk)
        ep = entry.endpoint(endpoint_id) if entry is not None else None
        now = self._clock()
        if ep is None or ep.channel != self.name:
            # The directory changed since this was dispatched: there is no longer anyone to send to.
            store.with_db_retry(lambda: self._ensure(n, endpoint_id, now))
            return self._dead(d, n, endpoint_id, "endpoint no longer in the recipient directory", 0, 0)

        c = store.claim(
            self._sessions,
            notification_id=n.notification_id,
            episode_id=n.episode_id,
            recipient=rk,
            channel=self.name,
            endpoint=endpoint_id,
            now=now,
            lease=self._policy.lease,
        )
        if c.state is store.ClaimState.DELIVERED:
            log.info("delivery.already_delivered", **ids)
            return Settle.ACK
        if c.state is store.ClaimState.STALE:
            log.info("delivery.stale_copy_ignored", status=c.status, **ids)
            return Settle.ACK
        if c.state is store.ClaimState.BUSY:
            # Another worker is sending it right now: look again after the shortest retry delay,
            # without counting a round against the notice.
            return self._park(d, n, endpoint_id, self._policy.delays_ms[0] if self._policy.delays_ms else 0)

        result, attempts = self._send(n, ep, c.attempts)
        if result.outcome == "delivered":
            SENT.labels(self.name, rk).inc()
            log.info("delivery.delivered", attempt=attempts, detail=result.detail, **ids)
            return Settle.ACK
        if result.outcome == "failed":
            FAILED.labels(self.name, rk).inc()
            return self._dead(d, n, endpoint_id, result.detail, attempts, c.rounds + 1)
        RETRYING.labels(self.name, rk).inc()
        rounds = c.rounds + 1
        if rounds >= self._policy.max_rounds or not self._policy.delays_ms:
            return self._dead(
                d, n, endpoint_id, f"gave up after {rounds} rounds: {result.detail}", attempts, rounds
            )
        delay = self._policy.delays_ms[min(rounds - 1, len(self._policy.delays_ms) - 1)]
        store.mark(
            self._sessions,
            n.notification_id,
            endpoint_id,
            store.RETRYING,
            now,
            reason=result.detail,
            add_round=True,
        )
        log.warning(
            "delivery.retry_scheduled",
            attempt=attempts,
            round=rounds,
            delay_ms=delay,
            detail=result.detail,
            **ids,
        )
        return self._park(d, n, endpoint_id, delay)

    # --- internals ----------------------------------------------------------------------------
    def _ensure(self, n: Notification, endpoint_id: str, now: datetime) -> None:
        with transaction(self._sessions) as s:
            store.ensure_row(
                s,
                notification_id=n.notification_id,
                episode_id=n.episode_id,
                recipient=n.recipient.routing_key,
                channel=self.name,
                endpoint=endpoint_id,
                status=store.PENDING,
                now=now,
            )

    def _send(self, n: Notification, ep: Endpoint, attempts_before: int) -> tuple[DeliveryResult, int]:
        attempt = attempts_before
        rk = n.recipient.routing_key
        settings = ep.settings()

        def once() -> DeliveryResult:
            nonlocal attempt
            attempt += 1
            try:
                result = self._channel.deliver(n, settings)
            except Exception as exc:  # a channel bug must not lose the notice: treat it as transient
                log.exception(
                    "delivery.channel_crashed", notification_id=str(n.notification_id), channel=self.name
                )
                result = DeliveryResult("retry", f"channel error ({type(exc).__name__})")
            store.record_attempt(
                self._sessions,
                notification_id=n.notification_id,
                recipient=rk,
                channel=self.name,
                endpoint=ep.id,
                attempt=attempt,
                result=result,
                now=self._clock(),
            )
            self._alarm.record(self.name, rk, result.outcome == "delivered")
            return result

        retrying = Retrying(
            stop=stop_after_attempt(self._policy.quick_retries + 1),
            wait=wait_exponential(multiplier=0.5, max=self._policy.quick_wait_max_s) + wait_random(0, 0.25),
            retry=retry_if_result(lambda r: r.outcome == "retry"),
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
            sleep=self._sleep,
        )
        return retrying(once), attempt

    def _park(self, d: Delivery, n: Notification, endpoint_id: str, delay_ms: int) -> Settle:
        if delay_ms <= 0:
            return Settle.REQUEUE
        try:
            self._publisher.publish_and_wait(
                RETRY,
                retry_key(self.name, delay_ms),
                d.body,
                message_id=handoff_message_id(n.notification_id, endpoint_id),
                headers=endpoint_headers(n, endpoint_id, self.name),
                mandatory=True,
                timeout=self._timeout,
            )
        except PublishError:
            return Settle.REQUEUE  # the broker keeps it; the claim makes a second send impossible
        return Settle.ACK

    def _dead(
        self, d: Delivery, n: Notification, endpoint_id: str, reason: str, attempts: int, rounds: int
    ) -> Settle:
        rk = n.recipient.routing_key
        store.mark(
            self._sessions,
            n.notification_id,
            endpoint_id,
            store.DEAD,
            self._clock(),
            reason=reason,
            body=n.document(),
        )
        DEAD_COUNT.labels(self.name, rk).inc()
        log.error(
            "delivery.dead_lettered",
            notification_id=str(n.notification_id),
            episode_id=str(n.episode_id),
            recipient=rk,
            channel=self.name,
            endpoint=endpoint_id,
            attempts=attempts,
            rounds=rounds,
            reason=reason,
        )
        ok = _dead_letter(
            self._publisher,
            routing_key=dead_key(self.name),
            body=d.body,
            message_id=handoff_message_id(n.notification_id, endpoint_id),
            reason=reason,
            headers={
                **endpoint_headers(n, endpoint_id, self.name),
                "x-gateway-attempts": attempts,
                "x-gateway-queue": channel_queue(self.name),
            },
            timeout=self._timeout,
        )
        # If even missing.dead cannot take it, the queue's own dead-lettering records it (x-death).
        return Settle.ACK if ok else Settle.REJECT


class Housekeeper:
    """Releases due school digests; refreshes the oldest-undelivered gauge."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        publisher: ConfirmedPublisher,
        *,
        interval_s: float = 5.0,
        confirm_timeout: float = 30.0,
        clock: Clock = utcnow,
    ):
        self._sessions = sessions
        self._publisher = publisher
        self._interval = interval_s
        self._timeout = confirm_timeout
        self._clock = clock
        self._stop = threading.Event()
        self._gauged: set[tuple[str, str]] = set()
        self.released = 0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # keep going: the next tick may find the database/broker back
                log.warning("delivery.housekeeping_failed", error=type(exc).__name__)
            self._stop.wait(self._interval)

    def run_in_thread(self, name: str = "gateway-delivery-housekeeper") -> threading.Thread:
        thread = threading.Thread(target=self.run, name=name, daemon=True)
        thread.start()
        return thread

    def run_once(self) -> int:
        released = self.release_digests()
        self.refresh_gauge()
        return released

    def release_digests(self) -> int:
        now = self._clock()
        with transaction(self._sessions) as s:
            rows = store.due_for_release(s, now)
            if not rows:
                return 0
            # Published inside the transaction: if the broker does not confirm, nothing is marked and
            # the next tick tries again; a row marked pending always has its message on the broker.
            futures = []
            for row in rows:
                n = Notification.model_validate(row.body)
                futures.append(
                    self._publisher.publish(
                        DELIVERY,
                        row.channel,
                        json.dumps(row.body, separators=(",", ":")).encode(),
                        message_id=handoff_message_id(row.notification_id, row.endpoint),
                        headers=endpoint_headers(n, row.endpoint, row.channel),
                        mandatory=True,
                    )
                )
            wait_confirmed(futures, self._timeout)
            for row in rows:
                row.status = store.PENDING
                row.body = None
                row.updated_at = now
                log.info(
                    "delivery.digest_released",
                    notification_id=str(row.notification_id),
                    recipient=row.recipient,
                    endpoint=row.endpoint,
                )
        self.released += len(rows)
        return len(rows)

    def refresh_gauge(self) -> None:
        now = self._clock()
        with self._sessions() as s:
            ages = store.oldest_undelivered(s, now)
        for key, age in ages.items():
            OLDEST.labels(*key).set(age)
        for key in self._gauged - set(ages):
            OLDEST.labels(*key).set(0)
        self._gauged = set(ages) | self._gauged


_METRICS_SERVED: set[int] = set()


def _serve_metrics(port: int) -> None:
    """Prometheus metrics of a worker process that has no API (``GATEWAY_DELIVERY_METRICS_PORT``)."""
    if port in _METRICS_SERVED:
        return
    from prometheus_client import start_http_server

    start_http_server(port)
    _METRICS_SERVED.add(port)
    log.info("delivery.metrics_served", port=port)


@dataclass
class DeliveryService:
    """Everything delivery runs in one process; started by the Worker or ``gateway deliver``."""

    consumers: list[Consumer]
    housekeeper: Housekeeper
    channel_objects: dict[str, Channel]
    queues: QueueChecker
    threads: list[threading.Thread] = field(default_factory=list)
    metrics_port: int | None = None

    def start(self) -> DeliveryService:
        if self.metrics_port:
            _serve_metrics(self.metrics_port)
        self.threads = [c.run_in_thread() for c in self.consumers]
        self.threads.append(self.housekeeper.run_in_thread())
        return self

    @property
    def connected(self) -> bool:
        return all(c.connected.is_set() for c in self.consumers)

    def stop(self, timeout: float = 15.0) -> None:
        self.housekeeper.stop()
        for c in self.consumers:
            c.stop()
        for t in self.threads:
            t.join(timeout)
        for ch in self.channel_objects.values():
            try:
                ch.close()
            except Exception:  # closing is best effort at shutdown
                log.debug("delivery.channel_close_failed", channel=ch.name)
        self.queues.close()


def build_delivery(
    settings: Any,
    sessions: sessionmaker[Session],
    publisher: ConfirmedPublisher,
    directory: Directory,
    *,
    name: str = "gateway-delivery",
    only: list[str] | None = None,
    clock: Clock = utcnow,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryService:
    load_channel_modules()
    registered = channels()
    used = directory.channels_used()
    for missing in sorted(used - set(registered)):
        count = sum(1 for r in directory.entries.values() for e in r.endpoints() if e.channel == missing)
        # Their notices wait in delivery.<channel> (and show in the oldest-undelivered gauge).
        log.error("delivery.channel_not_implemented", channel=missing, endpoints=count)
    wanted = only or settings.delivery_channels or sorted(set(registered) & (used | {"amqp"}))
    declared = set(CHANNEL_NAMES) | used | set(wanted)

    def declare(ch: Any) -> None:
        declare_delivery(ch, declared, settings.delivery_retry_delays_ms)

    queues = QueueChecker(settings.amqp_url, heartbeat=settings.heartbeat_s)
    calendars = load_calendars(settings.mappings_dir / "calendars")
    dispatcher = Dispatcher(
        sessions,
        publisher,
        directory,
        queues,
        calendars,
        digest_time=settings.delivery_digest_time,
        confirm_timeout=settings.publish_confirm_timeout_s,
        clock=clock,
    )
    # The dispatcher records what has already arrived in one transaction (Dispatcher.batch). Its
    # prefetch is at least twice the batch, so the next batch is on its way while one is recorded.
    batch_size = settings.delivery_dispatch_batch_size
    batch_wait_ms = settings.delivery_dispatch_batch_wait_ms
    consumers = [
        Consumer(
            settings.amqp_url,
            DISPATCH_QUEUE,
            dispatcher,
            prefetch=max(settings.delivery_prefetch, 2 * batch_size if batch_size > 1 else 1),
            workers=settings.delivery_workers,
            name=f"{name}-dispatch",
            heartbeat=settings.heartbeat_s,
            declare=declare,
            batch_size=batch_size,
            batch_wait=batch_wait_ms / 1000,
        )
    ]
    policy = RetryPolicy(
        max_rounds=settings.delivery_max_attempts,
        delays_ms=list(settings.delivery_retry_delays_ms),
        quick_retries=settings.delivery_quick_retries,
        lease=timedelta(seconds=settings.delivery_lease_s),
    )
    alarm = FailureRateAlarm(
        settings.delivery_alert_failure_rate,
        settings.delivery_alert_window,
        settings.delivery_alert_min_attempts,
    )
    context = ChannelContext(settings=settings, publisher=publisher)
    objects: dict[str, Channel] = {}
    for channel_name in wanted:
        try:
            cls = channel_class(channel_name)
        except KeyError:
            log.error("delivery.channel_not_implemented", channel=channel_name)
            continue
        objects[channel_name] = cls.create(context)
        handler = ChannelHandler(
            channel_name,
            objects[channel_name],
            sessions,
            publisher,
            directory,
            policy,
            alarm,
            confirm_timeout=settings.publish_confirm_timeout_s,
            clock=clock,
            sleep=sleep,
        )
        consumers.append(
            Consumer(
                settings.amqp_url,
                channel_queue(channel_name),
                handler,
                prefetch=settings.delivery_prefetch,
                workers=settings.delivery_workers,
                name=f"{name}-{channel_name}",
                heartbeat=settings.heartbeat_s,
                declare=declare,
            )
        )
    housekeeper = Housekeeper(
        sessions,
        publisher,
        interval_s=settings.delivery_poll_interval_s,
        confirm_timeout=settings.publish_confirm_timeout_s,
        clock=clock,
    )
    log.info("delivery.configured", channels=sorted(objects), recipients=len(directory))
    return DeliveryService(
        consumers, housekeeper, objects, queues, metrics_port=settings.delivery_metrics_port
    )
