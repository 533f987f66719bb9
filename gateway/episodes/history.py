"""A child's history: how many episodes started in rolling windows (the rules' repeat triggers, e.g. a
missing intervention meeting at 3 episodes in 90 days) and the child's previous episodes.

A child is recognised across episodes by the strong identifiers in ``episode_keys``. A window counts
the episodes that started within ``days`` before this one's start, **inclusive at both ends**, this
one included: with a 90-day window, an episode that started exactly 90 days earlier counts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.store import tables

DEFAULT_WINDOWS = (30, 90)


@dataclass(frozen=True)
class PastEpisode:
    episode_id: uuid.UUID
    status: str
    started_at: datetime
    found_at: datetime | None


def child_episodes(session: Session, child_keys: set[str]) -> list[PastEpisode]:
    if not child_keys:
        return []
    # One statement: the episodes (not merged away, not cancelled) holding any of the child's keys.
    held = (
        select(tables.EpisodeKey.episode_id)
        .where(tables.EpisodeKey.key.in_(child_keys), tables.EpisodeKey.kind == "child")
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            tables.Episode.episode_id,
            tables.Episode.status,
            tables.Episode.started_at,
            tables.Episode.opened_at,
            tables.Episode.found_at,
        ).where(
            tables.Episode.episode_id.in_(held),
            tables.Episode.merged_into.is_(None),
            tables.Episode.status != "cancelled",
        )
    ).all()
    return sorted(
        (PastEpisode(r.episode_id, r.status, r.started_at or r.opened_at, r.found_at) for r in rows),
        key=lambda p: p.started_at,
    )


def window_counts(
    this_id: uuid.UUID,
    this_start: datetime,
    others: list[PastEpisode],
    windows: tuple[int, ...] = DEFAULT_WINDOWS,
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for days in windows:
        earliest = this_start - timedelta(days=days)
        n = 1 + sum(1 for p in others if p.episode_id != this_id and earliest <= p.started_at <= this_start)
        counts[f"{days}d"] = n
    return counts


def previous_episodes(session: Session, episode_id: uuid.UUID, child_keys: set[str]) -> list[PastEpisode]:
    this = session.get(tables.Episode, episode_id)
    if this is None:
        return []
    start = this.started_at or this.opened_at
    return [
        p for p in child_episodes(session, child_keys) if p.episode_id != episode_id and p.started_at <= start
    ]
