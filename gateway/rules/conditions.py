"""Conditions over an Episode (``when:`` and ``while:`` in a rule) and their evaluation.

Every predicate in a mapping must hold (AND); ``any``, ``all`` and ``not`` combine mappings. A value the
episode does not have (no date of birth, no care context from a police-only feed) matches **only** when
the rule lists ``unknown`` for it: a rule author decides, visibly, whether the unknown case is included.
Evaluation returns one :class:`Check` per predicate with a reason, which is what ``gateway rules
explain`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from gateway.model import (
    CaseStatus,
    Category,
    Episode,
    EpisodeStatus,
    LegalStatus,
    MissingFrom,
    PlacementType,
    RiskFactor,
    RiskLevel,
)
from gateway.model.enums import RISK_ORDER
from gateway.model.types import LONDON, LaCode, PfaCode
from gateway.rules.calendars import Calendars, local_date
from gateway.rules.durations import parse_clock
from gateway.rules.paths import get_value, is_path, is_set

UNKNOWN = "unknown"
Unknown = Literal["unknown"]


def _listify(value: Any) -> Any:
    return value if isinstance(value, list) else [value]


def _unknown_or_value(value: Any) -> str:
    return "Unknown" if value == UNKNOWN else "Value"


T = TypeVar("T")
OneOrMany = Annotated[list[T], BeforeValidator(_listify), Field(min_length=1)]
"""One value or a list of them."""
OrUnknown = Annotated[
    Annotated[T, Tag("Value")] | Annotated[Unknown, Tag("Unknown")], Discriminator(_unknown_or_value)
]
"""A value or the word ``unknown``; tagged, so that a bad value gets one error, not one per branch."""


def _risk_kind(value: Any) -> str:
    return "Bound" if isinstance(value, dict | RiskBound) else "Levels"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class RiskBound(Strict):
    """``{at_least: medium}`` / ``{at_most: low}`` on the police APP continuum (RISK_ORDER)."""

    at_least: RiskLevel | None = None
    at_most: RiskLevel | None = None
    unknown: bool = False

    @model_validator(mode="after")
    def _bounded(self) -> RiskBound:
        if self.at_least is None and self.at_most is None:
            raise ValueError("give at_least and/or at_most")
        if self.at_least and self.at_most and RISK_ORDER[self.at_least] > RISK_ORDER[self.at_most]:
            raise ValueError(f"at_least {self.at_least} is above at_most {self.at_most}: nothing can match")
        return self


class AgeRange(Strict):
    """Whole years at ``last_seen_at`` (Europe/London date), **inclusive at both ends**:
    ``{min: 4, max: 17}`` means 4 ≤ age ≤ 17."""

    min: int | None = Field(default=None, ge=0, le=25)
    max: int | None = Field(default=None, ge=0, le=25)
    unknown: bool = False

    @model_validator(mode="after")
    def _bounded(self) -> AgeRange:
        if self.min is None and self.max is None:
            raise ValueError("give min and/or max (whole years, inclusive)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}: nothing can match")
        return self


class FactorSet(Strict):
    any: list[RiskFactor] = Field(default_factory=list)
    all: list[RiskFactor] = Field(default_factory=list)
    none: list[RiskFactor] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> FactorSet:
        if not (self.any or self.all or self.none):
            raise ValueError("give any, all and/or none (lists of risk factors)")
        return self


class EpisodeCount(Strict):
    """The child's episodes that started in a window ending at this one (Episode.episode_counts)."""

    within: int = Field(ge=1, le=3660, description="days")
    at_least: int | None = Field(default=None, ge=1)
    at_most: int | None = Field(default=None, ge=1)
    exactly: int | None = Field(default=None, ge=1)

    @field_validator("within", mode="before")
    @classmethod
    def _days(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().lower().replace(" ", "")
            for suffix in ("days", "day", "d"):
                if text.endswith(suffix) and text[: -len(suffix)].isdigit():
                    return int(text[: -len(suffix)])
            raise ValueError(f"{value!r}: write the window in days, e.g. 90d")
        return value

    @model_validator(mode="after")
    def _bounded(self) -> EpisodeCount:
        if self.at_least is None and self.at_most is None and self.exactly is None:
            raise ValueError("give at_least, at_most or exactly")
        if self.exactly is not None and (self.at_least is not None or self.at_most is not None):
            raise ValueError("exactly cannot be combined with at_least/at_most")
        return self

    @property
    def window(self) -> str:
        return f"{self.within}d"

    def describe(self) -> str:
        parts = []
        if self.exactly is not None:
            parts.append(f"exactly {self.exactly}")
        if self.at_least is not None:
            parts.append(f"at least {self.at_least}")
        if self.at_most is not None:
            parts.append(f"at most {self.at_most}")
        return f"{' and '.join(parts)} episodes within {self.within} days"


class TimeWindow(Strict):
    """Wall-clock window in Europe/London, ``from`` inclusive, ``to`` exclusive; wraps midnight when
    ``from`` is later than ``to`` (``{from: "17:00", to: "09:00"}`` is out of office hours)."""

    start: time = Field(alias="from")
    end: time = Field(alias="to")

    _clock = field_validator("start", "end", mode="before")(lambda v: parse_clock(v))

    @model_validator(mode="after")
    def _distinct(self) -> TimeWindow:
        if self.start == self.end:
            raise ValueError("from and to are the same time: the window would be empty")
        return self

    def contains(self, t: time) -> bool:
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end


class Conditions(Strict):
    status: OneOrMany[EpisodeStatus] | None = None
    category: OneOrMany[OrUnknown[Category]] | None = None
    missing_from: OneOrMany[OrUnknown[MissingFrom]] | None = None
    risk_level: (
        Annotated[
            Annotated[RiskBound, Tag("Bound")] | Annotated[OneOrMany[OrUnknown[RiskLevel]], Tag("Levels")],
            Discriminator(_risk_kind),
        ]
        | None
    ) = None
    risk_factors: FactorSet | None = None
    age: AgeRange | None = None
    looked_after: OneOrMany[OrUnknown[bool]] | None = None
    legal_status: OneOrMany[OrUnknown[LegalStatus]] | None = None
    case_status: OneOrMany[OrUnknown[CaseStatus]] | None = None
    cp_plan: OneOrMany[OrUnknown[bool]] | None = None
    child_in_need: OneOrMany[OrUnknown[bool]] | None = None
    early_help: OneOrMany[OrUnknown[bool]] | None = None
    placement_type: OneOrMany[OrUnknown[PlacementType]] | None = None
    harm_disclosed: OneOrMany[OrUnknown[bool]] | None = None
    electively_home_educated: OneOrMany[OrUnknown[bool]] | None = None
    out_of_area: bool | None = None
    placed_in_area: bool | None = None
    placed_out_of_area: bool | None = None
    responsible_la: OneOrMany[OrUnknown[LaCode]] | None = None
    host_la: OneOrMany[OrUnknown[LaCode]] | None = None
    police_force: OneOrMany[OrUnknown[PfaCode]] | None = None
    episodes: EpisodeCount | None = None
    time_of_day: TimeWindow | None = None
    working_day: bool | None = None
    school_day: bool | None = None
    present: OneOrMany[str] | None = None
    absent: OneOrMany[str] | None = None
    any_: list[Conditions] | None = Field(default=None, alias="any", min_length=1)
    all_: list[Conditions] | None = Field(default=None, alias="all", min_length=1)
    not_: Conditions | None = Field(default=None, alias="not")

    @field_validator("present", "absent")
    @classmethod
    def _paths(cls, paths: list[str] | None) -> list[str] | None:
        for p in paths or []:
            if not is_path(p):
                raise ValueError(f"{p!r} is not a field of the Episode")
        return paths

    def is_empty(self) -> bool:
        return not self.model_fields_set

    def uses(self, name: str) -> bool:
        """Whether this condition (or any nested one) uses predicate ``name``."""
        if getattr(self, name, None) is not None:
            return True
        nested = [*(self.any_ or []), *(self.all_ or []), *([self.not_] if self.not_ else [])]
        return any(c.uses(name) for c in nested)

    def windows(self) -> set[int]:
        found = {self.episodes.within} if self.episodes else set()
        for c in [*(self.any_ or []), *(self.all_ or []), *([self.not_] if self.not_ else [])]:
            found |= c.windows()
        return found


TIME_PREDICATES = ("time_of_day", "working_day", "school_day")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class EvalContext:
    """What a condition is evaluated against. ``now`` is the evaluation instant (when the event is
    processed or the timer fires): time-of-day and working/school-day predicates read it.
    ``defer_time`` (arming a timer) treats those predicates as holding: they are checked when it fires.
    """

    episode: Episode
    now: datetime
    calendars: Calendars
    authorities: frozenset[str] = frozenset()
    defer_time: bool = False
    notes: list[str] = field(default_factory=list)


def age_on(dob: date, on: date) -> int:
    """Whole years. Someone born on 29 February has their birthday on 1 March in a common year."""
    years = on.year - dob.year
    try:
        anniversary = dob.replace(year=on.year)
    except ValueError:
        anniversary = date(on.year, 3, 1)
    return years - 1 if on < anniversary else years


def age_reference(episode: Episode) -> tuple[datetime | None, str]:
    facts = episode.episode
    if facts.last_seen_at:
        return facts.last_seen_at, "last_seen_at"
    if facts.reported_at:
        return facts.reported_at, "reported_at (last_seen_at unknown)"
    return episode.opened_at, "opened_at (last_seen_at unknown)"


def age_at_last_seen(episode: Episode) -> tuple[int | None, str]:
    dob = episode.child.date_of_birth
    at, label = age_reference(episode)
    if dob is None or at is None:
        return None, label
    return age_on(dob, local_date(at)), label


def _fmt(value: Any) -> str:
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, set, tuple)):
        return "[" + ", ".join(sorted(_fmt(v) for v in value)) + "]"
    return str(getattr(value, "value", value))


