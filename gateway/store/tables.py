"""The gateway's tables. Every write that belongs to one event happens in one transaction (processor).

Names follow the domain: raw inputs are the claim check of what a partner sent, quarantine holds what
could not be accepted, disclosures are the audit of what left about a child.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gateway.store.types import BigId, JsonDoc, UtcDateTime


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JsonDoc, list[Any]: JsonDoc}


class RawInput(Base):
    """Exactly what a source sent, stored before parsing (claim check)."""

    __tablename__ = "raw_inputs"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(32))
    instance: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # http, file, email, amqp
    content_type: Mapped[str | None] = mapped_column(String(255))
    filename: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(index=True)
    # received → published | quarantined | publish_failed
    status: Mapped[str] = mapped_column(String(16), index=True)
    event_ids: Mapped[list[Any]] = mapped_column(default=list)


class Quarantine(Base):
    """Input that could not be accepted, with the reason; the raw bytes stay in raw_inputs."""

    __tablename__ = "quarantine"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    raw_input_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("raw_inputs.id"), index=True)
    system: Mapped[str] = mapped_column(String(32))
    instance: Mapped[str] = mapped_column(String(64))
    error_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    record_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open, retried, discarded
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)


class Event(Base):
    """A canonical event, once. ``idempotency_key`` is what makes a repeat a no-op."""

    __tablename__ = "events"
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(512), unique=True)
    episode_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    source_system: Mapped[str] = mapped_column(String(32))
    source_instance: Mapped[str] = mapped_column(String(64))
    source_record_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime]
    body: Mapped[dict[str, Any]]


class Episode(Base):
    """Current merged state of one episode; ``state`` is the canonical Episode document."""

    __tablename__ = "episodes"
    episode_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    responsible_la: Mapped[str | None] = mapped_column(String(3), index=True)
    host_la: Mapped[str | None] = mapped_column(String(3), index=True)
    police_force: Mapped[str | None] = mapped_column(String(9))
    police_reference: Mapped[str | None] = mapped_column(String(64), index=True)
    opened_at: Mapped[datetime]
    found_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[dict[str, Any]]
    # occurred_at of the event that set each field, so a late-arriving older event cannot overwrite
    # a newer value (events may arrive out of order).
    field_times: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Set when a reviewer merged this episode into another: it stays for the audit trail only.
    merged_into: Mapped[uuid.UUID | None] = mapped_column(index=True)
    date_of_birth: Mapped[date | None] = mapped_column(index=True)
    # The start of the absence as far as known (last seen, else reported): correlation windows use it.
    started_at: Mapped[datetime | None]


class EpisodeSource(Base):
    """Which source record belongs to which episode (the first correlation key)."""

    __tablename__ = "episode_sources"
    __table_args__ = (UniqueConstraint("system", "instance", "record_id", name="uq_episode_source"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    system: Mapped[str] = mapped_column(String(32))
    instance: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(128))
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episodes.episode_id"), index=True)


class Notification(Base):
    __tablename__ = "notifications"
    notification_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episodes.episode_id"), index=True)
    event_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    due_by: Mapped[datetime | None]
    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[str] = mapped_column(String(64))
    recipient_role: Mapped[str] = mapped_column(String(32))
    routing_key: Mapped[str] = mapped_column(String(128), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    rule_id: Mapped[str] = mapped_column(String(128))
    profile: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]]


class Disclosure(Base):
    """The ICO data-sharing record: what went to whom, when, under which rule and lawful basis."""

    __tablename__ = "disclosures"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("notifications.notification_id"), index=True
    )
    episode_id: Mapped[uuid.UUID] = mapped_column(index=True)
    recipient_kind: Mapped[str] = mapped_column(String(16))
    recipient_id: Mapped[str] = mapped_column(String(64))
    recipient_role: Mapped[str] = mapped_column(String(32))
    fields: Mapped[list[Any]]
    profile: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(128))
    cite: Mapped[str] = mapped_column(String(128))
    # Every rule that asked for this disclosure, with its area and cite (deduplicated notifications).
    rules: Mapped[list[Any]] = mapped_column(default=list)
    lawful_basis: Mapped[str] = mapped_column(Text)
    consent: Mapped[str] = mapped_column(String(32))  # not_required, given, refused, not_sought
    disclosed_at: Mapped[datetime] = mapped_column(index=True)


class Outbox(Base):
    """Messages committed with the state that caused them; the relay publishes them with confirms."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(128))
    routing_key: Mapped[str] = mapped_column(String(255))
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Timer(Base):
    """A deadline: fired into missing.inbound when due (gateway/timers)."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "status", "due_at"),)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episodes.episode_id"), index=True)
    rule_id: Mapped[str] = mapped_column(String(128))
    due_at: Mapped[datetime]
    # pending → firing (claimed by a scheduler, handed to the broker) → fired | cancelled;
    # failed: claimed too many times without being processed (an operator must look)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime]
    # While firing: when the scheduler claimed it (a claim older than the lease is taken again).
    # Once fired: when the processor handled it. See gateway/timers/store.py.
    fired_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # kind, key, reasons, attempts


# --- Correlation (episodes issue) ----------------------------------------------------------


class EpisodeKey(Base):
    """Identifiers an episode is known by: the child's strong ids (``nhs:…``, ``la:886:…``,
    ``police-person:E23000015:…``) and the episode's own (``police-ref:E23000015:MP/2026/001234``).
    Correlation looks events up here; history counts a child's episodes through the child keys."""

    __tablename__ = "episode_keys"
    __table_args__ = (UniqueConstraint("key", "episode_id", name="uq_episode_key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # child | episode
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episodes.episode_id"), index=True)


class ReviewItem(Base):
    """A possible match below the auto-merge threshold: a person decides (merge or keep apart)."""

    __tablename__ = "review_items"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episodes.episode_id"), index=True)
    candidate_episode_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("episodes.episode_id"), index=True)
    score: Mapped[float]
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open, merged, kept_apart
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(128))
    note: Mapped[str | None] = mapped_column(Text)


