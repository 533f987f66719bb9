"""``xs:dateTime`` and ``xs:date`` values as Python values.

The schema accepts lexical forms Python's ``fromisoformat`` does not (``24:00:00``, more than six
fractional digits, five-digit years), so the forms are read here by rule. A time with an offset is
taken as given; without one it is local time in the force's zone (Europe/London for every force in
England), and in the repeated hour of the October change ``fold=0`` picks the earlier (BST) instant,
the safer reading for a "last seen" time. Anything Python cannot represent raises ValueError, and the
caller decides whether that rejects the report or is recorded in ``data_quality``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

_DATETIME = re.compile(
    r"^(?P<year>-?\d{4,})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"T(?P<hour>\d{2}):(?P<minute>\d{2}):(?P<second>\d{2})(?P<fraction>\.\d+)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?$"
)
_DATE = re.compile(r"^(?P<year>-?\d{4,})-(?P<month>\d{2})-(?P<day>\d{2})(?:Z|[+-]\d{2}:\d{2})?$")


def _offset(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    if hours > 14 or minutes > 59 or (hours == 14 and minutes):
        raise ValueError("time zone offset out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_datetime(text: str, zone: ZoneInfo) -> datetime:
    """An ``xs:dateTime`` as an aware UTC datetime. Raises ValueError."""
    match = _DATETIME.match(text.strip())
    if not match:
        raise ValueError("not an xs:dateTime")
    year = int(match["year"])
    if not 1 <= year <= 9999:
        raise ValueError("year out of range")
    hour = int(match["hour"])
    fraction = match["fraction"] or ""
    microsecond = int((fraction[1:] + "000000")[:6]) if fraction else 0
    end_of_day = hour == 24
    if end_of_day:
        # 24:00:00 is the end of the day, i.e. 00:00:00 of the next (XML Schema 1.0 §3.2.7).
        if match["minute"] != "00" or match["second"] != "00" or microsecond:
            raise ValueError("24:00 must be exactly 24:00:00")
        hour = 0
    value = datetime(
        year,
        int(match["month"]),
        int(match["day"]),
        hour,
        int(match["minute"]),
        int(match["second"]),
        microsecond,
    )
    if end_of_day:
        try:
            value += timedelta(days=1)
        except OverflowError:
            raise ValueError("time out of range") from None
    zone_of_value = _offset(match["tz"]) if match["tz"] else zone
    value = value.replace(tzinfo=zone_of_value, fold=0)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time out of range") from None


def parse_date(text: str) -> date:
    """An ``xs:date``; a time zone on a date is ignored (a date of birth is a calendar day). Raises
    ValueError."""
    match = _DATE.match(text.strip())
    if not match:
        raise ValueError("not an xs:date")
    year = int(match["year"])
    if not 1 <= year <= 9999:
        raise ValueError("year out of range")
    return date(year, int(match["month"]), int(match["day"]))
