"""Load generator and recipient-side listener.

- :class:`Listener` reads every AMQP recipient queue of the directory (the councils' front doors and
  coordinators, the UKMPU) with manual acks, and notes when the first notification of each event
  arrived and how many copies of each notification id it saw.
- :func:`offered_load` sends at a fixed rate, open loop: each message has a scheduled send time and its
  latency is counted from that time, so a gateway that falls behind is charged for the queueing it
  causes (no coordinated omission).
- :func:`saturate` sends as fast as ``concurrency`` clients can, to find sustained throughput.

Latency of an event = first notification for it in a recipient queue - its scheduled send time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pika
import pika.exceptions

from bench.workload import Message


class Listener:
    def __init__(self, amqp_url: str, queues: list[str], prefetch: int = 2000):
        self._url = amqp_url
        self.queues = queues
        self._prefetch = prefetch
        self.first_at: dict[str, float] = {}  # event_id -> perf_counter of its first notification
        self.copies: Counter[str] = Counter()  # notification_id -> copies seen
        self.last_at = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-listener", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("listener could not start")
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    @property
    def notifications(self) -> int:
        with self._lock:
            return sum(self.copies.values())

    def events_seen(self, event_ids: set[str]) -> int:
        with self._lock:
            return sum(1 for e in event_ids if e in self.first_at)

    def _run(self) -> None:
        from gateway.delivery.provision import declare_recipient

        conn = pika.BlockingConnection(pika.URLParameters(self._url))
        ch = conn.channel()
        ch.basic_qos(prefetch_count=self._prefetch)
        pending = {"n": 0, "tag": 0}

        def on_message(c: Any, method: Any, props: pika.BasicProperties, body: bytes) -> None:
            now = time.perf_counter()
            doc = orjson.loads(body)
            with self._lock:
                ev = doc.get("event_id")
                if ev and ev not in self.first_at:
                    self.first_at[ev] = now
                self.copies[doc["notification_id"]] += 1
                self.last_at = now
            pending["n"] += 1
            pending["tag"] = method.delivery_tag
            if pending["n"] >= 200:
                c.basic_ack(method.delivery_tag, multiple=True)
                pending["n"] = 0

        for q in self.queues:
            declare_recipient(ch, q, q)
            ch.basic_consume(q, on_message)
        self.ready.set()
        while not self._stop.is_set():
            conn.process_data_events(time_limit=0.2)
            if pending["n"]:
                ch.basic_ack(pending["tag"], multiple=True)
                pending["n"] = 0
        conn.close()


@dataclass
class Sent:
    scheduled: float
    status: int
    event_ids: list[str] = field(default_factory=list)


def _post(client: httpx.Client, key: str, m: Message) -> tuple[int, list[str]]:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": m.content_type, **m.headers}
    r = client.post(m.path, content=m.body, headers=headers)
    ids = r.json().get("event_ids", []) if r.status_code == 202 else []
    return r.status_code, [str(i) for i in ids]


def _clients(api_url: str, n: int) -> list[httpx.Client]:
    return [httpx.Client(base_url=api_url, timeout=60) for _ in range(n)]


def offered_load(
    api_url: str, key: str, messages: list[Message], rate: float, *, concurrency: int = 64
) -> list[Sent]:
    """Send ``messages`` at ``rate`` per second (open loop). A message whose turn comes while every
    client is still waiting for an answer waits for a client, and its latency counts from its turn.
    The run stops scheduling at the planned end plus 50%: what was not sent is what the API could
    not take (``len(result) < len(messages)``)."""
    clients = _clients(api_url, concurrency)
    free = list(clients)
    lock = threading.Lock()
    results: list[Sent] = []

    def send(scheduled: float, m: Message) -> None:
        with lock:
            c = free.pop()
        try:
            status, ids = _post(c, key, m)
        except httpx.HTTPError:
            status, ids = 0, []
        finally:
            with lock:
                free.append(c)
        with lock:
            results.append(Sent(scheduled, status, ids))

    start = time.perf_counter() + 0.2
    stop_at = start + 1.5 * len(messages) / rate
    busy = threading.Semaphore(concurrency)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for i, m in enumerate(messages):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            # Wait for a free client (the API is the bottleneck then), but not past the planned end.
            if not busy.acquire(timeout=max(stop_at - time.perf_counter(), 0)):
                break

            def job(sch: float = scheduled, msg: Message = m) -> None:
                try:
                    send(sch, msg)
                finally:
                    busy.release()

            pool.submit(job)
    for c in clients:
        c.close()
    return results


def saturate(api_url: str, key: str, messages: list[Message], *, concurrency: int = 32) -> list[Sent]:
    """Send ``messages`` with ``concurrency`` clients, each sending its next as soon as one is answered."""
    results: list[Sent] = []
    lock = threading.Lock()
    it = iter(messages)

    def client_loop() -> None:
        with httpx.Client(base_url=api_url, timeout=60) as c:
            while True:
                with lock:
                    m = next(it, None)
                if m is None:
                    return
                t = time.perf_counter()
                try:
                    status, ids = _post(c, key, m)
                except httpx.HTTPError:
                    status, ids = 0, []
                with lock:
                    results.append(Sent(t, status, ids))

    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def wait_for(listener: Listener, event_ids: set[str], timeout: float, quiet: float = 10.0) -> None:
    """Until every event has a notification, or nothing new arrived for ``quiet`` s, or ``timeout``."""
    deadline = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        seen = listener.events_seen(event_ids)
        if seen >= len(event_ids):
            return
        if seen != last:
            last, last_change = seen, time.monotonic()
        elif time.monotonic() - last_change > quiet:
            return
        time.sleep(0.25)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))
    return s[k]
