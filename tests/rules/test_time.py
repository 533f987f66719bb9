"""Durations, working days and school days: weekends, England bank holidays, term breaks, BST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.model.types import LONDON
from gateway.rules.calendars import Calendars, SchoolCalendar, TermBreak
from gateway.rules.durations import After, Due, Span, add_due, add_span
from tests.rulesupport import utc

CAL = Calendars()
WARKS = Calendars(
    [
        SchoolCalendar(
            name="test",
            authorities=["937"],
            breaks=[TermBreak.model_validate({"name": "Easter", "from": "2026-03-30", "to": "2026-04-10"})],
        )
    ]
)


def due(start: str, text: str, cal: Calendars = CAL, la: str | None = None) -> datetime:
    return add_due(utc(start), Due.model_validate(text), cal, la)


def local(at: datetime) -> str:
    return at.astimezone(LONDON).strftime("%a %Y-%m-%d %H:%M:%S %Z")


def test_hours_are_elapsed_time_and_days_are_the_wall_clock_across_the_march_change() -> None:
    # Saturday 28 March 2026 12:00 GMT; clocks go forward at 01:00 GMT on Sunday 29 March.
    assert local(due("2026-03-28T12:00:00Z", "24h")) == "Sun 2026-03-29 13:00:00 BST"
    assert local(due("2026-03-28T12:00:00Z", "1 day")) == "Sun 2026-03-29 12:00:00 BST"
    assert due("2026-03-28T12:00:00Z", "1 day") - utc("2026-03-28T12:00:00Z") == timedelta(hours=23)
    # An hour that does not exist on the wall clock is read forward (01:30 GMT → 02:30 BST).
    assert local(due("2026-03-28T01:30:00Z", "1 day")) == "Sun 2026-03-29 02:30:00 BST"


def test_hours_and_days_across_the_october_change() -> None:
    # Saturday 24 October 2026 12:00 BST (11:00 UTC); clocks go back at 02:00 BST on Sunday 25 October.
    assert local(due("2026-10-24T11:00:00Z", "24h")) == "Sun 2026-10-25 11:00:00 GMT"
    assert local(due("2026-10-24T11:00:00Z", "1 day")) == "Sun 2026-10-25 12:00:00 GMT"
    assert due("2026-10-24T11:00:00Z", "1 day") - utc("2026-10-24T11:00:00Z") == timedelta(hours=25)
    # The repeated hour: 01:30 happens twice; the earlier (BST) instant is taken.
    assert due("2026-10-24T00:30:00Z", "1 day") == utc("2026-10-25T00:30:00Z")


def test_working_days_skip_the_weekend_and_end_at_the_end_of_the_day() -> None:
    # Friday 6 March 2026 15:00 → 1 working day = end of Monday 9 March.
    assert local(due("2026-03-06T15:00:00Z", "1 working_days")) == "Mon 2026-03-09 23:59:59 GMT"
    # A trigger on Saturday counts from Monday too.
    assert local(due("2026-03-07T10:00:00Z", "1 working_day")) == "Mon 2026-03-09 23:59:59 GMT"
    # With a time of day.
    assert local(due("2026-03-06T15:00:00Z", "5 working_days 17:00")) == "Fri 2026-03-13 17:00:00 GMT"


def test_working_days_across_easter_2026() -> None:
    # Thursday 2 April; Good Friday 3 April and Easter Monday 6 April are bank holidays.
    assert local(due("2026-04-02T09:00:00Z", "1 working_days")) == "Tue 2026-04-07 23:59:59 BST"
    assert local(due("2026-04-01T09:00:00Z", "2 working_days")) == "Tue 2026-04-07 23:59:59 BST"
    assert CAL.why_not_working(date(2026, 4, 6)) == "Easter Monday"


def test_working_days_across_the_late_may_bank_holiday() -> None:
    # Thursday 21 May 2026: Fri 22, (Sat, Sun, Mon 25 May bank holiday), Tue 26 ... Fri 29.
    assert local(due("2026-05-21T12:00:00Z", "5 working_days")) == "Fri 2026-05-29 23:59:59 BST"
    assert not CAL.is_working_day(date(2026, 5, 25))


def test_working_days_across_christmas_with_substitute_days() -> None:
    # 2026: Christmas Friday 25, Boxing Day Saturday 26 → substitute Monday 28 December.
    assert local(due("2026-12-24T12:00:00Z", "1 working_days")) == "Tue 2026-12-29 23:59:59 GMT"


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2026-03-03T02:00:00Z", "Tue 2026-03-03 08:00:00 GMT"),  # before 08:00 on a school day: today
        ("2026-03-03T10:00:00Z", "Wed 2026-03-04 08:00:00 GMT"),  # after: tomorrow
        ("2026-03-06T18:00:00Z", "Mon 2026-03-09 08:00:00 GMT"),  # Friday evening: Monday
        ("2026-03-07T09:00:00Z", "Mon 2026-03-09 08:00:00 GMT"),  # Saturday
        ("2026-04-02T12:00:00Z", "Tue 2026-04-07 08:00:00 BST"),  # Easter: no term dates known
        ("2026-05-22T12:00:00Z", "Tue 2026-05-26 08:00:00 BST"),  # late May bank holiday
    ],
)
def test_next_school_day_without_term_dates(start: str, expected: str) -> None:
    assert local(due(start, "next_school_day 08:00")) == expected


def test_next_school_day_skips_the_areas_term_break() -> None:
    # Friday 27 March 2026, Warwickshire (937): Easter holidays 30 March - 10 April.
    assert (
        local(due("2026-03-27T12:00:00Z", "next_school_day 08:00", WARKS, "937"))
        == "Mon 2026-04-13 08:00:00 BST"
    )
    # Another authority's children are not affected by Warwickshire's break.
    assert (
        local(due("2026-03-27T12:00:00Z", "next_school_day 08:00", WARKS, "886"))
        == "Mon 2026-03-30 08:00:00 BST"
    )
    assert WARKS.why_not_school(date(2026, 4, 1), "937") == "Easter (test)"


def test_school_days_and_anchors_parse() -> None:
    assert (
        local(due("2026-03-27T12:00:00Z", "2 school_days 09:00", WARKS, "937"))
        == "Tue 2026-04-14 09:00:00 BST"
    )
    d = Due.model_validate("72h after found_at")
    assert d.since.value == "found_at" and d.span == Span(amount=72, unit="hours")
    assert Due.model_validate({"working_days": 5, "since": "reported_at", "at": "17:00"}).describe() == (
        "5 working days at 17:00 after reported_at"
    )
    assert (
        After.model_validate({"hours": 24, "since": "last_seen_at"}).describe()
        == "24 hours after last_seen_at"
    )


@pytest.mark.parametrize(
    "text",
    [
        "3 fortnights",
        "24",
        "h24",
        "0 working_days",
        "next_school_day",
        "next_school_day 25:00",
        "2 hours 08:00",
    ],
)
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        Due.model_validate(text)


_STARTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(start=_STARTS, n=st.integers(min_value=1, max_value=30))
def test_working_days_land_on_a_working_day_after_the_start_day(start: datetime, n: int) -> None:
    end = add_span(start, Span(amount=n, unit="working_days"), CAL, None)
    end_day = end.astimezone(LONDON).date()
    start_day = start.astimezone(LONDON).date()
    assert end > start and end_day > start_day and CAL.is_working_day(end_day)
    between = [start_day + timedelta(days=i) for i in range(1, (end_day - start_day).days + 1)]
    assert sum(CAL.is_working_day(d) for d in between) == n
    assert end.astimezone(LONDON).time().strftime("%H:%M:%S") == "23:59:59"


@settings(max_examples=200, deadline=None)
@given(start=_STARTS)
def test_next_school_day_is_the_first_school_morning_after_the_start(start: datetime) -> None:
    end = due(start.isoformat(), "next_school_day 08:00", WARKS, "937")
    assert end > start
    assert end.astimezone(LONDON).strftime("%H:%M") == "08:00"
    assert WARKS.is_school_day(end.astimezone(LONDON).date(), "937")
    # No earlier school-day 08:00 lies strictly between start and end.
    day = start.astimezone(LONDON).date()
    while day < end.astimezone(LONDON).date():
        candidate = datetime.combine(day, datetime.min.time().replace(hour=8), tzinfo=LONDON)
        assert not (WARKS.is_school_day(day, "937") and candidate > start)
        day += timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(
    start=_STARTS, hours=st.integers(min_value=0, max_value=2000), days=st.integers(min_value=1, max_value=60)
)
def test_hours_are_exact_and_days_keep_the_wall_clock(start: datetime, hours: int, days: int) -> None:
    assert add_span(start, Span(amount=hours, unit="hours"), CAL, None) - start == timedelta(hours=hours)
    end = add_span(start, Span(amount=days, unit="days"), CAL, None)
    assert end.astimezone(LONDON).date() - start.astimezone(LONDON).date() == timedelta(days=days)
    # Wall-clock time is kept unless it does not exist that day (then it moves an hour forward).
    gap = end.astimezone(LONDON).replace(tzinfo=None) - datetime.combine(
        end.astimezone(LONDON).date(), start.astimezone(LONDON).time()
    )
    assert gap in (timedelta(0), timedelta(hours=1))
