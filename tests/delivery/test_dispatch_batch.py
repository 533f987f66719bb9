"""The dispatcher's batch mode on the real broker and both databases: a batch of notices recorded in
one transaction, each exactly once (repeat copies, redeliveries, two dispatchers at once), and a bad
message in a batch settled alone (unreadable → dead letter; a record that fails → requeued alone)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pika
import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.broker.consumer import Delivery, Settle
from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import DEAD_QUEUE, NOTIFICATIONS
from gateway.delivery import store
from gateway.delivery.amqp import QueueChecker
from gateway.delivery.directory import directory_from_settings
from gateway.delivery.provision import DirectoryQueues
from gateway.delivery.topology import channel_queue
from gateway.delivery.worker import Dispatcher
from gateway.episodes.handler import ERROR_HEADER
from gateway.model import Notification
from gateway.rules.calendars import load_calendars
from gateway.runtime import declare_topology, open_store
from gateway.settings import Settings
from gateway.store.tables import Delivery as DeliveryRow
from gateway.store.tables import DeliveryReceipt
from tests.delivery.conftest import notification
from tests.helpers import drain

pytestmark = pytest.mark.broker

ROUTED = ("la.886.front_door", "la.860.front_door")  # provisioned: the broker's binding delivers
UNPROVISIONED = "la.937.front_door"  # no queue yet: handed to delivery.amqp to be sent


@dataclass
class Rig:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    dispatcher: Dispatcher

    def rows(self, n: Notification) -> list[DeliveryRow]:
        with self.sessions() as s:
            q = select(DeliveryRow).where(DeliveryRow.notification_id == n.notification_id)
            return list(s.scalars(q))

    def delivered_receipts(self, n: Notification) -> int:
        with self.sessions() as s:
            return int(
                s.scalar(
                    select(func.count())
                    .select_from(DeliveryReceipt)
                    .where(
                        DeliveryReceipt.notification_id == n.notification_id,
                        DeliveryReceipt.outcome == "delivered",
                    )
                )
                or 0
            )

    def commits(self) -> list[int]:
        """A counter of this engine's commits from now on."""
        counter = [0]

        def on_commit(_conn: Any) -> None:
            counter[0] += 1

        event.listen(self.engine, "commit", on_commit)
        return counter


