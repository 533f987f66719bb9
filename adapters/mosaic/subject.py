"""``subject`` (the person the step is about) → child, care, education and health (README §4).

These fields are mapped the same way in every deployment. Only the four identifying fields are
required; any other value of the wrong shape is left out and recorded in ``data_quality`` rather than
block the notice.
"""

from __future__ import annotations

from typing import Any

from adapters.base import InvalidInput
from adapters.common import ssda903
from adapters.common.json_body import json_type
from adapters.common.quality import date_of_birth, issue, nhs_number_absent
from adapters.mosaic.envelope import Envelope

_SEX = {"M": "male", "F": "female", "I": "other", "U": "unknown"}
_CASE_STATUS = {"OPEN": "open", "CLOSED": "closed"}
_WORKER_KEYS = ("name", "team", "email", "phone")


class _Reader:
    """Typed access to optional subject fields; a value of the wrong JSON type becomes a data-quality
    issue instead of an exception."""

    def __init__(self, subject: dict[str, Any], quality: list[dict[str, Any]]):
        self.subject = subject
        self.quality = quality

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        field: str,
        node: dict[str, Any] | None = None,
        prefix: str = "subject.",
    ) -> Any:
        source = self.subject if node is None else node
        value = source.get(key)
        if value is None:
            return None
        # A JSON true is a Python int: it must not pass for a number or a code.
        if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
            self.quality.append(issue(field, f"{prefix}{key} has the wrong type (a JSON {json_type(value)})"))
            return None
        return value

    def obj(self, key: str, field: str) -> dict[str, Any] | None:
        return self.get(key, dict, field)


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text or None


def _worker(reader: _Reader, key: str, field: str) -> dict[str, Any] | None:
    node = reader.obj(key, field)
    if node is None:
        return None
    return {k: reader.get(k, str, f"{field}.{k}", node, f"subject.{key}.") for k in _WORKER_KEYS}


def map_subject(env: Envelope, quality: list[dict[str, Any]]) -> dict[str, Any]:
    """The canonical ``child``, ``care``, ``education`` and ``health`` groups."""
    r = _Reader(env.subject, quality)
    s = env.subject

    nhs = r.get("nhs_number", (str, int), "child.ids.nhs_number")
    nhs_number_absent(quality, nhs)
    first_language = r.get("first_language", str, "child.languages")
    gender = r.get("gender", str, "child.sex")
    child = {
        "ids": {
            "nhs_number": str(nhs).strip() or None if nhs is not None else None,
            "upn": _clean(r.get("upn", str, "child.ids.upn")),
            "la_ids": [{"la_code": env.la_code, "id": s["subject_compound_id"].strip()}],
        },
        "given_name": _clean(s["forename"]),
        "family_name": _clean(s["surname"]),
        "known_as": _clean(r.get("alias", str, "child.known_as")),
        "date_of_birth": _dob(s["date_of_birth"], quality),
        # An unlisted code is passed on so the canonical builder records it rather than lose it silently.
        "sex": _SEX.get(gender.strip().upper(), gender) if gender else None,
        "languages": [first_language.strip()] if first_language and first_language.strip() else [],
        "interpreter_needed": r.get("interpreter_required", bool, "child.interpreter_needed"),
    }

    looked_after = r.get("looked_after", bool, "care.looked_after")
    legal = r.obj("legal_status", "care.legal_status")
    legal_code = r.get("code", str, "care.legal_status", legal, "subject.legal_status.") if legal else None
    placement = r.obj("placement", "care.placement")
    placement_la = (
        r.get("la_code", str, "care.host_la", placement, "subject.placement.") if placement else None
    )
    case_status = r.get("case_status", str, "care.case_status")
    care = {
        "looked_after": looked_after,
        "legal_status": ssda903.legal_status(legal_code, looked_after),
        "cp_plan": r.get("cp_plan", bool, "care.cp_plan"),
        "child_in_need": r.get("cin_plan", bool, "care.child_in_need"),
        "early_help": r.get("early_help", bool, "care.early_help"),
        "case_status": _CASE_STATUS.get(case_status.strip().upper(), "not_known") if case_status else None,
        "responsible_la": _clean(r.get("responsible_la_code", str, "care.responsible_la")) or env.la_code,
        # A placement without an LA code still leaves the child living somewhere: fall back to home.
        "host_la": _clean(placement_la) or _clean(r.get("home_la_code", str, "care.host_la")),
        "placement": _placement(r, placement),
        "allocated_worker": _worker(r, "allocated_worker", "care.allocated_worker"),
        "iro": _worker(r, "iro", "care.iro"),
    }

    school = r.obj("school", "education")
    urn = r.get("urn", (str, int), "education.school_urn", school, "subject.school.") if school else None
    name = r.get("name", str, "education.school_name", school, "subject.school.") if school else None
    education = {"school_urn": _clean(str(urn)) if urn is not None else None, "school_name": _clean(name)}
    health = {"gp_ods": _clean(r.get("gp_practice_ods", str, "health.gp_ods"))}
    return {"child": child, "care": care, "education": education, "health": health}


def _dob(text: str, quality: list[dict[str, Any]]) -> str | None:
    try:
        return date_of_birth(text.strip(), quality)
    except ValueError:
        raise InvalidInput("subject.date_of_birth: date does not parse (YYYY-MM-DD)") from None


def _placement(r: _Reader, placement: dict[str, Any] | None) -> dict[str, Any] | None:
    if placement is None:
        return None
    p = "subject.placement."
    return {
        "type": ssda903.placement_type(_clean(r.get("type_code", str, "care.placement.type", placement, p))),
        "provider": _clean(r.get("provider_name", str, "care.placement.provider", placement, p)),
        "ofsted_urn": _clean(r.get("provider_urn", str, "care.placement.ofsted_urn", placement, p)),
        "postcode": _clean(r.get("postcode", str, "care.placement.postcode", placement, p)),
    }
