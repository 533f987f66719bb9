"""The webhook channel against a real HTTPS server on 127.0.0.1 (self-signed certificate)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from gateway.delivery.webhook import WebhookChannel, sign, verify
from tests.delivery.conftest import SECRET_ENV, notification
from tests.delivery.receivers import HttpsReceiver


def _channel(tls: tuple[Path, Path], **kw: object) -> WebhookChannel:
    return WebhookChannel(timeout_s=2.0, verify_tls=str(tls[0]), **kw)  # type: ignore[arg-type]


def _endpoint(url: str) -> dict[str, object]:
    return {"url": url, "secret_env": SECRET_ENV, "id": "webhook", "recipient": "school.999101.school_dsl"}


def test_delivers_signed_json_with_an_idempotency_key(
    https_receiver: HttpsReceiver, tls: tuple[Path, Path], webhook_secret: str
) -> None:
    n = notification()
    result = _channel(tls).deliver(n, _endpoint(https_receiver.url))
    assert result.outcome == "delivered"
    assert result.receipt["http_status"] == 200
    [req] = https_receiver.received
    assert req.headers["idempotency-key"] == str(n.notification_id)
    assert req.headers["content-type"] == "application/json"
    assert req.json() == n.document()
    # What a receiver does (docs/recipients.md): HMAC over "<timestamp>.<body>", constant-time compare.
    ts, sig = req.headers["x-gateway-timestamp"], req.headers["x-gateway-signature"]
    assert sig == f"v1={sign(webhook_secret, ts, req.body)}"
    assert verify(webhook_secret, ts, sig, req.body)
    assert not verify("another-secret", ts, sig, req.body)
    assert not verify(webhook_secret, ts, sig, req.body + b" ")  # any change to the body
    assert not verify(webhook_secret, str(int(ts) - 1), sig, req.body)  # or to the timestamp
    # Outside the replay window a captured request is refused even with a good signature.
    assert not verify(webhook_secret, ts, sig, req.body, now=int(ts) + 301)
    assert verify(webhook_secret, ts, sig, req.body, now=int(ts) + 299)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (201, "delivered"),
        (204, "delivered"),
        (408, "retry"),
        (429, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (400, "failed"),
        (401, "failed"),
        (403, "failed"),
        (404, "failed"),
        (410, "failed"),
        (422, "failed"),
        (302, "failed"),
    ],
)
def test_status_codes_decide_the_outcome(
    https_receiver: HttpsReceiver, tls: tuple[Path, Path], webhook_secret: str, status: int, outcome: str
) -> None:
    https_receiver.default_status = status
    result = _channel(tls).deliver(notification(), _endpoint(https_receiver.url))
    assert (result.outcome, result.receipt["http_status"]) == (outcome, status)
    assert len(https_receiver.received) == 1  # a redirect is never followed


def test_timeout_and_connection_refused_are_transient(
    https_receiver: HttpsReceiver, tls: tuple[Path, Path], webhook_secret: str
) -> None:
    https_receiver.delay_s = 1.5
    slow = WebhookChannel(timeout_s=0.3, verify_tls=str(tls[0]))
    started = time.monotonic()
    result = slow.deliver(notification(), _endpoint(https_receiver.url))
    assert result.outcome == "retry" and "timeout" in result.detail
    assert time.monotonic() - started < 1.4

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _channel(tls).deliver(notification(), _endpoint(f"https://127.0.0.1:{port}/x"))
    assert result.outcome == "retry" and "transport error" in result.detail


def test_an_untrusted_certificate_is_not_sent_to(https_receiver: HttpsReceiver, webhook_secret: str) -> None:
    result = WebhookChannel(timeout_s=2.0).deliver(notification(), _endpoint(https_receiver.url))
    assert result.outcome == "retry"
    assert https_receiver.received == []


def test_misconfiguration_is_a_permanent_failure(
    https_receiver: HttpsReceiver, tls: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    result = _channel(tls).deliver(notification(), _endpoint(https_receiver.url))
    assert result.outcome == "failed" and SECRET_ENV in result.detail
    monkeypatch.setenv(SECRET_ENV, "x")
    plain = _endpoint(https_receiver.url.replace("https://", "http://"))
    assert _channel(tls).deliver(notification(), plain).outcome == "failed"
    assert https_receiver.received == []


def test_details_carry_no_content(
    https_receiver: HttpsReceiver, tls: tuple[Path, Path], webhook_secret: str
) -> None:
    https_receiver.default_status = 400
    n = notification()
    result = _channel(tls).deliver(n, _endpoint(https_receiver.url))
    text = result.detail + json.dumps(result.receipt)
    assert "Sam" not in text and "Testchild" not in text and "2013-05-01" not in text
