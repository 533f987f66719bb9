"""Is this request from the council's Liberi? HMAC-SHA256 of the raw body with the instance's shared
secret (``X-Liberi-Signature: sha256=<hex>``), then replay protection on the signed ``publishedAt``.

Runs before anything is stored: on failure the ingest layer keeps only an audit line. Reasons go back
to the sender, so they say what is wrong without naming configuration (the operator log does that).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import orjson
import structlog

from adapters.base import RawInput, Unauthenticated
from adapters.common.times import parse_iso_datetime
from adapters.liberi.mapping import LiberiInstance

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Liberi-Signature"
# An HMAC key shorter than the hash output is guessable in principle; a forged "found" could stop a
# search, so a weak secret is refused rather than trusted.
MIN_SECRET_BYTES = 32


def header(headers: Mapping[str, str], name: str) -> str | None:
    """HTTP header names are case-insensitive; the transport may hand them over in any case."""
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return value if isinstance(value, str) else None
    return None


def _secret(raw: RawInput, config: LiberiInstance) -> bytes:
    secret = os.environ.get(config.secret_env, "")
    if not secret.strip():
        log.error("liberi.secret_missing", instance=raw.instance, secret_env=config.secret_env)
        raise Unauthenticated(
            f"instance {raw.instance!r} has no webhook secret configured: signed requests "
            "cannot be checked, so none are accepted"
        )
    key = secret.encode("utf-8")
    if len(key) < MIN_SECRET_BYTES:
        log.error(
            "liberi.secret_too_short",
            instance=raw.instance,
            secret_env=config.secret_env,
            minimum_bytes=MIN_SECRET_BYTES,
        )
        raise Unauthenticated(
            f"instance {raw.instance!r} has no usable webhook secret configured (too short); "
            "no request is accepted until it is replaced"
        )
    return key


def sign(body: bytes, secret: bytes) -> str:
    """The header value Liberi sends for ``body``: ``sha256=<lower-case hex>``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(raw: RawInput, config: LiberiInstance) -> None:
    key = _secret(raw, config)
    provided = header(raw.headers, SIGNATURE_HEADER)
    if provided is None or not provided.strip():
        raise Unauthenticated(f"no {SIGNATURE_HEADER} header: unsigned requests are refused")
    scheme, _, digest = provided.strip().partition("=")
    if scheme.strip().lower() != "sha256" or not digest.strip():
        raise Unauthenticated(f"{SIGNATURE_HEADER} is not of the form sha256=<hex>")
    expected = sign(raw.body, key).encode("ascii")
    given = ("sha256=" + digest.strip().lower()).encode("utf-8", errors="replace")
    if not hmac.compare_digest(expected, given):
        raise Unauthenticated(f"{SIGNATURE_HEADER} does not match the body (bad signature)")


def _received(raw: RawInput) -> datetime:
    at = raw.received_at
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def verify_fresh(raw: RawInput, config: LiberiInstance) -> None:
    """Replay protection. ``publishedAt`` is inside the signed body, so it cannot be altered; a request
    older than the window is refused. Inside the window a replay carries the same eventId and so the
    same idempotency key, and creates nothing. A body that cannot be read is left for the parser to
    reject with its reason."""
    body = raw.body[3:] if raw.body.startswith(b"\xef\xbb\xbf") else raw.body  # as the parser reads it
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    published_text = doc.get("publishedAt") if isinstance(doc, dict) else None
    if not isinstance(published_text, str):
        # Only the council's Liberi can produce a signed body, so an absent publishedAt is its omission,
        # not an attack; refusing would lose the notice. It is logged for the operator instead.
        log.warning(
            "liberi.no_published_at",
            instance=raw.instance,
            event_id=str(doc.get("eventId"))[:64] if isinstance(doc, dict) else None,
        )
        return
    try:
        published = parse_iso_datetime(published_text, require_offset=True)
    except ValueError:
        return
    received = _received(raw)
    if received - published > timedelta(hours=config.max_delivery_age_hours):
        raise Unauthenticated(
            f"publishedAt is older than the {config.max_delivery_age_hours:g} h replay window: "
            "stale or replayed request refused"
        )
    if published - received > timedelta(seconds=config.max_clock_skew_seconds):
        raise Unauthenticated(
            f"publishedAt is more than {config.max_clock_skew_seconds} s in the future: "
            "request refused (check the sender's clock)"
        )