@pytest.fixture
def rig(settings: Settings, tmp_path: Path) -> Iterator[Rig]:
    directory_dir = tmp_path / "directory"
    directory_dir.mkdir()
    lines = ['description: "batch test: AMQP councils"', "recipients:"]
    for rk in (*ROUTED, UNPROVISIONED):
        kind, id_, role = rk.split(".")
        lines += [f"  - kind: {kind}", f'    id: "{id_}"', f"    role: {role}", f'    name: "{rk}"']
        lines += ["    channels:", "      - channel: amqp"]
    (directory_dir / "test.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    s = settings.model_copy(update={"directory_dir": directory_dir, "directory_shipped": False})
    declare_topology(s)
    engine, sessions = open_store(s)
    directory = directory_from_settings(s)
    declared = DirectoryQueues(s.amqp_url, directory, s.delivery_retry_delays_ms)
    declared.ensure(set(ROUTED))  # the delivery topology, and the routed recipients' queues
    declared.close()
    publisher = ConfirmedPublisher(s.amqp_url, name="dispatch-batch-test").start()
    checker = QueueChecker(s.amqp_url)
    dispatcher = Dispatcher(
        sessions,
        publisher,
        directory,
        checker,
        load_calendars(s.mappings_dir / "calendars"),
        confirm_timeout=10,
    )
    try:
        yield Rig(s, engine, sessions, dispatcher)
    finally:
        checker.close()
        publisher.close()
        engine.dispose()


def _notice(rk: str) -> Notification:
    kind, id_, role = rk.split(".")
    return notification(kind, id_, role)


def _delivery(n: Notification, tag: int, body: bytes | None = None) -> Delivery:
    props = pika.BasicProperties(message_id=str(n.notification_id))
    return Delivery(body or n.to_json(), n.recipient.routing_key, NOTIFICATIONS, props, False, tag)


def test_a_batch_is_recorded_in_one_transaction_and_each_notice_once(rig: Rig) -> None:
    routed = [_notice(ROUTED[i % 2]) for i in range(6)]
    to_send = _notice(UNPROVISIONED)
    batch = [_delivery(n, i + 1) for i, n in enumerate([*routed, to_send])]
    batch.append(_delivery(routed[0], 99))  # a repeat copy in the same batch (relay at least once)
    commits = rig.commits()

    assert rig.dispatcher.batch(batch) == [Settle.ACK] * len(batch)

    # One transaction for the batch, one for the repeat copy (handled alone, after it).
    assert commits[0] == 2
    for n in routed:
        [row] = rig.rows(n)
        assert (row.status, row.attempts, row.channel, row.endpoint) == ("delivered", 1, "amqp", "amqp")
        assert row.delivered_at is not None and row.body is None and row.lease_until is None
        assert rig.delivered_receipts(n) == 1
    [row] = rig.rows(to_send)
    assert (row.status, row.attempts) == ("pending", 0)
    assert rig.delivered_receipts(to_send) == 0
    [(props, _)] = drain(rig.settings.amqp_url, channel_queue("amqp"), expect=1)
    assert props.message_id == f"{to_send.notification_id}:amqp"

    # The broker redelivers the whole batch (a dispatcher killed before its acks): nothing twice.
    assert rig.dispatcher.batch(batch) == [Settle.ACK] * len(batch)
    for n in routed:
        assert len(rig.rows(n)) == 1 and rig.delivered_receipts(n) == 1


def test_batch_and_one_by_one_leave_the_same_records(rig: Rig) -> None:
    alone, batched = _notice(ROUTED[0]), _notice(ROUTED[0])
    assert rig.dispatcher(_delivery(alone, 1)) is Settle.ACK
    assert rig.dispatcher.batch([_delivery(batched, 2)]) == [Settle.ACK]

    def shape(n: Notification) -> tuple[Any, ...]:
        [row] = rig.rows(n)
        with rig.sessions() as s:
            [receipt] = s.scalars(
                select(DeliveryReceipt).where(DeliveryReceipt.notification_id == n.notification_id)
            )
        return (
            row.status,
            row.attempts,
            row.rounds,
            row.recipient,
            row.channel,
            row.endpoint,
            row.body,
            row.reason,
            row.lease_until,
            row.release_at,
            row.delivered_at is not None,
            receipt.attempt,
            receipt.outcome,
            receipt.detail,
            receipt.receipt,
        )

    assert shape(alone) == shape(batched)


def test_two_dispatchers_recording_the_same_batch_record_each_notice_once(rig: Rig) -> None:
    notices = [_notice(ROUTED[i % 2]) for i in range(20)]
    batch = [_delivery(n, i + 1) for i, n in enumerate(notices)]
    results: list[list[Settle]] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        results.append(rig.dispatcher.batch(batch))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [[Settle.ACK] * len(batch)] * 2
    for n in notices:
        [row] = rig.rows(n)
        assert row.status == "delivered"
        assert rig.delivered_receipts(n) == 1


def test_an_unreadable_message_in_a_batch_is_dead_lettered_alone(rig: Rig) -> None:
    good = [_notice(ROUTED[0]), _notice(ROUTED[1])]
    bad = _delivery(good[0], 2, body=b'{"notification_id": "not a notice"}')
    batch = [_delivery(good[0], 1), bad, _delivery(good[1], 3)]

    assert rig.dispatcher.batch(batch) == [Settle.ACK, Settle.ACK, Settle.ACK]

    for n in good:
        assert [r.status for r in rig.rows(n)] == ["delivered"]
    [(props, body)] = drain(rig.settings.amqp_url, DEAD_QUEUE, expect=1)
    assert body == bad.body
    assert str(props.headers[ERROR_HEADER]).startswith("not a canonical event")


def test_a_notice_whose_record_fails_is_requeued_alone_and_the_others_are_acked(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = [_notice(ROUTED[0]), _notice(ROUTED[1]), _notice(ROUTED[0])]
    poisoned = _notice(ROUTED[1])
    refused: uuid.UUID = poisoned.notification_id
    record_dispatches, ensure_row = store.record_dispatches, store.ensure_row

    # The database refuses anything for the poisoned notice (in the batch's statements and alone).
    def batch_record(session: Session, wanted: list[store.Wanted], now: Any) -> list[str]:
        if any(w.notification_id == refused for w in wanted):
            raise RuntimeError("refused")
        return record_dispatches(session, wanted, now)

    def one_record(session: Session, **kwargs: Any) -> Any:
        if kwargs["notification_id"] == refused:
            raise RuntimeError("refused")
        return ensure_row(session, **kwargs)

    monkeypatch.setattr(store, "record_dispatches", batch_record)
    monkeypatch.setattr(store, "ensure_row", one_record)
    batch = [_delivery(good[0], 1), _delivery(good[1], 2), _delivery(poisoned, 3), _delivery(good[2], 4)]
    commits = rig.commits()

    assert rig.dispatcher.batch(batch) == [Settle.ACK, Settle.ACK, Settle.REQUEUE, Settle.ACK]

    assert commits[0] == 3  # the batch rolled back; then each good notice in its own transaction
    for n in good:
        assert [r.status for r in rig.rows(n)] == ["delivered"]
        assert rig.delivered_receipts(n) == 1
    assert rig.rows(poisoned) == []

    # Redelivered once the database takes it: recorded, alone, once.
    monkeypatch.undo()
    assert rig.dispatcher.batch([_delivery(poisoned, 5)]) == [Settle.ACK]
    assert [r.status for r in rig.rows(poisoned)] == ["delivered"]
    assert rig.delivered_receipts(poisoned) == 1
