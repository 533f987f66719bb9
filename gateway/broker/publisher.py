"""Publisher with streaming publisher confirms, shared safely by many threads.

One I/O thread owns a pika ``SelectConnection`` (pika connections are not thread-safe). Callers in any
thread call :meth:`ConfirmedPublisher.publish`, which queues the message and returns a Future; the I/O
thread publishes without waiting, keeps many messages in flight, and resolves each Future when the
broker confirms it (Basic.Ack, possibly for many at once with ``multiple``). A caller that needs its
own confirm waits on its Future; nobody waits per message on the I/O thread.

If the connection drops, every message not yet confirmed is published again after reconnecting, in
its original order, so nothing handed to the publisher is lost. A repeat is possible (the broker may
have stored it before the drop); consumers deduplicate on ``message_id`` / idempotency key.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import itertools
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pika
import structlog
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.spec import Basic

from gateway.broker.connection import parameters, reconnect_delay

log = structlog.get_logger(__name__)


class PublishError(Exception):
    """The broker did not take the message."""


class Unroutable(PublishError):
    """Published with ``mandatory`` but no queue was bound: it would have been silently dropped."""


class BrokerUnavailable(PublishError):
    """No connection to the broker within the time allowed."""


@dataclass
class _Outgoing:
    exchange: str
    routing_key: str
    body: bytes
    properties: pika.BasicProperties
    mandatory: bool
    future: Future[None] = field(default_factory=Future)
    seq: int = 0
    returned: bool = False


class ConfirmedPublisher:
    def __init__(
        self, url: str, *, name: str = "gateway-publisher", heartbeat: int = 30, max_in_flight: int = 5_000
    ):
        self._params = parameters(url, heartbeat=heartbeat, name=name)
        self._name = name
        self._max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self._outgoing: collections.deque[_Outgoing] = collections.deque()
        self._unconfirmed: collections.OrderedDict[int, _Outgoing] = collections.OrderedDict()
        self._by_message_id: dict[str, _Outgoing] = {}
        self._order = itertools.count()
        self._connection: SelectConnection | None = None
        self._channel: Channel | None = None
        self._next_tag = 0
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.reconnects = 0
        self._opened_once = False

    # --- caller side (any thread) ------------------------------------------------------
    def start(self, wait: float | None = 10.0) -> ConfirmedPublisher:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        if wait is not None and not self._ready.wait(wait):
            raise BrokerUnavailable(f"{self._name}: no broker connection within {wait}s")
        return self

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        headers: dict[str, Any] | None = None,
        mandatory: bool = False,
        content_type: str = "application/json",
        expiration: str | None = None,
    ) -> Future[None]:
        if self._stopping.is_set():
            raise PublishError("publisher is closed")
        props = pika.BasicProperties(
            content_type=content_type,
            delivery_mode=2,
            message_id=message_id,
            headers=headers or None,
            expiration=expiration,
        )
        msg = _Outgoing(exchange, routing_key, body, props, mandatory)
        msg.seq = next(self._order)
        with self._lock:
            self._outgoing.append(msg)
        self._wake()
        return msg.future

    def publish_and_wait(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str,
        timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        future = self.publish(exchange, routing_key, body, message_id=message_id, **kwargs)
        wait_confirmed([future], timeout)

    def pending(self) -> int:
        with self._lock:
            return len(self._outgoing) + len(self._unconfirmed)

    def close(self, timeout: float = 10.0) -> None:
        """Stop after what is already queued has been confirmed (or ``timeout`` passes)."""
        self._drained(timeout)
        self._stopping.set()
        conn = self._connection
        if conn is not None:
            with contextlib.suppress(Exception):  # the loop is already gone
                conn.ioloop.add_callback_threadsafe(self._close_connection)
        if self._thread:
            self._thread.join(timeout)
        with self._lock:
            leftovers = list(self._outgoing) + list(self._unconfirmed.values())
            self._outgoing.clear()
            self._unconfirmed.clear()
        for msg in leftovers:
            if not msg.future.done():
                msg.future.set_exception(PublishError("publisher closed before the broker confirmed"))

    def _drained(self, timeout: float) -> None:
        waiter = threading.Event()
        for _ in range(int(timeout / 0.05)):
            if self.pending() == 0 or not self.connected:
                return
            waiter.wait(0.05)

    def _wake(self) -> None:
        conn = self._connection
        if conn is not None and self._ready.is_set():
            try:
                conn.ioloop.add_callback_threadsafe(self._drain)
            except Exception:  # loop closing; the reconnect path drains the queue
                log.debug("publisher.wake_failed")

    # --- I/O thread --------------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            self._connection = SelectConnection(
                self._params,
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_closed,
            )
            self._connection.ioloop.start()
            if self._stopping.is_set():
                break
            attempt = 0 if self._ready.is_set() else attempt + 1
            self._ready.clear()
            self._stopping.wait(reconnect_delay(attempt))

    def _on_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_open_error(self, connection: SelectConnection, error: BaseException) -> None:
        log.warning("publisher.connect_failed", publisher=self._name, error=type(error).__name__)
        connection.ioloop.stop()

    def _on_closed(self, connection: SelectConnection, reason: BaseException) -> None:
        self._channel = None
        self._requeue_unconfirmed()
        if not self._stopping.is_set():
            log.warning("publisher.connection_lost", publisher=self._name, reason=str(reason)[:200])
        connection.ioloop.stop()

    def _on_channel_open(self, channel: Channel) -> None:
        self._channel = channel
        self._next_tag = 0
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm)
        if self._opened_once:
            self.reconnects += 1
        self._opened_once = True
        self._ready.set()
        log.info("publisher.ready", publisher=self._name)
        self._drain()

    def _on_channel_closed(self, channel: Channel, reason: BaseException) -> None:
        # A channel error (e.g. publishing to a missing exchange) closes only the channel: fail the
        # messages that were in flight on it, reopen, carry on.
        self._channel = None
        conn = self._connection
        if self._stopping.is_set() or conn is None or not conn.is_open:
            return
        log.warning("publisher.channel_closed", publisher=self._name, reason=str(reason)[:200])
        with self._lock:
            failed = list(self._unconfirmed.values())
            self._unconfirmed.clear()
        for msg in failed:
            if not msg.future.done():
                msg.future.set_exception(PublishError(f"channel closed: {reason}"))
        conn.channel(on_open_callback=self._on_channel_open)

    def _requeue_unconfirmed(self) -> None:
        with self._lock:
            if self._unconfirmed:
                again = sorted(self._unconfirmed.values(), key=lambda m: m.seq)
                self._unconfirmed.clear()
                self._outgoing.extendleft(reversed(again))
            self._by_message_id.clear()

    def _drain(self) -> None:
        channel = self._channel
        if channel is None or not channel.is_open:
            return
        while True:
            with self._lock:
                if not self._outgoing or len(self._unconfirmed) >= self._max_in_flight:
                    return
                msg = self._outgoing.popleft()
                if msg.future.cancelled():  # its caller gave up waiting and was told so
                    continue
                self._next_tag += 1
                self._unconfirmed[self._next_tag] = msg
                if msg.mandatory and msg.properties.message_id:
                    self._by_message_id[msg.properties.message_id] = msg
            try:
                channel.basic_publish(
                    msg.exchange, msg.routing_key, msg.body, msg.properties, mandatory=msg.mandatory
                )
            except Exception as exc:  # connection gone: on_closed requeues everything
                log.warning("publisher.publish_failed", publisher=self._name, error=type(exc).__name__)
                return

    def _on_return(
        self, _channel: Channel, _method: Basic.Return, props: pika.BasicProperties, _body: bytes
    ) -> None:
        with self._lock:
            msg = self._by_message_id.get(props.message_id or "")
        if msg is not None:
            msg.returned = True

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag: int = method.delivery_tag
        acked = isinstance(method, Basic.Ack)
        with self._lock:
            if method.multiple:
                done = [t for t in self._unconfirmed if t <= tag]
            else:
                done = [tag] if tag in self._unconfirmed else []
            settled = [self._unconfirmed.pop(t) for t in done]
            for msg in settled:
                if msg.properties.message_id:
                    self._by_message_id.pop(msg.properties.message_id, None)
        for msg in settled:
            if msg.future.done():
                continue
            if not acked:
                msg.future.set_exception(PublishError("broker refused the message (nack)"))
            elif msg.returned:
                msg.future.set_exception(Unroutable(f"no queue bound for {msg.exchange}/{msg.routing_key}"))
            else:
                msg.future.set_result(None)
        if settled:
            self._drain()

    def _close_connection(self) -> None:
        conn = self._connection
        if conn is not None and conn.is_open:
            conn.close()
        elif conn is not None:
            conn.ioloop.stop()


def wait_confirmed(futures: list[Future[None]], timeout: float) -> None:
    """Wait for every confirm; on timeout cancel what has not been sent yet and raise BrokerUnavailable.

    A message already on the wire may still arrive: a repeat, which consumers deduplicate.
    """
    done, not_done = concurrent.futures.wait(futures, timeout=timeout)
    if not_done:
        for f in not_done:
            f.cancel()
        raise BrokerUnavailable(f"{len(not_done)} message(s) not confirmed within {timeout}s")
    for f in done:
        f.result()
