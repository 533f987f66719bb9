"""Retention: keep personal data only as long as it is needed (``gateway retention run``).

- **Raw inputs** (what partners sent) older than ``retention_raw_days`` are deleted, with their
  resolved quarantine items. An input still waiting in quarantine is kept until someone resolves it:
  deleting it would lose a report nobody has read.
- **Events** older than ``retention_events_days`` are deleted once their episode is closed, cancelled or
  merged away, and the payloads of that episode's notifications older than the same cut-off are
  removed (the notification row and its metadata stay, because the disclosure audit points to it).
  Published outbox rows older than the raw-input cut-off are deleted (their work is done).
- **Audit** (disclosures, access audit, merge/split audit) older than ``retention_audit_days`` (seven
  years by default) is deleted.

Each run is itself recorded in the access audit with what it removed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.security.audit import record_access
from gateway.security.tables import AccessAudit
from gateway.settings import Settings
from gateway.store import tables
from gateway.store.db import transaction

FINISHED = ("closed", "cancelled")


@dataclass
class RetentionReport:
    raw_inputs: int = 0
    quarantine: int = 0
    events: int = 0
    notification_payloads: int = 0
    outbox: int = 0
    disclosures: int = 0
    access_audit: int = 0
    episode_audit: int = 0


def _count(session: Session, statement: object) -> int:
    return int(session.execute(statement).rowcount or 0)  # type: ignore[call-overload]


def run_retention(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime | None = None,
    actor: str = "retention",
) -> RetentionReport:
    now = now or datetime.now(UTC)
    raw_cut = now - timedelta(days=settings.retention_raw_days)
    events_cut = now - timedelta(days=settings.retention_events_days)
    audit_cut = now - timedelta(days=settings.retention_audit_days)
    r = RetentionReport()
    with transaction(sessions) as s:
        open_items = select(tables.Quarantine.raw_input_id).where(tables.Quarantine.status == "open")
        old_raw = select(tables.RawInput.id).where(
            tables.RawInput.received_at < raw_cut, tables.RawInput.id.not_in(open_items)
        )
        r.quarantine = _count(s, delete(tables.Quarantine).where(tables.Quarantine.raw_input_id.in_(old_raw)))
        r.raw_inputs = _count(
            s,
            delete(tables.RawInput).where(
                tables.RawInput.received_at < raw_cut, tables.RawInput.id.not_in(open_items)
            ),
        )
        r.outbox = _count(
            s,
            delete(tables.Outbox).where(
                tables.Outbox.published_at.is_not(None), tables.Outbox.published_at < raw_cut
            ),
        )

        finished = select(tables.Episode.episode_id).where(
            (tables.Episode.status.in_(FINISHED)) | (tables.Episode.merged_into.is_not(None))
        )
        r.events = _count(
            s,
            delete(tables.Event).where(
                tables.Event.received_at < events_cut, tables.Event.episode_id.in_(finished)
            ),
        )
        old_notes = s.scalars(
            select(tables.Notification).where(
                tables.Notification.created_at < events_cut, tables.Notification.episode_id.in_(finished)
            )
        ).all()
        for note in old_notes:
            if "payload" in note.body:
                note.body = {k: v for k, v in note.body.items() if k != "payload"} | {
                    "payload_removed_at": now.isoformat()
                }
                r.notification_payloads += 1
        s.flush()

        r.disclosures = _count(s, delete(tables.Disclosure).where(tables.Disclosure.disclosed_at < audit_cut))
        r.access_audit = _count(s, delete(AccessAudit).where(AccessAudit.at < audit_cut))
        r.episode_audit = _count(s, delete(tables.EpisodeAudit).where(tables.EpisodeAudit.at < audit_cut))
    record_access(
        sessions,
        principal=actor,
        role="operator",
        method="CLI",
        path="retention run",
        status=200,
        action="retention.run",
        detail=str(asdict(r)),
    )
    return r


__all__ = ["RetentionReport", "run_retention"]
