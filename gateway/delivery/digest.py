"""The school digest (Operation Encompass style): a school's non-urgent notices are collected and
released together at the digest time (default 08:00 Europe/London) on the next school day, so the
designated safeguarding lead has them before the school day starts, and not at 2 a.m. on a Sunday.

- The release is the first digest time on a school day at or after the notice arrived: Friday 07:10 →
  Friday 08:00; Friday 09:00 → Monday 08:00; Friday 09:00 before the early-May bank holiday
  (Monday 4 May 2026) → Tuesday 08:00. School days come from the sharing-rules calendars
  (:mod:`gateway.rules.calendars`): weekdays that are not England and Wales bank holidays (the
  ``holidays`` package) and, where ``mappings/calendars`` has the school's local authority (the
  directory entry's ``la``), not in its term breaks.
- Held: recipients whose directory entry holds a digest (schools by default) on push channels. An AMQP
  queue is never held: the notice waits in the school's own queue either way, and holding it back
  would only make it later.
- Never held: ``urgency: immediate`` (the rule says it cannot wait), and ``urgency: digest``: the
  sharing-rules engine has already held those notices itself (a timer at the area's digest time on the
  next school day) and sends them when they are due; holding them a second time could push them past
  the start of the school day.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from gateway.delivery.directory import RecipientEntry
from gateway.model import Notification, Urgency
from gateway.rules.calendars import MAX_SEARCH_DAYS, Calendars, local_date, local_instant

DEFAULT_DIGEST_TIME = time(8, 0)


def parse_time(text: str) -> time:
    hh, mm = text.split(":")
    return time(int(hh), int(mm))


def release_at(arrived: datetime, at: time, calendars: Calendars, la: str | None) -> datetime:
    """The first ``at`` (Europe/London) on a school day at or after ``arrived``."""
    day = local_date(arrived)
    for _ in range(MAX_SEARCH_DAYS):
        if calendars.is_school_day(day, la):
            instant = local_instant(day, at)
            if instant >= arrived:
                return instant
        day += timedelta(days=1)
    raise ValueError(f"no school day found after {arrived.isoformat()}: check the calendar files")


def bypasses_digest(notification: Notification) -> bool:
    return notification.urgency in (Urgency.immediate, Urgency.digest)


def hold_until(
    notification: Notification,
    entry: RecipientEntry,
    channel: str,
    now: datetime,
    calendars: Calendars,
    default_time: time,
) -> datetime | None:
    """When to release this notice to this endpoint, or None to send it now."""
    if channel == "amqp" or not entry.holds_digest or bypasses_digest(notification):
        return None
    when = release_at(now, entry.digest_time(default_time), calendars, entry.la)
    return when if when > now else None
