"""The UK Core checks fhir.resources does not make (it validates structure only, not profiles).

- **NHS number** (UKCore-Patient slice ``identifier:nhsNumber``, system fixed to
  ``https://fhir.nhs.uk/Id/nhs-number``): Modulus 11 checked. A failing, absent, conflicting or
  wrongly-systemed number is left out and recorded in ``data_quality``; it never rejects the message,
  because a safeguarding notice must not wait for a clerical fix (CANONICAL.md ``data_quality``).
  A number whose UK Core verification status is not ``01`` (present and verified) is kept but flagged:
  matching children on an untraced number needs a person's eye.
- **ODS codes** on Organizations (``https://fhir.nhs.uk/Id/ods-organization-code``, ``…/ods-site-code``):
  letters and digits, 3 to 10 of them. A malformed one is left out and recorded.

Every value read here comes from a parsed fhir.resources model, so JSON and XML are handled alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from adapters.common.quality import issue
from adapters.nhs.codes import (
    DFE_LA_CODE,
    LA_PERSON_ID_PREFIX,
    LEGACY_NHS_NUMBER,
    NHS_NUMBER,
    NHS_NUMBER_VERIFICATION,
    ODS_ORGANIZATION,
    ODS_SITE,
    VERIFICATION_STATUS,
    VERIFIED,
)
from gateway.model.nhs_number import nhs_number_problem, normalise_nhs_number

_ODS = re.compile(r"^[A-Z0-9]{3,10}$")
Quality = list[dict[str, Any]]


@dataclass
class PatientIdentity:
    """Who a Patient resource says the child is, as the canonical ``child`` group wants it."""

    where: str
    resource_id: str | None
    nhs_number: str | None = None
    nhs_number_verification: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    date_of_birth: str | None = None
    sex: str | None = None
    la_ids: list[dict[str, str]] = field(default_factory=list)
    gp_ods: str | None = None
    data_quality: Quality = field(default_factory=list)

    def child(self) -> dict[str, Any]:
        """The canonical ``child`` values (validated later by gateway.model.build)."""
        return {
            "ids": {"nhs_number": self.nhs_number, "la_ids": self.la_ids},
            "given_name": self.given_name,
            "family_name": self.family_name,
            "date_of_birth": self.date_of_birth,
            "sex": self.sex,
        }


@dataclass
class OrganizationIdentity:
    where: str
    resource_id: str | None
    ods_codes: list[str] = field(default_factory=list)
    ods_site_codes: list[str] = field(default_factory=list)
    la_codes: list[str] = field(default_factory=list)
    data_quality: Quality = field(default_factory=list)

    @property
    def ods_code(self) -> str | None:
        """The organisation's ODS code when it has exactly one (two different ones cannot both be it)."""
        return self.ods_codes[0] if len(set(self.ods_codes)) == 1 else None

    @property
    def la_code(self) -> str | None:
        return self.la_codes[0] if len(set(self.la_codes)) == 1 else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def ods_code(value: Any) -> str | None:
    """An ODS code as written in UK Core (upper case letters and digits), or None if it is not one.
    ODS codes are case-insensitive in practice; they are compared upper-cased."""
    text = _text(value)
    if text is None:
        return None
    text = text.upper()
    return text if _ODS.match(text) else None


def _verification(identifier: Any) -> str | None:
    for ext in getattr(identifier, "extension", None) or []:
        if ext.url != NHS_NUMBER_VERIFICATION or ext.valueCodeableConcept is None:
            continue
        for coding in ext.valueCodeableConcept.coding or []:
            if coding.code:
                return str(coding.code).strip()
    return None


