"""Times from social-care systems.

Mosaic and Liquidlogic write UK local time without an offset; Liberi always sends an offset. A naive
time is read in the deployment's zone (Europe/London) and converted to UTC here, so that the canonical
model never has to guess. ``fold=0`` in the repeated October hour picks the earlier instant, the safer
reading for a "last seen" time (the same choice as gateway.model.types.to_utc).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Deliberately narrower than datetime.fromisoformat (which also takes week dates and basic format):
# these feeds are specified as extended ISO 8601, anything else is a broken extract.
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(?P<offset>Z|[+-]\d{2}:?\d{2})?$"
)


def to_utc(value: datetime, zone: ZoneInfo = LONDON) -> datetime:
    """Naive → ``zone`` → UTC; aware → UTC. Raises ValueError for an instant outside datetime's range."""
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=zone, fold=0)
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("time out of range") from exc


def parse_iso_date(text: str) -> date:
    """``YYYY-MM-DD`` only. Raises ValueError."""
    if not _ISO_DATE.match(text):
        raise ValueError("not a YYYY-MM-DD date")
    return date.fromisoformat(text)


def looks_like_iso_date(text: str) -> bool:
    """The shape of a date, whether or not the calendar allows it (31 February)."""
    return bool(_ISO_DATE.match(text))


def parse_iso_datetime(
    text: str, zone: ZoneInfo = LONDON, *, require_offset: bool = False, allow_date_only: bool = False
) -> datetime:
    """An ISO 8601 date-time as UTC. Without an offset it is local time in ``zone``; a date alone (when
    allowed) is 00:00 local on that day. Raises ValueError."""
    text = text.strip()
    if allow_date_only and _ISO_DATE.match(text):
        return to_utc(datetime.combine(date.fromisoformat(text), datetime.min.time()), zone)
    match = _ISO_DATETIME.match(text)
    if not match:
        raise ValueError("not an ISO 8601 date-time")
    if require_offset and not match.group("offset"):
        raise ValueError("date-time has no offset")
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return to_utc(value, zone)


def iso_z(value: datetime) -> str:
    """``2026-03-06T21:10:00Z``: the stable text form used in source event ids and keys."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
