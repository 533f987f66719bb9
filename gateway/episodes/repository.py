"""Episode rows in and out of the store. Correlation (for now): the same source record → the same
episode. The correlation issue adds cross-references, strong identifiers and demographic matching."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.model import Episode, MissingEpisodeEvent
from gateway.store import tables


def find_for_event(session: Session, event: MissingEpisodeEvent) -> tables.Episode | None:
    """The episode this event's source record already belongs to, locked for update (PostgreSQL) so two
    processors handling events of one episode take turns."""
    episode_id = session.scalar(
        select(tables.EpisodeSource.episode_id).where(
            tables.EpisodeSource.system == event.source.system.value,
            tables.EpisodeSource.instance == event.source.instance,
            tables.EpisodeSource.record_id == event.source.record_id,
        )
    )
    if episode_id is None:
        return None
    return session.scalar(
        select(tables.Episode).where(tables.Episode.episode_id == episode_id).with_for_update()
    )


def add_source(session: Session, episode_id: uuid.UUID, event: MissingEpisodeEvent) -> None:
    session.add(
        tables.EpisodeSource(
            system=event.source.system.value,
            instance=event.source.instance,
            record_id=event.source.record_id,
            episode_id=episode_id,
        )
    )


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
