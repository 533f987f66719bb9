"""Read-only views for the console's pages: the episode board, an episode's timeline, what is due.

These only read what the processor, router, timers and delivery workers wrote; every decision (merge,
replay, retry...) goes through the same functions the API uses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from gateway.rules.loader import Rulebook
from gateway.security.tables import AccessAudit, NotificationAck
from gateway.store import tables
from gateway.timers.store import LIVE

BOARD_LIMIT = 300
DEADLINES_LIMIT = 500


@dataclass(frozen=True)
class Area:
    slug: str
    name: str
    authorities: frozenset[str]
    police_forces: frozenset[str]


def areas(rulebook: Rulebook) -> list[Area]:
    """The areas with encoded protocols (whatever files are under mappings/areas/), national left out."""
    out = [
        Area(f.area, str(getattr(f.header, "name", None) or f.area), f.authorities, f.police_forces)
        for f in rulebook.files
        if not f.is_national
    ]
    return sorted(out, key=lambda a: a.slug)


def area_codes(rulebook: Rulebook, area: str | None) -> tuple[frozenset[str], frozenset[str]] | None:
    """(LA codes, police forces) for an area slug, or for a bare LA code; None: no filter."""
    if not area:
        return None
    for a in areas(rulebook):
        if a.slug == area:
            return a.authorities, a.police_forces
    return frozenset({area}), frozenset()


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _acked(s: Session, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    if not ids:
        return set()
    return set(
        s.scalars(select(NotificationAck.notification_id).where(NotificationAck.notification_id.in_(ids)))
    )


@dataclass(frozen=True)
class BoardRow:
    episode_id: uuid.UUID
    status: str
    risk: str | None
    responsible_la: str | None
    host_la: str | None
    police_reference: str | None
    started_at: datetime | None
    missing_for: timedelta | None
    next_deadline: datetime | None
    next_what: str
    overdue: bool
    notifications: int


def board(
    s: Session, now: datetime, *, codes: tuple[frozenset[str], frozenset[str]] | None, status: str | None
) -> list[BoardRow]:
    q = select(tables.Episode).where(tables.Episode.merged_into.is_(None))
    if status:
        q = q.where(tables.Episode.status == status)
    if codes is not None:
        las, forces = codes
        q = q.where(
            or_(
                tables.Episode.responsible_la.in_(las),
                tables.Episode.host_la.in_(las),
                tables.Episode.police_force.in_(forces),
            )
        )
    episodes = list(s.scalars(q.order_by(tables.Episode.opened_at.desc()).limit(BOARD_LIMIT)))
    ids = [e.episode_id for e in episodes]
    upcoming: dict[uuid.UUID, tuple[datetime, str]] = {}

    def offer(episode_id: uuid.UUID, at: datetime | None, what: str) -> None:
        at = _utc(at)
        if at is not None and (episode_id not in upcoming or at < upcoming[episode_id][0]):
            upcoming[episode_id] = (at, what)

    counts: dict[uuid.UUID, int] = {}
    if ids:
        for t in s.scalars(
            select(tables.Timer).where(tables.Timer.episode_id.in_(ids), tables.Timer.status.in_(LIVE))
        ):
            offer(t.episode_id, t.due_at, f"timer {t.rule_id}")
        notes = list(s.scalars(select(tables.Notification).where(tables.Notification.episode_id.in_(ids))))
        acked = _acked(s, [n.notification_id for n in notes if n.due_by is not None])
        for n in notes:
            counts[n.episode_id] = counts.get(n.episode_id, 0) + 1
            if n.due_by is not None and n.notification_id not in acked:
                offer(n.episode_id, n.due_by, f"{n.kind} {n.routing_key}")
    rows = []
    for e in episodes:
        state = e.state or {}
        start = _utc(e.started_at or e.opened_at)
        end = _utc(e.found_at) if e.status != "open" and e.found_at else now
        nxt = upcoming.get(e.episode_id)
        rows.append(
            BoardRow(
                episode_id=e.episode_id,
                status=e.status,
                risk=(state.get("episode") or {}).get("risk_level"),
                responsible_la=e.responsible_la,
                host_la=e.host_la,
                police_reference=e.police_reference,
                started_at=start,
                missing_for=(end - start) if start and end else None,
                next_deadline=nxt[0] if nxt else None,
                next_what=nxt[1] if nxt else "",
                overdue=bool(nxt and nxt[0] < now),
                notifications=counts.get(e.episode_id, 0),
            )
        )
    return rows


# Within one instant, the order things happen in: the event, then what the rules made of it.
KIND_ORDER = {"event": 0, "notification": 1, "disclosure": 2, "delivery": 3, "deadline": 4, "decision": 5}


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # event, notification, disclosure, delivery, deadline, decision
    title: str
    details: list[tuple[str, str]] = field(default_factory=list)
    link: str | None = None


@dataclass
class Timeline:
    episode: tables.Episode
    entries: list[Entry]
    deliveries: list[tables.Delivery]
    accesses: list[AccessAudit]
    review_items: list[tables.ReviewItem]


def timeline(s: Session, episode_id: uuid.UUID) -> Timeline | None:
    episode = s.get(tables.Episode, episode_id)
    if episode is None:
        return None
    entries: list[Entry] = []
    for ev in s.scalars(select(tables.Event).where(tables.Event.episode_id == episode_id)):
        entries.append(
            Entry(
                ev.received_at,
                "event",
                f"{ev.event_type} from {ev.source_system}/{ev.source_instance}",
                [
                    ("source record", ev.source_record_id),
                    ("occurred", _fmt(ev.occurred_at)),
                    ("received", _fmt(ev.received_at)),
                    ("event id", str(ev.event_id)),
                ],
            )
        )
    notes = list(s.scalars(select(tables.Notification).where(tables.Notification.episode_id == episode_id)))
    acked = _acked(s, [n.notification_id for n in notes])
    for n in notes:
        body = n.body or {}
        rules = body.get("rules") or [body.get("rule") or {"id": n.rule_id, "cite": ""}]
        details = [("recipient", n.routing_key), ("profile", n.profile)]
        details += [("rule", f"{r.get('id')} — {r.get('cite')}") for r in rules]
        if n.due_by:
            details.append(("due by", _fmt(n.due_by)))
        if body.get("urgency"):
            details.append(("urgency", str(body["urgency"])))
        details.append(("acknowledged", "yes" if n.notification_id in acked else "no"))
        details.append(("notification id", str(n.notification_id)))
        entries.append(Entry(n.created_at, "notification", f"{n.kind}: {body.get('purpose', '')}", details))
    for d in s.scalars(select(tables.Disclosure).where(tables.Disclosure.episode_id == episode_id)):
        entries.append(
            Entry(
                d.disclosed_at,
                "disclosure",
                f"disclosed to {d.recipient_kind}.{d.recipient_id}.{d.recipient_role}",
                [
                    ("fields", ", ".join(str(f) for f in d.fields)),
                    ("profile", d.profile),
                    ("rule", f"{d.rule_id} — {d.cite}"),
                    ("lawful basis", d.lawful_basis),
                    ("consent", d.consent),
                ],
            )
        )
    ids = [n.notification_id for n in notes]
    deliveries: list[tables.Delivery] = []
    if ids:
        deliveries = list(
            s.scalars(
                select(tables.Delivery)
                .where(tables.Delivery.notification_id.in_(ids))
                .order_by(tables.Delivery.id)
            )
        )
        for r in s.scalars(
            select(tables.DeliveryReceipt).where(tables.DeliveryReceipt.notification_id.in_(ids))
        ):
            entries.append(
                Entry(
                    r.at,
                    "delivery",
                    f"attempt {r.attempt} to {r.recipient} by {r.channel} ({r.endpoint}): {r.outcome}",
                    [("detail", r.detail or ""), ("notification id", str(r.notification_id))],
                    link=f"/console/dead-letters/{r.notification_id}",
                )
            )
        for da in s.scalars(
            select(tables.DeliveryAudit).where(tables.DeliveryAudit.notification_id.in_(ids))
        ):
            entries.append(
                Entry(
                    da.at,
                    "decision",
                    f"delivery {da.action} by {da.actor}",
                    [("endpoint", da.endpoint or "")],
                )
            )
    for t in s.scalars(select(tables.Timer).where(tables.Timer.episode_id == episode_id)):
        # A fired timer sits where it fired (it may have been due before the report even arrived).
        at = t.fired_at if t.status == "fired" and t.fired_at else t.due_at
        entries.append(
            Entry(at, "deadline", f"deadline of {t.rule_id}: {t.status}", [("due", _fmt(t.due_at))])
        )
    for a in s.scalars(
        select(tables.EpisodeAudit).where(
            or_(
                tables.EpisodeAudit.episode_id == episode_id,
                tables.EpisodeAudit.other_episode_id == episode_id,
            )
        )
    ):
        other = a.other_episode_id if a.episode_id == episode_id else a.episode_id
        entries.append(
            Entry(
                a.at,
                "decision",
                f"{a.action} by {a.actor}",
                [("other episode", str(other) if other else "")],
                link=f"/console/episodes/{other}" if other else None,
            )
        )
    entries.sort(key=lambda e: (_utc(e.at) or datetime.min.replace(tzinfo=UTC), KIND_ORDER.get(e.kind, 9)))
    accesses = list(
        s.scalars(
            select(AccessAudit)
            .where(AccessAudit.episode_id == episode_id)
            .order_by(AccessAudit.at.desc())
            .limit(50)
        )
    )
    reviews = list(
        s.scalars(
            select(tables.ReviewItem).where(
                or_(
                    tables.ReviewItem.episode_id == episode_id,
                    tables.ReviewItem.candidate_episode_id == episode_id,
                )
            )
        )
    )
    return Timeline(episode, entries, deliveries, accesses, reviews)


def _fmt(value: datetime | None) -> str:
    v = _utc(value)
    return v.strftime("%Y-%m-%d %H:%M UTC") if v else ""


@dataclass(frozen=True)
class Due:
    at: datetime
    overdue: bool
    kind: str  # task, notify, timer
    recipient: str
    role: str
    what: str
    rule: str
    episode_id: uuid.UUID


def deadlines(
    s: Session, now: datetime, *, codes: tuple[frozenset[str], frozenset[str]] | None, role: str | None
) -> list[Due]:
    """Unacknowledged notices and tasks with a deadline, and the timers still to fire, soonest first."""
    q = (
        select(tables.Notification, tables.Episode)
        .join(tables.Episode, tables.Episode.episode_id == tables.Notification.episode_id)
        .where(tables.Notification.due_by.is_not(None))
        .where(tables.Episode.merged_into.is_(None))
    )
    if codes is not None:
        las, _forces = codes
        q = q.where(
            or_(
                tables.Notification.recipient_id.in_(las),
                tables.Episode.responsible_la.in_(las),
                tables.Episode.host_la.in_(las),
            )
        )
    if role:
        q = q.where(tables.Notification.recipient_role == role)
    pairs = list(s.execute(q.order_by(tables.Notification.due_by).limit(DEADLINES_LIMIT)).all())
    acked = _acked(s, [n.notification_id for n, _ in pairs])
    out: list[Due] = []
    for n, _e in pairs:
        if n.notification_id in acked or n.due_by is None:
            continue
        body: dict[str, Any] = n.body or {}
        due = _utc(n.due_by)
        assert due is not None
        out.append(
            Due(
                due,
                due < now,
                n.kind,
                f"{n.recipient_kind}.{n.recipient_id}",
                n.recipient_role,
                str(body.get("purpose", "")),
                f"{n.rule_id} — {(body.get('rule') or {}).get('cite', '')}",
                n.episode_id,
            )
        )
    if not role:  # timers belong to rules, not to a recipient's role
        tq = (
            select(tables.Timer, tables.Episode)
            .join(tables.Episode, tables.Episode.episode_id == tables.Timer.episode_id)
            .where(tables.Timer.status.in_(LIVE))
        )
        if codes is not None:
            las, forces = codes
            tq = tq.where(
                or_(
                    tables.Episode.responsible_la.in_(las),
                    tables.Episode.host_la.in_(las),
                    tables.Episode.police_force.in_(forces),
                )
            )
        for t, _e in s.execute(tq.order_by(tables.Timer.due_at).limit(DEADLINES_LIMIT)).all():
            due = _utc(t.due_at)
            assert due is not None
            out.append(
                Due(due, due < now, "timer", "", "", "rule re-checked when due", t.rule_id, t.episode_id)
            )
    out.sort(key=lambda d: d.at)
    return out