def _member(name: str, value: Any, allowed: list[Any]) -> Check:
    key: Any = UNKNOWN if value is None else value
    ok = key in allowed
    return Check(name, ok, f"{name} is {_fmt(value)}; rule wants {_fmt(allowed)}")


def _risk(value: RiskLevel | None, want: RiskBound | list[Any]) -> Check:
    if isinstance(want, list):
        return _member("risk_level", value, want)
    if value is None:
        return Check(
            "risk_level",
            want.unknown,
            f"risk_level unknown; rule {'includes' if want.unknown else 'excludes'} unknown",
        )
    rank = RISK_ORDER[value]
    ok = (want.at_least is None or rank >= RISK_ORDER[want.at_least]) and (
        want.at_most is None or rank <= RISK_ORDER[want.at_most]
    )
    bounds = " and ".join(
        b
        for b in (
            f">= {want.at_least.value}" if want.at_least else "",
            f"<= {want.at_most.value}" if want.at_most else "",
        )
        if b
    )
    return Check("risk_level", ok, f"risk_level is {value.value}; rule wants {bounds}")


def _age(episode: Episode, want: AgeRange) -> Check:
    age, label = age_at_last_seen(episode)
    low = want.min if want.min is not None else 0
    high = want.max if want.max is not None else "any"
    span = f"{low}..{high} (inclusive)"
    if age is None:
        return Check(
            "age",
            want.unknown,
            f"age unknown (no date of birth); rule wants {span}"
            + ("; unknown included" if want.unknown else ""),
        )
    ok = (want.min is None or age >= want.min) and (want.max is None or age <= want.max)
    return Check("age", ok, f"age {age} at {label}; rule wants {span}")


