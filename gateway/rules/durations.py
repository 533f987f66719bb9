"""Durations and deadlines of the rule language, and how they are added to an instant.

Units (docs/rules.md "Time"):

- ``minutes`` / ``hours``: elapsed time. ``24h`` after 12:00 GMT on the Saturday before the March
  clock change is 13:00 BST on the Sunday.
- ``days``: calendar days on the Europe/London wall clock. ``1 day`` after that same Saturday 12:00 is
  Sunday 12:00 BST (23 elapsed hours). With a time (``3 days 09:00``) it is that wall-clock time.
- ``working_days`` / ``school_days``: the Nth working (school) day *after* the day of the start, the
  start's own day never counting; at the time given (``5 working_days 17:00``) or, without one, at the
  end of that day (23:59:59), the literal reading of "within 5 working days".
- ``next_school_day HH:MM`` / ``next_working_day HH:MM``: the first HH:MM on a school (working) day
  strictly after the start: a report at 02:00 on a school day is due at 08:00 the same day, one at
  10:00 at 08:00 on the next school day.

Strings (``"72h"``, ``"5 working_days"``, ``"next_school_day 08:00"``, ``"72h after found_at"``) and
mappings (``{hours: 72}``, ``{working_days: 5, at: "17:00"}``) are both accepted.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.model.types import LONDON
from gateway.rules.calendars import (
    END_OF_DAY,
    MAX_SEARCH_DAYS,
    Calendars,
    local_date,
    local_instant,
)


class Unit(StrEnum):
    minutes = "minutes"
    hours = "hours"
    days = "days"
    working_days = "working_days"
    school_days = "school_days"


DAY_UNITS = {Unit.days, Unit.working_days, Unit.school_days}
_UNIT_WORDS = {
    "m": Unit.minutes,
    "min": Unit.minutes,
    "mins": Unit.minutes,
    "minute": Unit.minutes,
    "minutes": Unit.minutes,
    "h": Unit.hours,
    "hr": Unit.hours,
    "hrs": Unit.hours,
    "hour": Unit.hours,
    "hours": Unit.hours,
    "d": Unit.days,
    "day": Unit.days,
    "days": Unit.days,
    "working_day": Unit.working_days,
    "working_days": Unit.working_days,
    "school_day": Unit.school_days,
    "school_days": Unit.school_days,
}
_SPAN = re.compile(r"^\s*(\d+)\s*([a-z_ ]+?)\s*(?:\s(\d{1,2}:\d{2}))?\s*$")
_NEXT = re.compile(r"^\s*next[_ ](school|working)[_ ]day\s+(\d{1,2}:\d{2})\s*$")
_AFTER = re.compile(r"^(.*?)\s+after\s+([a-z_]+)\s*$")


class Anchor(StrEnum):
    """What a duration counts from. ``trigger`` is the event's ``occurred_at`` (an event rule) or the
    moment the timer fell due (a time rule)."""

    trigger = "trigger"
    last_seen_at = "last_seen_at"
    reported_at = "reported_at"
    found_at = "found_at"
    opened_at = "opened_at"


class EpisodeTime(StrEnum):
    """The episode times a time rule can count from (``after.since``)."""

    last_seen_at = "last_seen_at"
    reported_at = "reported_at"
    found_at = "found_at"
    opened_at = "opened_at"


def parse_clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 08:00 as the sexagesimal integer 480 (minutes).
        hours, minutes = divmod(value, 60)
        if 0 <= hours < 24:
            return time(hours, minutes)
    if isinstance(value, str) and re.fullmatch(r"\d{1,2}:\d{2}", value.strip()):
        hours, minutes = (int(p) for p in value.strip().split(":"))
        if 0 <= hours < 24 and 0 <= minutes < 60:
            return time(hours, minutes)
    raise ValueError(f"{value!r} is not a time of day HH:MM")


def _span_from_text(text: str) -> dict[str, Any]:
    m = _SPAN.match(text.lower())
    if not m:
        raise ValueError(
            f"{text!r} is not a duration: write e.g. '24h', '3 days', '5 working_days', '2 school_days 08:00'"
        )
    amount, word, clock = m.groups()
    unit = _UNIT_WORDS.get(word.strip().replace(" ", "_"))
    if unit is None:
        raise ValueError(
            f"unknown unit {word.strip()!r} in {text!r}: use one of {sorted(u.value for u in Unit)}"
        )
    out: dict[str, Any] = {"amount": int(amount), "unit": unit}
    if clock:
        out["at"] = clock
    return out


def _span_from_mapping(value: dict[str, Any], extra_ok: set[str]) -> dict[str, Any]:
    units = [k for k in value if k in Unit.__members__]
    unknown = set(value) - set(Unit.__members__) - {"at"} - extra_ok
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)}: a duration is one of {[u.value for u in Unit]}")
    if len(units) != 1:
        raise ValueError(f"give exactly one of {[u.value for u in Unit]} (got {units or 'none'})")
    out: dict[str, Any] = {"amount": value[units[0]], "unit": units[0]}
    if "at" in value:
        out["at"] = value["at"]
    return out


class Span(BaseModel):
    """An amount of a unit, optionally landing at a wall-clock time (day units only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    amount: int = Field(ge=0, le=100_000)
    unit: Unit
    at: time | None = None

    _clock = field_validator("at", mode="before")(lambda v: None if v is None else parse_clock(v))

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _span_from_text(value)
        if isinstance(value, dict) and "unit" not in value:
            return _span_from_mapping(value, set())
        return value

    @model_validator(mode="after")
    def _check(self) -> Span:
        if self.at is not None and self.unit not in DAY_UNITS:
            raise ValueError(
                f"a time of day only goes with days, working_days or school_days, not {self.unit}"
            )
        if self.unit in DAY_UNITS and self.amount < 1:
            raise ValueError(f"{self.unit} must be at least 1")
        return self

    def describe(self) -> str:
        word = self.unit.value.replace("_", " ")
        if self.amount == 1:
            word = word.rstrip("s")
        text = f"{self.amount} {word}"
        return f"{text} at {self.at:%H:%M}" if self.at else text


class NextDay(BaseModel):
    """The first ``at`` on a school (working) day strictly after the start."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    day: Literal["school", "working"]
    at: time

    _clock = field_validator("at", mode="before")(lambda v: parse_clock(v))

    def describe(self) -> str:
        return f"{self.at:%H:%M} on the next {self.day} day"


class Due(BaseModel):
    """A deadline: a span or a next-day time, counted from an anchor (``trigger`` unless stated)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    span: Span | None = None
    next_day: NextDay | None = None
    since: Anchor = Anchor.trigger

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            since = None
            m = _AFTER.match(text.lower())
            if m:
                text, since = m.group(1), m.group(2)
            out: dict[str, Any] = {}
            n = _NEXT.match(text.lower())
            if n:
                out["next_day"] = {"day": n.group(1), "at": parse_clock(n.group(2))}
            else:
                out["span"] = _span_from_text(text)
            if since:
                out["since"] = since
            return out
        if isinstance(value, dict) and "span" not in value and "next_day" not in value:
            out = {}
            rest = dict(value)
            if "since" in rest:
                out["since"] = rest.pop("since")
            nexts = [k for k in ("next_school_day", "next_working_day") if k in rest]
            if nexts:
                if len(rest) != 1:
                    raise ValueError(f"{nexts[0]} takes only a time, e.g. {{{nexts[0]}: '08:00'}}")
                out["next_day"] = {"day": nexts[0].split("_")[1], "at": parse_clock(rest[nexts[0]])}
            else:
                out["span"] = _span_from_mapping(rest, set())
            return out
        return value

    @model_validator(mode="after")
    def _one(self) -> Due:
        if (self.span is None) == (self.next_day is None):
            raise ValueError("a deadline is either a duration or next_school_day/next_working_day HH:MM")
        return self

    def describe(self) -> str:
        what = self.span.describe() if self.span else self.next_day.describe()  # type: ignore[union-attr]
        return what if self.since is Anchor.trigger else f"{what} after {self.since.value}"


class After(BaseModel):
    """The trigger of a time rule: ``{hours: 24, since: last_seen_at, every: 7d}``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    span: Span
    since: EpisodeTime
    every: Span | None = None

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, dict) and "span" not in value:
            rest = dict(value)
            out: dict[str, Any] = {}
            for key in ("since", "every"):
                if key in rest:
                    out[key] = rest.pop(key)
            out["span"] = _span_from_mapping(rest, set())
            return out
        if isinstance(value, str):
            raise ValueError("write after as a mapping, e.g. {hours: 24, since: last_seen_at}")
        return value

    @property
    def anchor(self) -> Anchor:
        return Anchor(self.since.value)

    @model_validator(mode="after")
    def _check(self) -> After:
        if self.every is not None and self.every.amount < 1:
            raise ValueError("every must be at least 1 of its unit")
        return self

    def describe(self) -> str:
        text = f"{self.span.describe()} after {self.since.value}"
        return f"{text}, then every {self.every.describe()}" if self.every else text


def add_span(start: datetime, span: Span, calendars: Calendars, la: str | None) -> datetime:
    """``start`` plus ``span`` (``la``: whose school calendar counts school days)."""
    if span.unit is Unit.minutes:
        return start + timedelta(minutes=span.amount)
    if span.unit is Unit.hours:
        return start + timedelta(hours=span.amount)
    day = local_date(start)
    if span.unit is Unit.days:
        clock = span.at or start.astimezone(LONDON).time().replace(tzinfo=None)
        return local_instant(day + timedelta(days=span.amount), clock)
    counts = (
        calendars.is_working_day
        if span.unit is Unit.working_days
        else (lambda d: calendars.is_school_day(d, la))
    )
    found = 0
    for _ in range(MAX_SEARCH_DAYS * max(1, span.amount)):
        day += timedelta(days=1)
        if counts(day):
            found += 1
            if found == span.amount:
                return local_instant(day, span.at or END_OF_DAY)
    raise ValueError(f"no {span.unit.value} found after {start.isoformat()}: check the calendar files")


def next_day(start: datetime, nd: NextDay, calendars: Calendars, la: str | None) -> datetime:
    day = local_date(start)
    for _ in range(MAX_SEARCH_DAYS):
        ok = calendars.is_working_day(day) if nd.day == "working" else calendars.is_school_day(day, la)
        if ok:
            instant = local_instant(day, nd.at)
            if instant > start:
                return instant
        day += timedelta(days=1)
    raise ValueError(f"no {nd.day} day found after {start.isoformat()}: check the calendar files")


def add_due(start: datetime, due: Due, calendars: Calendars, la: str | None) -> datetime:
    if due.span is not None:
        return add_span(start, due.span, calendars, la)
    assert due.next_day is not None
    return next_day(start, due.next_day, calendars, la)
