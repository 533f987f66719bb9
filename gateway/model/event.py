"""MissingEpisodeEvent (``missing-episode-event/1``): what every adapter produces.

Field names follow contracts/CANONICAL.md §1 exactly. Unknown fields are refused (``extra="forbid"``)
so a typo in a mapping fails loudly instead of silently dropping a value.
"""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from gateway.model.enums import (
    CaseStatus,
    Category,
    EventType,
    FoundBy,
    LegalStatus,
    MissingFrom,
    PlacementType,
    RiskFactor,
    RiskLevel,
    Sex,
    SourceSystem,
)
from gateway.model.types import LaCode, NhsNumber, NonEmptyStr, PfaCode, UtcDateTime

EVENT_SCHEMA = "missing-episode-event/1"


class Canonical(BaseModel):
    """Base for every canonical shape: strict about unknown fields, trims whitespace."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


class LaId(Canonical):
    la_code: LaCode
    id: NonEmptyStr


class ChildIds(Canonical):
    nhs_number: NhsNumber | None = None
    la_ids: list[LaId] = Field(default_factory=list)
    police_person_id: str | None = None
    upn: str | None = None


class Child(Canonical):
    ids: ChildIds = Field(default_factory=ChildIds)
    given_name: str | None = None
    family_name: str | None = None
    known_as: str | None = None
    date_of_birth: date | None = None
    sex: Sex | None = None
    description: str | None = None
    languages: list[str] = Field(default_factory=list)
    interpreter_needed: bool | None = None


class Location(Canonical):
    text: str | None = None
    postcode: str | None = None


class PoliceRef(Canonical):
    force: PfaCode | None = None
    reference: str | None = None


class EpisodeFacts(Canonical):
    category: Category | None = None
    missing_from: MissingFrom | None = None
    last_seen_at: UtcDateTime | None = None
    last_seen_location: Location | None = None
    reported_at: UtcDateTime | None = None
    risk_level: RiskLevel | None = None
    risk_assessed_at: UtcDateTime | None = None
    risk_assessed_by: str | None = None
    risk_factors: set[RiskFactor] = Field(default_factory=set)
    circumstances: str | None = None
    police: PoliceRef | None = None
    found_at: UtcDateTime | None = None
    found_location: Location | None = None
    found_by: FoundBy | None = None
    harm_disclosed: bool | None = None


class Placement(Canonical):
    type: PlacementType | None = None
    provider: str | None = None
    ofsted_urn: str | None = None
    postcode: str | None = None


class Worker(Canonical):
    name: str | None = None
    team: str | None = None
    email: str | None = None
    phone: str | None = None


class CareContext(Canonical):
    looked_after: bool | None = None
    legal_status: LegalStatus | None = None
    cp_plan: bool | None = None
    child_in_need: bool | None = None
    early_help: bool | None = None
    case_status: CaseStatus | None = None
    responsible_la: LaCode | None = None
    host_la: LaCode | None = None
    placement: Placement | None = None
    allocated_worker: Worker | None = None
    iro: Worker | None = None


class Education(Canonical):
    school_urn: str | None = None
    school_name: str | None = None
    electively_home_educated: bool | None = None


class HealthContext(Canonical):
    gp_ods: str | None = None
    named_nurse_ods: str | None = None
    nhs_alert_requested: bool | None = None


class ReturnInterview(Canonical):
    offered_at: UtcDateTime | None = None
    completed_at: UtcDateTime | None = None
    declined: bool | None = None
    provider: str | None = None


class Source(Canonical):
    system: SourceSystem
    instance: NonEmptyStr
    record_id: NonEmptyStr
    event_id: str | None = None


class DataQualityIssue(Canonical):
    """A value the adapter could not accept: left out of the canonical fields, shown to operators."""

    field: str
    problem: str
    original: str | None = None


class AttachmentRef(Canonical):
    """Claim-check reference: bytes never travel inside a message."""

    kind: str
    ref: str
    media_type: str | None = None
    sha256: str | None = None


class MissingEpisodeEvent(Canonical):
    schema_: Literal["missing-episode-event/1"] = Field(default="missing-episode-event/1", alias="schema")
    event_id: UUID = Field(default_factory=uuid4)
    event_type: EventType
    occurred_at: UtcDateTime
    recorded_at: UtcDateTime | None = None
    received_at: UtcDateTime
    source: Source
    idempotency_key: NonEmptyStr
    child: Child
    episode: EpisodeFacts = Field(default_factory=EpisodeFacts)
    care: CareContext | None = None
    education: Education | None = None
    health: HealthContext | None = None
    return_interview: ReturnInterview | None = None
    data_quality: list[DataQualityIssue] = Field(default_factory=list)
    attachments: list[AttachmentRef] = Field(default_factory=list)

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()
