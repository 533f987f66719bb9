"""The shared adapter contract for the NHS feed, with field-by-field expectations from the format
README §3/§4, and every README §5 rejection (plus the hostile XML cases) with the reason it must give.

All five specimens run through the ``nhs-test`` instance, which accepts the four test organisations
(XX1-XX4); tests/adapters/nhs/test_nhs.py runs each through its own instance (nhs-xx1...).
"""

from __future__ import annotations

import copy

from tests.adapters.contract import AdapterContract, Invalid, Specimen
from tests.adapters.nhs import variants as v

ELLIE = {
    "child.given_name": "Ellie-Mae",
    "child.family_name": "Dawkins",
    "child.date_of_birth": "2012-10-05",
    "child.sex": "female",
    "child.ids.nhs_number": "9993093807",
    "child.ids.la_ids": [{"la_code": "831", "id": "0092271"}],
    "episode.category": "missing",
    "episode.missing_from": "health_setting",
    "episode.last_seen_at": "2026-03-12T14:20:00Z",
    "episode.police": {"force": "E23000018", "reference": "MP/2026/002207"},
    "care.looked_after": True,
    "care.responsible_la": "831",
    "health.gp_ods": "XX0021",
    "health.named_nurse_ods": None,
    "health.nhs_alert_requested": None,
    "source.record_id": "781b9a43-d04c-450b-8620-f0877e5fe381",  # the Flag id: shared by 01 and 04
    "data_quality": [],
    "attachments": [],
}

VALID = [
    Specimen(
        v.WARD,
        [
            {
                **ELLIE,
                "event_type": "reported",
                "occurred_at": "2026-03-12T14:52:00Z",
                "recorded_at": "2026-03-12T14:52:05Z",
                "source.event_id": "b7c03984-2be3-4ecc-9f07-a223563ebc38",
                "idempotency_key": (
                    "nhs:nhs-test:781b9a43-d04c-450b-8620-f0877e5fe381:b7c03984-2be3-4ecc-9f07-a223563ebc38"
                ),
                "episode.last_seen_location": {
                    "text": "Ward 3A (children's ward), Test Midlands Royal Hospital",
                    "postcode": None,
                },
                "episode.reported_at": "2026-03-12T14:52:00Z",
                "episode.found_at": None,
                "episode.found_by": None,
                "episode.found_location": None,
                "episode.circumstances": None,  # Communication.payload is free text, never a field
            }
        ],
        content_type=v.FHIR_JSON,
    ),
    Specimen(
        v.ALERT,
        [
            {
                "event_type": "updated",
                "occurred_at": "2026-03-13T10:30:00Z",
                "recorded_at": "2026-03-13T10:31:12Z",
                "source.record_id": "8f4c6fc3-99f0-4659-9828-2d8a2af2003c",  # no missing Flag: the request
                "source.event_id": "1428dfad-70ce-4993-8498-d7d67c213c12",
                "child.given_name": "Harvey",
                "child.family_name": "Lockwood",
                "child.date_of_birth": "2011-01-19",
                "child.sex": "male",
                "child.ids.nhs_number": "9994456725",
                "child.ids.la_ids": [{"la_code": "937", "id": "518833"}],
                # README §3: no episode for an alert request.
                "episode.category": None,
                "episode.missing_from": None,
                "episode.last_seen_at": None,
                "episode.police": None,
                "care.looked_after": True,
                "care.responsible_la": "937",
                "health.nhs_alert_requested": True,
                "health.named_nurse_ods": "XX2",
                "health.gp_ods": "XX0050",
                "data_quality": [],
            }
        ],
    ),
    Specimen(
        v.ED,
        [
            {
                "event_type": "found",
                "occurred_at": "2026-03-14T03:10:00Z",  # the attendance's start
                "recorded_at": "2026-03-14T03:35:04Z",
                "source.record_id": "f1a52983-aa79-45e2-ae32-5d76d3b1613a",
                "source.event_id": "6bd32c8e-ddd5-4451-8b41-c2546a35e376",
                "child.given_name": "Brooke",
                "child.family_name": "Salt",
                "child.date_of_birth": "2010-05-27",
                "child.ids.nhs_number": "9994814249",
                "child.ids.la_ids": [{"la_code": "860", "id": "3304417"}],
                "episode.category": "missing",
                "episode.missing_from": None,  # README: only for left / returned
                "episode.last_seen_at": "2026-03-13T17:30:00Z",
                "episode.reported_at": None,
                "episode.last_seen_location": None,
                "episode.found_at": "2026-03-14T03:10:00Z",
                "episode.found_location": {
                    "text": "Emergency Department, Test North Midlands University Hospital",
                    "postcode": None,
                },
                "episode.found_by": "health",
                "episode.police": {"force": "E23000015", "reference": "MP/2026/001301"},
                "care.looked_after": None,  # no looked-after Flag: unknown, not false
                "care.responsible_la": "860",
                "health.gp_ods": "XX0063",
                "health.nhs_alert_requested": None,
                "data_quality": [],
            }
        ],
        content_type="application/fhir+json; fhirVersion=4.0",
    ),
    Specimen(
        v.RETURNED,
        [
            {
                **ELLIE,
                "event_type": "found",
                "occurred_at": "2026-03-12T19:05:00Z",  # the Flag's period.end
                "recorded_at": "2026-03-12T19:21:00Z",
                # a collection has no MessageHeader: Bundle.identifier
                "source.event_id": "urn:uuid:be6e5d4f-0234-4f17-ac68-d4a019ee685f",
                "idempotency_key": (
                    "nhs:nhs-test:781b9a43-d04c-450b-8620-f0877e5fe381:"
                    "urn:uuid:be6e5d4f-0234-4f17-ac68-d4a019ee685f"
                ),
                "episode.found_at": "2026-03-12T19:05:00Z",
                "episode.found_by": None,
                "episode.reported_at": None,
                "episode.last_seen_location": None,
            }
        ],
    ),
    Specimen(
        v.MENTAL_HEALTH_XML,
        [
            {
                "event_type": "reported",
                "occurred_at": "2026-04-18T15:05:00Z",  # 16:05 BST
                "recorded_at": "2026-04-18T15:05:09Z",
                "source.record_id": "f87db32f-7c86-45ae-ad92-4e06d10ad589",
                "source.event_id": "ef0e5a59-8144-4696-81ee-f85efc3eb39d",
                "child.given_name": "Jessie",
                "child.family_name": "Wardle",
                "child.date_of_birth": "2009-12-01",
                "child.sex": "female",
                "child.ids.nhs_number": "9991523642",
                "child.ids.la_ids": [{"la_code": "860", "id": "3187720"}],
                "episode.category": "missing",
                "episode.missing_from": "health_setting",
                "episode.last_seen_at": "2026-04-18T14:40:00Z",  # 15:40 BST
                "episode.last_seen_location": {
                    "text": "Test Adolescent Mental Health Unit, Stafford (escorted community leave)",
                    "postcode": None,
                },
                "episode.reported_at": "2026-04-18T15:05:00Z",
                "episode.police": None,  # "reference to follow": no police identifier on the Flag yet
                "care.looked_after": True,
                "care.responsible_la": "860",
                "health.gp_ods": "XX0077",
                "data_quality": [],
            }
        ],
        content_type=v.FHIR_XML,
    ),
]


