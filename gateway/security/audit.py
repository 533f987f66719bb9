"""The access audit: who viewed what about a child, and every refused call."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from gateway.security.tables import AccessAudit
from gateway.store.db import transaction


def record_access(
    sessions: sessionmaker[Session],
    *,
    principal: str,
    role: str | None,
    method: str,
    path: str,
    status: int,
    action: str,
    episode_id: uuid.UUID | None = None,
    detail: str | None = None,
) -> None:
    with transaction(sessions) as s:
        s.add(
            AccessAudit(
                at=datetime.now(UTC),
                principal=principal[:160],
                role=role,
                method=method[:8],
                path=path[:300],
                status=status,
                action=action[:64],
                episode_id=episode_id,
                detail=detail and detail[:2000],
            )
        )
