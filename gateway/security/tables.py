"""Security tables: API keys (hashed), the access audit (who viewed what over the API), and
recipients' acknowledgements of pulled notifications."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.store.tables import Base
from gateway.store.types import BigId


class ApiKey(Base):
    """An API key. Only its SHA-256 is kept (keys are 256-bit random, so a plain hash is enough); the
    key itself is shown once, at creation."""

    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # shown in lists, used to find the row
    key_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))  # source, recipient, operator
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class AccessAudit(Base):
    """Every authenticated (or refused) API call that touches a child's data or a privileged action."""

    __tablename__ = "access_audit"
    __table_args__ = (Index("ix_access_audit_episode", "episode_id", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    principal: Mapped[str] = mapped_column(String(160))  # key:<prefix> or jwt:<client id>
    role: Mapped[str | None] = mapped_column(String(16))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    status: Mapped[int]
    action: Mapped[str] = mapped_column(String(64))
    episode_id: Mapped[uuid.UUID | None]
    detail: Mapped[str | None] = mapped_column(Text)


class NotificationAck(Base):
    """A recipient pulling over HTTP acknowledges what it has taken; acknowledged ones are not offered
    again."""

    __tablename__ = "notification_acks"
    __table_args__ = (UniqueConstraint("notification_id", "recipient", name="uq_notification_ack"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(index=True)
    recipient: Mapped[str] = mapped_column(String(128))  # kind.id
    principal: Mapped[str] = mapped_column(String(160))
    acked_at: Mapped[datetime]
