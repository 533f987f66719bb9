"""The shared adapter contract for Mosaic: every specimen, field by field (README §3, §4), and every
kind of invalid event (README §6)."""

from __future__ import annotations

import json

from gateway.settings import REPO_ROOT
from tests.adapters.contract import AdapterContract, Invalid, Specimen
from tests.adapters.mosaic.helpers import MOSAIC, answer, drop, setv, variant

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "mosaic"
FIRST = "01-missing-episode-started-looked-after.json"

# What every Wandsworth specimen says about the child and the care context (the subject block).
NIA = {
    "child.given_name": "Nia",
    "child.family_name": "Fairweather",
    "child.date_of_birth": "2011-07-30",
    "child.sex": "female",
    "child.ids.nhs_number": "9998898129",
    "child.ids.upn": "L212999922640",
    "child.ids.la_ids": [{"la_code": "212", "id": "2290381"}],
    "child.languages": ["en"],
    "child.interpreter_needed": False,
    "care.looked_after": True,
    "care.legal_status": "s31_care_order",
    "care.cp_plan": False,
    "care.child_in_need": False,
    "care.early_help": False,
    "care.case_status": "open",
    "care.responsible_la": "212",
    "care.host_la": "886",
    "care.placement.type": "foster",
    "care.placement.provider": "Brightwater Fostering (independent fostering agency)",
    "care.placement.ofsted_urn": "SC999777",
    "care.placement.postcode": "ME15 9ZY",
    "care.allocated_worker": {
        "name": "Grace Obi",
        "team": "Looked After Children Team 2",
        "email": "grace.obi@wandsworth.example",
        "phone": "020 7946 0231",
    },
    "care.iro": {
        "name": "Martin Keel",
        "team": "Independent Reviewing Service",
        "email": "martin.keel@wandsworth.example",
        "phone": "020 7946 0588",
    },
    "education.school_urn": "999640",
    "education.school_name": "Loose Valley Test School",
    "health.gp_ods": "XX0012",
    "data_quality": [],
}
# The missing-episode form as first recorded (specimen 01).
EPISODE = {
    "episode.category": "missing",
    "episode.missing_from": "care_placement",
    "episode.last_seen_at": "2026-02-09T22:30:00Z",
    "episode.last_seen_location": {
        "text": "Foster home, Maidstone: left the house after a phone call and did not come back",
        "postcode": "ME15 9ZY",
    },
    "episode.reported_at": "2026-02-09T23:50:00Z",
    "episode.police": {"force": "E23000032", "reference": "KNT-MP-26-0871"},
    "episode.circumstances": (
        "Out with friends from 18:00, back at 22:00 as agreed. At 22:30 she took a phone call and left the "
        "house again; phone off since. Foster carer called EDT and Kent Police at 23:50. Fourth episode "
        "since "
        "September."
    ),
}
HIGH_RISK = {
    "episode.risk_level": "high",
    "episode.risk_assessed_at": "2026-02-10T10:45:00Z",
    "episode.risk_assessed_by": "Kent Police missing person coordinator, after strategy discussion",
    "episode.risk_factors": {"cse", "county_lines", "substance_misuse"},
}


def _src(record_id: str, event_id: str) -> dict[str, object]:
    return {
        "source.record_id": record_id,
        "source.event_id": event_id,
        "idempotency_key": f"mosaic:wandsworth-mosaic:{record_id}:{event_id}",
    }


