"""Webhook channel: an HTTPS POST of the notification JSON, signed, idempotent on notification_id.

Request (docs/recipients.md "Webhooks" has the receiver's side, with verification code):

- body: the Notification document (``missing-episode-notification/1``), UTF-8 JSON;
- ``Idempotency-Key: <notification_id>``: the same for every retry and redelivery of one notice;
- ``X-Gateway-Timestamp: <unix seconds>`` and ``X-Gateway-Signature: v1=<hex>`` where ``hex`` is
  HMAC-SHA256(secret, ``<timestamp>.`` + body bytes). The receiver recomputes it over the exact bytes
  it received, compares in constant time, and refuses a timestamp more than 5 minutes from its clock
  (so a captured request cannot be replayed later).

Outcomes: 2xx delivered; 408, 429, 5xx, timeouts and connection errors retry; a redirect or any other
4xx is a permanent refusal (redirects are never followed: a notice about a child goes to the configured
address or nowhere). The secret is read from the environment variable the directory names, at send time,
so it can be rotated without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import ssl
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from gateway import __version__
from gateway.delivery.channel import Channel, ChannelContext, DeliveryResult, register_channel
from gateway.model import Notification

SIGNATURE_VERSION = "v1"
TIMESTAMP_HEADER = "X-Gateway-Timestamp"
SIGNATURE_HEADER = "X-Gateway-Signature"
REPLAY_WINDOW_S = 300
RETRY_STATUSES = {408, 425, 429}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``v1`` signature: hex HMAC-SHA256 over ``<timestamp>.<body>``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return mac.hexdigest()


def verify(
    secret: str,
    timestamp: str,
    signature_header: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = REPLAY_WINDOW_S,
) -> bool:
    """What a receiver does (docs/recipients.md); also used by the tests' receiver."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent_at) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body)
    # Several comma-separated signatures may be sent during a secret rotation: any one may match.
    for part in signature_header.split(","):
        version, _, value = part.strip().partition("=")
        if version == SIGNATURE_VERSION and hmac.compare_digest(value, expected):
            return True
    return False


@register_channel
class WebhookChannel(Channel):
    name = "webhook"

    def __init__(
        self,
        *,
        timeout_s: float = 15.0,
        verify_tls: str | bool = True,
        allow_http: bool = False,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._timeout = timeout_s
        self._allow_http = allow_http
        self._environ = environ if environ is not None else os.environ
        self._clock = clock
        # No redirects (see module docstring); no cookies or proxies from the environment's defaults
        # beyond what httpx reads, and a pool reused between deliveries.
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=verify_tls) if isinstance(verify_tls, str) else verify_tls
        )
        self._client = httpx.Client(verify=verify, follow_redirects=False, timeout=timeout_s)

    @classmethod
    def create(cls, context: ChannelContext) -> Channel:
        s = context.settings
        return cls(
            timeout_s=s.delivery_timeout_s,
            verify_tls=str(s.webhook_ca_file) if s.webhook_ca_file else True,
            allow_http=s.webhook_allow_http,
        )

    def deliver(self, notification: Notification, endpoint: dict[str, Any]) -> DeliveryResult:
        url = str(endpoint["url"])
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme != "https" and not (scheme == "http" and self._allow_http):
            return DeliveryResult("failed", "refused: webhook url is not https")
        secret_env = str(endpoint.get("secret_env", ""))
        secret = self._environ.get(secret_env) if secret_env else None
        if not secret:
            return DeliveryResult("failed", f"webhook secret variable {secret_env or '(none)'} is not set")
        body = notification.to_json()
        timestamp = str(int(self._clock()))
        nid = str(notification.notification_id)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"missing-episode-gateway/{__version__}",
            "Idempotency-Key": nid,
            "X-Gateway-Notification-Id": nid,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: f"{SIGNATURE_VERSION}={sign(secret, timestamp, body)}",
        }
        timeout = float(endpoint.get("timeout_s") or self._timeout)
        try:
            response = self._client.post(url, content=body, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            return DeliveryResult("retry", f"timeout ({type(exc).__name__})")
        except httpx.TransportError as exc:  # connection refused, DNS, TLS handshake, reset
            return DeliveryResult("retry", f"transport error ({type(exc).__name__})")
        status = response.status_code
        receipt: dict[str, Any] = {"http_status": status}
        for name in ("location", "x-request-id", "retry-after"):
            if name in response.headers:
                receipt[name] = response.headers[name][:200]
        if 200 <= status < 300:
            return DeliveryResult("delivered", f"HTTP {status}", receipt)
        if status in RETRY_STATUSES or status >= 500:
            return DeliveryResult("retry", f"HTTP {status}", receipt)
        if 300 <= status < 400:
            return DeliveryResult("failed", f"HTTP {status}: redirects are not followed", receipt)
        return DeliveryResult("failed", f"HTTP {status}", receipt)

    def close(self) -> None:
        self._client.close()
