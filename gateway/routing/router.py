"""Turn routing decisions into Notifications: stable ids, minimised payloads, disclosure records."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from gateway.model import Episode, MissingEpisodeEvent, Notification
from gateway.routing.baseline import Decision, baseline_decisions
from gateway.routing.profiles import Profile, disclosed_fields, minimise

# Namespace for notification ids: the same cause always yields the same id, so a redelivered event,
# a replay or a relay restart can never make a recipient see two different notices for one cause.
NOTIFICATION_NS = uuid.UUID("8d6f0f5e-4a8e-4d0b-9a59-6c1f1b0e2f11")


@dataclass(frozen=True)
class Routed:
    notification: Notification
    fields: list[str]
    consent: str


def notification_id(episode_id: uuid.UUID, cause: str, rule_id: str, routing_key: str) -> uuid.UUID:
    return uuid.uuid5(NOTIFICATION_NS, f"{episode_id}|{cause}|{rule_id}|{routing_key}")


class Router:
    def __init__(self, profiles: dict[str, Profile]):
        self.profiles = profiles

    def route(
        self, session: Session, episode: Episode, event: MissingEpisodeEvent, now: datetime
    ) -> list[Routed]:
        """Notifications this event causes. ``session`` is the processor's transaction (for timers)."""
        return [self._build(episode, event, d, now) for d in baseline_decisions(episode, event)]

    def _build(self, episode: Episode, event: MissingEpisodeEvent, d: Decision, now: datetime) -> Routed:
        profile = self.profiles.get(d.profile)
        if profile is None:
            raise KeyError(f"rule {d.rule.id} names unknown profile {d.profile!r}")
        payload = minimise(episode, profile)
        note = Notification(
            notification_id=notification_id(
                episode.episode_id, str(event.event_id), d.rule.id, d.recipient.routing_key
            ),
            episode_id=episode.episode_id,
            event_id=event.event_id,
            created_at=now,
            due_by=None,
            recipient=d.recipient,
            purpose=d.purpose,
            rule=d.rule,
            lawful_basis=d.lawful_basis,
            profile=d.profile,
            payload=payload,
        )
        return Routed(note, disclosed_fields(payload), d.consent)