class TestMosaicContract(AdapterContract):
    system = "mosaic"
    instance = "wandsworth-mosaic"
    specimen_dir = MOSAIC
    valid = [
        Specimen(
            FIRST,
            [
                {
                    **NIA,
                    **EPISODE,
                    **_src("48810337", "66bf2787-7fda-4861-b29b-ffccd6ac3c33"),
                    "event_type": "reported",
                    "occurred_at": "2026-02-09T23:50:00Z",  # the reported_at answer, before started_on
                    "recorded_at": "2026-02-10T08:05:12Z",
                    "episode.risk_level": "medium",
                    "episode.risk_assessed_at": "2026-02-10T00:15:00Z",
                    "episode.risk_assessed_by": "Kent Police control room",
                    "episode.risk_factors": set(),
                }
            ],
        ),
        Specimen(
            "02-risk-factors-recorded.json",
            [
                {
                    **NIA,
                    **EPISODE,
                    **HIGH_RISK,
                    **_src("48810337", "02261833-8d1d-4b9c-acd3-b06f5356db18"),
                    "event_type": "risk_changed",  # WMIS_POLICE_RISK is in changed_question_user_codes
                    "occurred_at": "2026-02-10T10:45:00Z",  # the risk_assessed_at answer
                    "recorded_at": "2026-02-10T11:20:40Z",
                }
            ],
        ),
        Specimen(
            "03-episode-ended-found.json",
            [
                {
                    **NIA,
                    **EPISODE,
                    **HIGH_RISK,
                    **_src("48810337", "7cc6852f-f157-492b-8746-f2dfd17e4389"),
                    "event_type": "found",
                    "occurred_at": "2026-02-11T15:20:00Z",  # the found_at answer
                    "episode.found_at": "2026-02-11T15:20:00Z",
                    "episode.found_location": {
                        "text": "Clapham Junction railway station",
                        "postcode": "SW11 9ZZ",
                    },
                    "episode.found_by": "police",
                    "episode.harm_disclosed": False,
                }
            ],
        ),
        Specimen(
            "04-return-interview-offered.json",
            [
                {
                    **NIA,
                    **_src("48810337", "6345be49-ec87-4d3a-a3df-37bdaf1611ec"),
                    "event_type": "return_interview_offered",  # step 1740 joins episode step 48810337
                    "occurred_at": "2026-02-12T09:30:00Z",
                    "recorded_at": "2026-02-12T09:31:05Z",
                    "return_interview": {
                        "offered_at": "2026-02-12T09:30:00Z",
                        "provider": "Evolve (Wandsworth return home conversations)",
                        "completed_at": None,
                        "declined": None,
                    },
                    "episode.police": None,  # episode questions are not on this form
                }
            ],
        ),
        Specimen(
            "05-return-interview-completed.json",
            [
                {
                    **NIA,
                    **_src("48810337", "4f1455e5-1362-4b3c-888a-d9e5af8e1b93"),
                    "event_type": "return_interview_completed",
                    "occurred_at": "2026-02-13T16:00:00Z",  # the completed_at answer, not completed_on
                    "recorded_at": "2026-02-13T16:20:44Z",
                    "return_interview": {
                        "offered_at": "2026-02-12T09:30:00Z",
                        "completed_at": "2026-02-13T16:00:00Z",
                        "declined": False,
                        "provider": "Evolve (Wandsworth return home conversations)",
                    },
                }
            ],
        ),
    ]
    invalid = [
        # 1. not JSON, not an object, not UTF-8
        Invalid("not json", b'{"schema": ', "not well-formed"),
        Invalid("not an object", b"[1, 2, 3]", "JSON object"),
        Invalid("not utf-8", b'{"schema": "mosaic-workflow-event/1", "x": "\xff\xfe"}', "UTF-8"),
        Invalid("empty", b"", "empty"),
        # 2. schema
        Invalid("wrong schema", variant(FIRST, setv("schema", "mosaic-workflow-event/2")), "schema"),
        Invalid("no schema", variant(FIRST, drop("schema")), "schema"),
        # 3. required fields missing or of the wrong JSON type
        Invalid("no event_id", variant(FIRST, drop("event_id")), "event_id"),
        Invalid("event_id a number", variant(FIRST, setv("event_id", 12)), "event_id"),
        Invalid("no step_event", variant(FIRST, drop("step_event")), "step_event"),
        Invalid("no event_time", variant(FIRST, drop("event_time")), "event_time"),
        Invalid("no deployment", variant(FIRST, drop("deployment")), "deployment"),
        Invalid("no la_code", variant(FIRST, drop("deployment.la_code")), "deployment.la_code"),
        Invalid("no step id", variant(FIRST, drop("workflow_step.workflow_step_id")), "workflow_step_id"),
        Invalid(
            "step id a string",
            variant(FIRST, setv("workflow_step.workflow_step_id", "48810337")),
            "workflow_step_id",
        ),
        Invalid(
            "step id a boolean",
            variant(FIRST, setv("workflow_step.workflow_step_id", True)),
            "workflow_step_id",
        ),
        Invalid(
            "no step type",
            variant(FIRST, drop("workflow_step.workflow_step_type_id")),
            "workflow_step_type_id",
        ),
        Invalid("no subject id", variant(FIRST, drop("subject.subject_compound_id")), "subject_compound_id"),
        Invalid(
            "subject id a number",
            variant(FIRST, setv("subject.subject_compound_id", 2290381)),
            "subject_compound_id",
        ),
        Invalid("no forename", variant(FIRST, drop("subject.forename")), "subject.forename"),
        Invalid("null surname", variant(FIRST, setv("subject.surname", None)), "subject.surname"),
        Invalid("no date of birth", variant(FIRST, drop("subject.date_of_birth")), "subject.date_of_birth"),
        # 4. code lists, times and dates
        Invalid("step_event unknown", variant(FIRST, setv("step_event", "DELETED")), "step_event"),
        Invalid(
            "step_status unknown", variant(FIRST, setv("workflow_step.step_status", "DONE")), "step_status"
        ),
        Invalid("event_time garbage", variant(FIRST, setv("event_time", "10/02/2026 08:05")), "event_time"),
        Invalid("started_on garbage", variant(FIRST, setv("workflow_step.started_on", "soon")), "started_on"),
        Invalid(
            "date of birth garbage",
            variant(FIRST, setv("subject.date_of_birth", "30/07/2011")),
            "date_of_birth",
        ),
        # 5. the instance's LA code
        Invalid("other council", variant(FIRST, setv("deployment.la_code", "937")), "la_code"),
        # 6. mapped answers that do not fit their type
        Invalid(
            "lookup without code",
            variant(FIRST, lambda d: answer(d, "WMIS_POLICE_RISK").update(value={"text": "High"})),
            "needs a code",
        ),
        Invalid(
            "unparseable date answer",
            variant(FIRST, lambda d: answer(d, "WMIS_LAST_SEEN_DT").update(value="last Tuesday")),
            "WMIS_LAST_SEEN_DT",
        ),
        Invalid(
            "text answered as a number",
            variant(FIRST, lambda d: answer(d, "WMIS_POLICE_REF").update(answer_type="number", value=871)),
            "expects text",
        ),
        Invalid(
            "text answer not a string",
            variant(FIRST, lambda d: answer(d, "WMIS_CIRCS").update(value=["a", "b"])),
            "WMIS_CIRCS",
        ),
        Invalid(
            "answers not a list", variant(FIRST, setv("form.answers", {"WMIS_TYPE": "M"})), "form.answers"
        ),
        Invalid(
            "answer without a code",
            variant(FIRST, lambda d: d["form"]["answers"].append({"value": 1})),
            "question_user_code",
        ),
    ]


