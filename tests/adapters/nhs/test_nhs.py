"""The NHS adapter beyond the contract: real UK Core examples, the UK Core checks the gateway adds,
the shapes a sender may use, instances, and what reaches the logs."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import structlog
from fhir.resources.R4B.bundle import Bundle

from adapters.base import AdapterError, InvalidInput, RawInput, WrongInstance
from adapters.nhs import read_resources
from adapters.registry import get_adapter
from gateway.model import MissingEpisodeEvent
from tests.adapters.contract import MAPPINGS
from tests.adapters.nhs import variants as v

RECEIVED = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)

# Every UK Core example: its resource type, and for the Patients who they are.
UKCORE = {
    "UKCore-Bundle-Batch-Example.xml": ("Bundle", None),
    "UKCore-Communication-FirstMMRVaccination-Example.xml": ("Communication", None),
    "UKCore-Encounter-InpatientEncounter-Example.xml": ("Encounter", None),
    "UKCore-Flag-FoodAllergy-Example.xml": ("Flag", None),
    "UKCore-Organization-LeedsTeachingHospital-Example.xml": ("Organization", None),
    "UKCore-Organization-WhiteRoseMedicalCentre-Example.xml": ("Organization", None),
    "UKCore-Patient-BabyPatient-Example.xml": (
        "Patient",
        {
            # NHS England's own example fails Modulus 11 (…3890: the check digit should be 6).
            "nhs_number": None,
            "nhs_number_verification": None,
            "given_name": "Melanie",
            "family_name": "JONES",
            "date_of_birth": "2021-02-11",
            "sex": "female",
        },
    ),
    "UKCore-Patient-RichardSmith-Example.xml": (
        "Patient",
        {
            "nhs_number": "9912003888",
            "nhs_number_verification": "01",
            "given_name": "Richard",
            "family_name": "SMITH",
            "date_of_birth": "1970-09-11",
            "sex": "male",
        },
    ),
}


def parse(body: bytes, instance: str = "nhs-test", **kw: Any) -> MissingEpisodeEvent:
    events = get_adapter("nhs", MAPPINGS).parse(RawInput(body, instance, RECEIVED, **kw))
    assert len(events) == 1
    return events[0]


def quality(event: MissingEpisodeEvent, field: str) -> list[str]:
    return [q.problem for q in event.data_quality if q.field == field]


# --- real UK Core examples ---------------------------------------------------------------------


def test_the_fixture_list_is_complete() -> None:
    assert sorted(p.name for p in v.UKCORE.glob("*.xml")) == sorted(UKCORE)


@pytest.mark.parametrize("name", sorted(UKCORE))
def test_every_uk_core_example_parses_with_its_identity(name: str) -> None:
    kind, expected = UKCORE[name]
    read = read_resources((v.UKCORE / name).read_bytes(), "application/fhir+xml")
    assert read.format == "xml"
    assert read.resource_type == kind
    assert read.root.id == name.removesuffix(".xml")
    if expected is None:
        assert read.patients == []
        return
    [patient] = read.patients
    for key, want in expected.items():
        assert getattr(patient, key) == want, key


def test_uk_core_examples_also_parse_without_a_content_type() -> None:
    for name in UKCORE:
        assert read_resources((v.UKCORE / name).read_bytes(), None).resource_type == UKCORE[name][0]


def test_the_example_with_a_bad_check_digit_is_read_with_the_number_left_out_and_recorded() -> None:
    read = read_resources((v.UKCORE / "UKCore-Patient-BabyPatient-Example.xml").read_bytes())
    assert read.patients[0].nhs_number is None
    assert read.data_quality == [
        {
            "field": "child.ids.nhs_number",
            "problem": "NHS number fails its Modulus 11 check digit",
            "original": "9912003890",
        }
    ]
    # The birthDate carries a primitive extension (birth time): still the date.
    assert read.root.birthDate.isoformat() == "2021-02-11"


def test_ods_codes_of_uk_core_organizations_are_read() -> None:
    leeds = read_resources((v.UKCORE / "UKCore-Organization-LeedsTeachingHospital-Example.xml").read_bytes())
    [org] = leeds.organizations.values()
    assert org.ods_code == "RR8"
    white_rose = read_resources(
        (v.UKCORE / "UKCore-Organization-WhiteRoseMedicalCentre-Example.xml").read_bytes()
    )
    assert [o.ods_code for o in white_rose.organizations.values()] == ["GP5"]


@pytest.mark.parametrize("name", sorted(UKCORE))
def test_a_uk_core_example_is_not_a_missing_child_report(name: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse((v.UKCORE / name).read_bytes(), content_type="application/fhir+xml")
    assert "nothing about a missing child" in err.value.reason


# --- UK Core checks: accepted but flagged ---------------------------------------------------


def _nhs_identifier(doc: dict[str, Any]) -> dict[str, Any]:
    return v.one(doc, "Patient")["identifier"][0]


def test_an_nhs_number_failing_modulus_11_is_flagged_not_rejected() -> None:
    event = parse(v.edit(v.WARD, lambda d: _nhs_identifier(d).update(value="9993093808")))
    assert event.event_type.value == "reported"
    assert event.child.ids.nhs_number is None
    assert event.child.family_name == "Dawkins"  # the child is still identified by name and LA id
    assert [(q.field, q.problem, q.original) for q in event.data_quality] == [
        ("child.ids.nhs_number", "NHS number fails its Modulus 11 check digit", "9993093808")
    ]


def test_an_absent_nhs_number_is_flagged() -> None:
    event = parse(v.edit(v.WARD, lambda d: v.one(d, "Patient")["identifier"].pop(0)))
    assert event.child.ids.nhs_number is None
    assert quality(event, "child.ids.nhs_number") == ["NHS number is absent"]


def test_an_nhs_number_under_another_system_is_not_used() -> None:
    event = parse(
        v.edit(v.WARD, lambda d: _nhs_identifier(d).update(system="http://fhir.nhs.net/Id/nhs-number"))
    )
    assert event.child.ids.nhs_number is None
    assert "not the UK Core NHS number system" in quality(event, "child.ids.nhs_number")[0]


def test_two_different_nhs_numbers_leave_both_out() -> None:
    def two(doc: dict[str, Any]) -> None:
        extra = copy.deepcopy(_nhs_identifier(doc))
        extra["value"] = "9994456725"
        v.one(doc, "Patient")["identifier"].append(extra)

    event = parse(v.edit(v.WARD, two))
    assert event.child.ids.nhs_number is None
    assert quality(event, "child.ids.nhs_number") == [
        "the Patient carries different NHS numbers; none is used"
    ]


def test_an_unverified_nhs_number_is_kept_and_flagged() -> None:
    def untraced(doc: dict[str, Any]) -> None:
        _nhs_identifier(doc)["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = "02"

    event = parse(v.edit(v.WARD, untraced))
    assert event.child.ids.nhs_number == "9993093807"
    assert "verification status is 02" in quality(event, "child.ids.nhs_number")[0]


def test_a_date_of_birth_after_the_last_seen_time_is_flagged() -> None:
    event = parse(v.edit(v.WARD, lambda d: v.one(d, "Patient").update(birthDate="2026-03-13")))
    assert event.child.date_of_birth is None
    assert quality(event, "child.date_of_birth")


def test_a_partial_date_of_birth_is_flagged() -> None:
    event = parse(v.edit(v.WARD, lambda d: v.one(d, "Patient").update(birthDate="2012-10")))
    assert event.child.date_of_birth is None
    assert quality(event, "child.date_of_birth") == ["date of birth is not a full date"]


def test_a_malformed_gp_ods_code_is_flagged() -> None:
    def bad(doc: dict[str, Any]) -> None:
        v.one(doc, "Patient")["generalPractitioner"][0]["identifier"]["value"] = "XX 21!"

    event = parse(v.edit(v.WARD, bad))
    assert event.health is None or event.health.gp_ods is None
    assert quality(event, "health.gp_ods")


def test_a_dangling_reference_the_gateway_does_not_read_is_flagged_not_rejected() -> None:
    def dangle(doc: dict[str, Any]) -> None:
        v.one(doc, "Encounter")["serviceProvider"]["reference"] = "Organization/not-sent"

    event = parse(v.edit(v.WARD, dangle))
    [problem] = [q for q in event.data_quality if q.original == "Organization/not-sent"]
    assert problem.field == "Bundle.entry[6].resource.serviceProvider"
    assert "does not resolve" in problem.problem


def test_a_report_without_a_missing_flag_is_accepted_on_the_communication() -> None:
    def no_flag(doc: dict[str, Any]) -> None:
        flag = v.missing_flag(doc)
        doc["entry"] = [e for e in doc["entry"] if e["resource"] is not flag]
        v.one(doc, "Communication").pop("about")

    event = parse(v.edit(v.WARD, no_flag))
    assert event.source.record_id == "2e09e4b8-245e-4ebc-817a-f708207473b7"  # the Communication
    assert event.episode.last_seen_at is None
    assert quality(event, "episode.last_seen_at")


def test_the_snomed_looked_after_coding_also_means_looked_after() -> None:
    def snomed(doc: dict[str, Any]) -> None:
        flag = v.resources(doc, "Flag")[1]
        flag["code"]["coding"] = [{"system": "http://snomed.info/sct", "code": "764841000000100"}]

    assert parse(v.edit(v.WARD, snomed)).care.looked_after is True


def test_an_inactive_looked_after_flag_leaves_looked_after_unset() -> None:
    event = parse(v.edit(v.WARD, lambda d: v.resources(d, "Flag")[1].update(status="inactive")))
    assert event.care.looked_after is None


def test_an_ods_code_in_lower_case_is_still_the_senders() -> None:
    event = parse(v.edit(v.WARD, lambda d: v.one(d, "Organization")["identifier"][0].update(value="xx1")))
    assert event.event_type.value == "reported"


# --- the shapes a sender may use ------------------------------------------------------------


FIELDS = [
    "event_type",
    "occurred_at",
    "source.record_id",
    "child",
    "episode",
    "care",
    "health",
]


def _fields(event: MissingEpisodeEvent) -> dict[str, Any]:
    doc = event.model_dump(mode="json")
    out = {}
    for name in FIELDS:
        node: Any = doc
        for part in name.split("."):
            node = node[part]
        out[name] = node
    return out


def test_fhir_xml_and_json_say_the_same() -> None:
    model = Bundle.model_validate(v.load(v.WARD))
    as_json = parse(v.dump(v.load(v.WARD)), content_type=v.FHIR_JSON)
    as_xml = parse(model.model_dump_xml(), content_type=v.FHIR_XML)
    assert _fields(as_xml) == _fields(as_json)
    assert as_xml.source.event_id == as_json.source.event_id


def test_a_communication_on_its_own_with_its_patient_contained() -> None:
    bundled = parse((v.NHS / v.WARD).read_bytes())
    single = parse(v.dump(v.standalone(v.WARD, "Communication")))
    assert _fields(single) == {**_fields(bundled), "occurred_at": _fields(bundled)["occurred_at"]}
    assert single.source.event_id is None  # no MessageHeader: the key uses the content
    assert single.idempotency_key.startswith("nhs:nhs-test:781b9a43-d04c-450b-8620-f0877e5fe381:sha256-")


def test_a_communication_request_on_its_own() -> None:
    single = parse(v.dump(v.standalone(v.ALERT, "CommunicationRequest")))
    assert single.event_type.value == "updated"
    assert single.health.nhs_alert_requested is True
    assert single.health.named_nurse_ods == "XX2"
    assert single.care.responsible_la == "937"


def _flag_alone(name: str) -> dict[str, Any]:
    doc = v.standalone(name, "Communication")
    flag_id = v.missing_flag(v.load(name))["id"]
    flag = next(c for c in doc["contained"] if c["id"] == flag_id)
    others = [c for c in doc["contained"] if c["id"] != flag_id and c["resourceType"] != "Encounter"]
    flag = copy.deepcopy(flag)
    flag.pop("encounter", None)
    flag["contained"] = others
    return flag


def test_a_missing_child_flag_on_its_own_reports_the_child_missing() -> None:
    event = parse(v.dump(_flag_alone(v.WARD)))
    assert event.event_type.value == "reported"
    assert event.occurred_at.isoformat() == "2026-03-12T14:20:00+00:00"  # period.start
    assert event.episode.police.reference == "MP/2026/002207"
    assert event.child.ids.nhs_number == "9993093807"
    assert event.source.record_id == "781b9a43-d04c-450b-8620-f0877e5fe381"


def test_an_inactive_missing_child_flag_on_its_own_says_the_child_is_found() -> None:
    event = parse(v.dump(_flag_alone(v.RETURNED)))
    assert event.event_type.value == "found"
    assert event.episode.found_at.isoformat() == "2026-03-12T19:05:00+00:00"


def test_a_collection_with_only_a_missing_flag() -> None:
    doc = v.load(v.RETURNED)
    doc["entry"] = [e for e in doc["entry"] if e["resource"]["resourceType"] not in ("Communication",)]
    event = parse(v.dump(doc))
    assert event.event_type.value == "found"
    assert event.source.record_id == "781b9a43-d04c-450b-8620-f0877e5fe381"


def test_a_flag_authored_by_the_local_authority_cannot_be_sent_on_its_own() -> None:
    flag = _flag_alone(v.WARD)
    flag["author"]["reference"] = "#83faac57-2f56-4652-866d-e486522c4f8d"  # Derby City Council
    with pytest.raises(WrongInstance, match="carries no ODS code"):
        parse(v.dump(flag))


def test_the_endpoint_path_must_match_the_body() -> None:
    with pytest.raises(InvalidInput, match="is a Bundle but was sent to the Communication endpoint"):
        parse((v.NHS / v.WARD).read_bytes(), headers={"X-Gateway-FHIR-Resource": "Communication"})


def test_an_r4b_data_type_is_refused() -> None:
    def r4b(doc: dict[str, Any]) -> None:
        v.one(doc, "Patient")["extension"] = [
            {"url": "https://example.org/x", "valueCodeableReference": {"concept": {"text": "x"}}}
        ]

    with pytest.raises(InvalidInput, match="R4B data type"):
        parse(v.edit(v.WARD, r4b))


# --- instances --------------------------------------------------------------------------------

OWN_INSTANCE = {
    v.WARD: "nhs-xx1",
    v.ALERT: "nhs-xx2",
    v.ED: "nhs-xx3",
    v.RETURNED: "nhs-xx1",
    v.MENTAL_HEALTH_XML: "nhs-xx4",
}


@pytest.mark.parametrize("name", sorted(OWN_INSTANCE))
def test_each_specimen_on_its_own_instance_and_refused_on_another(name: str) -> None:
    body = (v.NHS / name).read_bytes()
    event = parse(body, OWN_INSTANCE[name])
    assert event.source.instance == OWN_INSTANCE[name]
    other = "nhs-xx2" if OWN_INSTANCE[name] != "nhs-xx2" else "nhs-xx3"
    with pytest.raises(WrongInstance) as err:
        parse(body, other)
    assert other in err.value.reason


def test_an_unknown_instance_is_refused() -> None:
    with pytest.raises(AdapterError, match="no nhs mapping for instance 'nhs-nowhere'"):
        parse((v.NHS / v.WARD).read_bytes(), "nhs-nowhere")


# --- logs ---------------------------------------------------------------------------------------


def test_logs_carry_ids_not_the_childs_details() -> None:
    with structlog.testing.capture_logs() as logs:
        for name in OWN_INSTANCE:
            parse((v.NHS / name).read_bytes())
    text = json.dumps(logs, default=str)
    assert "nhs.mapped" in text
    for secret in ("Ellie-Mae", "Dawkins", "9993093807", "2012-10-05", "Lockwood", "insulin", "Wardle"):
        assert secret not in text


# --- logical references (an identifier instead of a resource) -----------------------------------


def test_organisations_named_by_identifier_instead_of_a_resource() -> None:
    """A sender that names the LA, the requester or itself by identifier (a logical reference) rather
    than including the Organization is read the same way."""

    def logical(doc: dict[str, Any]) -> None:
        header = v.one(doc, "MessageHeader")
        header["sender"] = {
            "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "XX2"}
        }
        request = v.one(doc, "CommunicationRequest")
        request["requester"] = {
            "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "XX2"}
        }
        request["sender"] = {
            "identifier": {"system": "https://example.org/fhir/Id/dfe-la-code", "value": "937"}
        }

    event = parse(v.edit(v.ALERT, logical), "nhs-xx2")
    assert event.care.responsible_la == "937"
    assert event.health.named_nurse_ods == "XX2"
    with pytest.raises(WrongInstance, match="XX2"):
        parse(v.edit(v.ALERT, logical), "nhs-xx1")
