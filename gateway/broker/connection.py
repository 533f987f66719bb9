"""Connection parameters and reconnect back-off shared by the publisher and consumers."""

from __future__ import annotations

import ssl
from pathlib import Path

import pika
from tenacity import wait_exponential, wait_random

# Back-off between reconnection attempts after a broker restart or a dropped connection.
RECONNECT_WAIT = wait_exponential(multiplier=0.2, max=15.0) + wait_random(0, 0.5)


def tls_options(
    host: str, ca_file: Path | None, cert_file: Path | None, key_file: Path | None
) -> pika.SSLOptions:
    """Verified TLS (certificate and host name) with an optional client certificate."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert_file:
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    return pika.SSLOptions(context, server_hostname=host)


def parameters(url: str, *, heartbeat: int = 30, name: str = "gateway") -> pika.URLParameters:
    params = pika.URLParameters(url)
    if url.startswith("amqps://"):
        from gateway.settings import get_settings

        s = get_settings()
        params.ssl_options = tls_options(params.host, s.amqp_ca_file, s.amqp_cert_file, s.amqp_key_file)
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = 60
    params.connection_attempts = 1
    params.socket_timeout = 10
    params.client_properties = {"connection_name": name}
    return params


class _Attempt:
    """The one field tenacity's wait strategies read."""

    def __init__(self, attempt_number: int):
        self.attempt_number = attempt_number


def reconnect_delay(attempt: int) -> float:
    """Seconds to wait before reconnection attempt ``attempt`` (1-based)."""
    return float(RECONNECT_WAIT(_Attempt(max(attempt, 1))))  # type: ignore[arg-type]