class EpisodeAudit(Base):
    """Merges and splits: who, when, what moved. Nothing is deleted by either."""

    __tablename__ = "episode_audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(16))  # merge, split, keep_apart
    episode_id: Mapped[uuid.UUID] = mapped_column(index=True)
    other_episode_id: Mapped[uuid.UUID | None]
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --- Delivery (delivery issue; docs/recipients.md) -----------------------------------------------


class Delivery(Base):
    """One notification to one endpoint of its recipient, and where that stands.

    The row is the claim that stops two workers sending the same notice at once (``sending`` with a
    lease), the hold of a school digest (``held`` until ``release_at``), and the dead letter an operator
    replays (``dead``, or ``no_channel`` when the directory has no endpoint for the recipient).
    ``body`` (the notification document) is kept only while the row needs it to send or replay; it is
    cleared once delivered, so this table does not become a second copy of every disclosure.
    No foreign key to ``notifications``: delivery is keyed on the stable ``notification_id`` alone."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("notification_id", "endpoint", name="uq_delivery_endpoint"),
        Index("ix_deliveries_status_release", "status", "release_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(index=True)
    episode_id: Mapped[uuid.UUID | None]
    recipient: Mapped[str] = mapped_column(String(128), index=True)  # routing key kind.id.role
    channel: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(String(64))
    # pending, held, sending, retrying, delivered, dead, no_channel
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # channel calls
    rounds: Mapped[int] = mapped_column(Integer, default=0)  # trips through the retry queues
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    release_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)  # ids, status codes, error types only
    body: Mapped[dict[str, Any] | None]


class DeliveryReceipt(Base):
    """Every attempt to hand a notification to an endpoint, and what came of it (append-only)."""

    __tablename__ = "delivery_receipts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(index=True)
    recipient: Mapped[str] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # delivered, retry, failed
    detail: Mapped[str] = mapped_column(Text, default="")
    receipt: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(index=True)


class DeliveryAudit(Base):
    """Operator actions on delivery (replays, provisioning): who, when, what."""

    __tablename__ = "delivery_audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(index=True)
    notification_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    recipient: Mapped[str | None] = mapped_column(String(128))
    endpoint: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


# Security tables live with the security code; importing them here puts them in Base.metadata, which
# the migrations and the schema check read.
from gateway.security import tables as _security_tables  # noqa: E402, F401
