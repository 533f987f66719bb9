"""Consumer base: manual acks, prefetch, long work off the I/O thread, reconnection with back-off.

The I/O thread owns a pika ``BlockingConnection`` and only moves frames (so heartbeats are always
answered). Each delivery is handed to a worker thread; the worker decides what to do with it and
settles it back on the I/O thread through ``add_callback_threadsafe`` (pika's one thread-safe call).
After a dropped connection or a broker restart the consumer reconnects with exponential back-off and
jitter (tenacity); deliveries that were in flight on the old channel are redelivered by the broker, so
handlers must be idempotent (the processor is: it dedupes on idempotency_key).
"""

from __future__ import annotations

import enum
import functools
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
import structlog
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection
from tenacity import Retrying, retry_if_exception_type

from gateway.broker.connection import RECONNECT_WAIT, parameters

log = structlog.get_logger(__name__)

CONNECTION_ERRORS = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.AMQPChannelError,
    pika.exceptions.StreamLostError,
    ConnectionError,
    OSError,
)


class Settle(enum.Enum):
    ACK = "ack"  # done (or handed on elsewhere with a confirmed publish)
    REQUEUE = "requeue"  # try again now; counts towards the queue's delivery limit
    REJECT = "reject"  # dead-letter through the queue's DLX


@dataclass(frozen=True)
class Delivery:
    body: bytes
    routing_key: str
    exchange: str
    properties: pika.BasicProperties
    redelivered: bool
    delivery_tag: int

    @property
    def headers(self) -> dict[str, Any]:
        return dict(self.properties.headers or {})

    @property
    def delivery_count(self) -> int:
        """Times the broker delivered it before (quorum queues' ``x-delivery-count``)."""
        return int(self.headers.get("x-delivery-count", 0) or 0)


Handler = Callable[[Delivery], Settle]
BatchHandler = Callable[[list[Delivery]], list[Settle]]


