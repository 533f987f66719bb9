"""The school digest at its boundaries (Europe/London, weekends, England bank holidays)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from gateway.delivery.digest import hold_until, release_at
from gateway.delivery.directory import RecipientEntry
from gateway.rules.calendars import Calendars, SchoolCalendar, TermBreak
from tests.delivery.conftest import notification

EIGHT = time(8, 0)
CAL = Calendars()


def london(text: str) -> datetime:
    from gateway.model.types import LONDON

    return datetime.fromisoformat(text).replace(tzinfo=LONDON).astimezone(UTC)


@pytest.mark.parametrize(
    ("arrived", "released"),
    [
        # Friday after 08:00 → Monday 08:00 (GMT)
        ("2026-03-06T09:15", "2026-03-09T08:00"),
        # Friday before 08:00 → the same Friday 08:00
        ("2026-03-06T07:59", "2026-03-06T08:00"),
        # exactly 08:00 → now (not a day later)
        ("2026-03-06T08:00", "2026-03-06T08:00"),
        # Saturday and Sunday → Monday
        ("2026-03-07T12:00", "2026-03-09T08:00"),
        ("2026-03-08T23:59", "2026-03-09T08:00"),
        # Friday before the early-May bank holiday (Monday 4 May 2026) → Tuesday 5 May (BST)
        ("2026-05-01T16:00", "2026-05-05T08:00"),
        # on the bank holiday itself, before 08:00 → Tuesday
        ("2026-05-04T06:00", "2026-05-05T08:00"),
        # Good Friday and Easter Monday 2026 (3 and 6 April) → Tuesday 7 April
        ("2026-04-02T18:00", "2026-04-07T08:00"),
        # Christmas: 24 Dec 2026 (Thursday) evening → Tuesday 29 Dec (25th, weekend, 28th substitute)
        ("2026-12-24T20:00", "2026-12-29T08:00"),
        # across the clocks going forward (Sunday 29 March 2026): Monday 08:00 BST = 07:00 UTC
        ("2026-03-27T10:00", "2026-03-30T08:00"),
    ],
)
def test_release_is_the_next_school_day_digest_time(arrived: str, released: str) -> None:
    assert release_at(london(arrived), EIGHT, CAL, None) == london(released)


def test_monday_0800_bst_is_0700_utc() -> None:
    assert release_at(london("2026-03-27T10:00"), EIGHT, CAL, None) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_term_breaks_of_the_schools_la_count() -> None:
    cal = Calendars(
        [
            SchoolCalendar(
                name="t",
                authorities=["860"],
                breaks=[
                    TermBreak.model_validate({"name": "half term", "from": "2026-02-16", "to": "2026-02-20"})
                ],
            )
        ]
    )
    friday = london("2026-02-13T10:00")
    assert release_at(friday, EIGHT, cal, "860") == london("2026-02-23T08:00")
    assert release_at(friday, EIGHT, cal, "886") == london("2026-02-16T08:00")  # another LA: no break


def _school(**kw: object) -> RecipientEntry:
    return RecipientEntry.model_validate(
        {
            "kind": "school",
            "id": "999101",
            "role": "school_dsl",
            "channels": [{"channel": "webhook", "url": "https://x.example/h", "secret_env": "S"}],
            **kw,
        }
    )


def test_what_is_held_and_what_bypasses() -> None:
    friday = london("2026-03-06T09:15")
    monday = london("2026-03-09T08:00")
    school = _school()
    assert hold_until(notification(urgency="standard"), school, "webhook", friday, CAL, EIGHT) == monday
    assert hold_until(notification(urgency=None), school, "webhook", friday, CAL, EIGHT) == monday
    # The rule says it cannot wait.
    assert hold_until(notification(urgency="immediate"), school, "webhook", friday, CAL, EIGHT) is None
    # Already held by the sharing-rules engine until its digest time: never held twice.
    assert hold_until(notification(urgency="digest"), school, "webhook", friday, CAL, EIGHT) is None
    # A queue is read when the school reads it: holding it back only makes it later.
    assert hold_until(notification(), school, "amqp", friday, CAL, EIGHT) is None
    # Before 08:00 on a school day: held until 08:00 that day.
    assert hold_until(notification(), school, "webhook", london("2026-03-06T06:00"), CAL, EIGHT) == london(
        "2026-03-06T08:00"
    )
    # Only schools by default; per-recipient switch and time.
    la = RecipientEntry.model_validate(
        {"kind": "la", "id": "886", "role": "front_door", "channels": [{"channel": "amqp"}]}
    )
    assert hold_until(notification("la", "886", "front_door"), la, "webhook", friday, CAL, EIGHT) is None
    assert hold_until(notification(), _school(digest=False), "webhook", friday, CAL, EIGHT) is None
    assert hold_until(notification(), _school(digest_at="07:30"), "webhook", friday, CAL, EIGHT) == london(
        "2026-03-09T07:30"
    )