def _warwickshire_invalid() -> list[Invalid]:
    doc = json.loads((FIXTURES / "warwickshire-01-missing-started-july.json").read_text())
    cases = []
    bad_time = json.loads(json.dumps(doc))
    next(a for a in bad_time["form"]["answers"] if a["question_user_code"] == "MIS0104")["value"] = "9pm"
    cases.append(Invalid("time answer not HH:MM", json.dumps(bad_time).encode(), "HH:MM"))
    other = json.loads(json.dumps(doc))
    other["deployment"]["la_code"] = "212"
    cases.append(
        Invalid("Wandsworth event on the Warwickshire channel", json.dumps(other).encode(), "la_code")
    )
    ignored_bad_envelope = json.loads((MOSAIC / "06-non-missing-step-ignored.json").read_text())
    del ignored_bad_envelope["subject"]["surname"]
    cases.append(
        Invalid(
            "ignored step still needs its envelope",
            json.dumps(ignored_bad_envelope).encode(),
            "subject.surname",
        )
    )
    return cases


class TestMosaicWarwickshireContract(AdapterContract):
    """Warwickshire's own mapping: step 1722 is an Early Help Assessment there (ignored), the last-seen
    time is asked as a date question plus an "HH:MM" question, and the police force is a default."""

    system = "mosaic"
    instance = "warwickshire-mosaic"
    specimen_dir = MOSAIC
    valid = [
        Specimen("06-non-missing-step-ignored.json", []),
        Specimen(
            str(FIXTURES / "warwickshire-01-missing-started-july.json"),
            [
                {
                    "event_type": "reported",
                    "occurred_at": "2026-07-14T21:00:00Z",  # 22:00 BST
                    "recorded_at": "2026-07-14T21:05:10Z",
                    "source.record_id": "7741200",
                    "idempotency_key": (
                        "mosaic:warwickshire-mosaic:7741200:3f0c1d2e-5b6a-4c7d-8e9f-0a1b2c3d4e5f"
                    ),
                    "child.given_name": "Ruby",
                    "child.family_name": "Haddon",
                    "child.date_of_birth": "2015-04-03",
                    "child.ids.la_ids": [{"la_code": "937", "id": "604455"}],
                    "episode.category": "missing",
                    "episode.missing_from": "home",
                    "episode.last_seen_at": "2026-07-14T20:40:00Z",  # MIS0103 2026-07-14 + MIS0104 21:40 BST
                    "episode.last_seen_location": {
                        "text": "Park near the family home, Nuneaton",
                        "postcode": None,
                    },
                    "episode.reported_at": "2026-07-14T21:00:00Z",
                    "episode.risk_level": "high",
                    "episode.risk_assessed_at": "2026-07-14T21:30:00Z",
                    "episode.risk_factors": {"cce", "county_lines"},
                    "episode.police": {"force": "E23000017", "reference": "WAR-MP-26-3301"},  # default force
                    "care.looked_after": False,
                    "care.legal_status": "none",  # no code and not looked after
                    "care.cp_plan": True,
                    "care.responsible_la": "937",
                    "care.host_la": "937",  # no placement: home LA
                    "care.placement": None,
                    "return_interview": None,  # the provider default is not an offer
                }
            ],
        ),
        Specimen(
            str(FIXTURES / "warwickshire-02-return-conversation-declined.json"),
            [
                {
                    "event_type": "return_interview_declined",
                    "occurred_at": "2026-07-17T09:00:00Z",  # RCV0203, 10:00 BST
                    "source.record_id": "7741200",  # joined to the episode step
                    "return_interview": {
                        "offered_at": "2026-07-15T08:00:00Z",
                        "completed_at": None,
                        "declined": True,
                        "provider": "Warwickshire FAST Missing Team",
                    },
                    "episode.police": None,  # an episode default is not news here
                }
            ],
        ),
    ]
    invalid = _warwickshire_invalid()
