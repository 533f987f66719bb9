"""AMQP channel: the recipient's own durable queue on the gateway's RabbitMQ, read with its own user.

Normally the broker delivers: the recipient's queue is bound to its routing key on
``missing.notifications`` (``gateway recipients provision``; the outbox relay makes sure the binding
exists before it publishes), so the notice is in the queue the moment the relay's publish is
confirmed, even when no delivery worker is running. The dispatcher then records the receipt.

This channel is the other way in: it publishes one notice straight into the queue (default exchange,
``mandatory``, confirmed). It is used when the notice did not come through ``missing.notifications``
(an operator's replay) or the queue was missing when it did. A queue that does not exist makes the
publish unroutable: a permanent failure (dead letter + alert) until someone provisions the recipient.
The message carries ``message_id = notification_id`` for the recipient to deduplicate on.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingConnection

from gateway.broker.connection import parameters
from gateway.broker.publisher import ConfirmedPublisher, PublishError, Unroutable
from gateway.delivery.channel import Channel, ChannelContext, DeliveryResult, register_channel
from gateway.model import Notification


@register_channel
class AmqpChannel(Channel):
    name = "amqp"

    def __init__(self, publisher: ConfirmedPublisher | None, *, confirm_timeout: float = 30.0):
        self._publisher = publisher
        self._timeout = confirm_timeout

    @classmethod
    def create(cls, context: ChannelContext) -> Channel:
        return cls(context.publisher, confirm_timeout=context.settings.publish_confirm_timeout_s)

    def deliver(self, notification: Notification, endpoint: dict[str, Any]) -> DeliveryResult:
        if self._publisher is None:
            return DeliveryResult("retry", "no broker publisher in this process")
        queue = str(endpoint.get("queue") or notification.recipient.routing_key)
        try:
            self._publisher.publish_and_wait(
                "",
                queue,
                notification.to_json(),
                message_id=str(notification.notification_id),
                headers={"x-episode-id": str(notification.episode_id), "x-rule-id": notification.rule.id},
                mandatory=True,
                timeout=self._timeout,
            )
        except Unroutable:
            return DeliveryResult("failed", f"queue {queue} does not exist: provision the recipient")
        except PublishError as exc:
            return DeliveryResult("retry", f"broker: {type(exc).__name__}")
        return DeliveryResult("delivered", f"published to queue {queue}", {"queue": queue})


class QueueChecker:
    """Does a queue exist? (passive declare). One connection, used under a lock (pika connections are
    not thread-safe); a positive answer is cached briefly, since queues are created, not deleted."""

    def __init__(self, url: str, *, heartbeat: int = 30, ttl_s: float = 60.0):
        self._params = parameters(url, heartbeat=heartbeat, name="gateway-delivery-queue-check")
        self._conn: BlockingConnection | None = None
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._ttl = ttl_s

    def exists(self, queue: str) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._seen.get(queue, 0.0) > now:
                return True
            for attempt in (1, 2):  # a connection the broker dropped is noticed only when used
                try:
                    if self._conn is None or not self._conn.is_open:
                        self._conn = BlockingConnection(self._params)
                    ch = self._conn.channel()
                    try:
                        ch.queue_declare(queue, passive=True)
                    except pika.exceptions.ChannelClosedByBroker as exc:
                        if exc.reply_code == 404:
                            return False
                        raise
                    ch.close()
                    self._seen[queue] = now + self._ttl
                    return True
                except pika.exceptions.AMQPConnectionError:
                    self._conn = None
                    if attempt == 2:
                        raise
            return False

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._conn.is_open:
                with contextlib.suppress(pika.exceptions.AMQPError):  # already going away
                    self._conn.close()
            self._conn = None
