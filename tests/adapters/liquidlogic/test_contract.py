"""The shared adapter contract for Liquidlogic LCS: every specimen, field by field (README §3, §4),
and every kind of invalid file or notification (README §7), hostile XML included."""

from __future__ import annotations

from tests.adapters.contract import AdapterContract, Invalid, Specimen
from tests.adapters.liquidlogic.helpers import (
    ABSENT,
    DELTA,
    ENDED,
    FORM,
    LCS,
    cell,
    csv_variant,
    without_column,
    xml_variant,
)

KEY = "liquidlogic:stoke-on-trent-liquidlogic"
NO_PLACEMENT = None

AMIRA = {
    "child.given_name": "Amira",
    "child.family_name": "Bostock",
    "child.date_of_birth": "2012-01-23",
    "child.sex": "female",
    "child.ids.nhs_number": "9996859355",
    "child.ids.upn": "C861999922077",
    "child.ids.la_ids": [{"la_code": "861", "id": "551207"}],
    "care.looked_after": False,
    "care.legal_status": "none",
    "care.cp_plan": True,
    "care.responsible_la": "861",
    "care.host_la": "861",
    "care.placement": NO_PLACEMENT,
    "care.allocated_worker": {
        "name": "Ahmed, Sara",
        "team": "Safeguarding Team 3",
        "email": None,
        "phone": None,
    },
}
JORDAN = {
    "child.given_name": "Jordan",
    "child.family_name": "Pye",
    "child.date_of_birth": "2010-12-02",
    "child.sex": "male",
    "child.ids.nhs_number": "9992317760",
    "child.ids.upn": "A861999921530",
    "child.ids.la_ids": [{"la_code": "861", "id": "560034"}],
    "care.looked_after": True,
    "care.legal_status": "s31_care_order",
    "care.cp_plan": False,
    "care.responsible_la": "861",
    "care.host_la": "860",  # placed in Staffordshire
    "care.placement": {"type": "childrens_home", "provider": None, "ofsted_urn": None, "postcode": None},
    "episode.category": "missing",
    "episode.missing_from": "education",
    "episode.last_seen_at": "2026-03-06T13:20:00Z",  # 06/03 + TIME_MISSING 13:20 GMT
    "episode.police": {"force": None, "reference": "MP/2026/001255"},  # LCS carries no force code
    "episode.risk_level": "high",
    "episode.risk_factors": {"cce", "county_lines"},
}
MASON = {
    "child.given_name": "Mason",
    "child.family_name": "Kettley",
    "child.date_of_birth": "2012-06-21",
    "child.sex": "male",
    "child.ids.nhs_number": "9993981435",
    "child.ids.upn": "M861999923412",
    "child.ids.la_ids": [{"la_code": "861", "id": "558812"}],
    "care.looked_after": True,
    "care.legal_status": "s20",
    "care.cp_plan": False,
    "care.responsible_la": "861",
    "care.host_la": "861",
    "care.placement.type": "foster",
    "care.allocated_worker.name": "Whitmore, Daniel",
    "care.allocated_worker.team": "Children in Care Team 2",
    "episode.category": "missing",
    "episode.missing_from": "care_placement",
    "episode.last_seen_at": "2026-03-06T19:45:00Z",
    "episode.risk_level": "medium",
    "data_quality": [],
}


