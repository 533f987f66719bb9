"""Review items, merging and splitting episodes (docs/episodes.md).

A possible match below the auto-merge threshold becomes a review item; a person merges the two
episodes or keeps them apart. A merge or split never deletes anything: every event is kept and moved,
the history of notifications and disclosures is re-pointed to the episode it now belongs to, the
episodes' state is rebuilt by replaying their events, and the action is audited (who, when, what moved).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from gateway.episodes import lifecycle, repository
from gateway.episodes.correlate import Candidate
from gateway.episodes.history import DEFAULT_WINDOWS, child_episodes, window_counts
from gateway.model import Episode, MissingEpisodeEvent
from gateway.store import tables

Reconcile = Callable[[Session, Episode, datetime], None]
"""Called with each rebuilt episode so the rules engine can bring its timers in line
(``Router.reconcile``)."""


class ReviewError(ValueError):
    """The requested decision cannot be made (unknown item, already decided, nothing to split)."""


def with_history(session: Session, episode: Episode, windows: tuple[int, ...] = DEFAULT_WINDOWS) -> Episode:
    child_keys, _ = repository.keys_of(episode)
    start = episode.episode.last_seen_at or episode.episode.reported_at or episode.opened_at
    counts = window_counts(
        episode.episode_id,
        start,
        child_episodes(session, child_keys),
        tuple(sorted(set(windows) | set(DEFAULT_WINDOWS))),
    )
    return episode.model_copy(
        update={
            "episode_counts": counts,
            "episode_count_30d": counts["30d"],
            "episode_count_90d": counts["90d"],
        }
    )


def open_review(session: Session, episode_id: uuid.UUID, candidate: Candidate, now: datetime) -> uuid.UUID:
    item = tables.ReviewItem(
        id=uuid.uuid4(),
        episode_id=episode_id,
        candidate_episode_id=candidate.episode_id,
        score=candidate.score,
        reasons=candidate.reasons,
        status="open",
        created_at=now,
    )
    session.add(item)
    return item.id


@dataclass(frozen=True)
class ReviewView:
    """What a reviewer sees: ids, the score and which details agreed; never the child's details here
    (the console shows both episodes side by side to an authorised operator)."""

    id: uuid.UUID
    episode_id: uuid.UUID
    candidate_episode_id: uuid.UUID
    score: float
    reasons: list[str]
    status: str
    created_at: datetime


def open_review_items(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(tables.ReviewItem)
        .where(tables.ReviewItem.status == "open")
        .order_by(tables.ReviewItem.created_at)
    ).all()
    return [_view(r) for r in rows]


def _view(r: tables.ReviewItem) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "episode_id": str(r.episode_id),
        "candidate_episode_id": str(r.candidate_episode_id),
        "score": r.score,
        "reasons": list(r.reasons),
        "status": r.status,
        "created_at": r.created_at.isoformat(),
        "decided_by": r.decided_by,
    }


def _item(session: Session, item_id: uuid.UUID) -> tables.ReviewItem:
    item = session.scalar(select(tables.ReviewItem).where(tables.ReviewItem.id == item_id).with_for_update())
    if item is None:
        raise ReviewError(f"no review item {item_id}")
    if item.status != "open":
        raise ReviewError(f"review item {item_id} was already decided ({item.status})")
    return item


def decide_merge(
    session: Session,
    item_id: uuid.UUID,
    actor: str,
    now: datetime,
    note: str | None = None,
    reconcile: Reconcile | None = None,
) -> uuid.UUID:
    item = _item(session, item_id)
    survivor = merge(session, item.candidate_episode_id, item.episode_id, actor, now, note, reconcile)
    item.status, item.decided_at, item.decided_by, item.note = "merged", now, actor, note
    return survivor


def decide_keep_apart(
    session: Session, item_id: uuid.UUID, actor: str, now: datetime, note: str | None = None
) -> None:
    item = _item(session, item_id)
    item.status, item.decided_at, item.decided_by, item.note = "kept_apart", now, actor, note
    session.add(
        tables.EpisodeAudit(
            action="keep_apart",
            episode_id=item.episode_id,
            other_episode_id=item.candidate_episode_id,
            actor=actor,
            at=now,
            details={"review_item": str(item_id), "note": note},
        )
    )


def _episode(session: Session, episode_id: uuid.UUID) -> tables.Episode:
    row = session.scalar(
        select(tables.Episode).where(tables.Episode.episode_id == episode_id).with_for_update()
    )
    if row is None:
        raise ReviewError(f"no episode {episode_id}")
    if row.merged_into is not None:
        raise ReviewError(f"episode {episode_id} was merged into {row.merged_into}")
    return row


def _repoint(session: Session, from_id: uuid.UUID, to_id: uuid.UUID, event_ids: set[uuid.UUID] | None) -> int:
    """Move events (all, or the given ones) and everything that hangs off them to another episode."""
    ev = update(tables.Event).where(tables.Event.episode_id == from_id)
    notes = update(tables.Notification).where(tables.Notification.episode_id == from_id)
    if event_ids is not None:
        ev = ev.where(tables.Event.event_id.in_(event_ids))
        notes = notes.where(tables.Notification.event_id.in_(event_ids))
    moved = cast(CursorResult[Any], session.execute(ev.values(episode_id=to_id))).rowcount
    note_ids = set(
        session.scalars(
            select(tables.Notification.notification_id).where(
                tables.Notification.episode_id == from_id,
                *([tables.Notification.event_id.in_(event_ids)] if event_ids is not None else []),
            )
        )
    )
    session.execute(notes.values(episode_id=to_id))
    if note_ids:
        session.execute(
            update(tables.Disclosure)
            .where(tables.Disclosure.notification_id.in_(note_ids))
            .values(episode_id=to_id)
        )
    return moved


def merge(
    session: Session,
    keep_id: uuid.UUID,
    other_id: uuid.UUID,
    actor: str,
    now: datetime,
    note: str | None = None,
    reconcile: Reconcile | None = None,
) -> uuid.UUID:
    """Merge two episodes of one child. The one that started first survives; returns its id."""
    if keep_id == other_id:
        raise ReviewError("cannot merge an episode with itself")
    a, b = _episode(session, keep_id), _episode(session, other_id)
    keep, other = (a, b) if (a.started_at or a.opened_at) <= (b.started_at or b.opened_at) else (b, a)
    moved = _repoint(session, other.episode_id, keep.episode_id, None)
    session.execute(
        update(tables.EpisodeSource)
        .where(tables.EpisodeSource.episode_id == other.episode_id)
        .values(episode_id=keep.episode_id)
    )
    session.execute(
        update(tables.Timer)
        .where(tables.Timer.episode_id == other.episode_id)
        .values(episode_id=keep.episode_id)
    )
    repository.drop_keys(session, other.episode_id)
    other.merged_into = keep.episode_id
    other.updated_at = now
    rebuild(session, keep.episode_id, now, reconcile)
    session.add(
        tables.EpisodeAudit(
            action="merge",
            episode_id=keep.episode_id,
            other_episode_id=other.episode_id,
            actor=actor,
            at=now,
            details={"events_moved": moved, "note": note},
        )
    )
    return keep.episode_id


def split(
    session: Session,
    episode_id: uuid.UUID,
    event_ids: set[uuid.UUID],
    actor: str,
    now: datetime,
    note: str | None = None,
    reconcile: Reconcile | None = None,
) -> uuid.UUID:
    """Move ``event_ids`` (and their source records) out of an episode into a new one; returns its id."""
    row = _episode(session, episode_id)
    all_ids = set(session.scalars(select(tables.Event.event_id).where(tables.Event.episode_id == episode_id)))
    if not event_ids or not event_ids <= all_ids:
        raise ReviewError("choose one or more events of this episode to split off")
    if event_ids == all_ids:
        raise ReviewError("splitting off every event would leave the episode empty")
    moving = session.scalars(select(tables.Event).where(tables.Event.event_id.in_(event_ids))).all()
    staying = session.scalars(
        select(tables.Event).where(
            tables.Event.episode_id == episode_id, tables.Event.event_id.not_in(event_ids)
        )
    ).all()
    records = {(e.source_system, e.source_instance, e.source_record_id) for e in moving}
    shared = records & {(e.source_system, e.source_instance, e.source_record_id) for e in staying}
    if shared:
        raise ReviewError("a source record cannot be split between two episodes; move all its events")
    first = min(moving, key=lambda e: (e.occurred_at, e.received_at))
    new_episode = lifecycle.new_episode(uuid.uuid4(), MissingEpisodeEvent.model_validate(first.body))
    repository.save(session, None, new_episode, {}, now)
    _repoint(session, episode_id, new_episode.episode_id, event_ids)
    for system, instance, record_id in records:
        session.execute(
            update(tables.EpisodeSource)
            .where(
                tables.EpisodeSource.system == system,
                tables.EpisodeSource.instance == instance,
                tables.EpisodeSource.record_id == record_id,
            )
            .values(episode_id=new_episode.episode_id)
        )
    rebuild(session, episode_id, now, reconcile)
    rebuild(session, new_episode.episode_id, now, reconcile)
    session.add(
        tables.EpisodeAudit(
            action="split",
            episode_id=row.episode_id,
            other_episode_id=new_episode.episode_id,
            actor=actor,
            at=now,
            details={"events_moved": sorted(str(e) for e in event_ids), "note": note},
        )
    )
    return new_episode.episode_id


def rebuild(
    session: Session, episode_id: uuid.UUID, now: datetime, reconcile: Reconcile | None = None
) -> Episode:
    """Recompute an episode from its events, in the order they happened."""
    row = session.get(tables.Episode, episode_id)
    if row is None:
        raise ReviewError(f"no episode {episode_id}")
    events = sorted(
        (
            MissingEpisodeEvent.model_validate(e.body)
            for e in session.scalars(select(tables.Event).where(tables.Event.episode_id == episode_id))
        ),
        key=lambda e: (e.occurred_at, e.received_at),
    )
    if not events:
        raise ReviewError(f"episode {episode_id} has no events")
    episode = lifecycle.new_episode(episode_id, events[0])
    times: dict[str, str] = {}
    for event in events:
        episode = lifecycle.apply_event(episode, times, event)
    repository.sync_keys(session, episode)
    session.flush()
    episode = with_history(session, episode)
    repository.save(session, row, episode, times, now)
    if reconcile is not None:  # timers and normalisation follow the rebuilt state
        reconcile(session, episode, now)
    return episode
