"""Which episode does this event belong to? (docs/episodes.md)

In order: (1) the same source record; (2) a cross-reference already learned (the police reference,
which LA systems record too); (3) a strong identifier of the child (NHS number, LA child id with its
LA code, police person id with its force) on an episode whose time overlaps the event's; (4) a
demographic match (normalised names, date of birth, area), scored. Only a full demographic match with no
conflicting identifier is merged automatically; a partial one opens a provisional episode and a
review item for a person to decide. Two children are never merged silently.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.episodes import identity
from gateway.model import EventType, MissingEpisodeEvent
from gateway.store import tables

SLACK = timedelta(hours=24)
"""Clocks and recording practice differ between agencies by hours, not days."""
FOLLOW_UP = timedelta(days=30)
"""How long after the return an event (return interview, closure, a late update) still belongs to it."""
LONGEST_UNKNOWN_START = timedelta(days=30)
"""For an episode first known from a "found", how far back its unknown start may lie."""


@dataclass(frozen=True)
class Thresholds:
    auto_merge: float = 1.0
    review: float = 0.6


@dataclass
class Candidate:
    episode_id: uuid.UUID
    score: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class Match:
    episode: tables.Episode | None
    how: str  # source_record, cross_reference, strong_identifier, demographic, new
    review: Candidate | None = None


def lock_identities(session: Session, keys: set[str]) -> None:
    """Serialise processors working on the same child (PostgreSQL advisory locks, released at commit),
    so two events for a new child arriving at once cannot open two episodes. SQLite already has one
    writer at a time. Sorted so two transactions always lock in the same order (no deadlock)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    from sqlalchemy import text

    for key in sorted(keys):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})


def event_keys(event: MissingEpisodeEvent) -> tuple[set[str], set[str]]:
    force = event.episode.police.force if event.episode.police else None
    return identity.child_keys(event.child, force), identity.episode_keys(event.episode)


def correlate(session: Session, event: MissingEpisodeEvent, thresholds: Thresholds) -> Match:
    child_keys, ep_keys = event_keys(event)
    source_key = f"source:{event.source.system.value}:{event.source.instance}:{event.source.record_id}"
    lock_identities(session, child_keys | ep_keys | {source_key})

    row = _by_source(session, event)
    if row is not None:
        return Match(row, "source_record")
    for found in _by_keys(session, ep_keys):
        if _active(found) and not identity.conflicting(child_keys, _child_keys_of(session, found)):
            return Match(_lock(session, found), "cross_reference")
    strong = [e for e in _by_keys(session, child_keys) if _active(e) and _overlaps(e, event)]
    if strong:
        best = max(strong, key=lambda e: e.started_at or e.opened_at)
        return Match(_lock(session, best), "strong_identifier")
    return _by_demographics(session, event, child_keys, thresholds)


def _by_source(session: Session, event: MissingEpisodeEvent) -> tables.Episode | None:
    episode_id = session.scalar(
        select(tables.EpisodeSource.episode_id).where(
            tables.EpisodeSource.system == event.source.system.value,
            tables.EpisodeSource.instance == event.source.instance,
            tables.EpisodeSource.record_id == event.source.record_id,
        )
    )
    if episode_id is None:
        return None
    row = _lock(session, session.get(tables.Episode, episode_id))
    # A merged episode forwards to the one it was merged into.
    while row is not None and row.merged_into is not None:
        row = _lock(session, session.get(tables.Episode, row.merged_into))
    return row


