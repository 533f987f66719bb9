"""The outbox relay on the real broker and both databases: a batch is published without waiting per
message and marked with set-based UPDATEs (one for the confirmed rows, one per distinct error); a row
the broker did not take stays unpublished with its error; a wake during a batch is not lost."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pika
import pytest
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import NOTIFICATIONS, declare_recipient_queue
from gateway.runtime import declare_topology, open_store
from gateway.settings import Settings
from gateway.store.outbox import OutboxRelay, outbox_row
from gateway.store.tables import Outbox
from tests.helpers import drain, wait_until

pytestmark = pytest.mark.broker

BOUND = "la.886.front_door"
NOBODY = "la.999.nobody"  # no queue bound: the broker returns it (mandatory)


@pytest.fixture
def store(settings: Settings) -> Iterator[tuple[Engine, sessionmaker[Session], ConfirmedPublisher]]:
    declare_topology(settings)
    conn = pika.BlockingConnection(pika.URLParameters(settings.amqp_url))
    declare_recipient_queue(conn.channel(), BOUND)
    conn.close()
    engine, sessions = open_store(settings)
    publisher = ConfirmedPublisher(settings.amqp_url, name="relay-batch-test").start()
    yield engine, sessions, publisher
    publisher.close()
    engine.dispose()


def _add(engine: Engine, routing_keys: list[str]) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in routing_keys]
    rows = [
        outbox_row(exchange=NOTIFICATIONS, routing_key=rk, message_id=mid, body=b"{}", now=datetime.now(UTC))
        for rk, mid in zip(routing_keys, ids, strict=True)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Outbox), rows)
    return ids


def _rows(sessions: sessionmaker[Session]) -> dict[str, Outbox]:
    with sessions() as s:
        return {r.message_id: r for r in s.scalars(select(Outbox))}


def test_a_batch_is_marked_with_one_update_and_a_refused_row_keeps_its_error(
    settings: Settings, store: tuple[Engine, sessionmaker[Session], ConfirmedPublisher]
) -> None:
    engine, sessions, publisher = store
    good = _add(engine, [BOUND] * 5)
    [refused] = _add(engine, [NOBODY])
    updates: list[str] = []

    def count(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("UPDATE OUTBOX"):
            updates.append(statement)
            assert not executemany, "one statement for the batch, not one per row"

    event.listen(engine, "before_cursor_execute", count)
    relay = OutboxRelay(sessions, publisher, None, batch_size=100, confirm_timeout=10)

    assert relay.run_once() == 5
    assert len(updates) == 2  # the confirmed rows; the refused one (its own error)
    rows = _rows(sessions)
    for mid in good:
        assert rows[mid].published_at is not None
        assert (rows[mid].attempts, rows[mid].last_error) == (1, None)
    assert rows[refused].published_at is None
    assert rows[refused].attempts == 1
    assert (rows[refused].last_error or "").startswith("Unroutable")
    got = drain(settings.amqp_url, BOUND, expect=5)
    assert sorted(p.message_id for p, _ in got) == sorted(good)

    # Next round: only the refused row is taken again, and still counted and kept.
    assert relay.run_once() == 0
    assert _rows(sessions)[refused].attempts == 2
    assert relay.published == 5


def test_rows_committed_during_a_batch_go_out_on_the_wake_not_the_poll(
    store: tuple[Engine, sessionmaker[Session], ConfirmedPublisher],
) -> None:
    engine, sessions, publisher = store
    # Polls only every 60 s: whatever goes out before that was sent because of a wake.
    relay = OutboxRelay(sessions, publisher, None, batch_size=100, poll_interval=60, confirm_timeout=10)
    first_batch = threading.Event()
    original = relay.run_once

    def run_once() -> int:
        sent = original()
        if sent and not first_batch.is_set():
            # A processor commits more rows and wakes the relay while this batch is still in hand.
            _add(engine, [BOUND])
            relay.wake()
            first_batch.set()
        return sent

    relay.run_once = run_once  # type: ignore[method-assign]
    _add(engine, [BOUND])
    thread = relay.run_in_thread()
    try:
        wait_until(lambda: relay.published == 2, timeout=20, what="the row committed during a batch")
    finally:
        relay.stop()
        thread.join(10)
