"""Console sessions and CSRF tokens: an HMAC-signed cookie, nothing kept server-side.

The cookie names the API key (by its public prefix), never holds the key itself, and carries a random
nonce from which the session's CSRF token is derived. Every request looks the key up again, so revoking
or expiring a key ends its console sessions at once (a signed cookie alone could not be revoked).
Before sign-in a separate short-lived cookie carries the nonce that the sign-in form's token is bound to
(double-submit), so the sign-in form cannot be posted from another site either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.security.keys import active_principal
from gateway.security.principal import Principal
from gateway.security.tables import ApiKey
from gateway.settings import Settings

SESSION_COOKIE = "gw_console"
LOGIN_COOKIE = "gw_console_login"
COOKIE_PATH = "/console"
SESSION_SECONDS = 8 * 3600  # a working day: a practitioner signs in again the next morning
LOGIN_SECONDS = 1800


@dataclass(frozen=True)
class SessionData:
    prefix: str  # the API key's public prefix
    issued_at: int
    nonce: str


class Signer:
    """Signs and checks cookie values and derives CSRF tokens, all with one secret."""

    def __init__(self, secret: bytes):
        self._secret = secret

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer:
        if settings.console_secret is not None:
            return cls(settings.console_secret.get_secret_value().encode())
        if settings.environment == "production":
            raise RuntimeError(
                "GATEWAY_CONSOLE_SECRET must be set in production: it signs the console's session cookies "
                "and must be the same on every API process"
            )
        return cls(secrets.token_bytes(32))  # development: sessions end when the process restarts

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self._secret, f"{purpose}|{value}".encode(), hashlib.sha256).hexdigest()

    def seal(self, data: SessionData) -> str:
        raw = json.dumps({"p": data.prefix, "t": data.issued_at, "n": data.nonce}, separators=(",", ":"))
        body = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
        return f"{body}.{self._mac('session', body)}"

    def open(self, cookie: str | None, now: float | None = None) -> SessionData | None:
        """The session in a cookie, or None when it is missing, forged or older than a working day."""
        if not cookie or "." not in cookie or len(cookie) > 1024:
            return None
        body, mac = cookie.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        try:
            doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            data = SessionData(prefix=str(doc["p"]), issued_at=int(doc["t"]), nonce=str(doc["n"]))
        except (ValueError, KeyError, TypeError):
            return None
        now = time.time() if now is None else now
        if not (data.issued_at <= now + 60 and now - data.issued_at < SESSION_SECONDS):
            return None
        return data

    def csrf_token(self, nonce: str) -> str:
        return self._mac("csrf", nonce)

    def csrf_ok(self, nonce: str | None, presented: str | None) -> bool:
        return bool(nonce and presented) and hmac.compare_digest(
            self.csrf_token(nonce or ""), presented or ""
        )


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def principal_for_prefix(session: Session, prefix: str, now: datetime | None = None) -> Principal | None:
    """The key's principal while the key is still valid (not revoked, not expired); the same identity
    (``key:<prefix>``) the API audits under, so the console and the API share one audit trail."""
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    return active_principal(row, now or datetime.now(UTC))
