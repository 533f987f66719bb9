"""Delivery end to end on the real broker and both databases: retries that end in exactly one delivery,
dead letters and their replay (CLI functions and API), recipients with no channel, the school digest,
AMQP recipients. Notifications are published to ``missing.notifications`` as the outbox relay does."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.api.routes import dead as dead_routes
from gateway.broker.publisher import ConfirmedPublisher
from gateway.broker.topology import DEAD_QUEUE, NOTIFICATIONS
from gateway.delivery import deadletters
from gateway.delivery.directory import Directory, RecipientEntry, directory_from_settings
from gateway.delivery.metrics import NO_CHANNEL, OLDEST, SENT
from gateway.delivery.provision import DirectoryQueues
from gateway.delivery.topology import channel_queue
from gateway.delivery.worker import DeliveryService, build_delivery, endpoint_headers
from gateway.model import Notification
from gateway.model.types import LONDON
from gateway.runtime import open_store
from gateway.security.deps import require_operator
from gateway.security.principal import Principal
from gateway.settings import Settings
from gateway.store.tables import Delivery, DeliveryAudit, DeliveryReceipt
from tests.delivery.conftest import delivery_settings, notification, write_directory
from tests.delivery.receivers import HttpsReceiver, SmtpReceiver
from tests.helpers import drain, wait_until

pytestmark = pytest.mark.broker

CHILD_DETAILS = ("Sam", "Testchild", "2013-05-01", "MP/26/000123")


class Clock:
    """Real time unless a test sets ``at`` (then time stands still there)."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


@dataclass
class Rig:
    settings: Settings
    sessions: sessionmaker[Session]
    publisher: ConfirmedPublisher
    directory: Directory
    service: DeliveryService
    clock: Clock
    https: HttpsReceiver
    smtp: SmtpReceiver

    def publish(self, n: Notification) -> None:
        self.publisher.publish_and_wait(
            NOTIFICATIONS,
            n.recipient.routing_key,
            n.to_json(),
            message_id=str(n.notification_id),
            mandatory=True,
        )

    def rows(self, n: Notification) -> list[Delivery]:
        with self.sessions() as s:
            return list(s.scalars(select(Delivery).where(Delivery.notification_id == n.notification_id)))

    def status(self, n: Notification, endpoint: str) -> str | None:
        return next((r.status for r in self.rows(n) if r.endpoint == endpoint), None)

    def receipts(self, n: Notification) -> list[DeliveryReceipt]:
        with self.sessions() as s:
            return list(
                s.scalars(
                    select(DeliveryReceipt)
                    .where(DeliveryReceipt.notification_id == n.notification_id)
                    .order_by(DeliveryReceipt.id)
                )
            )

    def accepted(self, n: Notification) -> int:
        return sum(1 for r in self.https.accepted() if r.headers["idempotency-key"] == str(n.notification_id))


@pytest.fixture
def rig(
    settings: Settings,
    tmp_path: Path,
    tls: tuple[Path, Path],
    https_receiver: HttpsReceiver,
    smtp_receiver: SmtpReceiver,
    webhook_secret: str,
) -> Iterator[Rig]:
    s = delivery_settings(
        settings, write_directory(tmp_path / "directory", https_receiver.url), tls[0], smtp_receiver
    )
    engine, sessions = open_store(s)
    directory = directory_from_settings(s)
    publisher = ConfirmedPublisher(s.amqp_url, name="delivery-test-publisher").start()
    clock = Clock()
    service = build_delivery(
        s, sessions, publisher, directory, name="dt", clock=clock, sleep=lambda x: time.sleep(min(x, 0.05))
    ).start()
    wait_until(lambda: service.connected, what="delivery consumers")
    try:
        yield Rig(s, sessions, publisher, directory, service, clock, https_receiver, smtp_receiver)
    finally:
        service.stop()
        publisher.close()
        engine.dispose()


def _no_child_details_in(logs: list[dict[str, Any]]) -> None:
    text = json.dumps(logs, default=str)
    for detail in CHILD_DETAILS:
        assert detail not in text, f"{detail!r} reached a log line"


def test_a_receiver_that_fails_then_recovers_gets_each_notice_exactly_once(rig: Rig) -> None:
    rig.https.script = [503, 503, 503, 502]  # the EDT's system is down for a while, then recovers
    notes = [notification("la", "886", "edt") for _ in range(3)]
    with structlog.testing.capture_logs() as logs:
        for n in notes:
            rig.publish(n)
        rig.publish(notes[0])  # the relay may publish a notice twice (at least once)
        wait_until(
            lambda: all(rig.status(n, "webhook") == "delivered" for n in notes), timeout=60, what="delivered"
        )
        # A copy turning up again later (a redelivery) is not sent again: the receipts say delivered.
        rig.publisher.publish_and_wait(
            "",
            channel_queue("webhook"),
            notes[1].to_json(),
            message_id="again",
            headers=endpoint_headers(notes[1], "webhook", "webhook"),
        )
        rig.publish(notes[2])
        time.sleep(1.5)
    assert [rig.accepted(n) for n in notes] == [1, 1, 1]
    assert len(rig.https.received) == 3 + 4  # three acceptances after four refusals, nothing more
    for n in notes:
        receipts = rig.receipts(n)
        assert receipts[-1].outcome == "delivered" and receipts[-1].receipt["http_status"] == 200
        assert [r.attempt for r in receipts] == list(range(1, len(receipts) + 1))
        assert all(r.outcome == "retry" for r in receipts[:-1])
    assert sum(len(rig.receipts(n)) for n in notes) == 7
    assert any(e["event"] == "delivery.retry_scheduled" for e in logs)
    assert any(e["event"] == "delivery.already_delivered" for e in logs)
    _no_child_details_in(logs)
    assert SENT.labels("webhook", "la.886.edt")._value.get() >= 3


