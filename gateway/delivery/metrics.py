"""Delivery metrics (Prometheus) and the failure-rate alarm.

Labels are channel names and recipient routing keys (``school.999001.school_dsl``): organisations, never
anything about a child. ``gateway_delivery_oldest_undelivered_seconds`` is the one to alert on: it is
the age of the oldest notice that a recipient should have and does not (pending, retrying, dead, or
with no channel at all; a school-digest hold counts only once its release time has passed).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import structlog
from prometheus_client import REGISTRY, Counter, Gauge

log = structlog.get_logger(__name__)


def _existing(name: str) -> Any:
    return getattr(REGISTRY, "_names_to_collectors", {}).get(name)


def _counter(name: str, doc: str, labels: list[str]) -> Counter:
    # Registering twice raises (a test re-import, two workers in one process): reuse the first.
    existing = _existing(f"{name}_total")
    return existing if isinstance(existing, Counter) else Counter(name, doc, labels)


def _gauge(name: str, doc: str, labels: list[str]) -> Gauge:
    existing = _existing(name)
    return existing if isinstance(existing, Gauge) else Gauge(name, doc, labels)


SENT = _counter(
    "gateway_delivery_sent", "Notifications a recipient's endpoint accepted", ["channel", "recipient"]
)
FAILED = _counter(
    "gateway_delivery_failed",
    "Attempts refused permanently (4xx, invalid endpoint): the notice goes to missing.dead",
    ["channel", "recipient"],
)
RETRYING = _counter(
    "gateway_delivery_retrying",
    "Transient failures (timeout, 5xx, connection refused) that will be tried again",
    ["channel", "recipient"],
)
DEAD = _counter(
    "gateway_delivery_dead",
    "Notifications given up on and dead-lettered (replay them)",
    ["channel", "recipient"],
)
NO_CHANNEL = _counter(
    "gateway_delivery_no_channel",
    "Notifications for a recipient the directory has no endpoint for (not delivered to anyone)",
    ["recipient"],
)
HELD = _counter("gateway_delivery_digest_held", "Notices held for a school digest", ["channel", "recipient"])
OLDEST = _gauge(
    "gateway_delivery_oldest_undelivered_seconds",
    "Age of the oldest notification not yet accepted by this endpoint",
    ["channel", "recipient"],
)


class FailureRateAlarm:
    """The last ``window`` attempt outcomes per (channel, recipient); one error line when the failure
    share crosses ``threshold`` (with at least ``min_attempts`` seen), one info line when it recovers.
    Per process: each worker watches what it sends."""

    def __init__(self, threshold: float, window: int, min_attempts: int):
        self._threshold = threshold
        self._window = window
        self._min = min_attempts
        self._recent: dict[tuple[str, str], deque[bool]] = {}
        self._alarmed: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def record(self, channel: str, recipient: str, ok: bool) -> None:
        key = (channel, recipient)
        with self._lock:
            recent = self._recent.setdefault(key, deque(maxlen=self._window))
            recent.append(ok)
            failures = recent.count(False)
            rate = failures / len(recent)
            crossed = len(recent) >= self._min and rate >= self._threshold
            if crossed and key not in self._alarmed:
                self._alarmed.add(key)
                log.error(
                    "delivery.failure_rate_high",
                    channel=channel,
                    recipient=recipient,
                    failures=failures,
                    attempts=len(recent),
                    threshold=self._threshold,
                )
            elif not crossed and key in self._alarmed and rate < self._threshold:
                self._alarmed.discard(key)
                log.info(
                    "delivery.failure_rate_recovered",
                    channel=channel,
                    recipient=recipient,
                    failures=failures,
                    attempts=len(recent),
                )

    def alarmed(self) -> set[tuple[str, str]]:
        with self._lock:
            return set(self._alarmed)