def _drop_patient(doc: dict) -> None:
    doc["entry"] = [e for e in doc["entry"] if e["resource"]["resourceType"] != "Patient"]


def _second_patient(doc: dict) -> None:
    patient = copy.deepcopy(v.one(doc, "Patient"))
    patient["id"] = "second"
    doc["entry"].append({"fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000002", "resource": patient})


def _dangling_recipient(doc: dict) -> None:
    v.one(doc, "Communication")["recipient"][0]["reference"] = "urn:uuid:9a9a9a9a-0000-4000-8000-00000000dead"


def _sender_xx9(doc: dict) -> None:
    v.one(doc, "Organization")["identifier"][0]["value"] = "XX9"


def _no_period_end(doc: dict) -> None:
    v.missing_flag(doc)["period"].pop("end")


def _end_before_start(doc: dict) -> None:
    v.missing_flag(doc)["period"]["end"] = "2026-03-12T13:00:00Z"


def _codes_disagree(doc: dict) -> None:
    v.one(doc, "Communication")["reasonCode"][0]["coding"][0]["code"] = "returned-to-health-setting"


def _header_alert_on_communication(doc: dict) -> None:
    v.one(doc, "MessageHeader")["eventCoding"]["code"] = "alert-request"
    v.one(doc, "Communication").pop("reasonCode")


def _unknown_code(doc: dict) -> None:
    v.one(doc, "MessageHeader")["eventCoding"]["code"] = "child-absconded"


def _no_event_code(doc: dict) -> None:
    v.one(doc, "MessageHeader")["eventCoding"]["system"] = "http://snomed.info/sct"


def _header_not_first(doc: dict) -> None:
    doc["entry"].append(doc["entry"].pop(0))


def _batch(doc: dict) -> None:
    doc["type"] = "batch"


def _unknown_element(doc: dict) -> None:
    v.one(doc, "Patient")["favouriteColour"] = "green"


def _bad_date(doc: dict) -> None:
    v.one(doc, "Communication")["sent"] = "12/03/2026 14:52"


def _two_communications(doc: dict) -> None:
    extra = copy.deepcopy(v.one(doc, "Communication"))
    extra["id"] = "another"
    doc["entry"].append({"fullUrl": "urn:uuid:00000000-0000-4000-8000-00000000c0c0", "resource": extra})


def _flag_about_someone_else(doc: dict) -> None:
    v.missing_flag(doc)["subject"]["reference"] = "urn:uuid:83faac57-2f56-4652-866d-e486522c4f8d"


def _entered_in_error(doc: dict) -> None:
    v.missing_flag(doc)["status"] = "entered-in-error"


def _r4b_resource(doc: dict) -> None:
    doc["entry"].append(
        {
            "fullUrl": "urn:uuid:00000000-0000-4000-8000-0000000005b5",
            "resource": {
                "resourceType": "SubscriptionStatus",
                "status": "active",
                "type": "event-notification",
                "subscription": {"reference": "Subscription/x"},
            },
        }
    )


