"""Read-only looks at the broker for operators and metrics."""

from __future__ import annotations

import pika
import pika.exceptions

from gateway.broker.connection import parameters
from gateway.broker.topology import DEAD_QUEUE, PROCESS_QUEUE


def queue_depths(url: str, queues: tuple[str, ...] = (PROCESS_QUEUE, DEAD_QUEUE)) -> dict[str, int]:
    """Ready messages per queue; an unreachable broker or a missing queue is simply left out."""
    out: dict[str, int] = {}
    try:
        conn = pika.BlockingConnection(parameters(url, name="gateway-metrics"))
    except pika.exceptions.AMQPError:
        return out
    try:
        for queue in queues:
            try:
                ch = conn.channel()
                out[queue] = ch.queue_declare(queue, passive=True).method.message_count
                ch.close()
            except pika.exceptions.ChannelClosedByBroker:
                continue
    finally:
        if conn.is_open:
            conn.close()
    return out
