"""Identifier systems and code systems of the NHS feed (adapters/nhs/README.md §2), in one place.

UK Core fixes the NHS number and ODS systems; the ``example.org`` systems are the project-local ones the
format README defines (no SNOMED CT code is invented for "missing").
"""

from __future__ import annotations

FHIR_NS = "http://hl7.org/fhir"
XHTML_NS = "http://www.w3.org/1999/xhtml"

NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
NHS_NUMBER_VERIFICATION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
# Systems that older NHS interfaces used for the NHS number. A number under one of them is not taken as
# the child's NHS number (UK Core fixes the system), but operators are told it was there.
LEGACY_NHS_NUMBER = frozenset(
    {
        "http://fhir.nhs.net/Id/nhs-number",
        "https://fhir.nhs.net/Id/nhs-number",
        "http://fhir.nhs.uk/Id/nhs-number",
        "urn:oid:2.16.840.1.113883.2.1.4.1",
    }
)
VERIFIED = "01"
VERIFICATION_STATUS = {
    "01": "Number present and verified",
    "02": "Number present but not traced",
    "03": "Trace required",
    "04": "Trace attempted - No match or multiple match found",
    "05": "Trace needs to be resolved - (NHS number or patient detail conflict)",
    "06": "Trace in progress",
    "07": "Number not present and trace not required",
    "08": "Trace postponed (baby under six weeks old)",
}

ODS_ORGANIZATION = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"
DFE_LA_CODE = "https://example.org/fhir/Id/dfe-la-code"
LA_PERSON_ID_PREFIX = "https://example.org/fhir/Id/la-person-id/"
POLICE_REFERENCE = "https://example.org/fhir/Id/police-missing-person-reference"
ONS_PFA_CODE = "https://example.org/fhir/Id/ons-pfa-code"

FLAG_CODES = "https://example.org/fhir/CodeSystem/missing-episode"
MISSING_CHILD = "missing-child"
AT_RISK = "at-risk-of-going-missing"
LOOKED_AFTER = "looked-after-child"
SNOMED = "http://snomed.info/sct"
SNOMED_LOOKED_AFTER = "764841000000100"

EVENT_CODES = "https://example.org/fhir/CodeSystem/missing-episode-event"
LEFT = "left-health-setting-without-authorisation"
PRESENTED = "presented-while-flagged-missing"
RETURNED = "returned-to-health-setting"
ALERT_REQUEST = "alert-request"
EVENTS = frozenset({LEFT, PRESENTED, RETURNED, ALERT_REQUEST})

# Resource types that R4B (4.3.0, what fhir.resources offers) has and R4 (4.0.1, what UK Core and the
# senders use) does not: one of these in an input means it is not R4, even though R4B parses it.
R4B_ONLY_RESOURCES = frozenset(
    {
        "AdministrableProductDefinition",
        "Citation",
        "ClinicalUseDefinition",
        "EvidenceReport",
        "Ingredient",
        "ManufacturedItemDefinition",
        "MedicinalProductDefinition",
        "NutritionProduct",
        "PackagedProductDefinition",
        "RegulatedAuthorization",
        "SubscriptionStatus",
        "SubscriptionTopic",
    }
)
# Extension value types R4B added (CodeableReference and RatioRange are R4B data types).
R4B_ONLY_ELEMENTS = frozenset({"valueCodeableReference", "valueRatioRange"})
