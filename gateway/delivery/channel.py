"""What every delivery channel is (a kombu-style registry of named implementations).

A channel takes one Notification and one endpoint (its settings from the recipient directory) and
tries once to hand it over. It never sleeps or loops: retry policy (in-process retries, retry queues,
dead letters) belongs to the delivery worker, which decides from the result's ``outcome``:

- ``delivered``: the recipient accepted it (its receipt is recorded, keyed on notification_id);
- ``retry``: a transient failure (timeout, 408/429/5xx, connection refused): try again later;
- ``failed``: a permanent refusal (other 4xx, invalid endpoint): dead-letter it, alert an operator.

Implementations must be idempotent on ``notification.notification_id`` towards the recipient
(``Idempotency-Key`` header, conditional create, MESH local id...), so a retry after an unknown outcome
never makes a person see a notice twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from gateway.model import Notification

Outcome = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True)
class DeliveryResult:
    outcome: Outcome
    detail: str = ""  # ids, status codes, error types: never the notification's content
    receipt: dict[str, Any] = field(default_factory=dict)  # e.g. {"http_status": 201, "location": "..."}


@dataclass(frozen=True)
class ChannelContext:
    """What a delivery worker offers a channel when it builds one (see :meth:`Channel.create`)."""

    settings: Any  # gateway.settings.Settings
    publisher: Any = None  # a started gateway.broker.publisher.ConfirmedPublisher, for AMQP channels


class Channel(ABC):
    name: ClassVar[str]

    @classmethod
    def create(cls, context: ChannelContext) -> Channel:
        """Build the channel a delivery worker uses; override to read configuration from
        ``context.settings`` (timeouts, TLS files, credentials named there)."""
        return cls()

    @abstractmethod
    def deliver(self, notification: Notification, endpoint: dict[str, Any]) -> DeliveryResult:
        """Try once to hand ``notification`` to ``endpoint``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections the channel keeps between deliveries."""


_CHANNELS: dict[str, type[Channel]] = {}


def register_channel(cls: type[Channel]) -> type[Channel]:
    if cls.name in _CHANNELS and _CHANNELS[cls.name] is not cls:
        raise RuntimeError(f"two channels registered as {cls.name!r}")
    _CHANNELS[cls.name] = cls
    return cls


def channel_class(name: str) -> type[Channel]:
    if name not in _CHANNELS:
        raise KeyError(f"no delivery channel {name!r}; known: {', '.join(sorted(_CHANNELS))}")
    return _CHANNELS[name]


def channels() -> dict[str, type[Channel]]:
    return dict(sorted(_CHANNELS.items()))
