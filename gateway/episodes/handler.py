"""Glue between ``gateway.process`` and the processor: decide ack, retry or dead-letter.

- A body that is not a canonical event can never succeed: it goes to ``missing.dead`` at once.
- A processing error is retried through ``missing.retry`` with growing delays (no hot loop), and after
  ``delivery_limit`` attempts goes to ``missing.dead`` with the reason in ``x-gateway-error``.
- A database outage is retried in place by the processor (the message stays unacked, not counted);
  if it outlasts that window the message is requeued.
- A process killed mid-message is redelivered by the broker; the queue's own ``x-delivery-limit``
  dead-letters a message that keeps killing its consumer (reason ``delivery_limit`` in ``x-death``).

Reasons name error types and fields only: they are read by operators and must not carry a child's
details (pydantic errors are rendered without their input values).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from gateway.broker.consumer import Delivery, Settle
from gateway.broker.publisher import ConfirmedPublisher, PublishError
from gateway.broker.topology import DEAD, PROCESS_QUEUE, RETRY, retry_routing_key
from gateway.episodes.processor import EventProcessor
from gateway.faults import failpoint
from gateway.model import MissingEpisodeEvent
from gateway.timers.messages import KIND_HEADER, TIMER_KIND, TimerMessage

log = structlog.get_logger(__name__)

RETRIES_HEADER = "x-gateway-retries"
ERROR_HEADER = "x-gateway-error"


def safe_reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or '(document)'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)[:10]
        ]
        return "not a canonical event: " + "; ".join(parts)
    if isinstance(exc, SQLAlchemyError):
        # SQLAlchemy messages can quote statement parameters (a child's details): type names only.
        orig = getattr(exc, "orig", None)
        return f"{type(exc).__name__}({type(orig).__name__ if orig else ''})"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


class ProcessHandler:
    def __init__(
        self,
        processor: EventProcessor,
        publisher: ConfirmedPublisher,
        *,
        delivery_limit: int,
        retry_delays_ms: list[int],
        confirm_timeout: float = 30.0,
    ):
        self._processor = processor
        self._publisher = publisher
        self._limit = delivery_limit
        self._delays = retry_delays_ms
        self._confirm_timeout = confirm_timeout

    def __call__(self, delivery: Delivery) -> Settle:
        # A due timer (sharing rules) and an event follow the same settlement policy: unreadable →
        # missing.dead; database outage → requeue; any other error → retry queues, then missing.dead
        # with the reason. A dead-lettered timer stays "firing" in the store; the scheduler takes it
        # again after its lease and marks it failed after too many tries.
        if delivery.headers.get(KIND_HEADER) == TIMER_KIND:
            return self._handle(delivery, TimerMessage, self._processor.process_timer, "timer")
        return self._handle(delivery, MissingEpisodeEvent, self._processor.process, "event")

    def batch(self, deliveries: list[Delivery]) -> list[Settle]:
        """Several deliveries at once (the consumer's batch mode): the events among them are processed
        in ONE transaction; ack follows the commit, as for one. Anything that is not a plain event
        (a timer, an unreadable body) and any batch that fails is handled one by one by
        :meth:`__call__`, so retries and dead letters stay per message."""
        events: list[tuple[int, MissingEpisodeEvent]] = []
        decisions: list[Settle | None] = [None] * len(deliveries)
        for i, d in enumerate(deliveries):
            if d.headers.get(KIND_HEADER) == TIMER_KIND:
                continue
            try:
                events.append((i, MissingEpisodeEvent.model_validate_json(d.body)))
            except ValidationError:
                continue
        if len(events) > 1:
            try:
                self._processor.process_batch([e for _, e in events])
            except Exception as exc:  # one by one below: each event gets its own outcome
                log.warning("processor.batch_failed", events=len(events), error=safe_reason(exc))
            else:
                failpoint("processor.before_ack")
                for i, _ in events:
                    decisions[i] = Settle.ACK
        return [decision or self(d) for decision, d in zip(decisions, deliveries, strict=True)]

    def _handle(
        self, delivery: Delivery, model: type[Any], process: Callable[[Any], object], what: str
    ) -> Settle:
        try:
            message = model.model_validate_json(delivery.body)
        except ValidationError as exc:
            return self._dead(delivery, safe_reason(exc), attempts=1)
        ids = {"timer_id": str(message.timer_id)} if what == "timer" else {"event_id": str(message.event_id)}
        try:
            process(message)
        except OperationalError as exc:
            log.warning(f"processor.{what}_requeue_after_outage", **ids, error=safe_reason(exc))
            return Settle.REQUEUE
        except Exception as exc:  # any other failure: retry later, then dead-letter with the reason
            return self._failed(delivery, exc, what, ids)
        failpoint("processor.before_ack" if what == "event" else "processor.timer_before_ack")
        return Settle.ACK

    def _attempts(self, delivery: Delivery) -> int:
        retries = int(delivery.headers.get(RETRIES_HEADER, 0) or 0)
        return retries + delivery.delivery_count + 1

    def _failed(self, delivery: Delivery, exc: Exception, what: str, ids: dict[str, str]) -> Settle:
        reason = safe_reason(exc)
        attempts = self._attempts(delivery)
        log.warning(f"processor.{what}_failed", **ids, attempt=attempts, error=reason)
        if attempts >= self._limit or not self._delays:
            return self._dead(delivery, reason, attempts)
        retries = int(delivery.headers.get(RETRIES_HEADER, 0) or 0)
        delay = self._delays[min(retries, len(self._delays) - 1)]
        headers = {**self._clean_headers(delivery), RETRIES_HEADER: retries + 1, ERROR_HEADER: reason}
        message_id = delivery.properties.message_id or next(iter(ids.values()))
        try:
            self._publisher.publish_and_wait(
                RETRY,
                retry_routing_key(delay),
                delivery.body,
                message_id=message_id,
                headers=headers,
                mandatory=True,
                timeout=self._confirm_timeout,
            )
        except PublishError:
            return Settle.REQUEUE  # could not park it for later: the broker keeps it and tries again
        return Settle.ACK

    def _dead(self, delivery: Delivery, reason: str, attempts: int) -> Settle:
        headers = {
            **self._clean_headers(delivery),
            ERROR_HEADER: reason,
            "x-gateway-attempts": attempts,
            "x-gateway-failed-at": datetime.now(UTC).isoformat(),
            "x-gateway-queue": PROCESS_QUEUE,
            "x-gateway-routing-key": delivery.routing_key,
        }
        message_id = delivery.properties.message_id or f"dead-{delivery.delivery_tag}"
        try:
            self._publisher.publish_and_wait(
                DEAD,
                delivery.routing_key or PROCESS_QUEUE,
                delivery.body,
                message_id=message_id,
                headers=headers,
                mandatory=True,
                timeout=self._confirm_timeout,
            )
        except PublishError:
            # Could not record it ourselves: let the queue's DLX dead-letter it (reason in x-death).
            return Settle.REJECT
        log.error("processor.dead_lettered", message_id=message_id, attempts=attempts, error=reason)
        return Settle.ACK

    @staticmethod
    def _clean_headers(delivery: Delivery) -> dict[str, Any]:
        # Broker-managed headers must not be copied onto a new message.
        return {
            k: v
            for k, v in delivery.headers.items()
            if not k.startswith("x-death")
            and k
            not in (
                "x-delivery-count",
                "x-first-death-exchange",
                "x-first-death-queue",
                "x-first-death-reason",
            )
        }
