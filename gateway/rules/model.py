"""The rule language (docs/rules.md): one YAML file per area under ``mappings/areas/``.

Models here check each rule on its own (shape, types, exactly one trigger...); checks that need the
whole rulebook (profiles exist, id expressions fit the recipient kind, purpose templates do not name a
field the profile withholds) are in :mod:`gateway.rules.loader`.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.model import Category, EventType, MissingFrom, RecipientKind, RiskLevel, Role
from gateway.model.enums import Urgency
from gateway.model.types import LaCode, PfaCode
from gateway.rules.conditions import Conditions, EpisodeCount, _listify
from gateway.rules.durations import After, Due, parse_clock

RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)+$")
AREA = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
EVENT_PLACEHOLDER = "event"

Consent = Literal["not_required", "not_sought"]
"""The consent position a rule records in the disclosure audit. Sharing to safeguard a child does not
rest on consent (DPA 2018 Sch 1 para 18 / Sch 8 para 4); ``not_sought`` records that it was not asked
for. The canonical model has no consent field, so the engine cannot gate on a child's consent."""

NORMALISABLE: dict[str, type] = {
    "episode.risk_level": RiskLevel,
    "episode.category": Category,
    "episode.missing_from": MissingFrom,
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class RecipientSpec(Strict):
    kind: RecipientKind
    id: list[str] = Field(
        min_length=1,
        description="an Episode path (care.host_la), a literal id (ukmpu), or a list (first that resolves)",
    )
    role: Role

    _ids = field_validator("id", mode="before")(_listify)

    def describe(self) -> str:
        return f"{self.kind.value}.{'|'.join(self.id)}.{self.role.value}"


class NotifyAction(RecipientSpec):
    profile: str
    urgency: Urgency = Urgency.immediate
    due: Due | None = None
    purpose: str | None = None

    @field_validator("urgency", mode="before")
    @classmethod
    def _urgency(cls, value: Any) -> Any:
        # `urgency: {digest: before_next_school_day}` and `urgency: "digest: before_next_school_day"`
        # are the design's spellings of the one digest schedule the engine has.
        if isinstance(value, dict):
            if value != {"digest": "before_next_school_day"}:
                raise ValueError("the only digest schedule is {digest: before_next_school_day}")
            return Urgency.digest
        if isinstance(value, str) and value.replace(" ", "") == "digest:before_next_school_day":
            return Urgency.digest
        return value


class TaskAction(RecipientSpec):
    what: str = Field(min_length=3, description="what must be done: the notification's purpose")
    due: Due
    profile: str
    urgency: Urgency = Urgency.standard
    topic: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_-]+$",
        description="tasks with the same topic to the same recipient for the same cause are one task",
    )

    @field_validator("urgency")
    @classmethod
    def _no_digest(cls, value: Urgency) -> Urgency:
        if value is Urgency.digest:
            raise ValueError("a task cannot be a digest: give it a due deadline instead")
        return value


class NormaliseAction(Strict):
    """Rewrite a value the area does not use (Warwickshire grades no child below medium), visibly:
    the original stays in ``risk_history`` and a ``data_quality`` entry records the change."""

    field: str
    from_: list[str] = Field(alias="from", min_length=1)
    to: str
    note: str | None = None

    _from = field_validator("from_", mode="before")(_listify)

    @model_validator(mode="after")
    def _values(self) -> NormaliseAction:
        enum = NORMALISABLE.get(self.field)
        if enum is None:
            raise ValueError(f"field {self.field!r} cannot be normalised; use one of {sorted(NORMALISABLE)}")
        valid = {e.value for e in enum}  # type: ignore[attr-defined]
        bad = [v for v in [*self.from_, self.to] if v not in valid]
        if bad:
            raise ValueError(f"{bad} are not values of {self.field}: {sorted(valid)}")
        if self.to in self.from_:
            raise ValueError(f"to ({self.to}) is also in from: the rule would rewrite a value to itself")
        return self