def _lock(session: Session, row: tables.Episode | None) -> tables.Episode | None:
    if row is None:
        return None
    return session.scalar(
        select(tables.Episode)
        .where(tables.Episode.episode_id == row.episode_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _by_keys(session: Session, keys: set[str]) -> list[tables.Episode]:
    if not keys:
        return []
    ids = session.scalars(select(tables.EpisodeKey.episode_id).where(tables.EpisodeKey.key.in_(keys))).all()
    if not ids:
        return []
    return list(session.scalars(select(tables.Episode).where(tables.Episode.episode_id.in_(set(ids)))))


def _child_keys_of(session: Session, row: tables.Episode) -> set[str]:
    return set(
        session.scalars(
            select(tables.EpisodeKey.key).where(
                tables.EpisodeKey.episode_id == row.episode_id, tables.EpisodeKey.kind == "child"
            )
        )
    )


def _active(row: tables.Episode) -> bool:
    return row.merged_into is None and row.status != "cancelled"


def _window(row: tables.Episode) -> tuple[datetime, datetime | None]:
    end = row.found_at or row.closed_at
    start = row.started_at or ((end - LONGEST_UNKNOWN_START) if end else row.opened_at)
    return start, end


def _overlaps(row: tables.Episode, event: MissingEpisodeEvent) -> bool:
    """Does the event describe this episode's absence (docs/episodes.md, "Overlapping time")?"""
    start, end = _window(row)
    event_start = event.episode.last_seen_at or event.episode.reported_at
    if event_start is not None:
        if end is None:
            return event_start >= start - SLACK
        return start - SLACK <= event_start <= end
    when = event.occurred_at
    if when < start - SLACK:
        return False
    if end is None:
        return True
    if event.event_type is EventType.found and row.found_at and when > row.found_at + SLACK:
        return False  # found again a day later: that is another absence
    return when <= end + FOLLOW_UP


def score(
    event_doc: dict[str, Any], row: tables.Episode, event_keys: set[str], row_keys: set[str]
) -> Candidate:
    reasons: list[str] = []
    conflict = identity.conflicting(event_keys, row_keys)
    if conflict:
        return Candidate(row.episode_id, 0.0, [conflict])
    fam, given, dob = identity.demographics(event_doc)
    r_fam, r_given, r_dob = identity.demographics(row.state)
    known_as = identity.first_given((event_doc.get("child") or {}).get("known_as"))
    r_known_as = identity.first_given((row.state.get("child") or {}).get("known_as"))
    total = 0.0
    if fam and fam == r_fam:
        total += 0.35
        reasons.append("family name")
    given_names = {n for n in (r_given, r_known_as) if n}
    if (given and given in given_names) or (known_as and known_as in given_names):
        total += 0.25
        reasons.append("given name")
    if dob and dob == r_dob:
        total += 0.30
        reasons.append("date of birth")
    event_areas = _areas(event_doc)
    if event_areas & _areas(row.state):
        total += 0.10
        reasons.append("area")
    return Candidate(row.episode_id, round(total, 2), reasons)


def _areas(doc: dict[str, Any]) -> set[str]:
    care = doc.get("care") or {}
    police = (doc.get("episode") or {}).get("police") or {}
    return {f"la:{v}" for v in (care.get("responsible_la"), care.get("host_la")) if v} | (
        {f"force:{police['force']}"} if police.get("force") else set()
    )


def _by_demographics(
    session: Session, event: MissingEpisodeEvent, child_keys: set[str], thresholds: Thresholds
) -> Match:
    dob = event.child.date_of_birth
    if dob is None:
        return Match(None, "new")
    rows = session.scalars(
        select(tables.Episode).where(
            tables.Episode.date_of_birth == dob,
            tables.Episode.merged_into.is_(None),
            tables.Episode.status != "cancelled",
        )
    ).all()
    doc = event.model_dump(mode="json", exclude_none=True)
    best: Candidate | None = None
    best_row: tables.Episode | None = None
    for row in rows:
        if not _overlaps(row, event):
            continue
        cand = score(doc, row, child_keys, _child_keys_of(session, row))
        if best is None or cand.score > best.score:
            best, best_row = cand, row
    if best is None or best.score < thresholds.review:
        return Match(None, "new")
    if best.score >= thresholds.auto_merge:
        return Match(_lock(session, best_row), "demographic")
    return Match(None, "new", review=best)
