"""One checked MissingPersonReport → one canonical MissingEpisodeEvent, exactly per README §4.

Every report is a complete snapshot, so every section present is mapped whatever the change type (a
``Closed`` report still carries its Found and PreventionInterview details). Only what identifies the
change (report number, change id, event type, ``occurred_at``) can reject a report; any other bad value
is left out and recorded in ``data_quality`` by :func:`gateway.model.build.build_event`, so that a bad
detail never blocks a missing-child notice.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from lxml import etree

from adapters.base import InvalidInput, RawInput
from adapters.compact.checks import Report
from adapters.compact.mapping import CompactDeployment
from adapters.compact.report import assessments, attr, boolean, find, findall, text, token
from adapters.compact.times import parse_date, parse_datetime
from gateway.model import MissingEpisodeEvent
from gateway.model.build import EventRejected, build_event, idempotency_key

SYSTEM = "compact"
_ORIGINAL_MAX = 200

# Change type → canonical event type (README §4). RiskReview is decided by comparing grades.
EVENT_TYPES = {
    "NewReport": "reported",
    "Update": "updated",
    "Found": "found",
    "PreventionInterview": "safe_and_well_completed",
    "Closed": "closed",
    "Cancelled": "cancelled",
}
# Change type → the time it happened in the world (README §4). RiskReview: the newest AssessedAt.
OCCURRED_AT = {
    "NewReport": "Occurrence/ReportedAt",
    "Update": "Change/RecordedAt",
    "Found": "Found/FoundAt",
    "PreventionInterview": "PreventionInterview/CompletedAt",
    "Closed": "Closure/ClosedAt",
    "Cancelled": "Closure/ClosedAt",
}


def _issue(field: str, problem: str, original: str | None = None) -> dict[str, Any]:
    return {
        "field": field,
        "problem": problem,
        "original": None if original is None else original[:_ORIGINAL_MAX],
    }


class _Mapper:
    """Reads one report, collecting the values it cannot accept in ``quality``."""

    def __init__(self, report: Report, deployment: CompactDeployment):
        self.report = report
        self.element = report.element
        self.deployment = deployment
        self.quality: list[dict[str, Any]] = []

    # --- values ------------------------------------------------------------------------
    def time(self, element: etree._Element | None, path: str, field: str) -> datetime | None:
        value = text(element, path) if element is not None else None
        if value is None:
            return None
        try:
            return parse_datetime(value, self.deployment.zone)
        except ValueError:
            self.quality.append(_issue(field, "not a usable date-time", value.strip()))
            return None

    def code(self, table: str, value: str | None, field: str) -> str | None:
        if value is None:
            return None
        mapped: dict[str, Enum | None] = getattr(self.deployment.codes, table)
        if value not in mapped:
            # Unreachable while the mapping covers the schema's codes (checked at load); kept so that a
            # schema and mapping drifting apart degrades to a flagged value, not a lost notice.
            self.quality.append(_issue(field, f"code is not in this instance's codes.{table}", value))
            return None
        result = mapped[value]
        return None if result is None else str(result.value)

    def _level(self, grade: str | None) -> str | None:
        """A grade as its canonical level (the raw code if the mapping lacks it), without flagging."""
        if grade is None:
            return None
        level = self.deployment.codes.risk_grade.get(grade)
        return grade if level is None else level.value

    def location(self, element: etree._Element | None) -> dict[str, Any] | None:
        if element is None:
            return None
        return {"text": text(element, "Text"), "postcode": token(element, "Postcode")}

    # --- facts -------------------------------------------------------------------------
    def event_type_and_time(self) -> tuple[str, datetime]:
        change = token(self.element, "Change/ChangeType") or ""
        label = self.report.label
        if change == "RiskReview":
            graded = assessments(self.element)
            if not graded:  # the schema requires one; kept so a schema change cannot crash here
                raise InvalidInput(
                    f"{label}: RiskReview without a RiskAssessment", record_id=self.report.number
                )
            newest = graded[-1][1]
            grade = self._level(token(newest, "Grade"))
            previous = self._level(token(graded[-2][1], "Grade")) if len(graded) > 1 else None
            # Grades are compared as canonical levels, so two spellings of one level are no change.
            # With no earlier grading in the report the grade is news: risk_changed lets the rules
            # look at it rather than pass it by as a routine update.
            event_type = "updated" if previous is not None and previous == grade else "risk_changed"
            source_path, source = "RiskAssessment/AssessedAt", newest
            path_in_source = "AssessedAt"
        elif change in EVENT_TYPES:
            event_type = EVENT_TYPES[change]
            source_path, source, path_in_source = OCCURRED_AT[change], self.element, OCCURRED_AT[change]
        else:
            raise InvalidInput(f"{label}: unknown Change/ChangeType", record_id=self.report.number)
        raw = text(source, path_in_source)
        try:
            if raw is None:
                raise ValueError("absent")
            return event_type, parse_datetime(raw, self.deployment.zone)
        except ValueError:
            raise InvalidInput(
                f"{label}: {source_path} (the time of this {change} change) is not a usable date-time",
                record_id=self.report.number,
            ) from None

    def child(self) -> dict[str, Any]:
        subject = find(self.element, "Subject")
        if subject is None:  # the schema requires it; kept so a schema change cannot crash here
            raise InvalidInput(f"{self.report.label}: no Subject", record_id=self.report.number)
        nhs = token(subject, "NhsNumber")
        if nhs is None:
            self.quality.append(_issue("child.ids.nhs_number", "NHS number is absent"))
        dob_text = text(subject, "DateOfBirth")
        dob = None
        if dob_text is not None:
            try:
                dob = parse_date(dob_text)
            except ValueError:
                self.quality.append(_issue("child.date_of_birth", "not a usable date", dob_text.strip()))
        care = find(self.element, "CareDetails")
        la_ids = [
            {"la_code": e.get("laCode"), "id": token(e)}
            for e in (findall(care, "LocalAuthorityPersonId") if care is not None else [])
        ]
        return {
            "ids": {
                "nhs_number": nhs,
                "la_ids": la_ids,
                "police_person_id": token(subject, "PersonId"),
                "upn": token(subject, "Upn"),
            },
            "given_name": text(subject, "Forenames"),
            "family_name": text(subject, "Surname"),
            "known_as": text(subject, "KnownAs"),
            "date_of_birth": dob,
            "sex": self.code("sex", token(subject, "Sex"), "child.sex"),
            "description": text(subject, "Description"),
            "languages": [v for v in (token(e) for e in findall(subject, "Languages/Language")) if v],
            "interpreter_needed": boolean(subject, "InterpreterRequired"),
        }

    def episode(self, force_code: str | None) -> dict[str, Any]:
        occurrence = find(self.element, "Occurrence")
        facts: dict[str, Any] = {
            "category": "missing",  # police reports are missing-person reports (README §4)
            "missing_from": self.code(
                "missing_from", token(occurrence, "MissingFrom"), "episode.missing_from"
            ),
            "last_seen_at": self.time(occurrence, "LastSeen/DateTime", "episode.last_seen_at"),
            "last_seen_location": self.location(
                find(occurrence, "LastSeen/Location") if occurrence is not None else None
            ),
            "reported_at": self.time(occurrence, "ReportedAt", "episode.reported_at"),
            "circumstances": text(occurrence, "Circumstances"),
            "police": {"force": force_code, "reference": self.report.number},
        }
        graded = assessments(self.element)
        if graded:
            current = graded[-1][1]
            grade = token(current, "Grade")
            level = self.code("risk_grade", grade, "episode.risk_level")
            if grade is not None and level is None:
                raise InvalidInput(
                    f"{self.report.label}: risk grade is not in the code list of this instance",
                    record_id=self.report.number,
                )
            factors = {
                self.code("risk_factor", e.get("code"), "episode.risk_factors")
                for e in findall(current, "Factors/Factor")
            }
            facts.update(
                risk_level=level,
                risk_assessed_at=self.time(current, "AssessedAt", "episode.risk_assessed_at"),
                risk_assessed_by=text(current, "AssessedBy"),
                risk_factors=sorted(f for f in factors if f is not None),
            )
        found = find(self.element, "Found")
        if found is not None:
            facts.update(
                found_at=self.time(found, "FoundAt", "episode.found_at"),
                found_location=self.location(find(found, "Location")),
                found_by=self.code("found_by", token(found, "FoundBy"), "episode.found_by"),
            )
        interview = find(self.element, "PreventionInterview")
        if interview is not None:
            facts["harm_disclosed"] = boolean(interview, "HarmDisclosed")
        return facts

    def care(self) -> dict[str, Any] | None:
        details = find(self.element, "CareDetails")
        home_la = attr(find(self.element, "Subject/HomeAddress"), "laCode")
        if details is None:
            # README §4 says care is absent for a police-only record, and also that the host LA falls
            # back to the home address. Keeping only that LA lets the gateway tell the authority where
            # the child lives; without it a police-only report could not be routed to anyone.
            return {"host_la": home_la} if home_la else None
        placement = find(details, "Placement")
        worker = find(details, "SocialWorker")
        return {
            "looked_after": boolean(details, "LookedAfter"),
            "legal_status": self.code("legal_status", token(details, "LegalStatus"), "care.legal_status"),
            "cp_plan": boolean(details, "ChildProtectionPlan"),
            "responsible_la": attr(find(details, "ResponsibleAuthority"), "laCode"),
            "host_la": attr(find(details, "HostAuthority"), "laCode") or home_la,
            "placement": None
            if placement is None
            else {
                "type": self.code("placement_type", token(placement, "Type"), "care.placement.type"),
                "provider": text(placement, "Provider"),
                "ofsted_urn": attr(find(placement, "Provider"), "ofstedUrn"),
                "postcode": token(placement, "Postcode"),
            },
            "allocated_worker": None
            if worker is None
            else {
                "name": text(worker, "Name"),
                "team": text(worker, "Team"),
                "email": token(worker, "Email"),
                "phone": text(worker, "Phone"),
            },
        }

    def education(self) -> dict[str, Any] | None:
        school = find(self.element, "Education")
        if school is None:
            return None
        return {
            "school_urn": token(school, "SchoolUrn"),
            "school_name": text(school, "SchoolName"),
            "electively_home_educated": boolean(school, "ElectivelyHomeEducated"),
        }

    def health(self) -> dict[str, Any] | None:
        gp = find(self.element, "Health/GpPractice")
        return {"gp_ods": attr(gp, "odsCode")} if gp is not None else None

    def attachments(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": attr(a, "kind"),
                "ref": attr(a, "ref"),
                "media_type": attr(a, "mediaType"),
                "sha256": attr(a, "sha256"),
            }
            for a in findall(self.element, "Attachments/Attachment")
        ]


def _prune(node: Any) -> Any:
    """Drop unset values so an absent section stays absent (``care`` for a police-only record)."""
    if isinstance(node, dict):
        pruned = {k: _prune(v) for k, v in node.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {} and v != []}
    if isinstance(node, list):
        return [_prune(v) for v in node if v is not None]
    return node


def to_event(
    report: Report, force_code: str | None, raw: RawInput, deployment: CompactDeployment
) -> MissingEpisodeEvent:
    element = report.element
    number = report.number
    change_id = token(element, "Change/ChangeId")
    if number is None or change_id is None:  # the schema makes this unreachable; the key needs both
        raise InvalidInput(f"{report.label}: no ReportNumber or Change/ChangeId", record_id=number)
    mapper = _Mapper(report, deployment)
    event_type, occurred_at = mapper.event_type_and_time()
    values: dict[str, Any] = {
        "event_type": event_type,
        "occurred_at": occurred_at,
        "recorded_at": mapper.time(element, "Change/RecordedAt", "recorded_at"),
        "received_at": raw.received_at,
        "source": {"system": SYSTEM, "instance": raw.instance, "record_id": number, "event_id": change_id},
        "idempotency_key": idempotency_key(SYSTEM, raw.instance, number, change_id),
        "child": mapper.child(),
        "episode": mapper.episode(force_code),
        "care": mapper.care(),
        "education": mapper.education(),
        "health": mapper.health(),
        "attachments": mapper.attachments(),
    }
    values = _prune(values)
    values.setdefault("child", {})
    values["data_quality"] = mapper.quality
    try:
        return build_event(values)
    except EventRejected as exc:
        raise InvalidInput(f"{report.label}: {exc}", record_id=number) from None
