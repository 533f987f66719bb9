"""The shared adapter contract for COMPACT, with field-by-field expectations from the format README §4.

Every specimen 01-08 (the .eml too) is mapped and compared against what the README's table says each
canonical field must hold; every README §7 case is rejected with a reason that says why.
"""

from __future__ import annotations

from tests.adapters.compact import variants as v
from tests.adapters.contract import AdapterContract, Invalid, Specimen

TIA_DESCRIPTION = (
    "White British female, 5'4\" (163 cm), slim build, long hair dyed red and usually tied up, nose stud. "
    "Last seen wearing a black puffer jacket, grey joggers and white trainers, carrying a small black "
    "cross-body bag."
)
TIA_CIRCUMSTANCES = (
    "Did not return by the 21:00 curfew. Phone switched off since about 20:05. Staff searched the local "
    "area and contacted known friends without result. Looked after by Kent County Council and placed in "
    "Staffordshire since November 2025. On two previous episodes she was collected by adult males in cars. "
    "Philomena profile supplied by the home."
)
TIA_PHOTO = {
    "kind": "photo",
    "ref": "urn:compact:attachment:E23000015:MP-2026-001234:1",
    "media_type": "image/jpeg",
    "sha256": "259b20b894edfbec66fea3b29256d9db69b89996708fd1e96b55eb8c43bf1b31",
}
TIA_PROFILE = {
    "kind": "philomena_profile",
    "ref": "urn:compact:attachment:E23000015:MP-2026-001234:2",
    "media_type": "application/pdf",
    "sha256": "257d81ccfb6d16bc495f8b86936d477d16ea304d6fc7008eb163cc867e2be3be",
}
KACEY_PHOTO = {
    "kind": "photo",
    "ref": "urn:compact:attachment:E23000015:MP-2026-001187:1",
    "media_type": "image/jpeg",
    "sha256": "34260634c8bbbd4e8036faf7d2e672e93208699b117f379996054630e0a8d3e8",
}

# What every version of Kacey's report (MP/2026/001187) says about her.
KACEY = {
    "source.record_id": "MP/2026/001187",
    "child.given_name": "Kacey",
    "child.family_name": "Dunmore",
    "child.known_as": None,
    "child.date_of_birth": "2011-09-17",
    "child.sex": "female",
    "child.ids.nhs_number": "9994224964",
    "child.ids.upn": "F860999924101",
    "child.ids.police_person_id": "4201577",
    "child.ids.la_ids": [],
    "child.languages": ["en"],
    "child.interpreter_needed": False,
    "child.description": (
        "White British female, 5'2\" (157 cm), medium build, shoulder-length brown hair, wears glasses. "
        "Last seen wearing a navy school hoodie, black leggings and black trainers."
    ),
    "episode.category": "missing",
    "episode.missing_from": "home",
    "episode.last_seen_at": "2026-02-27T16:10:00Z",
    "episode.last_seen_location": {
        "text": "Leaving the home address on foot after an argument with her mother",
        "postcode": "ST16 9ZQ",
    },
    "episode.reported_at": "2026-02-27T23:05:00Z",
    "episode.risk_level": "medium",
    "episode.risk_assessed_at": "2026-02-27T23:20:00Z",
    "episode.risk_assessed_by": "Insp 1764 D. Carver",
    "episode.risk_factors": {"mental_health"},
    "episode.police.force": "E23000015",
    "episode.police.reference": "MP/2026/001187",
    "care.looked_after": False,
    "care.legal_status": "none",
    "care.cp_plan": False,
    "care.responsible_la": "860",
    "care.host_la": "860",
    "care.placement": None,
    "care.allocated_worker": None,
    "education.school_urn": "999201",
    "education.school_name": "Weston Brook Academy",
    "education.electively_home_educated": False,
    "health": None,
    "attachments": [KACEY_PHOTO],
    "data_quality": [],
}

