"""Code lists of the canonical contract (contracts/CANONICAL.md). Values are binding."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    reported = "reported"
    updated = "updated"
    risk_changed = "risk_changed"
    found = "found"
    safe_and_well_completed = "safe_and_well_completed"
    return_interview_offered = "return_interview_offered"
    return_interview_completed = "return_interview_completed"
    return_interview_declined = "return_interview_declined"
    closed = "closed"
    cancelled = "cancelled"


class SourceSystem(StrEnum):
    compact = "compact"
    mosaic = "mosaic"
    liquidlogic = "liquidlogic"
    liberi = "liberi"
    nhs = "nhs"
    manual = "manual"


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"


class Category(StrEnum):
    missing = "missing"
    away_without_authorisation = "away_without_authorisation"
    unauthorised_absence = "unauthorised_absence"


class MissingFrom(StrEnum):
    home = "home"
    care_placement = "care_placement"
    education = "education"
    health_setting = "health_setting"
    other = "other"


class RiskLevel(StrEnum):
    no_apparent_risk = "no_apparent_risk"
    very_low = "very_low"
    low = "low"
    medium = "medium"
    high = "high"


RISK_ORDER = {level: rank for rank, level in enumerate(RiskLevel)}
"""Police APP continuum, lowest first: lets rules say ``risk_level >= medium``."""


class RiskFactor(StrEnum):
    cse = "cse"
    cce = "cce"
    county_lines = "county_lines"
    trafficking = "trafficking"
    modern_slavery = "modern_slavery"
    gang = "gang"
    self_harm = "self_harm"
    suicide_risk = "suicide_risk"
    mental_health = "mental_health"
    substance_misuse = "substance_misuse"
    medical_need = "medical_need"
    disability = "disability"
    pregnancy = "pregnancy"
    radicalisation = "radicalisation"
    fgm = "fgm"
    forced_marriage = "forced_marriage"
    missing_with_family = "missing_with_family"
    uasc = "uasc"
    unlawfully_at_large = "unlawfully_at_large"
    abduction = "abduction"


class FoundBy(StrEnum):
    police = "police"
    parent_or_carer = "parent_or_carer"
    self = "self"
    other_agency = "other_agency"
    health = "health"
    member_of_public = "member_of_public"


class LegalStatus(StrEnum):
    s20 = "s20"
    s31_care_order = "s31_care_order"
    s38_interim = "s38_interim"
    remand = "remand"
    police_protection = "police_protection"
    none = "none"
    unknown = "unknown"


class CaseStatus(StrEnum):
    open = "open"
    closed = "closed"
    not_known = "not_known"


class PlacementType(StrEnum):
    foster = "foster"
    childrens_home = "childrens_home"
    semi_independent = "semi_independent"
    with_parents = "with_parents"
    secure = "secure"
    supported_lodgings = "supported_lodgings"
    other = "other"


class EpisodeStatus(StrEnum):
    open = "open"
    found = "found"
    closed = "closed"
    cancelled = "cancelled"


class RecipientKind(StrEnum):
    la = "la"
    school = "school"
    health = "health"
    police = "police"
    provider = "provider"
    national = "national"


class NotificationKind(StrEnum):
    notify = "notify"
    task = "task"


class Urgency(StrEnum):
    """How soon a notification must reach its recipient (docs/rules.md): ``immediate`` and ``standard``
    are sent when the rule fires (delivery may order them); ``digest`` is held and sent before the next
    school day (Operation Encompass style), with the episode as it stands then."""

    immediate = "immediate"
    standard = "standard"
    digest = "digest"


class Role(StrEnum):
    """Recipient roles (CANONICAL.md). Extend only when a protocol needs it."""

    front_door = "front_door"
    edt = "edt"
    missing_coordinator = "missing_coordinator"
    allocated_worker = "allocated_worker"
    team_manager = "team_manager"
    service_manager = "service_manager"
    head_of_service = "head_of_service"
    assistant_director = "assistant_director"
    director = "director"
    iro = "iro"
    virtual_school = "virtual_school"
    school_dsl = "school_dsl"
    named_nurse_lac = "named_nurse_lac"
    designated_nurse = "designated_nurse"
    health_safeguarding = "health_safeguarding"
    gp = "gp"
    police_missing_team = "police_missing_team"
    rhi_provider = "rhi_provider"
    placement_provider = "placement_provider"
    youth_justice = "youth_justice"
    home_office = "home_office"
    ukmpu = "ukmpu"
