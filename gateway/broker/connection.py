"""Connection parameters and reconnect back-off shared by the publisher and consumers."""

from __future__ import annotations

import pika
from tenacity import wait_exponential, wait_random

# Back-off between reconnection attempts after a broker restart or a dropped connection.
RECONNECT_WAIT = wait_exponential(multiplier=0.2, max=15.0) + wait_random(0, 0.5)


def parameters(url: str, *, heartbeat: int = 30, name: str = "gateway") -> pika.URLParameters:
    params = pika.URLParameters(url)
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