def _api(rig: Rig) -> TestClient:
    app = FastAPI()
    app.include_router(dead_routes.router)
    app.state.sessions = rig.sessions
    app.state.publisher = rig.publisher
    app.state.settings = rig.settings
    app.dependency_overrides[require_operator] = lambda: Principal(id="key:ops-test", role="operator")
    return TestClient(app)


def test_a_permanent_refusal_is_dead_lettered_and_a_replay_delivers_it_once(rig: Rig) -> None:
    rig.https.default_status = 400  # e.g. the receiver rejects the request until its schema is fixed
    n = notification("la", "886", "edt")
    with structlog.testing.capture_logs() as logs:
        rig.publish(n)
        wait_until(lambda: rig.status(n, "webhook") == "dead", timeout=45, what="dead letter")
    assert len(rig.https.received) == 1  # a 400 is not retried
    assert any(e["event"] == "delivery.dead_lettered" and e["reason"] == "HTTP 400" for e in logs)
    _no_child_details_in(logs)
    # On the broker too, with the reason, for alerting.
    [(props, body)] = drain(rig.settings.amqp_url, DEAD_QUEUE, expect=1)
    assert json.loads(body)["notification_id"] == str(n.notification_id)
    assert props.headers["x-gateway-error"] == "HTTP 400" and props.headers["x-gateway-endpoint"] == "webhook"

    api = _api(rig)
    listed = api.get("/dead-letters", params={"recipient": "la.886.edt"}).json()
    assert [(d["notification_id"], d["status"], d["reason"]) for d in listed] == [
        (str(n.notification_id), "dead", "HTTP 400")
    ]
    shown = api.get(f"/dead-letters/{n.notification_id}").json()
    assert "notification" not in shown and shown["receipts"][0]["outcome"] == "failed"
    assert api.get(f"/dead-letters/{n.notification_id}", params={"include_body": True}).json()[
        "notification"
    ]["notification_id"] == str(n.notification_id)
    assert api.post(f"/dead-letters/{uuid.uuid4()}/replay", json={}).status_code == 409

    rig.https.default_status = 200  # fixed
    resp = api.post(
        f"/dead-letters/{n.notification_id}/replay", json={"endpoint": "webhook", "note": "schema fixed"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["replayed"][0]["endpoint"] == "webhook"
    wait_until(lambda: rig.status(n, "webhook") == "delivered", timeout=45, what="replayed delivery")
    assert rig.accepted(n) == 1
    assert api.get("/dead-letters").json() == []
    with rig.sessions() as s:
        [audit] = s.scalars(select(DeliveryAudit)).all()
    assert (audit.action, audit.actor, audit.endpoint) == ("replay", "key:ops-test", "webhook")
    assert audit.details["note"] == "schema fixed" and audit.details["previous_reason"] == "HTTP 400"
    # Replaying something delivered is refused: it is not a dead letter any more.
    assert api.post(f"/dead-letters/{n.notification_id}/replay", json={}).status_code == 409


def test_transient_failures_give_up_after_the_configured_rounds(rig: Rig) -> None:
    rig.https.default_status = 503
    n = notification("la", "886", "edt")
    rig.publish(n)
    wait_until(lambda: rig.status(n, "webhook") == "dead", timeout=60, what="given up")
    rounds, quick = rig.settings.delivery_max_attempts, rig.settings.delivery_quick_retries
    receipts = rig.receipts(n)
    assert [r.outcome for r in receipts] == ["retry"] * rounds * (quick + 1)
    [row] = rig.rows(n)
    assert row.reason is not None and row.reason.startswith(f"gave up after {rounds} rounds")
    assert row.body is not None  # kept for the replay
    # The alerting gauge: this endpoint has an undelivered notice, and it is getting older.
    wait_until(
        lambda: OLDEST.labels("webhook", "la.886.edt")._value.get() > 0, what="oldest-undelivered gauge"
    )
    # Replay for the whole recipient (CLI path) once it is back.
    rig.https.default_status = 204
    done, skipped = deadletters.replay_recipient(
        rig.sessions, rig.publisher, rig.directory, "la.886.edt", actor="ops.test", now=datetime.now(UTC)
    )
    assert [r.notification_id for r in done] == [str(n.notification_id)] and skipped == []
    wait_until(lambda: rig.status(n, "webhook") == "delivered", timeout=45, what="replayed")
    assert rig.accepted(n) == 1 and rig.rows(n)[0].body is None
    wait_until(lambda: OLDEST.labels("webhook", "la.886.edt")._value.get() == 0, what="gauge back to 0")


def test_a_recipient_with_no_channel_is_loud_listed_and_replayable(rig: Rig) -> None:
    n = notification("school", "999103", "school_dsl")  # not in the directory
    before = NO_CHANNEL.labels("school.999103.school_dsl")._value.get()
    with structlog.testing.capture_logs() as logs:
        rig.publish(n)
        wait_until(lambda: rig.status(n, "-") == "no_channel", what="no_channel row")
    [line] = [e for e in logs if e["event"] == "delivery.no_channel"]
    assert line["log_level"] == "error" and line["notification_id"] == str(n.notification_id)
    assert line["recipient"] == "school.999103.school_dsl"
    _no_child_details_in(logs)
    assert NO_CHANNEL.labels("school.999103.school_dsl")._value.get() == before + 1
    assert [d["notification_id"] for d in _api(rig).get("/delivery/no-channel").json()] == [
        str(n.notification_id)
    ]
    [(props, _)] = drain(rig.settings.amqp_url, DEAD_QUEUE, expect=1)
    assert "no endpoint" in props.headers["x-gateway-error"]

    with pytest.raises(deadletters.ReplayError, match="still has no endpoint"):
        deadletters.replay(
            rig.sessions, rig.publisher, rig.directory, n.notification_id, actor="ops", now=datetime.now(UTC)
        )
    # The directory gets the school (an operator adds it and the workers reload); replay dispatches it.
    entry = RecipientEntry.model_validate(
        {
            "kind": "school",
            "id": "999103",
            "role": "school_dsl",
            "digest": False,
            "channels": [
                {"channel": "webhook", "url": rig.https.url, "secret_env": "GATEWAY_TEST_WEBHOOK_SECRET"}
            ],
        }
    )
    rig.directory.entries[entry.routing_key] = entry
    done = deadletters.replay(
        rig.sessions, rig.publisher, rig.directory, n.notification_id, actor="ops", now=datetime.now(UTC)
    )
    assert done[0].how == "dispatch"
    wait_until(lambda: rig.status(n, "webhook") == "delivered", timeout=45, what="delivered after replay")
    assert rig.accepted(n) == 1 and rig.status(n, "-") == "resolved"


def _london(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).astimezone(UTC)


def test_school_notices_wait_for_the_digest_and_urgent_ones_do_not(rig: Rig) -> None:
    rig.clock.at = _london("2026-03-06T09:15")  # a Friday, after the 08:00 digest
    standard = [notification("school", "999101", "school_dsl") for _ in range(2)]
    urgent = notification("school", "999101", "school_dsl", urgency="immediate")
    for n in [*standard, urgent]:
        rig.publish(n)
    wait_until(lambda: rig.accepted(urgent) == 1, what="the urgent notice at once")
    wait_until(lambda: all(rig.status(n, "webhook") == "held" for n in standard), what="held")
    [row] = rig.rows(standard[0])
    assert row.release_at == _london("2026-03-09T08:00") and row.body is not None
    rig.clock.at = _london("2026-03-09T07:59")  # Monday, one minute early: still held
    time.sleep(1.0)
    assert all(rig.accepted(n) == 0 for n in standard)
    rig.clock.at = _london("2026-03-09T08:00")
    wait_until(lambda: all(rig.accepted(n) == 1 for n in standard), timeout=45, what="the digest")
    # The receipt is committed just after the receiver answered: wait for it rather than race it.
    wait_until(lambda: all(rig.status(n, "webhook") == "delivered" for n in standard), what="receipts")
    assert all(rig.accepted(n) == 1 for n in standard)  # still exactly once
    assert rig.rows(standard[0])[0].body is None


def test_amqp_recipients_get_it_by_their_binding_and_email_recipients_by_smtp(rig: Rig) -> None:
    DirectoryQueues(rig.settings.amqp_url, rig.directory, rig.settings.delivery_retry_delays_ms).ensure(
        {"la.886.front_door"}
    )  # what the outbox relay does before it publishes
    kent = notification("la", "886", "front_door")
    school = notification("school", "999102", "school_dsl")  # email, digest switched off
    rig.publish(kent)
    rig.publish(school)
    [(props, body)] = drain(rig.settings.amqp_url, "la.886.front_door", expect=1)
    assert props.message_id == str(kent.notification_id) and json.loads(body) == kent.document()
    wait_until(lambda: rig.status(kent, "amqp") == "delivered", what="amqp receipt")
    [receipt] = rig.receipts(kent)
    assert receipt.outcome == "delivered" and "routed to queue la.886.front_door" in receipt.detail
    wait_until(lambda: rig.status(school, "email") == "delivered", what="email delivered")
    [msg] = rig.smtp.messages
    assert msg["X-Gateway-Notification-Id"] == str(school.notification_id)
    assert rig.smtp.tls_used == [True]