# What every version of Tia's report (MP/2026/001234) says about her.
TIA = {
    "source.record_id": "MP/2026/001234",
    "child.given_name": "Tia Louise",
    "child.family_name": "Hollings",
    "child.known_as": "Tia",
    "child.date_of_birth": "2010-11-03",
    "child.sex": "female",
    "child.ids.nhs_number": "9996501388",
    "child.ids.upn": "C886999922318",
    "child.ids.police_person_id": "4188730",
    "child.ids.la_ids": [{"la_code": "886", "id": "1184226"}],
    "child.languages": ["en"],
    "child.interpreter_needed": False,
    "child.description": TIA_DESCRIPTION,
    "episode.category": "missing",
    "episode.missing_from": "care_placement",
    "episode.last_seen_at": "2026-03-03T19:30:00Z",
    "episode.last_seen_location": {
        "text": "Leaving Larch House children's home on foot, saying she was going to the shop",
        "postcode": "DE14 9ZX",
    },
    "episode.reported_at": "2026-03-03T22:15:00Z",
    "episode.circumstances": TIA_CIRCUMSTANCES,
    "episode.police.force": "E23000015",
    "episode.police.reference": "MP/2026/001234",
    "care.looked_after": True,
    "care.legal_status": "s31_care_order",
    "care.cp_plan": False,
    "care.responsible_la": "886",
    "care.host_la": "860",
    "care.placement": {
        "type": "childrens_home",
        "provider": "Larch House (Meadowbank Care Ltd)",
        "ofsted_urn": "SC999412",
        "postcode": "DE14 9ZX",
    },
    "care.allocated_worker": {
        "name": "Hannah Pryce",
        "team": "Children in Care Team, Ashford",
        "email": "hannah.pryce@kent.example",
        "phone": "07700 900412",
    },
    "education.school_urn": "999318",
    "education.school_name": "Trentside Academy",
    "education.electively_home_educated": False,
    "health.gp_ods": "XX0004",
    "attachments": [TIA_PHOTO, TIA_PROFILE],
    "data_quality": [],
}
TIA_HIGH = {
    "episode.risk_level": "high",
    "episode.risk_assessed_at": "2026-03-04T09:15:00Z",
    "episode.risk_assessed_by": "DS 1187 R. Okoro",
    "episode.risk_factors": {"cse", "cce", "substance_misuse"},
}
TIA_FOUND = {
    "episode.found_at": "2026-03-05T02:50:00Z",
    "episode.found_location": {
        "text": "Residential address in the Normanton area of Derby (full address held on the report)",
        "postcode": "DE23 6ZZ",
    },
    "episode.found_by": "police",
}


def change(record: str, change_id: str, event_type: str, occurred: str, recorded: str) -> dict[str, object]:
    return {
        "event_type": event_type,
        "occurred_at": occurred,
        "recorded_at": recorded,
        "source.event_id": change_id,
        "idempotency_key": f"compact:staffordshire-police:{record}:{change_id}",
    }


