"""Liquidlogic LCS code lists (README §2, §4). The CSV and the XML use the same codes."""

from __future__ import annotations

DELTA_ACTIONS = ("INSERT", "UPDATE", "DELETE")
GENDER = {"M": "male", "F": "female", "I": "other", "U": "unknown"}
FLAGS = {"Y": True, "N": False}
YES_NO_NA = ("Yes", "No", "NA")

MISSING_STATUS = {
    "Missing": "missing",
    # SSDA903 code A: away from placement without authorisation, whereabouts known.
    "Absent": "away_without_authorisation",
}
LOCATION_MISSING_FROM = {
    "Home": "home",
    "Placement": "care_placement",
    "School": "education",
    "Hospital": "health_setting",
    "Other": "other",
}
RISK_LEVEL = {
    "High": "high",
    "Medium": "medium",
    "Low": "low",
    "Very Low": "very_low",
    "No Apparent Risk": "no_apparent_risk",
}
RISK_FACTORS = frozenset(
    {
        "CSE",
        "CCE",
        "COUNTY_LINES",
        "TRAFFICKING",
        "MODERN_SLAVERY",
        "GANG",
        "SELF_HARM",
        "SUICIDE_RISK",
        "MENTAL_HEALTH",
        "SUBSTANCE_MISUSE",
        "MEDICAL_NEED",
        "DISABILITY",
        "PREGNANCY",
        "RADICALISATION",
        "FGM",
        "FORCED_MARRIAGE",
        "MISSING_WITH_FAMILY",
        "UASC",
        "UNLAWFULLY_AT_LARGE",
        "ABDUCTION",
    }
)

# End reasons: the code is authoritative, the description varies between LCS sites.
FOUND_BY = {"RET": "self", "FNDPOL": "police", "FNDCAR": "parent_or_carer", "FNDOTH": "other_agency"}
CLOSED_NOT_FOUND = frozenset({"AGE18", "CEASED", "TRANS"})
CANCELLED = frozenset({"ERR", "DUP"})
END_REASONS = frozenset(FOUND_BY) | CLOSED_NOT_FOUND | CANCELLED