class TestLiquidlogicContract(AdapterContract):
    system = "liquidlogic"
    instance = "stoke-on-trent-liquidlogic"
    specimen_dir = LCS
    valid = [
        Specimen(
            DELTA,
            [
                {
                    **AMIRA,
                    "event_type": "return_interview_offered",  # §3 row 5 beats "ended" (row 6)
                    "occurred_at": "2026-03-06T10:15:00Z",  # RHI_OFFERED_DTTM
                    "recorded_at": "2026-03-06T10:22:00Z",  # MODIFIED_DTTM
                    "source.record_id": "7729980",
                    "source.event_id": "7729980@2026-03-06T10:22:00Z",
                    "episode.category": "missing",
                    "episode.missing_from": "home",
                    "episode.last_seen_at": "2026-03-04T22:10:00Z",
                    "episode.police.reference": "MP/2026/001244",
                    "episode.risk_level": "medium",
                    "episode.risk_factors": {"cse"},
                    "episode.found_at": "2026-03-05T07:40:00Z",
                    "episode.found_by": "self",  # RET
                    "episode.found_location": {"text": "Returned home", "postcode": None},
                    "return_interview": {
                        "offered_at": "2026-03-06T10:15:00Z",
                        "completed_at": None,
                        "declined": None,
                        "provider": "Catch22",
                    },
                    "data_quality": [],
                },
                {
                    **JORDAN,
                    "event_type": "reported",
                    "occurred_at": "2026-03-06T15:05:00Z",
                    "source.record_id": "7730141",
                    "source.event_id": "7730141@2026-03-06T15:05:00Z",
                    "episode.found_at": None,
                    "return_interview": None,
                    "data_quality": [],
                },
                {
                    **MASON,
                    "event_type": "reported",
                    "occurred_at": "2026-03-06T21:10:00Z",
                    "source.record_id": "7730145",
                    "source.event_id": "7730145@2026-03-06T21:10:00Z",
                    "episode.police": None,
                },
                {
                    **MASON,
                    "event_type": "updated",
                    "occurred_at": "2026-03-06T22:05:00Z",  # same record, police ref added
                    "source.record_id": "7730145",
                    "source.event_id": "7730145@2026-03-06T22:05:00Z",
                    "episode.police.reference": "MP/2026/001262",
                },
            ],
        ),
        Specimen(
            ENDED,
            [
                {
                    **JORDAN,
                    "event_type": "found",
                    "occurred_at": "2026-03-08T01:15:00Z",
                    "recorded_at": "2026-03-09T09:12:00Z",
                    "source.event_id": "7730141@2026-03-09T09:12:00Z",
                    "episode.found_at": "2026-03-08T01:15:00Z",
                    "episode.found_by": "police",
                    "episode.found_location.text": "Flat in Wolverhampton, found during a police warrant",
                },
                {
                    "event_type": "closed",
                    "occurred_at": "2026-03-09T00:00:00Z",  # AGE18: END_DTTM
                    "source.record_id": "7712003",
                    "child.given_name": "Callum",
                    "child.family_name": "Greatbatch",
                    "child.date_of_birth": "2008-03-09",
                    "child.ids.nhs_number": "9993526010",
                    "episode.found_at": None,
                    "episode.found_by": None,  # closed, not found
                    "episode.last_seen_at": "2026-01-17T18:30:00Z",
                    "episode.risk_factors": {"cce", "gang"},
                    "care.placement.type": "semi_independent",
                    "care.legal_status": "s31_care_order",
                },
            ],
        ),
        Specimen(
            ABSENT,
            [
                {
                    "event_type": "found",
                    "occurred_at": "2026-03-11T21:30:00Z",
                    "source.record_id": "7730207",
                    "episode.category": "away_without_authorisation",  # Absent: SSDA903 code A
                    "episode.missing_from": "care_placement",
                    "episode.last_seen_at": "2026-03-11T19:00:00Z",
                    "episode.found_at": "2026-03-11T21:30:00Z",
                    "episode.found_by": "parent_or_carer",
                    "child.ids.nhs_number": None,
                    "child.ids.upn": None,
                    "child.given_name": "Kayla",
                    "care.legal_status": "s38_interim",
                    "care.placement.type": "foster",
                    "data_quality": [
                        {"field": "child.ids.nhs_number", "problem": "NHS number is absent", "original": None}
                    ],
                },
                {
                    "event_type": "reported",
                    "occurred_at": "2026-03-11T23:25:00Z",
                    "source.record_id": "7730219",
                    "episode.category": "away_without_authorisation",
                    "episode.risk_level": "low",
                    "episode.last_seen_at": "2026-03-11T23:00:00Z",
                    "child.given_name": "Skye",
                    "child.date_of_birth": "2009-08-22",
                    "care.legal_status": "s20",
                    "care.placement.type": "semi_independent",
                    "data_quality": [],
                },
            ],
        ),
        Specimen(
            FORM,
            [
                {
                    **MASON,
                    "event_type": "return_interview_completed",
                    "occurred_at": "2026-03-09T16:00:00Z",
                    "recorded_at": "2026-03-10T16:22:41Z",
                    "source.record_id": "7730145",
                    "source.event_id": "LCS-861-FN-00482211",
                    "idempotency_key": f"{KEY}:7730145:LCS-861-FN-00482211",
                    "episode.police": {"force": None, "reference": "MP/2026/001262"},
                    "episode.found_at": "2026-03-07T07:55:00Z",
                    "episode.found_by": "self",
                    "episode.found_location": {"text": "Returned to the foster home", "postcode": None},
                    "return_interview": {
                        "offered_at": "2026-03-07T12:00:00Z",
                        "completed_at": "2026-03-09T16:00:00Z",
                        "declined": False,
                        "provider": "Catch22",
                    },
                },
            ],
            content_type="application/xml",
        ),
    ]
    invalid = [
        # --- CSV (README §7) ---
        Invalid("not utf-8", (LCS / DELTA).read_bytes().replace(b"Bostock", b"Bost\xf6ck"), "not UTF-8"),
        Invalid("empty", b"", "empty"),
        Invalid("no header row", b"\n".join((LCS / DELTA).read_bytes().splitlines()[1:]), "header"),
        Invalid(
            "no MODIFIED_DTTM column", csv_variant(DELTA, without_column("MODIFIED_DTTM")), "MODIFIED_DTTM"
        ),
        Invalid(
            "no DIM_PERSON_ID column", csv_variant(DELTA, without_column("DIM_PERSON_ID")), "DIM_PERSON_ID"
        ),
        Invalid(
            "duplicate column",
            (LCS / DELTA).read_bytes().replace(b"TEAM,MODIFIED_DTTM", b"TEAM,TEAM", 1),
            "twice",
        ),
        Invalid(
            "short row",
            (LCS / DELTA).read_bytes().replace(b",Safeguarding Team 3,", b",", 1),
            "line 2: 34 fields",
        ),
        Invalid(
            "broken quoting",
            (LCS / DELTA).read_bytes().replace(b'"Ahmed, Sara"', b'"Ahmed, Sara" x'),
            "line 2",
        ),
        Invalid(
            "unterminated quote",
            (LCS / DELTA).read_bytes().replace(b'"Ahmed, Sara"', b'"Ahmed, Sara'),
            "quoting",
        ),
        Invalid("empty forename", csv_variant(DELTA, cell(1, "FORENAME", "")), "line 3, column FORENAME"),
        Invalid(
            "empty record id",
            csv_variant(DELTA, cell(0, "FACT_MISSING_PERSON_ID", "")),
            "FACT_MISSING_PERSON_ID: required",
        ),
        Invalid("empty modified time", csv_variant(DELTA, cell(2, "MODIFIED_DTTM", "")), "MODIFIED_DTTM"),
        Invalid("delta action", csv_variant(DELTA, cell(0, "DELTA_ACTION", "UPSERT")), "DELTA_ACTION"),
        Invalid("missing status", csv_variant(DELTA, cell(0, "MISSING_STATUS", "Away")), "MISSING_STATUS"),
        Invalid(
            "location", csv_variant(DELTA, cell(0, "LOCATION_MISSING_FROM", "Park")), "LOCATION_MISSING_FROM"
        ),
        Invalid("gender", csv_variant(DELTA, cell(0, "GENDER_CODE", "X")), "GENDER_CODE"),
        Invalid("Y/N flag", csv_variant(DELTA, cell(0, "CLA_FLAG", "Yes")), "CLA_FLAG"),
        Invalid(
            "Yes/No/NA",
            csv_variant(DELTA, cell(0, "RETURN_INTERVIEW_OFFERED", "Y")),
            "RETURN_INTERVIEW_OFFERED",
        ),
        Invalid(
            "end reason",
            csv_variant(DELTA, cell(0, "DIM_LOOKUP_ICS_MISSING_END_REASON_CODE", "FOUND")),
            "END_REASON_CODE",
        ),
        Invalid("risk level", csv_variant(DELTA, cell(0, "RISK_LEVEL", "Severe")), "RISK_LEVEL"),
        Invalid("risk factor", csv_variant(DELTA, cell(1, "RISK_FACTORS", "CCE;GROOMING")), "RISK_FACTORS"),
        Invalid("ISO date-time", csv_variant(DELTA, cell(1, "START_DTTM", "2026-03-06 00:00")), "dd/mm/yyyy"),
        Invalid(
            "date without time", csv_variant(DELTA, cell(1, "MODIFIED_DTTM", "06/03/2026")), "MODIFIED_DTTM"
        ),
        Invalid(
            "impossible end date", csv_variant(DELTA, cell(0, "END_DTTM", "32/03/2026 07:40")), "END_DTTM"
        ),
        Invalid("date of birth shape", csv_variant(DELTA, cell(0, "BIRTH_DTTM", "2012-01-23")), "BIRTH_DTTM"),
        Invalid("time missing", csv_variant(DELTA, cell(1, "TIME_MISSING", "1.20pm")), "TIME_MISSING"),
        # --- XML (README §7): hostile, malformed, schema-invalid, wrong council ---
        Invalid(
            "xxe",
            b'<?xml version="1.0"?>\n<!DOCTYPE FormNotification [<!ENTITY x SYSTEM '
            b'"file:///etc/passwd">]>\n<FormNotification>&x;</FormNotification>',
            "DOCTYPE",
        ),
        Invalid(
            "billion laughs",
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>'
            b"<lolz>&lol2;</lolz>",
            "DOCTYPE",
        ),
        Invalid(
            "external dtd",
            b'<?xml version="1.0"?><!DOCTYPE FormNotification SYSTEM '
            b'"http://example.invalid/x.dtd"><FormNotification/>',
            "DOCTYPE",
        ),
        Invalid(
            "doctype in utf-16",
            '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x SYSTEM '
            '"file:///etc/passwd">]><r>&x;</r>'.encode("utf-16"),
            "DOCTYPE",
        ),
        Invalid(
            "doctype spliced into the specimen",
            xml_variant(
                b"<FormNotification ", b'<!DOCTYPE FormNotification [<!ENTITY e "x">]>\n<FormNotification '
            ),
            "DOCTYPE",
        ),
        Invalid("not well-formed", xml_variant(b"</Person>", b"</Persn>"), "well-formed"),
        Invalid(
            "schema: no forename", xml_variant(b"<Forename>Mason</Forename>", b""), "form-notification.xsd"
        ),
        Invalid(
            "schema: NHS number pattern",
            xml_variant(b"<NhsNumber>9993981435", b"<NhsNumber>999 398 1435"),
            "NhsNumber",
        ),
        Invalid("schema: unknown end reason", xml_variant(b'code="RET"', b'code="HOME"'), "EndReason"),
        Invalid(
            "schema: wrong namespace",
            xml_variant(b"urn:liquidlogic:lcs:form-notification:1", b"urn:other"),
            "form-notification.xsd",
        ),
        Invalid("other council", xml_variant(b'laCode="861"', b'laCode="860"'), "laCode"),
        Invalid(
            "missing form without its episode",
            xml_variant(
                (LCS / FORM).read_bytes()[
                    (LCS / FORM).read_bytes().index(b"  <MissingEpisode>") : (LCS / FORM)
                    .read_bytes()
                    .index(b"</MissingEpisode>")
                    + 18
                ],
                b"",
            ),
            "no MissingEpisode",
        ),
    ]