def _factors(episode: Episode, want: FactorSet) -> Check:
    have = set(episode.episode.risk_factors)
    ok = True
    parts = []
    if want.any:
        ok &= bool(have & set(want.any))
        parts.append(f"any of {_fmt(want.any)}")
    if want.all:
        ok &= set(want.all) <= have
        parts.append(f"all of {_fmt(want.all)}")
    if want.none:
        ok &= not (have & set(want.none))
        parts.append(f"none of {_fmt(want.none)}")
    return Check("risk_factors", ok, f"risk_factors {_fmt(have)}; rule wants {', '.join(parts)}")


def _count(episode: Episode, want: EpisodeCount) -> Check:
    count = episode.episode_counts.get(want.window)
    if count is None:
        count = getattr(episode, f"episode_count_{want.window}", None)
    if count is None:
        return Check("episodes", False, f"no episode count for the {want.window} window (not computed)")
    ok = (
        (want.exactly is None or count == want.exactly)
        and (want.at_least is None or count >= want.at_least)
        and (want.at_most is None or count <= want.at_most)
    )
    return Check("episodes", ok, f"{count} episodes within {want.within} days; rule wants {want.describe()}")


def _areas(ctx: EvalContext, name: str, want: bool) -> Check:
    care = ctx.episode.care
    resp = care.responsible_la if care else None
    host = care.host_la if care else None
    if name == "out_of_area":
        actual = resp is not None and host is not None and resp != host
        why = f"responsible {resp or UNKNOWN}, host {host or UNKNOWN}"
    elif name == "placed_in_area":
        actual = host in ctx.authorities and resp is not None and resp not in ctx.authorities
        where = "in" if host in ctx.authorities else "not in"
        why = f"host {host or UNKNOWN} {where} this area, responsible {resp or UNKNOWN}"
    else:
        actual = resp in ctx.authorities and host is not None and host not in ctx.authorities
        where = "in" if resp in ctx.authorities else "not in"
        why = f"responsible {resp or UNKNOWN} {where} this area, host {host or UNKNOWN}"
    return Check(name, actual == want, f"{name} is {_fmt(actual)} ({why}); rule wants {_fmt(want)}")


