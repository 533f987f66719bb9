"""The broker's ceiling on this machine, with no gateway: pika publishing to a durable quorum queue with
streaming publisher confirms (many in flight, acks counted as they come, ``multiple`` honoured), then
one consumer taking them back with manual acks (prefetch, acks batched with ``multiple``).

Same message size as the gateway's canonical events, same queue type, same persistence: what the
gateway could not beat even if it did nothing but move bytes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pika
from pika.adapters.select_connection import SelectConnection
from pika.spec import Basic

QUEUE = "bench.raw"


@dataclass
class RawResult:
    messages: int
    size: int
    publish_per_s: float
    consume_per_s: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "messages": self.messages,
            "message_bytes": self.size,
            "publish_confirmed_per_s": round(self.publish_per_s, 1),
            "consume_acked_per_s": round(self.consume_per_s, 1),
        }


def _declare(url: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    ch.queue_purge(QUEUE)
    conn.close()


def publish_confirmed(url: str, body: bytes, count: int, window: int = 1000) -> float:
    """Seconds to publish ``count`` persistent messages with at most ``window`` unconfirmed."""
    state = {"sent": 0, "confirmed": 0, "last_tag": 0, "start": 0.0, "end": 0.0}
    props = pika.BasicProperties(delivery_mode=2, content_type="application/json")

    def pump(ch: pika.channel.Channel) -> None:
        while state["sent"] < count and state["sent"] - state["confirmed"] < window:
            ch.basic_publish("", QUEUE, body, props)
            state["sent"] += 1

    def on_confirm(frame: pika.frame.Method) -> None:
        m = frame.method
        if isinstance(m, Basic.Nack):
            raise RuntimeError("broker nacked a publish")
        tag = m.delivery_tag
        state["confirmed"] += tag - state["last_tag"] if m.multiple else 1
        state["last_tag"] = max(state["last_tag"], tag)
        if state["confirmed"] >= count:
            state["end"] = time.perf_counter()
            conn.close()
            return
        pump(channel_ref[0])

    channel_ref: list[pika.channel.Channel] = []

    def on_channel(ch: pika.channel.Channel) -> None:
        channel_ref.append(ch)
        ch.confirm_delivery(on_confirm)
        state["start"] = time.perf_counter()
        pump(ch)

    def on_open(c: SelectConnection) -> None:
        c.channel(on_open_callback=on_channel)

    conn = SelectConnection(
        pika.URLParameters(url),
        on_open_callback=on_open,
        on_close_callback=lambda c, e: c.ioloop.stop(),
    )
    conn.ioloop.start()
    if state["confirmed"] < count:
        raise RuntimeError(f"only {state['confirmed']} of {count} confirmed")
    return state["end"] - state["start"]


def consume_acked(url: str, count: int, prefetch: int = 1000, ack_every: int = 250) -> float:
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=prefetch)
    got = 0
    start = time.perf_counter()
    last_tag = 0
    for method, _props, _body in ch.consume(QUEUE, inactivity_timeout=30):
        if method is None:
            break
        got += 1
        last_tag = method.delivery_tag
        if got % ack_every == 0 or got >= count:
            ch.basic_ack(last_tag, multiple=True)
        if got >= count:
            break
    elapsed = time.perf_counter() - start
    ch.cancel()
    conn.close()
    if got < count:
        raise RuntimeError(f"consumed only {got} of {count}")
    return elapsed


def measure(url: str, body: bytes, count: int) -> RawResult:
    _declare(url)
    pub = publish_confirmed(url, body, count)
    con = consume_acked(url, count)
    return RawResult(count, len(body), count / pub, count / con)