class Rule(Strict):
    id: str = Field(max_length=128)
    area: str | None = None
    cite: str = Field(min_length=1, max_length=128)
    description: str | None = None
    lawful_basis: str | None = Field(default=None, min_length=1)
    consent: Consent | None = None
    on: list[EventType] | None = None
    after: After | None = None
    episodes: EpisodeCount | None = None
    once: bool = False
    when: Conditions | None = None
    while_: Conditions | None = Field(default=None, alias="while")
    notify: list[NotifyAction] = Field(default_factory=list)
    task: list[TaskAction] = Field(default_factory=list)
    normalise: NormaliseAction | None = None

    _lists = field_validator("on", "notify", "task", mode="before")(
        lambda v: None if v is None else _listify(v)
    )

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not RULE_ID.match(value):
            raise ValueError(
                f"{value!r}: a rule id is '<area>.<name>' in lower case, e.g. staffordshire.escalate-24h"
            )
        return value

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        triggers = [n for n in ("on", "after", "episodes") if getattr(self, n) is not None]
        actions = len(self.notify) + len(self.task)
        if self.normalise is not None:
            if triggers or actions or self.while_ is not None or self.once:
                raise ValueError(
                    "a normalise rule has no trigger, no notify/task and no while: it applies "
                    "to every event before other rules (use `when` to restrict it)"
                )
            return self
        if len(triggers) != 1:
            raise ValueError(f"give exactly one trigger: on, after or episodes (got {triggers or 'none'})")
        if not actions:
            raise ValueError("give at least one action: notify, task or normalise")
        if self.after is not None:
            if self.while_ is None:
                raise ValueError(
                    "a time rule needs `while`: the condition that must still hold when it "
                    "fires (write `while: {}` to fire whatever happens)"
                )
            if self.once:
                raise ValueError("once is for event rules; a time rule fires once per occurrence anyway")
            if any(n.urgency is Urgency.digest for n in self.notify):
                raise ValueError("a time rule cannot send a digest; give it a due deadline")
        if self.on is not None and not self.on:
            raise ValueError("on needs at least one event type")
        return self

    @property
    def trigger(self) -> str:
        if self.normalise is not None:
            return "every event (normalise)"
        if self.on is not None:
            return "on " + ", ".join(e.value for e in self.on) + (" (once per episode)" if self.once else "")
        if self.after is not None:
            return self.after.describe()
        assert self.episodes is not None
        return self.episodes.describe() + " (once per episode)"

    @property
    def is_time_rule(self) -> bool:
        return self.after is not None

    def windows(self) -> set[int]:
        out: set[int] = {self.episodes.within} if self.episodes else set()
        for cond in (self.when, self.while_):
            if cond is not None:
                out |= cond.windows()
        return out


class AreaFile(Strict):
    """The header of an area file; ``rules`` are checked one by one (an error names its rule)."""

    area: str = Field(max_length=64)
    name: str = Field(min_length=1, description="the protocol this file encodes, with its version/date")
    source: str | None = None
    authorities: list[LaCode] = Field(default_factory=list)
    police_forces: list[PfaCode] = Field(default_factory=list)
    lawful_basis: str | None = Field(default=None, min_length=1)
    consent: Consent = "not_required"
    digest_time: time = time(7, 0)
    inherits: str | None = Field(
        default=None,
        description="a joint protocol's other council: its rules apply here too, under this area's ids",
    )
    inherits_except: list[str] = Field(
        default_factory=list,
        description="rule ids of the inherited file that do not apply to this council (its own branch)",
    )
    rules: list[Any] = Field(default_factory=list)

    _clock = field_validator("digest_time", mode="before")(lambda v: parse_clock(v))

    @field_validator("area")
    @classmethod
    def _area(cls, value: str) -> str:
        if not AREA.match(value):
            raise ValueError(f"{value!r}: an area is a lower-case slug, e.g. staffordshire")
        return value

    @model_validator(mode="after")
    def _scope(self) -> AreaFile:
        if self.area != "national" and not (self.authorities or self.police_forces):
            raise ValueError(
                "an area file declares the authorities (DfE LA codes) and/or police_forces "
                "(PFA codes) it covers; only `area: national` applies to every episode"
            )
        if self.area == "national" and (self.authorities or self.police_forces):
            raise ValueError("national applies to every episode: it has no authorities or police_forces")
        joint = self.inherits
        if joint is not None and (joint in (self.area, "national") or not AREA.match(joint)):
            raise ValueError(f"inherits {self.inherits!r}: name another area file (not national, not itself)")
        if self.inherits_except and joint is None:
            raise ValueError("inherits_except needs inherits: the file whose rules it leaves out")
        return self


def placeholders(template: str) -> list[str]:
    return PLACEHOLDER.findall(template)
