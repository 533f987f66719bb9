"""The email channel against a real SMTP server (aiosmtpd) with STARTTLS and AUTH on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from gateway.delivery.email import EmailChannel, render_text
from tests.delivery.conftest import SMTP_PASSWORD, SMTP_USER, notification
from tests.delivery.receivers import SmtpReceiver, start_smtp_receiver


def _channel(smtp: SmtpReceiver, tls: tuple[Path, Path], **kw: object) -> EmailChannel:
    args: dict[str, object] = {
        "host": smtp.host,
        "port": smtp.port,
        "sender": "gateway@gateway.example",
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "ca_file": str(tls[0]),
        "timeout_s": 5.0,
    }
    args.update(kw)
    return EmailChannel(**args)  # type: ignore[arg-type]


ENDPOINT = {"to": ["dsl@test-academy.example", "deputy@test-academy.example"], "id": "email"}


def test_sends_over_starttls_with_auth_a_readable_body_and_the_json(
    smtp_receiver: SmtpReceiver, tls: tuple[Path, Path]
) -> None:
    n = notification("school", "999102")
    result = _channel(smtp_receiver, tls).deliver(n, ENDPOINT)
    assert result.outcome == "delivered", result.detail
    assert result.receipt["accepted"] == 2
    [msg] = smtp_receiver.messages
    assert smtp_receiver.tls_used == [True] and smtp_receiver.auth_used == [SMTP_USER]
    assert smtp_receiver.envelopes[0][1] == ENDPOINT["to"]
    # No personal data in the subject; a stable Message-ID from the notification id.
    assert "Sam" not in msg["Subject"] and str(n.notification_id)[:8] in msg["Subject"]
    assert msg["Message-ID"].startswith(f"<{n.notification_id}.email@")
    text, attachment = [p for p in msg.walk() if not p.is_multipart()]
    body = text.get_payload(decode=True).decode()
    for expected in (
        n.purpose,  # what this is
        "Sam Testchild",  # who, as far as the profile allows
        "2013-05-01",
        "MP/26/000123",
        "Friday 06 March 2026, 21:30 (UK time)",  # what happened, in UK time
        "DUE BY: Monday 09 March 2026, 08:00 (UK time)",  # what is due by when
        "test.school-encompass (test), §4.2 (test protocol)",  # the rule's cite
        str(n.notification_id),
    ):
        assert expected in body, expected
    assert attachment.get_filename() == f"notification-{n.notification_id}.json"
    assert json.loads(attachment.get_payload(decode=True)) == n.document()


def test_body_shows_only_what_the_payload_holds() -> None:
    n = notification(
        payload={"schema": "missing-episode/1", "status": "open", "child": {"given_name": "Alex"}}
    )
    body = render_text(n)
    assert "Alex" in body and "Date of birth" not in body and "Police reference" not in body


def test_wrong_password_is_a_permanent_failure(smtp_receiver: SmtpReceiver, tls: tuple[Path, Path]) -> None:
    result = _channel(smtp_receiver, tls, password="wrong").deliver(notification(), ENDPOINT)
    assert result.outcome == "failed" and "535" in result.detail
    assert smtp_receiver.messages == []


def test_a_server_without_starttls_is_not_sent_to(tls: tuple[Path, Path]) -> None:
    plain = start_smtp_receiver(*tls, starttls=False)
    try:
        result = _channel(plain, tls).deliver(notification(), ENDPOINT)
        assert result.outcome == "retry" and "STARTTLS" in result.detail
        assert plain.messages == []
    finally:
        plain.stop()


def test_server_down_is_transient(tls: tuple[Path, Path]) -> None:
    from tests.delivery.receivers import free_port

    channel = EmailChannel(host="127.0.0.1", port=free_port(), sender="g@gateway.example", timeout_s=2)
    assert channel.deliver(notification(), ENDPOINT).outcome == "retry"
