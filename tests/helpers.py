"""Test helpers that talk to the real broker and store."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
import pika
import pika.exceptions


def wait_until(
    predicate: Callable[[], Any], timeout: float = 45.0, interval: float = 0.05, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def drain(
    amqp_url: str, queue: str, *, expect: int | None = None, timeout: float = 45.0
) -> list[tuple[pika.BasicProperties, bytes]]:
    """Consume (and ack) everything in ``queue``; with ``expect``, wait until that many arrived.

    A queue that does not exist yet, or a quorum queue still electing its leader, is waited for."""
    got: list[tuple[pika.BasicProperties, bytes]] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
        except pika.exceptions.AMQPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        try:
            ch = conn.channel()
            while True:
                method, props, body = ch.basic_get(queue, auto_ack=True)
                if method is not None:
                    got.append((props, body))
                    continue
                if expect is None or len(got) >= expect or time.monotonic() > deadline:
                    return got
                time.sleep(0.05)
        except pika.exceptions.AMQPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
        finally:
            if conn.is_open:
                conn.close()


def queue_depth(amqp_url: str, queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return conn.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        conn.close()


def bodies(messages: list[tuple[pika.BasicProperties, bytes]]) -> list[dict[str, Any]]:
    return [json.loads(b) for _, b in messages]


def _connections(api: httpx.Client, vhost_url: str, name_prefix: str | None) -> list[dict[str, Any]]:
    vhost = urllib.parse.unquote(urllib.parse.urlsplit(vhost_url).path.lstrip("/"))
    conns = api.get(f"/api/vhosts/{urllib.parse.quote(vhost, safe='')}/connections").json()
    return [
        c
        for c in conns
        if name_prefix is None
        or (c.get("client_properties") or {}).get("connection_name", "").startswith(name_prefix)
    ]


def close_connections(
    api: httpx.Client, vhost_url: str, name_prefix: str | None = None, timeout: float = 45.0
) -> int:
    """Force-close client connections from the server side (as a broker restart or network cut would).

    The management API lists a new connection only after its next statistics tick, so wait for it."""
    conns = wait_until(
        lambda: _connections(api, vhost_url, name_prefix),
        timeout,
        0.2,
        f"connections named {name_prefix}* to appear",
    )
    for c in conns:
        api.delete(
            f"/api/connections/{urllib.parse.quote(c['name'], safe='')}",
            headers={"X-Reason": "test: simulated connection drop"},
        )
    return len(conns)


def wait_connections(
    api: httpx.Client, vhost_url: str, name_prefix: str, at_least: int = 1, timeout: float = 45.0
) -> None:
    vhost = urllib.parse.unquote(urllib.parse.urlsplit(vhost_url).path.lstrip("/"))

    def ok() -> bool:
        conns = api.get(f"/api/vhosts/{urllib.parse.quote(vhost, safe='')}/connections").json()
        names = [(c.get("client_properties") or {}).get("connection_name", "") for c in conns]
        return sum(n.startswith(name_prefix) for n in names) >= at_least

    wait_until(ok, timeout, 0.2, f"{at_least} connection(s) named {name_prefix}*")


def nhs_number(seed: int) -> str:
    """A valid NHS number in the 999 test range (Modulus 11), different for each seed."""
    assert 0 <= seed < 500_000
    for n in (seed, seed + 500_000):  # a seed whose check digit would be 10 moves to the other half
        nine = f"999{n:06d}"
        total = sum(int(d) * w for d, w in zip(nine, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        check = 0 if check == 11 else check
        if check != 10:
            return nine + str(check)
    raise AssertionError(f"no NHS number for seed {seed}")


def another_child(doc: dict[str, Any], seed: int) -> dict[str, Any]:
    """The same kind of event about a different child (no shared identifier, name or report)."""
    import copy

    doc = copy.deepcopy(doc)
    doc["source"]["record_id"] = f"{doc['source']['record_id']}-{seed}"
    doc["child"]["given_name"] = f"Child{seed}"
    doc["child"]["ids"] = {
        "nhs_number": nhs_number(seed),
        "la_ids": [{"la_code": "886", "id": f"K{seed:06d}"}],
    }
    police = doc.get("episode", {}).get("police")
    if police:
        police["reference"] = f"MP/2026/{500000 + seed:06d}"
    return doc
