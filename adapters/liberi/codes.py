"""Liberi Missing Persons Pathway code lists (README §2 to §4) and their canonical values."""

from __future__ import annotations

EVENT_TYPES = {
    "MissingEpisodeOpened": "reported",
    "MissingEpisodeUpdated": "updated",  # or risk_changed: see adapters.liberi.payload.event_type
    "ChildFound": "found",
    "MissingConversationOffered": "return_interview_offered",
    "MissingConversationCompleted": "return_interview_completed",
    "MissingConversationDeclined": "return_interview_declined",
    "MissingEpisodeClosed": "closed",
    "MissingEpisodeCancelled": "cancelled",
}
CONVERSATION_EVENTS = frozenset(
    {"MissingConversationOffered", "MissingConversationCompleted", "MissingConversationDeclined"}
)

# pathwayStatus is not mapped; it is checked against the event type (README §4). The sets are generous:
# a mismatch is only flagged to operators, never a reason to refuse a notice.
PATHWAY_STATUSES = ("Open", "Found", "Closed", "Cancelled")
EXPECTED_STATUS = {
    "MissingEpisodeOpened": {"Open"},
    "MissingEpisodeUpdated": {"Open", "Found"},
    "ChildFound": {"Found", "Closed"},
    "MissingConversationOffered": {"Found", "Closed"},
    "MissingConversationCompleted": {"Found", "Closed"},
    "MissingConversationDeclined": {"Found", "Closed"},
    "MissingEpisodeClosed": {"Closed"},
    "MissingEpisodeCancelled": {"Cancelled"},
}

GENDER = {"Female": "female", "Male": "male", "Other": "other", "NotKnown": "unknown"}
LEGAL_STATUS = {
    "S20": "s20",
    "S31": "s31_care_order",
    "S38": "s38_interim",
    "Remand": "remand",
    "PoliceProtection": "police_protection",
    "None": "none",
    "Unknown": "unknown",
}
CASE_STATUS = {"Open": "open", "Closed": "closed", "NotKnown": "not_known"}
CATEGORY = {
    "Missing": "missing",
    "AwayFromPlacement": "away_without_authorisation",
    "UnauthorisedAbsence": "unauthorised_absence",
}
MISSING_FROM = {
    "Home": "home",
    "Placement": "care_placement",
    "School": "education",
    "Hospital": "health_setting",
    "Other": "other",
}
RISK_LEVEL = {
    "NoApparentRisk": "no_apparent_risk",
    "VeryLow": "very_low",
    "Low": "low",
    "Medium": "medium",
    "High": "high",
}
RISK_INDICATORS = {
    "ChildSexualExploitation": "cse",
    "ChildCriminalExploitation": "cce",
    "CountyLines": "county_lines",
    "Trafficking": "trafficking",
    "ModernSlavery": "modern_slavery",
    "GangAffiliation": "gang",
    "SelfHarm": "self_harm",
    "SuicideRisk": "suicide_risk",
    "MentalHealth": "mental_health",
    "SubstanceMisuse": "substance_misuse",
    "MedicalNeed": "medical_need",
    "Disability": "disability",
    "Pregnancy": "pregnancy",
    "Radicalisation": "radicalisation",
    "FGM": "fgm",
    "ForcedMarriage": "forced_marriage",
    "MissingWithFamily": "missing_with_family",
    "UnaccompaniedAsylumSeeker": "uasc",
    "UnlawfullyAtLarge": "unlawfully_at_large",
    "Abduction": "abduction",
}
FOUND_BY = {
    "Police": "police",
    "ParentOrCarer": "parent_or_carer",
    "SelfReturned": "self",
    "OtherAgency": "other_agency",
    "Health": "health",
    "MemberOfPublic": "member_of_public",
}
PLACEMENT_TYPE = {
    "FosterCare": "foster",
    "ChildrensHome": "childrens_home",
    "SemiIndependent": "semi_independent",
    "PlacedWithParents": "with_parents",
    "SecureUnit": "secure",
    "SupportedLodgings": "supported_lodgings",
    "Other": "other",
}
