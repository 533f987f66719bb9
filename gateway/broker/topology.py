"""Exchanges and queues, declared idempotently at start-up (DESIGN.md "Message flow").

- ``missing.inbound`` (topic, rk ``system.instance``) → ``gateway.process`` (quorum, dead-lettering to
  ``missing.dead``, explicit delivery limit: RabbitMQ 3.10 quorum queues have no default limit, so a
  message that crashes its consumer would otherwise loop for ever).
- ``missing.retry`` (direct, rk = delay tier) → ``gateway.process.retry.<ms>`` classic queues whose
  message TTL is the tier; expired messages dead-letter straight back to ``gateway.process``. Classic,
  because 3.10 quorum queues do not support message TTL.
- ``missing.notifications`` (topic, rk ``kind.id.role``) → one durable quorum queue per recipient.
- ``missing.dead`` (topic) → ``missing.dead`` quorum queue: everything that could not be processed,
  with its reason in the headers.
"""

from __future__ import annotations

from pika.adapters.blocking_connection import BlockingChannel

INBOUND = "missing.inbound"
NOTIFICATIONS = "missing.notifications"
RETRY = "missing.retry"
DEAD = "missing.dead"
PROCESS_QUEUE = "gateway.process"
DEAD_QUEUE = "missing.dead"

QUORUM = {"x-queue-type": "quorum"}


def retry_queue_name(delay_ms: int) -> str:
    return f"{PROCESS_QUEUE}.retry.{delay_ms}ms"


def retry_routing_key(delay_ms: int) -> str:
    return f"{delay_ms}ms"


def declare_core(channel: BlockingChannel, *, delivery_limit: int, retry_delays_ms: list[int]) -> None:
    for name, kind in ((INBOUND, "topic"), (NOTIFICATIONS, "topic"), (DEAD, "topic"), (RETRY, "direct")):
        channel.exchange_declare(name, kind, durable=True)
    channel.queue_declare(DEAD_QUEUE, durable=True, arguments=QUORUM)
    channel.queue_bind(DEAD_QUEUE, DEAD, "#")
    channel.queue_declare(
        PROCESS_QUEUE,
        durable=True,
        arguments={**QUORUM, "x-dead-letter-exchange": DEAD, "x-delivery-limit": delivery_limit},
    )
    channel.queue_bind(PROCESS_QUEUE, INBOUND, "#")
    for delay in retry_delays_ms:
        queue = retry_queue_name(delay)
        channel.queue_declare(
            queue,
            durable=True,
            arguments={
                "x-message-ttl": delay,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": PROCESS_QUEUE,
            },
        )
        channel.queue_bind(queue, RETRY, retry_routing_key(delay))


def declare_recipient_queue(channel: BlockingChannel, routing_key: str) -> None:
    """A recipient's own queue, named after its routing key (``la.886.front_door``)."""
    channel.queue_declare(routing_key, durable=True, arguments=QUORUM)
    channel.queue_bind(routing_key, NOTIFICATIONS, routing_key)