VALID = [
    Specimen(
        v.NEW_REPORT,
        [
            {
                **KACEY,
                **change(
                    "MP/2026/001187",
                    "AUD-88410233",
                    "reported",
                    "2026-02-27T23:05:00Z",
                    "2026-02-27T23:27:40Z",
                ),
                "episode.circumstances": (
                    "Argument with mother about phone use at about 16:00; left on foot. Phone goes to "
                    "voicemail. Mother has called friends and the grandmother without result. First reported "
                    "missing episode. School has recently raised concern about low mood."
                ),
                "episode.found_at": None,
                "episode.found_by": None,
                "episode.harm_disclosed": None,
            }
        ],
    ),
    Specimen(
        v.PLACED,
        [
            {
                **TIA,
                **change(
                    "MP/2026/001234",
                    "AUD-88431907",
                    "reported",
                    "2026-03-03T22:15:00Z",
                    "2026-03-03T22:44:05Z",
                ),
                "episode.risk_level": "medium",
                "episode.risk_assessed_at": "2026-03-03T22:40:00Z",
                "episode.risk_assessed_by": "Insp 2291 J. Marsh",
                "episode.risk_factors": {"cse"},
                "episode.found_at": None,
                "episode.harm_disclosed": None,
            }
        ],
    ),
    Specimen(
        v.RISK_REVIEW,
        [
            {
                **TIA,
                **TIA_HIGH,
                # RiskReview: occurred_at is the AssessedAt of the highest-sequence assessment.
                **change(
                    "MP/2026/001234",
                    "AUD-88436550",
                    "risk_changed",
                    "2026-03-04T09:15:00Z",
                    "2026-03-04T09:18:22Z",
                ),
                "episode.found_at": None,
            }
        ],
    ),
    Specimen(
        v.FOUND,
        [
            {
                **TIA,
                **TIA_HIGH,
                **TIA_FOUND,
                **change(
                    "MP/2026/001234", "AUD-88447112", "found", "2026-03-05T02:50:00Z", "2026-03-05T03:20:48Z"
                ),
                "episode.harm_disclosed": None,
            }
        ],
    ),
    Specimen(
        v.INTERVIEW,
        [
            {
                **TIA,
                **TIA_HIGH,
                **TIA_FOUND,
                **change(
                    "MP/2026/001234",
                    "AUD-88449385",
                    "safe_and_well_completed",
                    "2026-03-05T10:30:00Z",
                    "2026-03-05T11:05:37Z",
                ),
                "episode.harm_disclosed": True,
            }
        ],
    ),
    Specimen(
        v.CANCELLED,
        [
            {
                **change(
                    "MP/2026/001241",
                    "AUD-88441660",
                    "cancelled",
                    "2026-03-04T18:47:00Z",
                    "2026-03-04T18:47:52Z",
                ),
                "source.record_id": "MP/2026/001241",
                "child.given_name": "Oliver",
                "child.family_name": "Brandwood",
                "child.known_as": "Ollie",
                "child.date_of_birth": "2013-05-08",
                "child.sex": "male",
                "child.ids.police_person_id": "4230961",
                "child.ids.upn": None,
                "child.languages": [],
                # No NHS number: accepted, and flagged for operators (README §7).
                "child.ids.nhs_number": None,
                "data_quality": [
                    {"field": "child.ids.nhs_number", "problem": "NHS number is absent", "original": None}
                ],
                "episode.missing_from": "other",
                "episode.last_seen_at": "2026-03-04T16:30:00Z",
                "episode.reported_at": "2026-03-04T17:55:00Z",
                "episode.circumstances": None,
                "episode.risk_level": "medium",
                "episode.risk_assessed_by": "PS 1401 K. Lowe",
                "episode.risk_factors": set(),
                "episode.police.reference": "MP/2026/001241",
                # No CareDetails: only the host LA, from Subject/HomeAddress/@laCode, so that a police-only
                # report can still be routed to the authority where the child lives.
                "care": {
                    "looked_after": None,
                    "legal_status": None,
                    "cp_plan": None,
                    "child_in_need": None,
                    "early_help": None,
                    "case_status": None,
                    "responsible_la": None,
                    "host_la": "860",
                    "placement": None,
                    "allocated_worker": None,
                    "iro": None,
                },
                "education": None,
                "health": None,
                "attachments": [],
            }
        ],
    ),
    Specimen(
        v.DELTA,
        [
            {
                **TIA,
                **TIA_HIGH,
                **TIA_FOUND,
                **change(
                    "MP/2026/001234", "AUD-88460034", "closed", "2026-03-06T14:00:00Z", "2026-03-06T14:02:11Z"
                ),
                # A Closed report still carries its Found and PreventionInterview sections.
                "episode.harm_disclosed": True,
            },
            {
                **change(
                    "MP/2026/001262",
                    "AUD-88461478",
                    "reported",
                    "2026-03-06T20:30:00Z",
                    "2026-03-06T20:52:30Z",
                ),
                "source.record_id": "MP/2026/001262",
                "child.given_name": "Mason",
                "child.family_name": "Kettley",
                "child.date_of_birth": "2012-06-21",
                "child.sex": "male",
                "child.ids.nhs_number": "9993981435",
                "child.ids.upn": "M861999923412",
                "child.ids.police_person_id": "4235518",
                "child.ids.la_ids": [{"la_code": "861", "id": "558812"}],
                "episode.missing_from": "care_placement",
                "episode.last_seen_at": "2026-03-06T19:45:00Z",
                "episode.risk_level": "medium",
                "episode.risk_assessed_by": "Insp 0921 P. Adey",
                # The only factor is OTHER, which is text only: dropped, not flagged.
                "episode.risk_factors": set(),
                "care.looked_after": True,
                "care.legal_status": "s20",
                "care.responsible_la": "861",
                "care.host_la": "861",
                "care.placement": {
                    "type": "foster",
                    "provider": "Stoke-on-Trent City Council fostering service (in-house carer)",
                    "ofsted_urn": None,
                    "postcode": "ST3 9ZW",
                },
                "care.allocated_worker.name": "Daniel Whitmore",
                "education.school_urn": "999402",
                "health.gp_ods": "XX0031",
                "attachments.1.kind": "philomena_profile",
                "data_quality": [],
            },
            {
                **change(
                    "MP/2026/001258", "AUD-88462209", "found", "2026-03-06T22:10:00Z", "2026-03-06T22:31:09Z"
                ),
                "source.record_id": "MP/2026/001258",
                "child.given_name": "Bradley James",
                "child.family_name": "Cope",
                "child.ids.nhs_number": "9992716630",
                "child.languages": [],
                "child.interpreter_needed": None,
                "episode.missing_from": "home",
                "episode.risk_factors": {"mental_health"},
                "episode.found_at": "2026-03-06T22:10:00Z",
                "episode.found_location": {"text": "Railway station, Lichfield", "postcode": "WS13 9ZZ"},
                "episode.found_by": "parent_or_carer",
                "episode.harm_disclosed": None,
                "care.looked_after": False,
                "care.legal_status": None,
                "care.cp_plan": None,
                "care.responsible_la": "860",
                "care.host_la": "860",
                "education.school_urn": "999255",
                "education.electively_home_educated": None,
                "health": None,
                "attachments": [],
                "data_quality": [],
            },
        ],
    ),
    Specimen(
        v.EMAIL,
        [
            {
                **KACEY,
                **change(
                    "MP/2026/001187", "AUD-88411902", "found", "2026-02-28T11:40:00Z", "2026-02-28T12:05:14Z"
                ),
                "episode.found_at": "2026-02-28T11:40:00Z",
                "episode.found_location": {
                    "text": "A school friend's home address in Stone (full address held on the report)",
                    "postcode": "ST15 9ZT",
                },
                "episode.found_by": "police",
                "episode.harm_disclosed": None,
            }
        ],
    ),
]

