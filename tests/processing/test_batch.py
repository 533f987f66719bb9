"""The processor's batch mode (docs/performance.md): several events in one transaction, and a failing
event does not take the others with it: the batch rolls back and each event is handled alone, so the
good ones are stored and acked and the bad one goes to the retry queue with its reason."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pika
import pytest
from sqlalchemy import func, select

from gateway.broker.consumer import Delivery, Settle
from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import INBOUND, retry_queue_name
from gateway.episodes.handler import ERROR_HEADER, ProcessHandler
from gateway.episodes.processor import EventProcessor
from gateway.model import MissingEpisodeEvent
from gateway.routing.router import Router
from gateway.rules.loader import load_rulebook
from gateway.runtime import declare_topology, open_store
from gateway.settings import REPO_ROOT, Settings
from gateway.store import tables
from tests.helpers import another_child

EXAMPLE = json.loads((REPO_ROOT / "examples" / "canonical-event.json").read_text())
POISON = "POISON/1"


class FailingRouter(Router):
    """The real router, except for one record: a bug that only that event triggers."""

    def route(self, session: Any, episode: Any, event: MissingEpisodeEvent, now: datetime) -> Any:
        if event.source.record_id == POISON:
            raise RuntimeError("routing bug for this one event")
        return super().route(session, episode, event, now)


def _delivery(event: MissingEpisodeEvent, tag: int) -> Delivery:
    props = pika.BasicProperties(message_id=str(event.event_id), headers={})
    return Delivery(event.to_json(), "manual.demo", INBOUND, props, False, tag)


def _event(seed: int, record: str | None = None) -> MissingEpisodeEvent:
    doc = another_child(EXAMPLE, seed)
    if record:
        doc["source"]["record_id"] = record
    doc |= {
        "event_id": str(uuid.uuid4()),
        "received_at": datetime.now(UTC).isoformat(),
        "idempotency_key": f"batch-test:{seed}:{record}",
        "source": {**doc["source"], "system": "manual", "instance": "demo"},
    }
    return MissingEpisodeEvent.model_validate(doc)


@pytest.fixture
def slow_retries(settings: Settings) -> Settings:
    # A parked message must still be in its retry queue when the test looks.
    return settings.model_copy(update={"retry_delays_ms": [60_000]})


@pytest.fixture
def handler(slow_retries: Settings) -> Iterator[tuple[ProcessHandler, Any]]:
    settings = slow_retries
    declare_topology(settings)
    engine, sessions = open_store(settings)
    publisher = ConfirmedPublisher(settings.amqp_url, name="batch-test").start()
    processor = EventProcessor(sessions, FailingRouter(rulebook=load_rulebook(settings.mappings_dir)))
    yield (
        ProcessHandler(processor, publisher, delivery_limit=3, retry_delays_ms=settings.retry_delays_ms),
        sessions,
    )
    publisher.close()
    engine.dispose()


def test_a_batch_is_one_transaction_and_a_bad_event_is_handled_alone(
    slow_retries: Settings, handler: tuple[ProcessHandler, Any]
) -> None:
    settings = slow_retries
    h, sessions = handler
    good = [_event(1), _event(2), _event(3)]
    again = good[0].model_copy(update={"event_id": uuid.uuid4()})  # a repeat inside the batch
    decisions = h.batch([_delivery(e, i) for i, e in enumerate([*good, again], start=1)])
    assert decisions == [Settle.ACK] * 4
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(tables.Event)) == 3  # the repeat changed nothing

    bad = _event(4, POISON)
    after = [_event(5), _event(6)]
    decisions = h.batch([_delivery(e, 10 + i) for i, e in enumerate([after[0], bad, after[1]])])
    # All settled: the good two processed, the bad one parked in the retry queue (acked after its
    # confirmed publish there), none of them stuck or dropped.
    assert decisions == [Settle.ACK] * 3
    with sessions() as s:
        stored = set(s.scalars(select(tables.Event.source_record_id)))
    assert {e.source.record_id for e in after} <= stored
    assert POISON not in stored
    conn = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    try:
        method, props, body = conn.channel().basic_get(
            retry_queue_name(settings.retry_delays_ms[0]), auto_ack=True
        )
    finally:
        conn.close()
    assert method is not None, "the failing event was not parked for a retry"
    assert json.loads(body)["source"]["record_id"] == POISON
    assert "routing bug" in props.headers[ERROR_HEADER]
