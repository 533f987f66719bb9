"""Rows written at the end of a processor transaction, one multi-row INSERT per table.

Why: the processor used to add each event, notification, disclosure and outbox row as an ORM object and
flush after every notification (the disclosure references it), so an event cost a dozen round trips
and a unit-of-work pass each. These rows are insert-only and nothing in the same transaction reads
them back through the database, except three lookups that consult this object instead:

- is this event a repeat? (``idempotency_keys``: the events already taken in this transaction);
- which episode holds this source record? (``sources``: read for the whole batch at its start);
- does this notification already exist? (``notification_ids``; and ``fresh_causes``, the causes of
  events new in this transaction, whose notifications cannot exist in the database yet).

:meth:`write` runs just before the commit (inside the same transaction, so the rows still commit or
roll back with everything else): the ORM's pending objects first (episodes: the rows point at them),
then each table in foreign-key order. The processor makes one per transaction and hangs it on the
session (:func:`attach`), so the router and ``record_notifications`` find it without every signature
in between carrying it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from gateway.store import tables

_KEY = "gateway.pending_rows"

# Foreign-key order: a disclosure points at its notification; the rest point at episodes only.
ORDER: tuple[type[tables.Base], ...] = (
    tables.Event,
    tables.EpisodeSource,
    tables.Notification,
    tables.Disclosure,
    tables.Outbox,
)


class PendingRows:
    def __init__(self) -> None:
        self._rows: dict[type[tables.Base], list[dict[str, Any]]] = {t: [] for t in ORDER}
        self.idempotency_keys: dict[str, uuid.UUID] = {}
        # Source record → episode, for the records of this transaction's events: read once for the
        # whole batch (``sources_complete``: a record not here has no row) and added to as they come.
        self.sources: dict[tuple[str, str, str], uuid.UUID] = {}
        self.sources_complete = False
        self.notification_ids: set[uuid.UUID] = set()
        # Episodes opened in this transaction → the timers armed for them in it (the only ones they
        # can have: gateway/timers/store.py).
        self.new_episodes: dict[uuid.UUID, list[Any]] = {}
        self.fresh_causes: set[str] = set()

    def add(self, table: type[tables.Base], row: dict[str, Any]) -> None:
        self._rows[table].append(row)

    def __len__(self) -> int:
        return sum(len(rows) for rows in self._rows.values())

    def write(self, session: Session) -> None:
        session.flush()
        for table in ORDER:
            rows = self._rows[table]
            if rows:
                # A list of parameter sets: SQLAlchemy sends it as multi-row INSERT … VALUES statements.
                session.execute(insert(table), rows)
                rows.clear()


def attach(session: Session, pending: PendingRows) -> None:
    session.info[_KEY] = pending


def of(session: Session | None) -> PendingRows | None:
    """The pending rows of this transaction, if the processor opened it (None elsewhere)."""
    if session is None:
        return None
    found = session.info.get(_KEY)
    return found if isinstance(found, PendingRows) else None


def detach(session: Session) -> None:
    session.info.pop(_KEY, None)
