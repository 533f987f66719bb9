"""Delivery's queues on the broker (declared idempotently by every delivery process).

```
missing.notifications (topic, rk kind.id.role)
  ├─ <routing key>            one quorum queue per AMQP recipient (gateway recipients provision);
  │                           the recipient's own RabbitMQ user may read it and nothing else
  └─ delivery.dispatch  (#)   every notification: the dispatcher looks the recipient up in the
                              directory, so nothing is published into the void and a recipient with
                              no endpoint is seen and reported (never dropped by the exchange)
missing.delivery (direct, rk = channel)
  └─ delivery.<channel>       one quorum queue per push channel (webhook, email, fhir, mesh, amqp for
                              replays), consumed by that channel's workers: a slow mail server never
                              holds up webhooks
missing.retry (direct, rk delivery.<channel>.<ms>ms)
  └─ delivery.<channel>.retry.<ms>ms   classic queues whose message TTL is the tier; an expired
                              message dead-letters straight back to delivery.<channel> (classic:
                              quorum queues in RabbitMQ 3.10 have no message TTL)
missing.dead (topic, rk delivery.<channel>)  what could not be delivered, with its reason
```

Every queue here is durable; the quorum ones dead-letter to ``missing.dead`` and carry an explicit
delivery limit, so a message that keeps crashing its worker cannot loop for ever.
"""

from __future__ import annotations

from pika.adapters.blocking_connection import BlockingChannel

from gateway.broker.topology import DEAD, DEAD_QUEUE, NOTIFICATIONS, QUORUM, RETRY

DELIVERY = "missing.delivery"
DISPATCH_QUEUE = "delivery.dispatch"
# A crash guard, not the retry policy (that is delivery_max_attempts): a message requeued this many
# times (e.g. a worker killed mid-send again and again) is dead-lettered by the broker itself.
QUEUE_DELIVERY_LIMIT = 20


def channel_queue(channel: str) -> str:
    return f"delivery.{channel}"


def retry_queue(channel: str, delay_ms: int) -> str:
    return f"delivery.{channel}.retry.{delay_ms}ms"


def retry_key(channel: str, delay_ms: int) -> str:
    return f"delivery.{channel}.{delay_ms}ms"


def dead_key(channel: str) -> str:
    return f"delivery.{channel}"


def _quorum_with_dlx() -> dict[str, object]:
    return {**QUORUM, "x-dead-letter-exchange": DEAD, "x-delivery-limit": QUEUE_DELIVERY_LIMIT}


def declare_delivery(channel: BlockingChannel, channels: set[str], retry_delays_ms: list[int]) -> None:
    # The core exchanges are declared again (same arguments: a no-op) so that delivery does not depend
    # on which process started first.
    for name, kind in ((NOTIFICATIONS, "topic"), (DEAD, "topic"), (RETRY, "direct"), (DELIVERY, "direct")):
        channel.exchange_declare(name, kind, durable=True)
    # The dead-letter queue too (same arguments as broker.topology.declare_core): a delivery process
    # may start before any processor has, and a dead letter with no queue would vanish.
    channel.queue_declare(DEAD_QUEUE, durable=True, arguments=QUORUM)
    channel.queue_bind(DEAD_QUEUE, DEAD, "#")
    channel.queue_declare(DISPATCH_QUEUE, durable=True, arguments=_quorum_with_dlx())
    channel.queue_bind(DISPATCH_QUEUE, NOTIFICATIONS, "#")
    for name in sorted(channels):
        queue = channel_queue(name)
        channel.queue_declare(queue, durable=True, arguments=_quorum_with_dlx())
        channel.queue_bind(queue, DELIVERY, name)
        for delay in retry_delays_ms:
            rq = retry_queue(name, delay)
            channel.queue_declare(
                rq,
                durable=True,
                arguments={
                    "x-message-ttl": delay,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": queue,
                },
            )
            channel.queue_bind(rq, RETRY, retry_key(name, delay))