def _no_sender(doc: dict) -> None:
    v.one(doc, "MessageHeader").pop("sender")


INVALID = [
    Invalid("empty body", b"", "empty body"),
    Invalid("not JSON", b"{not json", "not well-formed"),
    Invalid("truncated XML", v.xml_edit(v.MENTAL_HEALTH_XML, ("</Bundle>", "")), "not well-formed XML"),
    Invalid("XXE", v.xxe(), "DOCTYPE"),
    Invalid("XXE over the network", v.xxe("http://127.0.0.1:9/x"), "DOCTYPE"),
    Invalid("billion laughs", v.billion_laughs(), "DOCTYPE"),
    Invalid(
        "XML outside the FHIR namespace",
        v.xml_edit(
            v.MENTAL_HEALTH_XML, ('<Bundle xmlns="http://hl7.org/fhir">', '<Bundle xmlns="urn:other">')
        ),
        "not in the FHIR namespace",
    ),
    Invalid(
        "XML with a namespace prefix",
        v.xml_edit(
            v.MENTAL_HEALTH_XML,
            ('<Bundle xmlns="http://hl7.org/fhir">', '<f:Bundle xmlns:f="http://hl7.org/fhir">'),
            ("</Bundle>", "</f:Bundle>"),
        ),
        "prefix",
    ),
    Invalid("not a resource", b'{"hello": "world"}', "no resourceType"),
    Invalid("unknown resource type", b'{"resourceType": "MissingChild"}', "not a FHIR R4 resource type"),
    Invalid("unknown element", v.edit(v.WARD, _unknown_element), "favouriteColour: unknown element"),
    Invalid("unparseable date", v.edit(v.WARD, _bad_date), "sent"),
    Invalid(
        "unknown XML element",
        v.xml_edit(v.MENTAL_HEALTH_XML, ('<gender value="female"/>', '<sex value="female"/>')),
        "unknown element 'sex'",
    ),
    Invalid("R4B resource type", v.edit(v.WARD, _r4b_resource), "R4B"),
    Invalid(
        "another FHIR version",
        (v.NHS / v.WARD).read_bytes(),
        "fhirVersion",
        "application/fhir+json; fhirVersion=4.3",
    ),
    Invalid("batch Bundle", v.edit(v.WARD, _batch), "Bundle.type is 'batch'"),
    Invalid(
        "MessageHeader not first", v.edit(v.WARD, _header_not_first), "first entry must be a MessageHeader"
    ),
    Invalid("no event code", v.edit(v.WARD, _no_event_code), "event code is missing"),
    Invalid("unknown event code", v.edit(v.WARD, _unknown_code), "not in the event code system"),
    Invalid("codes disagree", v.edit(v.WARD, _codes_disagree), "disagree"),
    Invalid(
        "alert-request without a CommunicationRequest",
        v.edit(v.WARD, _header_alert_on_communication),
        "alert-request without a CommunicationRequest",
    ),
    Invalid("no Patient", v.edit(v.WARD, _drop_patient), "no Patient"),
    Invalid("two Patients", v.edit(v.WARD, _second_patient), "2 Patients"),
    Invalid(
        "dangling reference",
        v.edit(v.WARD, _dangling_recipient),
        "recipient[0] reference 'urn:uuid:9a9a9a9a-0000-4000-8000-00000000dead' does not resolve",
    ),
    Invalid(
        "Flag about someone else",
        v.edit(v.WARD, _flag_about_someone_else),
        "is a Organization; expected Patient",
    ),
    Invalid("sender of another organisation", v.edit(v.WARD, _sender_xx9), "ODS code is XX9"),
    Invalid(
        "message without a sender", v.edit(v.WARD, _no_sender), "does not reference the sending Organization"
    ),
    Invalid("returned without period.end", v.edit(v.RETURNED, _no_period_end), "no period.end"),
    Invalid("Flag ends before it starts", v.edit(v.RETURNED, _end_before_start), "before its period.start"),
    Invalid("two reports in a collection", v.edit(v.RETURNED, _two_communications), "more than one"),
    Invalid("missing Flag entered in error", v.edit(v.WARD, _entered_in_error), "entered-in-error"),
    Invalid(
        "a UK Core Patient is not a report",
        (v.UKCORE / "UKCore-Patient-RichardSmith-Example.xml").read_bytes(),
        "nothing about a missing child",
    ),
    Invalid("too deep", b'{"resourceType": "Patient", "x": ' + b"[" * 80 + b"]" * 80 + b"}", "nested deeper"),
    Invalid("not FHIR at all", b"GIF89a", "neither FHIR JSON nor FHIR XML"),
    Invalid("wrong media type", (v.NHS / v.WARD).read_bytes(), "not FHIR", "text/csv"),
]


class TestNhsContract(AdapterContract):
    system = "nhs"
    instance = "nhs-test"
    specimen_dir = v.NHS
    valid = VALID
    invalid = INVALID
