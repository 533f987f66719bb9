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

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from gateway.episodes import identity
from gateway.model import EventType, MissingEpisodeEvent
from gateway.store import pending, tables

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


_LOCKED = "gateway.advisory_locks"
_LOCK_ALL = text(
    # One round trip for all the keys, taken in the order given (the subquery's ORDER BY fixes the
    # order in which the aggregate calls the lock function).
    "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM "
    "(SELECT k FROM unnest(CAST(:keys AS text[])) WITH ORDINALITY AS t(k, i) ORDER BY i) AS ordered"
)


def lock_identities(session: Session, keys: set[str]) -> None:
    """Serialise processors working on the same child (PostgreSQL advisory locks, released at commit),
    so two events for a new child arriving at once cannot open two episodes. SQLite already has one
    writer at a time. Sorted so two transactions always lock in the same order (no deadlock): the
    processor locks every key of a batch at its start, so the per-event calls then find them held."""
    if session.get_bind().dialect.name != "postgresql":
        return
    transaction = session.get_transaction()
    held_in = session.info.get(_LOCKED)
    if held_in is None or held_in[0] is not transaction:
        held_in = (transaction, set())
        session.info[_LOCKED] = held_in
    held: set[str] = held_in[1]
    todo = sorted(keys - held)
    if todo:
        session.execute(_LOCK_ALL, {"keys": todo})
        held.update(todo)


def source_key(event: MissingEpisodeEvent) -> tuple[str, str, str]:
    return (event.source.system.value, event.source.instance, event.source.record_id)


def known_sources(
    session: Session, events: list[MissingEpisodeEvent]
) -> dict[tuple[str, str, str], uuid.UUID]:
    """Which episode holds each of these events' source records (one statement for a batch)."""
    wanted = list({source_key(e) for e in events})
    found = session.execute(
        select(
            tables.EpisodeSource.system,
            tables.EpisodeSource.instance,
            tables.EpisodeSource.record_id,
            tables.EpisodeSource.episode_id,
        ).where(
            tuple_(
                tables.EpisodeSource.system, tables.EpisodeSource.instance, tables.EpisodeSource.record_id
            ).in_(wanted)
        )
    )
    return {(r.system, r.instance, r.record_id): r.episode_id for r in found}


def identity_locks(event: MissingEpisodeEvent) -> set[str]:
    """The advisory lock names of an event: its child's and episode's identifiers and its source record."""
    child_keys, ep_keys = event_keys(event)
    system, instance, record_id = source_key(event)
    return child_keys | ep_keys | {f"source:{system}:{instance}:{record_id}"}


def event_keys(event: MissingEpisodeEvent) -> tuple[set[str], set[str]]:
    force = event.episode.police.force if event.episode.police else None
    return identity.child_keys(event.child, force), identity.episode_keys(event.episode)


def correlate(session: Session, event: MissingEpisodeEvent, thresholds: Thresholds) -> Match:
    child_keys, ep_keys = event_keys(event)
    lock_identities(session, identity_locks(event))

    row = _by_source(session, event)
    if row is not None:
        return Match(row, "source_record")
    by_episode_key, by_child_key = _by_keys(session, ep_keys, child_keys)
    for found in by_episode_key:
        if _active(found) and not identity.conflicting(child_keys, _child_keys_of(session, found)):
            return Match(_lock(session, found), "cross_reference")
    strong = [e for e in by_child_key if _active(e) and _overlaps(e, event)]
    if strong:
        best = max(strong, key=lambda e: e.started_at or e.opened_at)
        return Match(_lock(session, best), "strong_identifier")
    return _by_demographics(session, event, child_keys, thresholds)


def _by_source(session: Session, event: MissingEpisodeEvent) -> tables.Episode | None:
    written = pending.of(session)
    episode_id = written.sources.get(source_key(event)) if written is not None else None
    if episode_id is None and not (written is not None and written.sources_complete):
        episode_id = session.scalar(
            select(tables.EpisodeSource.episode_id).where(
                tables.EpisodeSource.system == event.source.system.value,
                tables.EpisodeSource.instance == event.source.instance,
                tables.EpisodeSource.record_id == event.source.record_id,
            )
        )
    if episode_id is None:
        return None
    row = _lock_id(session, episode_id)
    # A merged episode forwards to the one it was merged into.
    while row is not None and row.merged_into is not None:
        row = _lock_id(session, row.merged_into)
    return row


def _lock(session: Session, row: tables.Episode | None) -> tables.Episode | None:
    return None if row is None else _lock_id(session, row.episode_id)


def _lock_id(session: Session, episode_id: uuid.UUID) -> tables.Episode | None:
    """The episode's row, locked for this transaction and read afresh (not the identity map's copy)."""
    return session.scalar(
        select(tables.Episode)
        .where(tables.Episode.episode_id == episode_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _by_keys(
    session: Session, episode_keys: set[str], child_keys: set[str]
) -> tuple[list[tables.Episode], list[tables.Episode]]:
    """The episodes holding any of ``episode_keys`` and those holding any of ``child_keys``: two
    statements for both (the keys, then the episodes), in the order the rows come."""
    if not (episode_keys or child_keys):
        return [], []
    pairs = session.execute(
        select(tables.EpisodeKey.key, tables.EpisodeKey.episode_id).where(
            tables.EpisodeKey.key.in_(episode_keys | child_keys)
        )
    ).all()
    if not pairs:
        return [], []
    rows = {
        r.episode_id: r
        for r in session.scalars(
            select(tables.Episode).where(tables.Episode.episode_id.in_({eid for _, eid in pairs}))
        )
    }

    def holding(keys: set[str]) -> list[tables.Episode]:
        ids = list(dict.fromkeys(eid for key, eid in pairs if key in keys))
        return [rows[i] for i in ids if i in rows]

    return holding(episode_keys), holding(child_keys)


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
