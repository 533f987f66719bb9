"""The guarantees in DESIGN.md, each proven by killing or cutting something.

- processor killed after commit, before ack → the redelivered event creates nothing twice;
- a message that always fails → ``missing.dead`` after the delivery limit, with its reason;
- a message that kills its consumer every time → dead-lettered by the queue's delivery limit;
- the broker closes every connection mid-stream → publisher and consumer recover, nothing is lost.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import DEAD_QUEUE, INBOUND, PROCESS_QUEUE
from gateway.runtime import Worker, declare_topology
from gateway.settings import Settings
from gateway.store import tables
from tests.conftest import Broker
from tests.e2e.conftest import EXAMPLE, WorkerProcess, count
from tests.helpers import another_child, bodies, close_connections, drain, wait_connections, wait_until


def _event(seed: int) -> bytes:
    return json.dumps(another_child(json.loads(EXAMPLE), seed)).encode()


def test_processor_killed_after_commit_before_ack_does_nothing_twice(
    settings: Settings, api: TestClient, tmp_path: Path
) -> None:
    first = WorkerProcess(settings, tmp_path / "worker-1.log", failpoints="processor.after_commit=exit")
    try:
        assert api.post("/ingest/manual/demo", content=EXAMPLE).status_code == 202
        assert first.wait_exit() == 137, first.log()
    finally:
        first.stop()
    # Committed but never acked: the effects are in the store, the event is still on the queue.
    # (The host authority is told too, and the 72-hour timer may fire: follow the front door's notice.)
    front_door = tables.Notification.routing_key == "la.886.front_door"
    assert count(settings, tables.Event) == 1
    assert count(settings, tables.Notification, front_door) == 1
    assert count(settings, tables.Outbox, tables.Outbox.routing_key == "la.886.front_door") == 1

    second = WorkerProcess(settings, tmp_path / "worker-2.log")
    try:
        notes = bodies(drain(settings.amqp_url, "la.886.front_door", expect=1))
        # The broker redelivers the unacked event; the new worker must recognise it and do nothing.
        wait_until(
            lambda: '"processor.duplicate"' in second.log(), timeout=30, what="redelivery deduplicated"
        )
    finally:
        second.stop()
    assert count(settings, tables.Event) == 1
    assert count(settings, tables.Episode) == 1
    assert count(settings, tables.Notification, front_door) == 1
    assert count(settings, tables.Outbox, tables.Outbox.routing_key == "la.886.front_door") == 1
    assert len({n["notification_id"] for n in notes}) == 1


def test_a_message_that_always_fails_ends_in_missing_dead_with_its_reason(
    settings: Settings, api: TestClient, monkeypatch: pytest.MonkeyPatch, worker: Worker
) -> None:
    monkeypatch.setenv("GATEWAY_FAILPOINTS", "processor.before_commit=raise")
    resp = api.post("/ingest/manual/demo", content=EXAMPLE)
    assert resp.status_code == 202
    event_id = resp.json()["event_ids"][0]
    dead = drain(settings.amqp_url, DEAD_QUEUE, expect=1, timeout=30)
    assert len(dead) == 1
    props, body = dead[0]
    assert props.message_id == event_id
    assert json.loads(body)["event_id"] == event_id  # the event itself, untouched, for replay
    headers = props.headers
    assert "InjectedFault" in headers["x-gateway-error"]
    assert headers["x-gateway-attempts"] == settings.delivery_limit
    assert headers["x-gateway-retries"] == settings.delivery_limit - 1  # went through the retry queues
    # Rolled back every time: nothing half-done in the store.
    assert count(settings, tables.Event) == 0
    assert count(settings, tables.Outbox) == 0


def test_a_message_that_kills_its_consumer_is_dead_lettered_by_the_delivery_limit(
    settings: Settings, api: TestClient, tmp_path: Path
) -> None:
    resp = api.post("/ingest/manual/demo", content=EXAMPLE)
    assert resp.status_code == 202
    # Each worker dies (kill -9 style) while processing it; the broker counts the deliveries.
    for attempt in range(settings.delivery_limit + 1):
        proc = WorkerProcess(
            settings, tmp_path / f"crash-{attempt}.log", failpoints="processor.before_commit=exit"
        )
        assert proc.wait_exit(60) == 137, proc.log()
    dead = drain(settings.amqp_url, DEAD_QUEUE, expect=1, timeout=30)
    assert len(dead) == 1
    props, _ = dead[0]
    assert props.headers["x-first-death-reason"] == "delivery_limit"
    assert props.message_id == resp.json()["event_ids"][0]
    assert count(settings, tables.Event) == 0


def test_publisher_recovers_from_a_dropped_connection_and_loses_nothing(
    settings: Settings, broker: Broker
) -> None:
    declare_topology(settings)
    publisher = ConfirmedPublisher(settings.amqp_url, name="drop-test-publisher").start()
    try:
        with broker.api() as mgmt:  # the connection must be visible before the test can cut it
            wait_connections(mgmt, settings.amqp_url, "drop-test-publisher")
        futures = []
        ids = [str(uuid.uuid4()) for _ in range(2000)]
        for i, mid in enumerate(ids):
            futures.append(publisher.publish(INBOUND, "manual.demo", b"{}", message_id=mid))
            if i == 700:
                with broker.api() as mgmt:
                    assert close_connections(mgmt, settings.amqp_url, "drop-test-publisher") == 1
        for f in futures:
            f.result(timeout=60)
        assert publisher.reconnects >= 1
    finally:
        publisher.close()
    received = drain(settings.amqp_url, PROCESS_QUEUE, expect=len(ids), timeout=60)
    # At least once: every confirmed message is there; a repeat after the drop is allowed.
    assert {p.message_id for p, _ in received} == set(ids)


def test_pipeline_recovers_when_the_broker_drops_every_connection(
    settings: Settings, broker: Broker, worker: Worker, api: TestClient
) -> None:
    accepted: list[str] = []
    total = 120

    def send() -> None:
        for i in range(total):
            body = _event(i)
            for _ in range(100):  # a sender retries what was not accepted, as partners do
                resp = api.post("/ingest/manual/demo", content=body)
                if resp.status_code == 202:
                    accepted.extend(resp.json()["event_ids"])
                    break
                assert resp.status_code == 503, resp.text
                threading.Event().wait(0.2)

    sender = threading.Thread(target=send)
    sender.start()
    wait_until(lambda: len(accepted) >= 30, what="some events accepted")
    with broker.api() as mgmt:
        assert close_connections(mgmt, settings.amqp_url) >= 3  # API publisher, worker consumer and publisher
        sender.join(120)
        assert not sender.is_alive()
        wait_connections(mgmt, settings.amqp_url, "test-worker-consumer")
    notes = bodies(drain(settings.amqp_url, "la.886.front_door", expect=total, timeout=90))
    record_ids = {n["payload"]["source_refs"][0]["record_id"] for n in notes}
    assert record_ids == {f"DEMO/2026/0001-{i}" for i in range(total)}
    wait_until(lambda: count(settings, tables.Episode) == total, timeout=30, what="all episodes")
    front_door = tables.Notification.routing_key == "la.886.front_door"
    assert count(settings, tables.Notification, front_door) == total
    wait_until(
        lambda: count(settings, tables.Outbox, tables.Outbox.published_at.is_(None)) == 0,
        what="outbox drained",
    )
