"""Source ids end up in idempotency keys, logs and URLs: a sender's id must stay a short token."""

from __future__ import annotations

from adapters.base import InvalidInput

MAX_ID_LENGTH = 128


def is_plain_id(value: str) -> bool:
    """Short (a UUID is 36 characters) and free of control characters."""
    return len(value) <= MAX_ID_LENGTH and not any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def bounded_id(value: str, where: str) -> str:
    """``value`` trimmed. Anything longer than any real id, or with control characters, is a broken
    extract: rejected rather than carried into keys and logs."""
    value = value.strip()
    if not is_plain_id(value):
        raise InvalidInput(
            f"{where}: not an id (longer than {MAX_ID_LENGTH} characters or control characters)"
        )
    return value
