"""Timers through the real broker, on SQLite and PostgreSQL: two schedulers racing for the same due
timer publish it once, the worker fires it once, and a repeated timer message changes nothing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import INBOUND
from gateway.runtime import Worker, build_scheduler, build_worker, declare_topology, open_store
from gateway.settings import Settings
from gateway.store import tables
from gateway.timers.messages import KIND_HEADER, TIMER_KIND, TIMER_ROUTING_KEY, TimerMessage
from tests.e2e.conftest import EXAMPLE, count
from tests.helpers import drain, wait_until
from tests.rulesupport import mappings

pytestmark = pytest.mark.broker


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """These tests follow one timer (the national 72-hour UKMPU notice) through the schedulers; the
    area files' escalations would arm more.
    So: the national baseline only (tests/areas covers the areas' own rules)."""
    return settings.model_copy(update={"mappings_dir": mappings(tmp_path)})


@pytest.fixture
def worker_without_scheduler(settings: Settings) -> Iterator[Worker]:
    engine, sessions = open_store(settings)
    w = build_worker(settings, sessions, name="timer-test-worker", with_scheduler=False).start()
    wait_until(w.consumer.connected.is_set, what="worker consuming")
    yield w
    w.stop()
    engine.dispose()


def test_two_schedulers_fire_a_due_timer_once(settings: Settings, worker_without_scheduler: Worker) -> None:
    declare_topology(settings)
    publisher = ConfirmedPublisher(settings.amqp_url, name="timer-test-ingest").start()
    try:
        body = json.loads(EXAMPLE)
        body.update(received_at="2026-03-03T22:16:00Z", idempotency_key="manual:demo:DEMO/2026/0001:t1")
        publisher.publish_and_wait(INBOUND, "manual.demo", json.dumps(body).encode(), message_id="t1")
    finally:
        publisher.close()
    # The example was last seen on 3 March 2026: its 72-hour UKMPU timer is long due.
    wait_until(lambda: count(settings, tables.Timer) == 1, what="the UKMPU timer armed")

    engine, sessions = open_store(settings)
    publishers = [ConfirmedPublisher(settings.amqp_url, name=f"sched-{i}").start() for i in range(2)]
    schedulers = [build_scheduler(settings, sessions, p, name=f"sched-{i}") for i, p in enumerate(publishers)]
    go = threading.Barrier(2)

    def race(i: int) -> None:
        go.wait()
        for _ in range(20):
            schedulers[i].run_once()
            time.sleep(0.01)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sum(s.sent for s in schedulers) == 1, "exactly one scheduler handed the timer over"
        notes = drain(settings.amqp_url, "national.ukmpu.ukmpu", expect=1)
        assert len(notes) == 1
        note = json.loads(notes[0][1])
        assert note["event_id"] is None and note["rule"]["id"] == "national.ukmpu-72h"

        # A repeat of the timer message (a scheduler that lost its claim, a redelivery): nothing new.
        with sessions() as s:
            timer = s.scalars(select(tables.Timer)).one()
        assert timer.status == "fired"
        again = TimerMessage.of(timer.id, timer.episode_id, timer.rule_id, timer.due_at)
        publishers[0].publish_and_wait(
            INBOUND, TIMER_ROUTING_KEY, again.to_json(), message_id="again", headers={KIND_HEADER: TIMER_KIND}
        )
        time.sleep(1.0)
        assert drain(settings.amqp_url, "national.ukmpu.ukmpu") == []
        assert (
            count(settings, tables.Notification, tables.Notification.routing_key == "national.ukmpu.ukmpu")
            == 1
        )
    finally:
        for p in publishers:
            p.close()
        engine.dispose()


@pytest.fixture
def worker(settings: Settings) -> Iterator[Worker]:
    engine, sessions = open_store(settings)
    w = build_worker(settings, sessions, name="timer-test-full-worker").start()
    wait_until(w.consumer.connected.is_set, what="worker consuming")
    yield w
    w.stop()
    engine.dispose()


def test_the_worker_runs_a_scheduler(settings: Settings, worker: Worker) -> None:
    assert worker.scheduler is not None
    declare_topology(settings)
    publisher = ConfirmedPublisher(settings.amqp_url, name="timer-test-ingest-2").start()
    try:
        body = json.loads(EXAMPLE)
        body.update(received_at="2026-03-03T22:16:00Z", idempotency_key="manual:demo:DEMO/2026/0001:t2")
        publisher.publish_and_wait(INBOUND, "manual.demo", json.dumps(body).encode(), message_id="t2")
    finally:
        publisher.close()
    notes = drain(settings.amqp_url, "national.ukmpu.ukmpu", expect=1, timeout=30)
    assert len(notes) == 1
    wait_until(
        lambda: count(settings, tables.Timer, tables.Timer.status == "fired") == 1, what="timer marked fired"
    )
