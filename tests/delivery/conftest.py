"""Fixtures for delivery tests: real receivers, a test directory, notifications, delivery settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.model import Notification
from gateway.settings import Settings
from tests.delivery.receivers import (
    HttpsReceiver,
    SmtpReceiver,
    self_signed,
    start_https_receiver,
    start_smtp_receiver,
)

SMTP_USER = "gateway"
SMTP_PASSWORD = "s3cret-test"
WEBHOOK_SECRET = "whsec-test-0123456789abcdef"
SECRET_ENV = "GATEWAY_TEST_WEBHOOK_SECRET"


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_receiver(tls: tuple[Path, Path]) -> Iterator[HttpsReceiver]:
    rec = start_https_receiver(*tls)
    yield rec
    rec.stop()


@pytest.fixture
def smtp_receiver(tls: tuple[Path, Path]) -> Iterator[SmtpReceiver]:
    rec = start_smtp_receiver(*tls, user=SMTP_USER, password=SMTP_PASSWORD)
    yield rec
    rec.stop()


@pytest.fixture
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, WEBHOOK_SECRET)
    return WEBHOOK_SECRET


def notification(
    kind: str = "school",
    id_: str = "999101",
    role: str = "school_dsl",
    *,
    urgency: str | None = "standard",
    created_at: datetime | None = None,
    notification_id: uuid.UUID | None = None,
    payload: dict[str, Any] | None = None,
) -> Notification:
    doc: dict[str, Any] = {
        "notification_id": str(notification_id or uuid.uuid4()),
        "episode_id": str(uuid.uuid4()),
        "event_id": str(uuid.uuid4()),
        "created_at": (created_at or datetime.now(UTC)).isoformat(),
        "due_by": "2026-03-09T08:00:00Z",
        "recipient": {"kind": kind, "id": id_, "role": role},
        "kind": "notify",
        "purpose": "Child missing from care placement",
        "rule": {"id": "test.school-encompass", "area": "test", "cite": "§4.2 (test protocol)"},
        "lawful_basis": "Children Act 2004 s11",
        "profile": "school_encompass",
        "payload": payload
        or {
            "schema": "missing-episode/1",
            "status": "open",
            "child": {"given_name": "Sam", "family_name": "Testchild", "date_of_birth": "2013-05-01"},
            "episode": {
                "last_seen_at": "2026-03-06T21:30:00Z",
                "police": {"reference": "MP/26/000123"},
            },
            "education": {"school_urn": id_, "school_name": "Test Primary"},
        },
    }
    if urgency:
        doc["urgency"] = urgency
    return Notification.model_validate(doc)


def write_directory(directory: Path, webhook_url: str, *, extra: str = "") -> Path:
    """A deployment directory for tests: an HTTPS school, an email school, AMQP councils."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "test.yaml").write_text(
        f"""
description: test recipients
recipients:
  - kind: school
    id: "999101"
    role: school_dsl
    name: Test Primary (webhook)
    channels:
      - channel: webhook
        url: {webhook_url}
        secret_env: {SECRET_ENV}
  - kind: school
    id: "999102"
    role: school_dsl
    name: Test Academy (email)
    digest: false
    channels:
      - channel: email
        to: [dsl@test-academy.example]
  - kind: la
    id: "886"
    role: edt
    name: Kent emergency duty team (webhook, no digest)
    channels:
      - channel: webhook
        url: {webhook_url}
        secret_env: {SECRET_ENV}
{extra}
""",
        encoding="utf-8",
    )
    return directory


def delivery_settings(
    base: Settings, directory: Path, tls_cert: Path, smtp: SmtpReceiver | None = None, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "directory_dir": directory,
        "delivery_retry_delays_ms": [200, 400],
        "delivery_max_attempts": 3,
        "delivery_quick_retries": 1,
        "delivery_timeout_s": 3.0,
        "delivery_lease_s": 30.0,
        "delivery_poll_interval_s": 0.2,
        "delivery_workers": 2,
        "webhook_ca_file": tls_cert,
        "smtp_ca_file": tls_cert,
        "smtp_username": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "smtp_from": "gateway@gateway.example",
    }
    if smtp is not None:
        values.update(smtp_host=smtp.host, smtp_port=smtp.port)
    values.update(overrides)
    return base.model_copy(update=values)
