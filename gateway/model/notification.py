"""Notification (``missing-episode-notification/1``): what a recipient receives.

``payload`` is the Episode projected through ``profile``; nothing outside the profile is ever present.
``notification_id`` is stable across retries and redeliveries so recipients can deduplicate on it.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from gateway.model.enums import NotificationKind, RecipientKind, Role
from gateway.model.event import Canonical
from gateway.model.types import NonEmptyStr, UtcDateTime

NOTIFICATION_SCHEMA = "missing-episode-notification/1"


class Recipient(Canonical):
    kind: RecipientKind
    id: NonEmptyStr
    role: Role

    @property
    def routing_key(self) -> str:
        """``kind.id.role`` on ``missing.notifications``, e.g. ``la.886.front_door``."""
        return f"{self.kind.value}.{self.id}.{self.role.value}"


class RuleRef(Canonical):
    id: NonEmptyStr
    area: NonEmptyStr
    cite: NonEmptyStr


class Notification(Canonical):
    schema_: Literal["missing-episode-notification/1"] = Field(
        default="missing-episode-notification/1", alias="schema"
    )
    notification_id: UUID
    episode_id: UUID
    event_id: UUID | None = None
    created_at: UtcDateTime
    due_by: UtcDateTime | None = None
    recipient: Recipient
    kind: NotificationKind = NotificationKind.notify
    purpose: NonEmptyStr
    rule: RuleRef
    lawful_basis: NonEmptyStr
    profile: NonEmptyStr
    payload: dict[str, Any]

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()