DEEP = v.edit(v.NEW_REPORT, ("<Town>Stafford</Town>", "<Town>" + "<x>" * 40 + "</x>" * 40 + "</Town>"))

INVALID = [
    Invalid("xxe", v.xxe("/etc/passwd"), "DOCTYPE"),
    Invalid("billion laughs", v.billion_laughs(), "DOCTYPE"),
    Invalid("plain doctype", v.with_prolog(v.NEW_REPORT, "<!DOCTYPE MissingPersonExport>"), "DOCTYPE"),
    Invalid(
        "external dtd",
        v.with_prolog(v.NEW_REPORT, '<!DOCTYPE MissingPersonExport SYSTEM "http://127.0.0.1:9/compact.dtd">'),
        "DOCTYPE",
    ),
    Invalid("lower-case doctype", v.with_prolog(v.NEW_REPORT, "<!doctype MissingPersonExport>"), "DOCTYPE"),
    Invalid("truncated", (v.COMPACT / v.NEW_REPORT).read_bytes()[:2000], "not well-formed"),
    Invalid("empty", b"", "empty"),
    Invalid(
        "wrong namespace",
        v.edit(v.NEW_REPORT, ("urn:compact:missing-person-export:1", "urn:compact:missing-person-export:2")),
        "namespace",
    ),
    Invalid(
        "no namespace",
        v.edit(v.NEW_REPORT, (' xmlns="urn:compact:missing-person-export:1"', "")),
        "namespace",
    ),
    Invalid(
        "latin-1 declared",
        v.edit(v.NEW_REPORT, ('encoding="UTF-8"', 'encoding="ISO-8859-1"')).replace(
            b"medium build", "médium build".encode("latin-1")
        ),
        "not UTF-8",
    ),
    Invalid(
        "latin-1 bytes",
        v.edit(v.NEW_REPORT).replace(b"medium build", "médium".encode("latin-1")),
        "not UTF-8",
    ),
    Invalid(
        "utf-16",
        v.edit(v.NEW_REPORT, ('encoding="UTF-8"', 'encoding="UTF-16"')).decode().encode("utf-16"),
        "not UTF-8",
    ),
    Invalid(
        "unparseable date",
        v.edit(v.NEW_REPORT, ("<ReportedAt>2026-02-27T23:05:00Z", "<ReportedAt>27/02/2026 23:05")),
        "xs:dateTime",
    ),
    Invalid(
        "impossible date",
        v.edit(v.NEW_REPORT, ("<ReportedAt>2026-02-27T23:05:00Z", "<ReportedAt>2026-02-30T23:05:00Z")),
        "ReportedAt",
    ),
    Invalid(
        "missing report number",
        v.edit(v.NEW_REPORT, ("<ReportNumber>MP/2026/001187</ReportNumber>", "")),
        "ReportNumber",
    ),
    Invalid(
        "malformed report number",
        v.edit(v.NEW_REPORT, ("<ReportNumber>MP/2026/001187<", "<ReportNumber>MP-2026-1187<")),
        "ReportNumber",
    ),
    Invalid(
        "unknown grade", v.edit(v.NEW_REPORT, ("<Grade>MEDIUM</Grade>", "<Grade>SEVERE</Grade>")), "Grade"
    ),
    Invalid(
        "unknown factor",
        v.edit(v.NEW_REPORT, ('code="MENTAL_HEALTH"', 'code="BAD_VIBES"')),
        "Factor/@code",
    ),
    Invalid("missing occurrence", v.drop_section(v.NEW_REPORT, "Occurrence"), "Occurrence"),
    Invalid(
        "force code mismatch",
        v.edit(v.NEW_REPORT, ('<Force code="E23000015">', '<Force code="E23000018">')),
        "Force/@code",
    ),
    Invalid(
        "record count mismatch",
        v.edit(v.DELTA, ("<RecordCount>3</RecordCount>", "<RecordCount>2</RecordCount>")),
        "RecordCount",
    ),
    Invalid("found without Found", v.drop_section(v.FOUND, "Found"), "no Found section"),
    Invalid(
        "interview without PreventionInterview",
        v.drop_section(v.INTERVIEW, "PreventionInterview"),
        "no PreventionInterview section",
    ),
    Invalid("cancelled without Closure", v.drop_section(v.CANCELLED, "Closure"), "no Closure section"),
    Invalid(
        "closed without Closure",
        v.drop_section(v.CANCELLED, "Closure")
        .replace(b"<ChangeType>Cancelled<", b"<ChangeType>Closed<")
        .replace(b"<Status>Cancelled<", b"<Status>Closed<"),
        "no Closure section",
    ),
    Invalid(
        "cancelled without Cancelled status",
        v.edit(v.CANCELLED, ("<Status>Cancelled</Status>", "<Status>Open</Status>")),
        "Status is Open",
    ),
    Invalid(
        "cancelled for a reason that is not an error",
        v.edit(v.CANCELLED, ("<Reason>RecordedInError</Reason>", "<Reason>Found</Reason>")),
        "RecordedInError or Duplicate",
    ),
    Invalid(
        "duplicate risk sequence",
        v.edit(v.RISK_REVIEW, ('<RiskAssessment sequence="2">', '<RiskAssessment sequence="1">')),
        "sequence 1",
    ),
    Invalid(
        "e-mail without an XML attachment",
        v.edit(
            v.EMAIL,
            (
                'Content-Type: application/xml; name="COMPACT_MP-2026-001187_v2.xml"',
                "Content-Type: application/pdf",
            ),
            ('filename="COMPACT_MP-2026-001187_v2.xml"', 'filename="COMPACT_MP-2026-001187_v2.pdf"'),
        ),
        "no COMPACT export attached",
        content_type="message/rfc822",
    ),
    Invalid(
        "e-mail carrying an XXE export",
        v.email_with_attachments([("application/xml", "x.xml", v.xxe("/etc/passwd"))]),
        "DOCTYPE",
    ),
    Invalid("too deep", DEEP, "nested deeper"),
    Invalid(
        "one bad report rejects the delta",
        v.edit(v.DELTA, ("<FoundBy>ParentOrCarer</FoundBy>", "<FoundBy>Neighbour</FoundBy>")),
        "MP/2026/001258",
    ),
]


class TestCompactContract(AdapterContract):
    system = "compact"
    instance = "staffordshire-police"
    specimen_dir = v.COMPACT
    valid = VALID
    invalid = INVALID
