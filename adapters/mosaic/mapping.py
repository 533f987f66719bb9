"""A Mosaic deployment's mapping: ``mappings/sources/mosaic/<instance>.yaml``.

Mosaic is configured locally (step type ids and question codes are each council's own), so the meaning
of an event is data, validated here when the file is loaded: an unknown key, a canonical field the
adapter cannot fill, or a lookup value that is not a canonical code fails loudly, naming the field,
before any event is read with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from gateway.model import Category, FoundBy, MissingFrom, RiskFactor, RiskLevel

AnswerType = Literal["date", "lookup", "text", "number"]
Kind = Literal["datetime", "text", "enum", "bool", "set", "outcome"]
QuestionCode = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


@dataclass(frozen=True)
class Target:
    """What a canonical field needs from an answer."""

    kind: Kind
    choices: frozenset[str] = frozenset()

    def answer_types(self) -> set[str]:
        if self.kind == "datetime":
            return {"date"}
        if self.kind == "text":
            return {"text", "lookup", "number"}
        return {"lookup"}


def _enum(e: type[StrEnum], kind: Kind = "enum") -> Target:
    return Target(kind, frozenset(m.value for m in e))


OUTCOMES = frozenset({"completed", "declined"})

# The canonical fields a form answer may fill (mosaic README §4). Extending the list is a code change
# on purpose: each new field needs a decision about how it is read.
TARGETS: dict[str, Target] = {
    "episode.category": _enum(Category),
    "episode.missing_from": _enum(MissingFrom),
    "episode.last_seen_at": Target("datetime"),
    "episode.last_seen_location.text": Target("text"),
    "episode.last_seen_location.postcode": Target("text"),
    "episode.reported_at": Target("datetime"),
    "episode.police.force": Target("text"),
    "episode.police.reference": Target("text"),
    "episode.risk_level": _enum(RiskLevel),
    "episode.risk_assessed_at": Target("datetime"),
    "episode.risk_assessed_by": Target("text"),
    "episode.risk_factors": _enum(RiskFactor, "set"),
    "episode.circumstances": Target("text"),
    "episode.found_at": Target("datetime"),
    "episode.found_location.text": Target("text"),
    "episode.found_location.postcode": Target("text"),
    "episode.found_by": _enum(FoundBy),
    "episode.harm_disclosed": Target("bool"),
    "return_interview.offered_at": Target("datetime"),
    "return_interview.completed_at": Target("datetime"),
    "return_interview.provider": Target("text"),
    "return_interview.outcome": Target("outcome", OUTCOMES),
}


class FieldSource(BaseModel):
    """Where one canonical field comes from: a question (``code``), a date question plus a time question
    (``date_code`` + ``time_code``), and/or a ``default`` used when the form does not answer."""

    model_config = ConfigDict(extra="forbid")

    code: QuestionCode | None = None
    type: AnswerType | None = None
    values: dict[str, str | bool] | None = None
    multiple: bool = False
    use: Literal["code", "text"] = "code"
    date_code: QuestionCode | None = None
    time_code: QuestionCode | None = None
    default: str | bool | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        split = self.date_code is not None or self.time_code is not None
        if split and (self.date_code is None or self.time_code is None):
            raise ValueError("date_code and time_code go together")
        if split and self.code is not None:
            raise ValueError("give either code or date_code + time_code, not both")
        if self.code is None and not split and self.default is None:
            raise ValueError("needs a code, date_code + time_code, or a default")
        if self.code is not None and self.type is None:
            raise ValueError("a code needs its answer type (date | lookup | text | number)")
        if self.code is None and (self.type is not None or self.values is not None or self.multiple):
            raise ValueError("type, values and multiple describe a question: give its code")
        if self.values is not None and self.type != "lookup":
            raise ValueError("values only apply to lookup questions")
        return self

    def question_codes(self) -> list[str]:
        return [c for c in (self.code, self.date_code, self.time_code) if c is not None]


class MosaicDeployment(BaseModel):
    """One council's Mosaic. See adapters/mosaic/README.md "Writing a mapping"."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    la_code: Annotated[str, StringConstraints(pattern=r"^\d{3}$")]
    la_name: str
    timezone: str = "Europe/London"
    missing_episode_step_types: dict[int, str] = Field(min_length=1)
    return_interview_step_types: dict[int, str] = Field(default_factory=dict)
    fields: dict[str, FieldSource] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _fields(self) -> Self:
        both = set(self.missing_episode_step_types) & set(self.return_interview_step_types)
        if both:
            raise ValueError(f"step types {sorted(both)} are both missing-episode and return-interview types")
        for path, source in self.fields.items():
            target = TARGETS.get(path)
            if target is None:
                raise ValueError(
                    f"fields.{path}: not a canonical field this adapter can fill; "
                    f"known: {', '.join(sorted(TARGETS))}"
                )
            _check_source(path, target, source)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def step_kind(self, step_type_id: int) -> Literal["episode", "return_interview"] | None:
        if step_type_id in self.missing_episode_step_types:
            return "episode"
        if step_type_id in self.return_interview_step_types:
            return "return_interview"
        return None


def _check_source(path: str, target: Target, source: FieldSource) -> None:
    where = f"fields.{path}"
    if source.date_code is not None and target.kind != "datetime":
        raise ValueError(f"{where}: date_code + time_code only fill a date-time field")
    if source.type is not None and source.type not in target.answer_types():
        raise ValueError(
            f"{where}: a {target.kind} field cannot come from a {source.type} answer "
            f"(use {' or '.join(sorted(target.answer_types()))})"
        )
    if (source.multiple or target.kind == "set") and not (source.multiple and target.kind == "set"):
        raise ValueError(
            f"{where}: multiple: true goes with a field that holds a set (risk_factors)"
            if source.multiple
            else f"{where}: this field holds a set: add multiple: true"
        )
    needs_values = target.kind in ("enum", "bool", "set", "outcome")
    if source.code is not None and needs_values and not source.values:
        raise ValueError(f"{where}: list the lookup codes under values (code -> canonical value)")
    for code, value in (source.values or {}).items():
        _check_value(f"{where}.values.{code}", target, value)
    if source.default is not None:
        if target.kind == "datetime":
            raise ValueError(f"{where}: a date-time field cannot have a default")
        _check_value(f"{where}.default", target, source.default)


def _check_value(where: str, target: Target, value: str | bool) -> None:
    if target.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: must be true or false")
        return
    if isinstance(value, bool):
        raise ValueError(f"{where}: must be text, not a boolean (quote codes such as Y, N, yes, no)")
    if target.choices and value not in target.choices:
        raise ValueError(f"{where}: {value!r} is not one of {', '.join(sorted(target.choices))}")
