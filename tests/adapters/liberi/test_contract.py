"""The shared adapter contract for Liberi: every specimen, field by field (README §3, §4), every kind
of invalid request (README §6), and the signed channel: unsigned, bad signature, stale request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from adapters.base import RawInput
from tests.adapters.contract import AdapterContract, Invalid, Specimen
from tests.adapters.liberi.helpers import (
    LIBERI,
    OPENED,
    SECRET,
    SECRET_ENV,
    drop,
    received_for,
    setv,
    signed,
    variant,
)

PATHWAY = "MPP-0031875"
KEY = f"liberi:kent-liberi:{PATHWAY}"

TIA = {
    "child.given_name": "Tia Louise",  # firstName + middleNames
    "child.family_name": "Hollings",
    "child.known_as": "Tia",
    "child.date_of_birth": "2010-11-03",
    "child.sex": "female",
    "child.ids.nhs_number": "9996501388",
    "child.ids.upn": "C886999922318",
    "child.ids.la_ids": [{"la_code": "886", "id": "1184226"}],
    "child.languages": ["en"],
    "child.interpreter_needed": False,
    "care.looked_after": True,
    "care.legal_status": "s31_care_order",
    "care.cp_plan": False,
    "care.child_in_need": False,
    "care.early_help": False,
    "care.case_status": "open",
    "care.responsible_la": "886",
    "care.host_la": "860",  # placed in Staffordshire
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
    "care.iro": {
        "name": "Colin Barrow",
        "team": "Independent Reviewing Officers, East Kent",
        "email": "colin.barrow@kent.example",
        "phone": "07700 900588",
    },
    "education": {
        "school_urn": "999318",
        "school_name": "Trentside Academy",
        "electively_home_educated": False,
    },
    "health.gp_ods": "XX0004",
    "episode.category": "missing",
    "episode.missing_from": "care_placement",
    "episode.last_seen_at": "2026-03-03T19:30:00Z",
    "episode.last_seen_location": {
        "text": "Leaving Larch House on foot, said she was going to the shop",
        "postcode": "DE14 9ZX",
    },
    "episode.reported_at": "2026-03-03T22:15:00Z",
    "episode.police": {"force": "E23000015", "reference": "MP/2026/001234"},
    "data_quality": [],
}
HIGH = {
    "episode.risk_level": "high",
    "episode.risk_assessed_at": "2026-03-04T09:15:00Z",
    "episode.risk_assessed_by": "Staffordshire Police Missing Person Investigation Team",
    "episode.risk_factors": {"cse", "cce", "substance_misuse"},
}
FOUND = {
    "episode.found_at": "2026-03-05T02:50:00Z",
    "episode.found_by": "police",
    "episode.found_location": {
        "text": "Residential address in Derby (full address held by Staffordshire Police)",
        "postcode": "DE23 6ZZ",
    },
}
CONVERSATION = {
    "offered_at": "2026-03-05T15:10:00Z",
    "declined": False,
    "provider": "Catch22 (commissioned by Kent for out-of-area placements)",
}


def _src(event_id: str) -> dict[str, str]:
    return {"source.record_id": PATHWAY, "source.event_id": event_id, "idempotency_key": f"{KEY}:{event_id}"}


def _signed_invalid(name: str, body: bytes, reason: str) -> Invalid:
    return Invalid(name, body, reason, headers=signed(body))


_OPENED_BYTES = (LIBERI / OPENED).read_bytes()


class TestLiberiContract(AdapterContract):
    system = "liberi"
    instance = "kent-liberi"
    specimen_dir = LIBERI
    valid = [
        Specimen(
            OPENED,
            [
                {
                    **TIA,
                    **_src("6cedda4c-8f3c-411e-80ca-3b0830e6beee"),
                    "event_type": "reported",
                    "occurred_at": "2026-03-03T22:15:00Z",
                    "recorded_at": "2026-03-03T22:52:10Z",
                    "episode.risk_level": "medium",
                    "episode.risk_assessed_at": "2026-03-03T22:40:00Z",
                    "episode.risk_assessed_by": "Staffordshire Police control room",
                    "episode.risk_factors": {"cse"},
                    "episode.found_at": None,
                    "episode.harm_disclosed": None,
                    "return_interview": None,
                    "episode.circumstances": (
                        "Home manager rang Kent Out of Hours at 22:25: Tia did not return by the 21:00 "
                        "curfew, phone off since about 20:05. Reported to Staffordshire Police at 22:15. "
                        "Third episode in this placement; previous episodes involved unknown adult males "
                        "in cars."
                    ),
                }
            ],
            content_type="application/json; charset=utf-8",
        ),
        Specimen(
            "02-missing-episode-updated-risk-high.json",
            [
                {
                    **TIA,
                    **HIGH,
                    **_src("d810e7ca-4cc0-414a-bf93-b2531f0fcdc7"),
                    "event_type": "risk_changed",  # changedFields has episode.riskLevel
                    "occurred_at": "2026-03-04T09:15:00Z",
                    "recorded_at": "2026-03-04T10:05:13Z",
                }
            ],
        ),
        Specimen(
            "03-child-found.json",
            [
                {
                    **TIA,
                    **HIGH,
                    **FOUND,
                    **_src("11c3c3aa-78ec-4c45-a8ae-5d00abfe2c34"),
                    "event_type": "found",
                    "occurred_at": "2026-03-05T02:50:00Z",
                    "episode.harm_disclosed": None,
                    "return_interview": None,
                }
            ],
        ),
        Specimen(
            "04-missing-conversation-offered.json",
            [
                {
                    **TIA,
                    **HIGH,
                    **FOUND,
                    **_src("02c6bfff-1eec-4b9d-9c5e-904d9b7a811d"),
                    "event_type": "return_interview_offered",
                    "occurred_at": "2026-03-05T15:10:00Z",
                    "episode.harm_disclosed": True,
                    "return_interview": {**CONVERSATION, "completed_at": None},
                }
            ],
        ),
        Specimen(
            "05-missing-conversation-completed.json",
            [
                {
                    **TIA,
                    **HIGH,
                    **FOUND,
                    **_src("92b1b4c7-88ee-467e-b066-9a781f7ae079"),
                    "event_type": "return_interview_completed",
                    "occurred_at": "2026-03-07T11:00:00Z",
                    "return_interview": {**CONVERSATION, "completed_at": "2026-03-07T11:00:00Z"},
                }
            ],
        ),
        Specimen(
            "06-missing-episode-closed.json",
            [
                {
                    **TIA,
                    **HIGH,
                    **FOUND,
                    **_src("07499ece-b04a-4dd4-877e-4f15aa309121"),
                    "event_type": "closed",
                    "occurred_at": "2026-03-09T09:30:00Z",
                    "recorded_at": "2026-03-09T09:31:05Z",
                }
            ],
        ),
    ]
    invalid = [
        # --- the signed channel (401) ---
        Invalid("unsigned", _OPENED_BYTES, "unsigned requests are refused"),
        Invalid("empty signature", _OPENED_BYTES, "unsigned", headers={"X-Liberi-Signature": ""}),
        Invalid("bad signature", _OPENED_BYTES, "bad signature", headers=signed(_OPENED_BYTES + b" ")),
        Invalid(
            "signed with another secret",
            _OPENED_BYTES,
            "bad signature",
            headers=signed(_OPENED_BYTES, SECRET + "x"),
        ),
        Invalid("not sha256", _OPENED_BYTES, "sha256=<hex>", headers={"X-Liberi-Signature": "md5=abc"}),
        Invalid(
            "body altered after signing",
            variant(OPENED, setv("episode.riskLevel", "Low")),
            "bad signature",
            headers=signed(_OPENED_BYTES),
        ),
        _signed_invalid(
            "stale: published two days before receipt",
            variant(OPENED, setv("publishedAt", "2026-03-02T08:00:00Z")),
            "replay window",
        ),
        # --- 1. not JSON, not an object, not UTF-8 ---
        _signed_invalid("not json", b'{"specVersion": "1.2",', "not well-formed"),
        _signed_invalid("not an object", b'["specVersion", "1.2"]', "JSON object"),
        _signed_invalid("not utf-8", b'{"specVersion": "1.2", "x": "\xff"}', "UTF-8"),
        # --- 2. specVersion ---
        _signed_invalid("spec 2.0", variant(OPENED, setv("specVersion", "2.0")), "specVersion"),
        _signed_invalid("spec a number", variant(OPENED, setv("specVersion", 1.2)), "specVersion"),
        # --- 3. required fields missing, null or of the wrong type ---
        _signed_invalid("no eventId", variant(OPENED, drop("eventId")), "eventId"),
        _signed_invalid("null eventType", variant(OPENED, setv("eventType", None)), "eventType"),
        _signed_invalid("no occurredAt", variant(OPENED, drop("occurredAt")), "occurredAt"),
        _signed_invalid("no tenant.laCode", variant(OPENED, drop("tenant.laCode")), "tenant.laCode"),
        _signed_invalid("laCode a number", variant(OPENED, setv("tenant.laCode", 886)), "tenant.laCode"),
        _signed_invalid("no pathwayId", variant(OPENED, drop("pathwayId")), "pathwayId"),
        _signed_invalid("no child", variant(OPENED, drop("child")), "child"),
        _signed_invalid("no personId", variant(OPENED, drop("child.personId")), "child.personId"),
        _signed_invalid("null firstName", variant(OPENED, setv("child.firstName", None)), "child.firstName"),
        _signed_invalid("no lastName", variant(OPENED, drop("child.lastName")), "child.lastName"),
        _signed_invalid("no dateOfBirth", variant(OPENED, drop("child.dateOfBirth")), "child.dateOfBirth"),
        _signed_invalid("no category", variant(OPENED, drop("episode.category")), "episode.category"),
        _signed_invalid(
            "no missingFrom", variant(OPENED, drop("episode.missingFrom")), "episode.missingFrom"
        ),
        _signed_invalid("no lastSeenAt", variant(OPENED, drop("episode.lastSeenAt")), "episode.lastSeenAt"),
        # --- 4. codes, dates and times ---
        _signed_invalid("category", variant(OPENED, setv("episode.category", "Lost")), "episode.category"),
        _signed_invalid("gender", variant(OPENED, setv("child.gender", "F")), "child.gender"),
        _signed_invalid(
            "risk indicator", variant(OPENED, setv("episode.riskIndicators", ["Grooming"])), "riskIndicators"
        ),
        _signed_invalid("risk level", variant(OPENED, setv("episode.riskLevel", "Severe")), "riskLevel"),
        _signed_invalid(
            "placement type", variant(OPENED, setv("placement.placementType", "Hostel")), "placementType"
        ),
        _signed_invalid("pathway status", variant(OPENED, setv("pathwayStatus", "Missing")), "pathwayStatus"),
        _signed_invalid(
            "time without offset",
            variant(OPENED, setv("episode.lastSeenAt", "2026-03-03T19:30:00")),
            "no offset",
        ),
        _signed_invalid(
            "occurredAt without offset",
            variant(OPENED, setv("occurredAt", "2026-03-03T22:15:00")),
            "no offset",
        ),
        _signed_invalid(
            "time garbage",
            variant(OPENED, setv("episode.reportedToPoliceAt", "last night")),
            "does not parse",
        ),
        _signed_invalid(
            "date garbage", variant(OPENED, setv("child.dateOfBirth", "03/11/2010")), "dateOfBirth"
        ),
        # --- 5. the instance's LA code ---
        _signed_invalid("other council", variant(OPENED, setv("tenant.laCode", "860")), "laCode"),
        # --- 6. the event type's own data ---
        _signed_invalid(
            "found without foundAt", variant("03-child-found.json", setv("episode.foundAt", None)), "foundAt"
        ),
        _signed_invalid(
            "conversation without missingConversation",
            variant("04-missing-conversation-offered.json", setv("missingConversation", None)),
            "missingConversation",
        ),
        _signed_invalid(
            "completed without completedAt",
            variant("05-missing-conversation-completed.json", setv("missingConversation.completedAt", None)),
            "completedAt",
        ),
    ]

    @pytest.fixture(autouse=True)
    def _secret(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        monkeypatch.setenv(SECRET_ENV, SECRET)
        yield

    def sign(self, body: bytes, headers: dict[str, str]) -> dict[str, str]:
        return {**headers, **signed(body)}

    def raw(
        self,
        body: bytes,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        filename: str | None = None,
    ) -> RawInput:
        raw = super().raw(body, content_type, headers, filename)
        return RawInput(
            body=raw.body,
            instance=raw.instance,
            received_at=received_for(body),
            content_type=raw.content_type,
            filename=raw.filename,
            headers=raw.headers,
        )
