"""Candidates → notifications: one per recipient per cause, listing every rule that asked for it.

Deduplication key: the episode, the cause (the event, the timer group, or "once" for a once-per-
episode rule), the recipient ``(kind, id, role)``, the notification kind, and for a task its topic (or
its text). Within a group:

- the **primary** rule (``Notification.rule``) is the one with the earliest deadline (ties: national
  first, then areas alphabetically, then file order); every rule is listed in ``Notification.rules``;
- different deadlines: the earliest is kept, the disagreement is **reported** (``conflicts``, a log
  line with the rule ids, a counter);
- different profiles: the payload is the union of their allow-lists (each field is justified by at
  least one rule), reported as a conflict so the profiles can be aligned;
- different urgencies: the most urgent is kept (immediate > standard > digest), reported;
- lawful bases: all of them, distinct, in rule order.

Notification ids are derived from the key, so the same cause can never produce two notices for one
recipient, and a cause processed again (a timer re-fired after a crash) finds its notices already there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.model import (
    Episode,
    Notification,
    RuleCitation,
    RuleConflict,
    RuleRef,
    Urgency,
)
from gateway.routing.metrics import CONFLICTS
from gateway.routing.profiles import Profile, disclosed_fields, minimise, union
from gateway.rules.evaluate import Candidate
from gateway.store import pending, tables

log = structlog.get_logger(__name__)

# Namespace for notification ids (unchanged from the interim router, so ids stay comparable).
NOTIFICATION_NS = uuid.UUID("8d6f0f5e-4a8e-4d0b-9a59-6c1f1b0e2f11")
_URGENCY_RANK = {Urgency.immediate: 0, Urgency.standard: 1, Urgency.digest: 2}
_CONSENT_RANK = {"not_sought": 0, "not_required": 1}
MAX_PROFILE_NAME = 64  # disclosures.profile / notifications.profile columns


@dataclass(frozen=True)
class Routed:
    notification: Notification
    fields: list[str]
    consent: str
    lawful_bases: tuple[str, ...] = ()


def notification_id(episode_id: uuid.UUID, cause: str, kind: str, topic: str, routing_key: str) -> uuid.UUID:
    return uuid.uuid5(NOTIFICATION_NS, f"{episode_id}|{cause}|{kind}|{topic}|{routing_key}")


def group_key(c: Candidate, cause: str) -> tuple[str, str, str, str]:
    return (c.cause or cause, c.recipient.routing_key, c.kind.value, c.topic)


def _conflict(fld: str, values: dict[str, str], kept: str) -> RuleConflict:
    CONFLICTS.labels(field=fld).inc()
    return RuleConflict(field=fld, values=values, kept=kept)


def materialise(
    session: Session | None,
    episode: Episode,
    candidates: list[Candidate],
    profiles: dict[str, Profile],
    *,
    cause: str,
    event_id: uuid.UUID | None,
    now: datetime,
    defer_digest: Callable[[Candidate], None] | None = None,
) -> list[Routed]:
    """Notifications for ``candidates``. With ``defer_digest``, a group whose members are all digests
    is handed to it (a timer will send it before the next school day) instead of being sent now.
    ``session`` is used to skip notifications that already exist (None: no check, for explain)."""
    groups: dict[tuple[str, str, str, str], list[Candidate]] = {}
    for c in candidates:
        groups.setdefault(group_key(c, cause), []).append(c)

    planned: list[tuple[uuid.UUID, tuple[str, str, str, str], list[Candidate]]] = []
    for key, members in groups.items():
        if defer_digest is not None and all(m.urgency is Urgency.digest for m in members):
            for m in members:
                defer_digest(m)
            continue
        members.sort(key=lambda m: (m.due_by is None, m.due_by or now, m.rule.order))
        group_cause, routing_key, kind, topic = key
        planned.append(
            (notification_id(episode.episode_id, group_cause, kind, topic, routing_key), key, members)
        )

    existing: set[uuid.UUID] = set()
    written = pending.of(session)
    if written is not None:
        existing = {p[0] for p in planned if p[0] in written.notification_ids}
    # A notice caused by an event new in this transaction cannot be in the database yet: only the
    # others (a once-per-episode notice, a timer's) need looking up.
    ask = [p[0] for p in planned if written is None or p[1][0] not in written.fresh_causes]
    if session is not None and ask:
        existing |= set(
            session.scalars(
                select(tables.Notification.notification_id).where(
                    tables.Notification.notification_id.in_(ask)
                )
            )
        )

    routed: list[Routed] = []
    for nid, (_cause, routing_key, _kind, _topic), members in planned:
        if nid in existing:
            log.info("routing.already_notified", episode_id=str(episode.episode_id), notification_id=str(nid))
            continue
        routed.append(_build(nid, episode, members, profiles, event_id, now, routing_key))
    return routed


def _build(
    nid: uuid.UUID,
    episode: Episode,
    members: list[Candidate],
    profiles: dict[str, Profile],
    event_id: uuid.UUID | None,
    now: datetime,
    routing_key: str,
) -> Routed:
    primary = members[0]
    by_rule: dict[str, Candidate] = {}
    for m in members:
        by_rule.setdefault(m.rule.id, m)
    conflicts: list[RuleConflict] = []

    dues = {rid: m.due_by for rid, m in by_rule.items() if m.due_by is not None}
    if len(set(dues.values())) > 1:
        conflicts.append(
            _conflict(
                "due_by",
                {rid: d.isoformat() for rid, d in dues.items()},
                primary.due_by.isoformat() if primary.due_by else "",
            )
        )
    names = list(dict.fromkeys(m.profile for m in members))
    if len(names) > 1:
        profile = union(names, profiles)
        profile_name = "+".join(sorted(names))
        if len(profile_name) > MAX_PROFILE_NAME:
            profile_name = "union-" + uuid.uuid5(NOTIFICATION_NS, profile_name).hex[:12]
        conflicts.append(_conflict("profile", {rid: m.profile for rid, m in by_rule.items()}, profile_name))
    else:
        profile, profile_name = profiles[names[0]], names[0]
    urgency = min((m.urgency for m in members), key=_URGENCY_RANK.__getitem__)
    if len({m.urgency for m in members}) > 1:
        conflicts.append(
            _conflict("urgency", {rid: m.urgency.value for rid, m in by_rule.items()}, urgency.value)
        )
    consents = {rid: m.rule.consent for rid, m in by_rule.items()}
    consent = min(consents.values(), key=lambda c: _CONSENT_RANK.get(c, 9))
    if len(set(consents.values())) > 1:
        conflicts.append(_conflict("consent", consents, consent))
    bases = tuple(dict.fromkeys(m.rule.lawful_basis for m in by_rule.values()))
    if conflicts:
        log.warning(
            "routing.rule_conflict",
            episode_id=str(episode.episode_id),
            notification_id=str(nid),
            routing_key=routing_key,
            rule_ids=list(by_rule),
            fields=[c.field for c in conflicts],
            kept_rule_id=primary.rule.id,
        )
    payload = minimise(episode, profile)
    note = Notification(
        notification_id=nid,
        episode_id=episode.episode_id,
        event_id=event_id,
        created_at=now,
        due_by=primary.due_by,
        recipient=primary.recipient,
        kind=primary.kind,
        purpose=primary.purpose,
        rule=RuleRef(id=primary.rule.id, area=primary.rule.area, cite=primary.rule.rule.cite),
        lawful_basis=" | ".join(bases),
        profile=profile_name,
        payload=payload,
        rules=[
            RuleCitation(
                id=m.rule.id,
                area=m.rule.area,
                cite=m.rule.rule.cite,
                lawful_basis=m.rule.lawful_basis,
                due_by=m.due_by,
            )
            for m in by_rule.values()
        ],
        conflicts=conflicts,
        urgency=urgency,
    )
    return Routed(note, disclosed_fields(payload), consent, bases)