def _nhs_number(patient: Any, quality: Quality) -> tuple[str | None, str | None]:
    """The Patient's NHS number and its verification status, or None with the reason recorded."""
    valid: dict[str, str | None] = {}
    noted = False
    for ident in patient.identifier or []:
        system = _text(ident.system) or ""
        value = _text(ident.value)
        if system == NHS_NUMBER:
            noted = True
            if value is None:
                quality.append(issue("child.ids.nhs_number", "NHS number identifier has no value"))
                continue
            problem = nhs_number_problem(value)
            if problem:
                quality.append(issue("child.ids.nhs_number", problem, value))
                continue
            valid.setdefault(normalise_nhs_number(value), _verification(ident))
        elif system in LEGACY_NHS_NUMBER or "nhs-number" in system.lower():
            noted = True
            quality.append(
                issue(
                    "child.ids.nhs_number",
                    f"identifier system {system[:100]} is not the UK Core NHS number system "
                    f"{NHS_NUMBER}; the number is not used",
                    value,
                )
            )
    if len(valid) > 1:
        # Two different valid numbers: using either could join this child to another child's record.
        quality.append(
            issue(
                "child.ids.nhs_number",
                "the Patient carries different NHS numbers; none is used",
                ", ".join(sorted(valid)),
            )
        )
        return None, None
    if not valid:
        if not noted:
            quality.append(issue("child.ids.nhs_number", "NHS number is absent"))
        return None, None
    number, status = next(iter(valid.items()))
    if status is not None and status != VERIFIED:
        meaning = VERIFICATION_STATUS.get(status, "not a UK Core verification status")
        quality.append(
            issue(
                "child.ids.nhs_number",
                f"NHS number verification status is {status[:8]} ({meaning}), not 01 (present and "
                "verified): the number is kept, but matching on it needs care",
            )
        )
    return number, status


def _name(patient: Any) -> tuple[str | None, str | None]:
    """``use`` official, else the first name (README §3)."""
    names = patient.name or []
    chosen = next((n for n in names if n.use == "official"), names[0] if names else None)
    if chosen is None:
        return None, None
    given = " ".join(g.strip() for g in (chosen.given or []) if g and g.strip())
    return (given or None), _text(chosen.family)


def _birth_date(patient: Any, quality: Quality) -> str | None:
    value = patient.birthDate
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    # FHIR allows a year or a year and month; the canonical date of birth is a full date.
    quality.append(issue("child.date_of_birth", "date of birth is not a full date", value))
    return None


def _la_ids(patient: Any) -> list[dict[str, str]]:
    out = []
    for ident in patient.identifier or []:
        system = _text(ident.system) or ""
        value = _text(ident.value)
        if system.startswith(LA_PERSON_ID_PREFIX) and value:
            out.append({"la_code": system[len(LA_PERSON_ID_PREFIX) :], "id": value})
    return out


def gp_ods_from_identifier(patient: Any, quality: Quality) -> str | None:
    """``generalPractitioner`` as a logical reference carrying the practice's ODS code (README §2)."""
    for ref in patient.generalPractitioner or []:
        ident = ref.identifier
        if ident is None or _text(ident.system) not in (ODS_ORGANIZATION, ODS_SITE):
            continue
        code = ods_code(ident.value)
        if code is None:
            quality.append(
                issue("health.gp_ods", "not an ODS code (3 to 10 letters and digits)", ident.value)
            )
            continue
        return code
    return None


def patient_identity(patient: Any, where: str) -> PatientIdentity:
    quality: Quality = []
    number, status = _nhs_number(patient, quality)
    given, family = _name(patient)
    return PatientIdentity(
        where=where,
        resource_id=_text(patient.id),
        nhs_number=number,
        nhs_number_verification=status,
        given_name=given,
        family_name=family,
        date_of_birth=_birth_date(patient, quality),
        sex=_text(patient.gender),
        la_ids=_la_ids(patient),
        gp_ods=gp_ods_from_identifier(patient, quality),
        data_quality=quality,
    )


def organization_identity(org: Any, where: str) -> OrganizationIdentity:
    identity = OrganizationIdentity(where=where, resource_id=_text(org.id))
    for index, ident in enumerate(org.identifier or []):
        system = _text(ident.system)
        if system in (ODS_ORGANIZATION, ODS_SITE):
            code = ods_code(ident.value)
            if code is None:
                identity.data_quality.append(
                    issue(
                        f"{where}.identifier[{index}]",
                        "not an ODS code (3 to 10 letters and digits); not used",
                        ident.value,
                    )
                )
            elif system == ODS_ORGANIZATION:
                identity.ods_codes.append(code)
            else:
                identity.ods_site_codes.append(code)
        elif system == DFE_LA_CODE:
            code = _text(ident.value)
            if code and re.fullmatch(r"\d{3}", code):
                identity.la_codes.append(code)
            else:
                identity.data_quality.append(
                    issue(f"{where}.identifier[{index}]", "not a DfE three-digit LA code; not used", code)
                )
    if len(set(identity.ods_codes)) > 1:
        identity.data_quality.append(
            issue(
                f"{where}.identifier",
                "the Organization carries different ODS organisation codes; none is used",
                ", ".join(sorted(set(identity.ods_codes))),
            )
        )
    return identity
