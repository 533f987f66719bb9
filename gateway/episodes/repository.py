"""Episode rows in and out of the store, with the identifiers correlation looks them up by."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.episodes import identity
from gateway.model import Episode, MissingEpisodeEvent
from gateway.store import pending, tables


def add_source(
    session: Session, episode_id: uuid.UUID, event: MissingEpisodeEvent, *, exists: bool | None = None
) -> None:
    """Record that this source record belongs to the episode. ``exists``: whether correlation found a
    row for this very record (it looks that up first, under the record's lock); None: look it up. In a
    processor transaction the row joins its pending rows, where correlation of the next event in the
    batch finds it."""
    key = (event.source.system.value, event.source.instance, event.source.record_id)
    written = pending.of(session)
    if exists is None:
        exists = (written is not None and key in written.sources) or session.scalar(
            select(tables.EpisodeSource.id).where(
                tables.EpisodeSource.system == key[0],
                tables.EpisodeSource.instance == key[1],
                tables.EpisodeSource.record_id == key[2],
            )
        ) is not None
    if exists:
        return
    if written is not None:
        written.sources[key] = episode_id
        written.add(
            tables.EpisodeSource,
            {"system": key[0], "instance": key[1], "record_id": key[2], "episode_id": episode_id},
        )
    else:
        session.add(
            tables.EpisodeSource(system=key[0], instance=key[1], record_id=key[2], episode_id=episode_id)
        )


def keys_of(episode: Episode) -> tuple[set[str], set[str]]:
    force = episode.episode.police.force if episode.episode.police else None
    return identity.child_keys(episode.child, force), identity.episode_keys(episode.episode)


def sync_keys(session: Session, episode: Episode, *, new: bool = False) -> None:
    """Make ``episode_keys`` hold exactly this episode's current identifiers (``new``: the episode was
    created in this transaction, so it has none yet)."""
    child, own = keys_of(episode)
    wanted = {(k, "child") for k in child} | {(k, "episode") for k in own}
    have = (
        {}
        if new
        else {
            (r.key, r.kind): r
            for r in session.scalars(
                select(tables.EpisodeKey).where(tables.EpisodeKey.episode_id == episode.episode_id)
            )
        }
    )
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