class Consumer:
    def __init__(
        self,
        url: str,
        queue: str,
        handler: Handler,
        *,
        prefetch: int = 64,
        workers: int = 1,
        name: str = "gateway-consumer",
        heartbeat: int = 30,
        declare: Callable[[BlockingChannel], None] | None = None,
        batch_size: int = 1,
        batch_wait: float = 0.005,
    ):
        """``batch_size`` > 1 with a handler that has ``batch`` (list of deliveries → list of
        decisions): one worker thread takes up to that many deliveries that are already here (waiting
        at most ``batch_wait`` s for more) and hands them over together, e.g. for one transaction."""
        self._params = parameters(url, heartbeat=heartbeat, name=name)
        self.queue = queue
        self._handler = handler
        self._prefetch = prefetch
        self._workers = workers
        self._name = name
        self._declare = declare
        batch = getattr(handler, "batch", None)
        self._batch: BatchHandler | None = batch if batch_size > 1 and callable(batch) else None
        self._batch_size = batch_size
        self._batch_wait = batch_wait
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.connections = 0

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Consume until :meth:`stop`; reconnect after any connection loss."""
        while not self._stop.is_set():
            try:
                connection = self._connect()
            except _Stopped:
                return
            try:
                self._consume(connection)
            except CONNECTION_ERRORS as exc:
                log.warning("consumer.connection_lost", consumer=self._name, error=type(exc).__name__)
            finally:
                self.connected.clear()
                if connection.is_open:
                    try:
                        connection.close()
                    except CONNECTION_ERRORS:
                        log.debug("consumer.close_failed", consumer=self._name)

    def run_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name=self._name, daemon=True)
        thread.start()
        return thread

    def _connect(self) -> BlockingConnection:
        def attempt() -> BlockingConnection:
            if self._stop.is_set():
                raise _Stopped
            conn = BlockingConnection(self._params)
            if self._declare:
                ch = conn.channel()
                self._declare(ch)
                ch.close()
            return conn

        retrying = Retrying(
            wait=RECONNECT_WAIT,
            retry=retry_if_exception_type(CONNECTION_ERRORS),
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda s: log.warning(
                "consumer.reconnecting", consumer=self._name, attempt=s.attempt_number
            ),
        )
        conn = retrying(attempt)
        self.connections += 1
        return conn

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopped

    def _consume(self, connection: BlockingConnection) -> None:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=self._prefetch)
        pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix=f"{self._name}-work")
        waiting: queue.Queue[Delivery] = queue.Queue()
        closing = threading.Event()  # this connection's batch worker stops when it is set
        if self._batch is not None:
            pool.submit(self._batches, connection, channel, waiting, closing)

        def on_message(ch: BlockingChannel, method: Any, props: pika.BasicProperties, body: bytes) -> None:
            delivery = Delivery(
                body, method.routing_key, method.exchange, props, method.redelivered, method.delivery_tag
            )
            if self._batch is not None:
                waiting.put(delivery)
            else:
                pool.submit(self._work, connection, ch, delivery)

        tag = channel.basic_consume(self.queue, on_message_callback=on_message)
        self.connected.set()
        log.info("consumer.started", consumer=self._name, queue=self.queue)
        try:
            while not self._stop.is_set():
                connection.process_data_events(time_limit=0.5)
            channel.basic_cancel(tag)
        finally:
            closing.set()
            # Let running work finish and settle while the connection still moves frames.
            shutdown = threading.Thread(target=pool.shutdown, kwargs={"wait": True}, daemon=True)
            shutdown.start()
            while shutdown.is_alive() and connection.is_open:
                try:
                    connection.process_data_events(time_limit=0.1)
                except CONNECTION_ERRORS:
                    break
            shutdown.join()

    def _batches(
        self,
        connection: BlockingConnection,
        channel: BlockingChannel,
        waiting: queue.Queue[Delivery],
        closing: threading.Event,
    ) -> None:
        """Batch mode's one worker: until the channel closes, take what has arrived and settle it all
        in one callback on the I/O thread."""
        handle = self._batch
        if handle is None:
            return
        while not closing.is_set() and channel.is_open:
            try:
                batch = [waiting.get(timeout=0.2)]
            except queue.Empty:
                continue
            deadline = time.monotonic() + self._batch_wait
            while len(batch) < self._batch_size:
                try:
                    batch.append(waiting.get(timeout=max(deadline - time.monotonic(), 0)))
                except queue.Empty:
                    break
            try:
                decisions = handle(batch)
            except Exception:  # a handler bug must not kill the worker; the broker will redeliver
                log.exception("consumer.handler_crashed", consumer=self._name, batch=len(batch))
                decisions = [Settle.REQUEUE] * len(batch)
            tags = [(d.delivery_tag, decision) for d, decision in zip(batch, decisions, strict=True)]
            try:
                connection.add_callback_threadsafe(functools.partial(_settle_all, channel, tags))
            except CONNECTION_ERRORS:
                log.warning("consumer.settle_lost", consumer=self._name, batch=len(batch))
                return

    def _work(self, connection: BlockingConnection, channel: BlockingChannel, delivery: Delivery) -> None:
        try:
            decision = self._handler(delivery)
        except Exception:  # a handler bug must not kill the worker; the broker will redeliver
            log.exception("consumer.handler_crashed", consumer=self._name)
            decision = Settle.REQUEUE
        try:
            connection.add_callback_threadsafe(
                functools.partial(_settle, channel, delivery.delivery_tag, decision)
            )
        except CONNECTION_ERRORS:
            # The connection is gone: the broker redelivers the message, the handler dedupes it.
            log.warning("consumer.settle_lost", consumer=self._name, decision=decision.value)


class _Stopped(Exception):
    pass


def _settle_all(channel: BlockingChannel, tags: list[tuple[int, Settle]]) -> None:
    for tag, decision in tags:
        _settle(channel, tag, decision)


def _settle(channel: BlockingChannel, tag: int, decision: Settle) -> None:
    if not channel.is_open:
        return  # tags belong to the dead channel; the broker redelivers
    if decision is Settle.ACK:
        channel.basic_ack(tag)
    elif decision is Settle.REQUEUE:
        channel.basic_nack(tag, requeue=True)
    else:
        channel.basic_nack(tag, requeue=False)
