"""Notification (``missing-episode-notification/1``): what a recipient receives.

``payload`` is the Episode projected through ``profile``; nothing outside the profile is ever present.
``notification_id`` is stable across retries and redeliveries so recipients can deduplicate on it.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from gateway.model.enums import NotificationKind, RecipientKind, Role, Urgency
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


class RuleCitation(Canonical):
    """One rule that asked for this notification (docs/rules.md "Deduplication")."""

    id: NonEmptyStr
    area: NonEmptyStr
    cite: NonEmptyStr
    lawful_basis: str | None = None
    due_by: UtcDateTime | None = None


class RuleConflict(Canonical):
    """Rules that asked for one notification but disagreed: what each wanted and what was kept."""

    field: NonEmptyStr
    values: dict[str, str]
    kept: str


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
    # Added by the sharing-rules engine (optional, so documents without them stay valid): every rule
    # that asked for this notification, ``rule`` (the earliest deadline) first; any disagreement
    # between them; and the urgency the delivery layer should honour.
    rules: list[RuleCitation] = Field(default_factory=list)
    conflicts: list[RuleConflict] = Field(default_factory=list)
    urgency: Urgency | None = None

    def document(self) -> dict[str, Any]:
        """The JSON document: absent values left out, except ``event_id``, which is an explicit null
        for a notification a timer created (CANONICAL.md §3)."""
        doc = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        doc.setdefault("event_id", None)
        return doc

    def to_json(self) -> bytes:
        return json.dumps(self.document(), separators=(",", ":")).encode()
