"""Working days and school days, in Europe/London.

- A **working day** is Monday to Friday and not an England and Wales bank holiday. Bank holidays come
  from the ``holidays`` package (``country_holidays("GB", subdiv="ENG")``), not a hand-typed list, so
  one-off bank holidays (a coronation, a state funeral) are included when the package knows them.
- A **school day** is a working day outside the term breaks configured for the local authority where
  the child lives or is placed (``mappings/calendars/*.yaml``, each declaring the ``authorities`` it
  covers). Without a calendar for that authority every working day counts as a school day: a school
  notice then goes out on a holiday morning, which is early rather than late.

Every "day" is a calendar date in Europe/London, so a deadline is right on either side of a BST change.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, time
from pathlib import Path

import holidays
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.model.types import LONDON, LaCode
from gateway.rules.yamlio import load_yaml

END_OF_DAY = time(23, 59, 59)
"""A deadline of "N working days" with no time given is the end of the Nth day (see docs/rules.md)."""
MAX_SEARCH_DAYS = 800
"""No configured calendar can have a gap this long; a search past it means a broken calendar file."""


def local_date(at: datetime) -> date:
    return at.astimezone(LONDON).date()


def local_instant(day: date, at: time) -> datetime:
    """The UTC instant of local wall-clock ``at`` on ``day``.

    ``fold=0``: in the October repeated hour this is the first (BST) occurrence, the earlier instant; in
    the March gap (01:00-02:00 does not exist) it is read with the GMT offset, i.e. one hour later on
    the wall clock. Either way the result exists and is deterministic.
    """
    return datetime.combine(day, at).replace(tzinfo=LONDON).astimezone(UTC)


class WorkingDays:
    """England and Wales bank holidays (the ``holidays`` package) and weekends."""

    def __init__(self) -> None:
        self._holidays = holidays.country_holidays("GB", subdiv="ENG")
        # The holidays object fills in a year on first lookup; two threads filling it at once could
        # corrupt it, so lookups take a lock (they are rare and cheap).
        self._lock = threading.Lock()

    def bank_holiday(self, day: date) -> str | None:
        with self._lock:
            name = self._holidays.get(day)
        return str(name) if name else None

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.bank_holiday(day) is None


class TermBreak(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> TermBreak:
        if self.end < self.start:
            raise ValueError(f"break {self.name!r} ends ({self.end}) before it starts ({self.start})")
        return self


class SchoolCalendar(BaseModel):
    """Term breaks of the schools in some local authorities (inclusive date ranges)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str = ""
    source: str = ""
    authorities: list[LaCode] = Field(default_factory=list)
    breaks: list[TermBreak] = Field(default_factory=list)

    def in_break(self, day: date) -> TermBreak | None:
        return next((b for b in self.breaks if b.start <= day <= b.end), None)


DEFAULT_SCHOOL_CALENDAR = SchoolCalendar(
    name="england-default",
    description="No term dates configured: every working day counts as a school day",
)


class CalendarFileError(RuntimeError):
    pass


class Calendars:
    def __init__(self, school: list[SchoolCalendar] | None = None, working: WorkingDays | None = None):
        self.working = working or WorkingDays()
        self.school: dict[str, SchoolCalendar] = {c.name: c for c in school or []}
        self._by_la: dict[str, SchoolCalendar] = {}
        for cal in self.school.values():
            for la in cal.authorities:
                other = self._by_la.get(la)
                if other is not None:
                    raise CalendarFileError(
                        f"school calendars {other.name!r} and {cal.name!r} both claim authority {la}"
                    )
                self._by_la[la] = cal

    def school_calendar(self, la: str | None) -> SchoolCalendar:
        return self._by_la.get(la or "", DEFAULT_SCHOOL_CALENDAR)

    def is_working_day(self, day: date) -> bool:
        return self.working.is_working_day(day)

    def is_school_day(self, day: date, la: str | None) -> bool:
        return self.working.is_working_day(day) and self.school_calendar(la).in_break(day) is None

    def why_not_working(self, day: date) -> str | None:
        if day.weekday() >= 5:
            return day.strftime("%A")
        return self.working.bank_holiday(day)

    def why_not_school(self, day: date, la: str | None) -> str | None:
        reason = self.why_not_working(day)
        if reason:
            return reason
        brk = self.school_calendar(la).in_break(day)
        return f"{brk.name} ({self.school_calendar(la).name})" if brk else None


def load_calendars(directory: Path) -> Calendars:
    """Every ``*.yaml`` in ``directory`` (missing directory: no term dates configured)."""
    calendars: list[SchoolCalendar] = []
    errors: list[str] = []
    if directory.is_dir():
        for path in sorted(directory.glob("*.yaml")):
            try:
                raw = load_yaml(path) or {}
                calendars.append(SchoolCalendar.model_validate(raw))
            except (OSError, yaml.YAMLError) as exc:
                errors.append(f"{path}: cannot read: {exc}")
            except ValidationError as exc:
                for err in exc.errors(include_url=False, include_input=False):
                    loc = ".".join(str(p) for p in err["loc"]) or "(file)"
                    errors.append(f"{path}: field {loc}: {err['msg']}")
    if errors:
        raise CalendarFileError("\n".join(errors))
    try:
        return Calendars(calendars)
    except CalendarFileError as exc:
        raise CalendarFileError(f"{directory}: {exc}") from exc
