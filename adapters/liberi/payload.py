"""The webhook body (README §2, §6): checked, then mapped to canonical values (§4).

Three kinds of fault, three outcomes. A required field missing, an unknown code or an unparseable
time rejects the event (§6). A value of the wrong JSON type in an optional field is left out and shown
to operators in ``data_quality``: it does not stop the report being identified. Fields the gateway does
not map (``recordedBy``, ``placement.startDate``, ``declinedReason``...) are not read at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.base import InvalidInput
from adapters.common.ids import bounded_id
from adapters.common.json_body import json_type
from adapters.common.quality import date_of_birth, issue, nhs_number_absent
from adapters.common.times import parse_iso_datetime
from adapters.liberi import codes

SPEC_MAJOR = "1."


class Reader:
    """Typed reads with the dotted source path in every reason."""

    def __init__(self, quality: list[dict[str, Any]]):
        self.quality = quality

    @staticmethod
    def _missing(where: str, value: Any, want: str) -> InvalidInput:
        got = "missing or null" if value is None else f"a JSON {json_type(value)}"
        return InvalidInput(f"{where}: required {want}, got {got}")

    def obj(
        self, node: dict[str, Any], key: str, where: str, *, required: bool = False, field: str | None = None
    ) -> dict[str, Any] | None:
        value = node.get(key)
        if isinstance(value, dict):
            return value
        if required:
            raise self._missing(where, value, "object")
        if value is not None:
            self.quality.append(
                issue(field or where, f"{where} is not an object (a JSON {json_type(value)}): left out")
            )
        return None

    def req_str(self, node: dict[str, Any], key: str, where: str) -> str:
        value = node.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self._missing(where, value if not isinstance(value, str) else None, "non-empty string")
        return value.strip()

    def opt_str(self, node: dict[str, Any] | None, key: str, where: str, field: str) -> str | None:
        value = None if node is None else node.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.quality.append(
                issue(field, f"{where} is not a string (a JSON {json_type(value)}): left out")
            )
            return None
        return value.strip() or None

    def opt_bool(self, node: dict[str, Any] | None, key: str, where: str, field: str) -> bool | None:
        value = None if node is None else node.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            self.quality.append(
                issue(field, f"{where} is not true or false (a JSON {json_type(value)}): left out")
            )
            return None
        return value

    def code(
        self,
        node: dict[str, Any] | None,
        key: str,
        table: dict[str, str],
        where: str,
        *,
        required: bool = False,
    ) -> str | None:
        value = None if node is None else node.get(key)
        if value is None:
            if required:
                raise self._missing(where, value, "code")
            return None
        if not isinstance(value, str) or value not in table:
            raise InvalidInput(f"{where}: not one of {', '.join(table)}")
        return table[value]

    def time(
        self, node: dict[str, Any] | None, key: str, where: str, *, required: bool = False
    ) -> datetime | None:
        value = None if node is None else node.get(key)
        if value is None:
            if required:
                raise self._missing(where, value, "date-time")
            return None
        if not isinstance(value, str):
            raise InvalidInput(
                f"{where}: expected an ISO 8601 date-time string, got a JSON {json_type(value)}"
            )
        try:
            return parse_iso_datetime(value, require_offset=True)
        except ValueError as exc:
            # Liberi always sends an offset; a time without one is a broken sender, not a local time.
            problem = "date-time has no offset" if "offset" in str(exc) else "date-time does not parse"
            raise InvalidInput(f"{where}: {problem}") from None


def check_envelope(doc: dict[str, Any], reader: Reader) -> tuple[str, str, str]:
    """What every event needs, even one of a type the gateway ignores: (specVersion, eventId, eventType)
    and the tenant's LA code (checked against the instance by the caller)."""
    spec = doc.get("specVersion")
    if not isinstance(spec, str) or not spec.startswith(SPEC_MAJOR) or not spec[len(SPEC_MAJOR) :].isdigit():
        raise InvalidInput("specVersion: expected 1.x")
    event_id = bounded_id(reader.req_str(doc, "eventId", "eventId"), "eventId")
    event_type = reader.req_str(doc, "eventType", "eventType")
    tenant = reader.obj(doc, "tenant", "tenant", required=True)
    assert tenant is not None
    la_code = reader.req_str(tenant, "laCode", "tenant.laCode")
    return event_id, event_type, la_code


def event_type(liberi_type: str, doc: dict[str, Any]) -> str:
    if liberi_type == "MissingEpisodeUpdated":
        changed = doc.get("changedFields")
        if isinstance(changed, list) and "episode.riskLevel" in changed:
            return "risk_changed"
    return codes.EVENT_TYPES[liberi_type]


def _location(reader: Reader, node: dict[str, Any], key: str, field: str) -> dict[str, Any] | None:
    loc = reader.obj(node, key, f"episode.{key}", field=field)
    if loc is None:
        return None
    return {
        "text": reader.opt_str(loc, "description", f"episode.{key}.description", f"{field}.text"),
        "postcode": reader.opt_str(loc, "postcode", f"episode.{key}.postcode", f"{field}.postcode"),
    }


