"""Episode rows in and out of the store, with the identifiers correlation looks them up by."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.episodes import identity
from gateway.model import Episode, MissingEpisodeEvent
from gateway.store import tables


def add_source(session: Session, episode_id: uuid.UUID, event: MissingEpisodeEvent) -> None:
    exists = session.scalar(
        select(tables.EpisodeSource.id).where(
            tables.EpisodeSource.system == event.source.system.value,
            tables.EpisodeSource.instance == event.source.instance,
            tables.EpisodeSource.record_id == event.source.record_id,
        )
    )
    if exists is None:
        session.add(
            tables.EpisodeSource(
                system=event.source.system.value,
                instance=event.source.instance,
                record_id=event.source.record_id,
                episode_id=episode_id,
            )
        )


def keys_of(episode: Episode) -> tuple[set[str], set[str]]:
    force = episode.episode.police.force if episode.episode.police else None
    return identity.child_keys(episode.child, force), identity.episode_keys(episode.episode)


def sync_keys(session: Session, episode: Episode) -> None:
    """Make ``episode_keys`` hold exactly this episode's current identifiers."""
    child, own = keys_of(episode)
    wanted = {(k, "child") for k in child} | {(k, "episode") for k in own}
    have = {
        (r.key, r.kind): r
        for r in session.scalars(
            select(tables.EpisodeKey).where(tables.EpisodeKey.episode_id == episode.episode_id)
        )
    }
    for key, kind in wanted - set(have):
        session.add(tables.EpisodeKey(key=key, kind=kind, episode_id=episode.episode_id))
    for stale in set(have) - wanted:
        session.delete(have[stale])


def drop_keys(session: Session, episode_id: uuid.UUID) -> None:
    session.execute(delete(tables.EpisodeKey).where(tables.EpisodeKey.episode_id == episode_id))


def save(
    session: Session, row: tables.Episode | None, episode: Episode, field_times: dict[str, str], now: datetime
) -> tables.Episode:
    state = episode.model_dump(mode="json", by_alias=True, exclude_none=True)
    care = episode.care
    police = episode.episode.police
    values = dict(
        status=episode.status.value,
        responsible_la=care.responsible_la if care else None,
        host_la=care.host_la if care else None,
        police_force=police.force if police else None,
        police_reference=police.reference if police else None,
        opened_at=episode.opened_at,
        found_at=episode.found_at,
        closed_at=episode.closed_at,
        updated_at=now,
        state=state,
        field_times=dict(field_times),
        date_of_birth=episode.child.date_of_birth,
        started_at=episode.episode.last_seen_at or episode.episode.reported_at,
    )
    if row is None:
        row = tables.Episode(episode_id=episode.episode_id, version=1, **values)
        session.add(row)
        session.flush()  # the episode must exist before rows that reference it
    else:
        for key, value in values.items():
            setattr(row, key, value)
        row.version += 1
    return row


def load(row: tables.Episode) -> tuple[Episode, dict[str, str]]:
    return Episode.model_validate(row.state), dict(row.field_times or {})
