"""API keys: created with a role and scopes, stored hashed, shown once, revocable, with an expiry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.security.principal import ROLES, Principal, Role, valid_scope
from gateway.security.tables import ApiKey

KEY_PREFIX = "mgw_"


class KeyError_(ValueError):
    """A key request that cannot be made (bad role or scope)."""


@dataclass(frozen=True)
class NewKey:
    id: uuid.UUID
    prefix: str
    secret: str  # the whole key: shown once, never stored


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    session: Session,
    *,
    name: str,
    role: Role,
    scopes: list[str],
    days: int | None = 365,
    now: datetime | None = None,
) -> NewKey:
    if role not in ROLES:
        raise KeyError_(f"role must be one of {', '.join(ROLES)}")
    scopes = ["operator"] if role == "operator" else scopes
    bad = [s for s in scopes if not valid_scope(role, s)]
    if bad or not scopes:
        raise KeyError_(f"invalid scope(s) for a {role} key: {', '.join(bad) or '(none given)'}")
    now = now or datetime.now(UTC)
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        id=uuid.uuid4(),
        name=name,
        prefix=prefix,
        key_hash=_hash(secret),
        role=role,
        scopes=scopes,
        created_at=now,
        expires_at=(now + timedelta(days=days)) if days else None,
    )
    session.add(row)
    return NewKey(row.id, prefix, secret)


def verify_key(session: Session, presented: str, now: datetime | None = None) -> Principal | None:
    """The principal for a presented key, or None (unknown, wrong, expired or revoked)."""
    if not presented.startswith(KEY_PREFIX):
        return None
    prefix = presented[len(KEY_PREFIX) :].split("_", 1)[0]
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or not hmac.compare_digest(row.key_hash, _hash(presented)):
        return None
    now = now or datetime.now(UTC)
    principal = active_principal(row, now)
    if principal is not None:
        row.last_used_at = now
    return principal


def active_principal(row: ApiKey | None, now: datetime) -> Principal | None:
    """The key's principal while it is neither revoked nor expired (the API and the console's
    sessions both ask this, so revoking a key ends both)."""
    if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    return Principal(id=f"key:{row.prefix}", role=row.role, scopes=frozenset(row.scopes))  # type: ignore[arg-type]


def revoke_key(session: Session, prefix: str, now: datetime | None = None) -> bool:
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now or datetime.now(UTC)
    return True


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at)))