def _worker(reader: Reader, child: dict[str, Any], key: str, field: str) -> dict[str, Any] | None:
    node = reader.obj(child, key, f"child.{key}", field=field)
    if node is None:
        return None
    return {
        k: reader.opt_str(node, k, f"child.{key}.{k}", f"{field}.{k}")
        for k in ("name", "team", "email", "phone")
    }


def _nhs(value: Any) -> Any:
    """Blank is absent (already flagged as such); a number is read as its digits; anything else is passed
    on for the canonical builder to record as a bad value."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def map_event(doc: dict[str, Any], liberi_type: str, tenant_la: str, reader: Reader) -> dict[str, Any]:
    """Canonical values for a pathway event (no envelope: source, key and received_at are the caller's)."""
    quality = reader.quality
    occurred_at = reader.time(doc, "occurredAt", "occurredAt", required=True)
    recorded_at = reader.time(doc, "recordedAt", "recordedAt")
    reader.time(doc, "publishedAt", "publishedAt")  # checked here too: the signature layer skips a bad one
    child = reader.obj(doc, "child", "child", required=True)
    episode = reader.obj(doc, "episode", "episode", required=True)
    assert child is not None and episode is not None
    person_id = bounded_id(reader.req_str(child, "personId", "child.personId"), "child.personId")
    first = reader.req_str(child, "firstName", "child.firstName")
    last = reader.req_str(child, "lastName", "child.lastName")
    middle = reader.opt_str(child, "middleNames", "child.middleNames", "child.given_name")
    dob_text = child.get("dateOfBirth")
    if not isinstance(dob_text, str):
        raise Reader._missing("child.dateOfBirth", dob_text, "date (YYYY-MM-DD)")
    try:
        dob = date_of_birth(dob_text.strip(), quality)
    except ValueError:
        raise InvalidInput("child.dateOfBirth: date does not parse (YYYY-MM-DD)") from None

    nhs = child.get("nhsNumber")
    nhs_number_absent(quality, nhs)
    languages = child.get("languages")
    if languages is not None and not (
        isinstance(languages, list) and all(isinstance(x, str) for x in languages)
    ):
        quality.append(issue("child.languages", "child.languages is not a list of codes: left out"))
        languages = None

    placement = reader.obj(doc, "placement", "placement", field="care.placement")
    school = reader.obj(child, "school", "child.school", field="education")
    conversation = reader.obj(
        doc,
        "missingConversation",
        "missingConversation",
        required=liberi_type in codes.CONVERSATION_EVENTS,
        field="return_interview",
    )
    found_at = reader.time(episode, "foundAt", "episode.foundAt")
    if liberi_type == "ChildFound" and found_at is None:
        raise InvalidInput("episode.foundAt: required for ChildFound")
    completed_at = reader.time(conversation, "completedAt", "missingConversation.completedAt")
    if liberi_type == "MissingConversationCompleted" and completed_at is None:
        raise InvalidInput("missingConversation.completedAt: required for MissingConversationCompleted")
    declined = reader.opt_bool(
        conversation, "declined", "missingConversation.declined", "return_interview.declined"
    )
    if liberi_type == "MissingConversationDeclined" and declined is not True:
        # The event type is the more specific statement; the field disagreeing is worth a look.
        quality.append(
            issue(
                "return_interview.declined",
                "MissingConversationDeclined but declined is not true: recorded as declined",
                declined,
            )
        )
        declined = True

    factors_raw = episode.get("riskIndicators")
    factors: list[str] = []
    if factors_raw is not None:
        if not isinstance(factors_raw, list):
            raise InvalidInput("episode.riskIndicators: expected a list of codes")
        for code in factors_raw:
            if not isinstance(code, str) or code not in codes.RISK_INDICATORS:
                raise InvalidInput(f"episode.riskIndicators: not one of {', '.join(codes.RISK_INDICATORS)}")
            factors.append(codes.RISK_INDICATORS[code])

    status = doc.get("pathwayStatus")
    if status is not None:
        if status not in codes.PATHWAY_STATUSES:
            raise InvalidInput(f"pathwayStatus: not one of {', '.join(codes.PATHWAY_STATUSES)}")
        if status not in codes.EXPECTED_STATUS[liberi_type]:
            quality.append(
                issue("event_type", f"pathwayStatus {status} is unexpected for {liberi_type}", status)
            )

    looked_after = reader.opt_bool(child, "lookedAfter", "child.lookedAfter", "care.looked_after")
    p = "placement."
    urn = school.get("urn") if school else None
    return {
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "child": {
            "ids": {
                "nhs_number": _nhs(nhs),
                "upn": reader.opt_str(child, "upn", "child.upn", "child.ids.upn"),
                "la_ids": [{"la_code": tenant_la, "id": person_id}],
            },
            "given_name": f"{first} {middle}" if middle else first,
            "family_name": last,
            "known_as": reader.opt_str(child, "preferredName", "child.preferredName", "child.known_as"),
            "date_of_birth": dob,
            "sex": reader.code(child, "gender", codes.GENDER, "child.gender"),
            "languages": [x.strip() for x in languages or [] if x.strip()],
            "interpreter_needed": reader.opt_bool(
                child, "interpreterRequired", "child.interpreterRequired", "child.interpreter_needed"
            ),
        },
        "episode": {
            "category": reader.code(episode, "category", codes.CATEGORY, "episode.category", required=True),
            "missing_from": reader.code(
                episode, "missingFrom", codes.MISSING_FROM, "episode.missingFrom", required=True
            ),
            "last_seen_at": reader.time(episode, "lastSeenAt", "episode.lastSeenAt", required=True),
            "last_seen_location": _location(
                reader, episode, "lastSeenLocation", "episode.last_seen_location"
            ),
            "reported_at": reader.time(episode, "reportedToPoliceAt", "episode.reportedToPoliceAt"),
            "police": {
                "force": reader.opt_str(
                    episode, "policeForceCode", "episode.policeForceCode", "episode.police.force"
                ),
                "reference": reader.opt_str(
                    episode, "policeReference", "episode.policeReference", "episode.police.reference"
                ),
            },
            "risk_level": reader.code(episode, "riskLevel", codes.RISK_LEVEL, "episode.riskLevel"),
            "risk_assessed_at": reader.time(episode, "riskAssessedAt", "episode.riskAssessedAt"),
            "risk_assessed_by": reader.opt_str(
                episode, "riskAssessedBy", "episode.riskAssessedBy", "episode.risk_assessed_by"
            ),
            "risk_factors": sorted(set(factors)),
            "circumstances": reader.opt_str(
                episode, "circumstances", "episode.circumstances", "episode.circumstances"
            ),
            "found_at": found_at,
            "found_location": _location(reader, episode, "foundLocation", "episode.found_location"),
            "found_by": reader.code(episode, "foundBy", codes.FOUND_BY, "episode.foundBy"),
            "harm_disclosed": reader.opt_bool(
                episode, "harmDisclosed", "episode.harmDisclosed", "episode.harm_disclosed"
            ),
        },
        "care": {
            "looked_after": looked_after,
            "legal_status": reader.code(child, "legalStatus", codes.LEGAL_STATUS, "child.legalStatus"),
            "cp_plan": reader.opt_bool(
                child, "childProtectionPlan", "child.childProtectionPlan", "care.cp_plan"
            ),
            "child_in_need": reader.opt_bool(child, "childInNeed", "child.childInNeed", "care.child_in_need"),
            "early_help": reader.opt_bool(child, "earlyHelp", "child.earlyHelp", "care.early_help"),
            "case_status": reader.code(child, "caseStatus", codes.CASE_STATUS, "child.caseStatus"),
            "responsible_la": (
                reader.opt_str(placement, "responsibleLaCode", p + "responsibleLaCode", "care.responsible_la")
                if placement
                else None
            )
            or tenant_la,
            "host_la": (
                reader.opt_str(placement, "hostLaCode", p + "hostLaCode", "care.host_la")
                if placement
                else None
            )
            or reader.opt_str(child, "homeLaCode", "child.homeLaCode", "care.host_la"),
            "placement": {
                "type": reader.code(placement, "placementType", codes.PLACEMENT_TYPE, p + "placementType"),
                "provider": reader.opt_str(
                    placement, "providerName", p + "providerName", "care.placement.provider"
                ),
                "ofsted_urn": reader.opt_str(
                    placement, "ofstedUrn", p + "ofstedUrn", "care.placement.ofsted_urn"
                ),
                "postcode": reader.opt_str(placement, "postcode", p + "postcode", "care.placement.postcode"),
            }
            if placement
            else None,
            "allocated_worker": _worker(reader, child, "allocatedWorker", "care.allocated_worker"),
            "iro": _worker(reader, child, "independentReviewingOfficer", "care.iro"),
        },
        "education": {
            "school_urn": str(urn).strip() or None
            if isinstance(urn, str | int) and not isinstance(urn, bool)
            else None,
            "school_name": reader.opt_str(school, "name", "child.school.name", "education.school_name"),
            "electively_home_educated": reader.opt_bool(
                school,
                "electivelyHomeEducated",
                "child.school.electivelyHomeEducated",
                "education.electively_home_educated",
            ),
        }
        if school
        else None,
        "health": {
            "gp_ods": reader.opt_str(child, "gpPracticeOdsCode", "child.gpPracticeOdsCode", "health.gp_ods")
        },
        "return_interview": {
            "offered_at": reader.time(conversation, "offeredAt", "missingConversation.offeredAt"),
            "completed_at": completed_at,
            "declined": declined,
            "provider": reader.opt_str(
                conversation, "provider", "missingConversation.provider", "return_interview.provider"
            ),
        }
        if conversation
        else None,
    }