def evaluate(cond: Conditions | None, ctx: EvalContext, prefix: str = "") -> list[Check]:
    """One Check per predicate; the condition holds when every Check is ok."""
    if cond is None:
        return []
    ep = ctx.episode
    care = ep.care
    checks: list[Check] = []
    now_local = ctx.now.astimezone(LONDON)
    for name in type(cond).model_fields:  # model order, so explanations read the same every time
        if name not in cond.model_fields_set:
            continue
        want = getattr(cond, name)
        if want is None:
            continue
        label = prefix + (name.rstrip("_"))
        if name in TIME_PREDICATES and ctx.defer_time:
            checks.append(Check(label, True, f"{name}: checked when the timer fires"))
            continue
        match name:
            case "status":
                check = _member("status", ep.status, want)
            case "category" | "missing_from":
                check = _member(name, getattr(ep.episode, name), want)
            case "risk_level":
                check = _risk(ep.episode.risk_level, want)
            case "risk_factors":
                check = _factors(ep, want)
            case "age":
                check = _age(ep, want)
            case "looked_after" | "legal_status" | "case_status" | "cp_plan" | "child_in_need" | "early_help":
                check = _member(name, getattr(care, name) if care else None, want)
            case "responsible_la" | "host_la":
                check = _member(name, getattr(care, name) if care else None, want)
            case "placement_type":
                placement = care.placement if care else None
                check = _member(name, placement.type if placement else None, want)
            case "harm_disclosed":
                check = _member(name, ep.episode.harm_disclosed, want)
            case "electively_home_educated":
                check = _member(name, ep.education.electively_home_educated if ep.education else None, want)
            case "police_force":
                check = _member(name, ep.episode.police.force if ep.episode.police else None, want)
            case "out_of_area" | "placed_in_area" | "placed_out_of_area":
                check = _areas(ctx, name, want)
            case "episodes":
                check = _count(ep, want)
            case "time_of_day":
                t = now_local.time().replace(tzinfo=None)
                ok = want.contains(t)
                check = Check(
                    name, ok, f"local time {t:%H:%M}; rule wants {want.start:%H:%M}-{want.end:%H:%M}"
                )
            case "working_day":
                day = now_local.date()
                actual = ctx.calendars.is_working_day(day)
                why = "" if actual else f" ({ctx.calendars.why_not_working(day)})"
                check = Check(name, actual == want, f"{day} is {'' if actual else 'not '}a working day{why}")
            case "school_day":
                day = now_local.date()
                la = care.host_la if care else None
                actual = ctx.calendars.is_school_day(day, la)
                why = "" if actual else f" ({ctx.calendars.why_not_school(day, la)})"
                check = Check(name, actual == want, f"{day} is {'' if actual else 'not '}a school day{why}")
            case "present" | "absent":
                missing = [p for p in want if not is_set(get_value(ep, p))]
                if name == "present":
                    check = Check(name, not missing, f"missing: {missing}" if missing else f"{want} present")
                else:
                    there = [p for p in want if p not in missing]
                    check = Check(name, not there, f"present: {there}" if there else f"{want} absent")
            case "any_":
                subs = [evaluate(c, ctx, prefix=f"{label}[{i}].") for i, c in enumerate(want)]
                ok = any(all(c.ok for c in s) for s in subs)
                checks.append(Check(label, ok, "at least one branch holds" if ok else "no branch holds"))
                checks.extend(Check(c.name, c.ok, c.detail) for s in subs for c in s if not ok)
                continue
            case "all_":
                subs = [evaluate(c, ctx, prefix=f"{label}[{i}].") for i, c in enumerate(want)]
                checks.extend(c for s in subs for c in s)
                continue
            case "not_":
                sub = evaluate(want, ctx, prefix=f"{label}.")
                inner = all(c.ok for c in sub)
                checks.append(
                    Check(
                        label, not inner, "the negated condition " + ("holds" if inner else "does not hold")
                    )
                )
                continue
            case _:  # pragma: no cover - every field is handled above
                raise AssertionError(name)
        checks.append(Check(label, check.ok, check.detail))
    return checks


def holds(checks: list[Check]) -> bool:
    return all(c.ok for c in checks)
