"""One missing episode as LCS states it, whichever feed it came from, and the canonical event it gives.

The CSV row and the XML notification carry the same facts (README §5); both are read into an
:class:`LcsRecord` so that the event type rules (§3) and the field mapping (§4) exist once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from adapters.common import ssda903
from adapters.common.quality import issue, nhs_number_absent
from adapters.common.times import iso_z
from adapters.liquidlogic import codes


@dataclass
class LcsRecord:
    record_id: str  # FACT_MISSING_PERSON_ID
    person_id: str  # DIM_PERSON_ID
    changed_at: datetime  # MODIFIED_DTTM (CSV) / EventDateTime (XML), UTC
    forename: str | None
    surname: str | None
    date_of_birth: str | None
    gender: str | None  # canonical sex
    nhs_number: str | None
    upn: str | None
    legal_status_code: str | None
    looked_after: bool | None
    cp_plan: bool | None
    responsible_la: str | None
    placement_la: str | None
    placement_type_code: str | None
    last_seen_at: datetime
    ended_at: datetime | None
    category: str  # canonical
    missing_from: str | None  # canonical
    police_reference: str | None
    risk_level: str | None  # canonical
    risk_factors: list[str]  # canonical
    ri_offered: str | None  # Yes | No | NA
    ri_accepted: str | None  # Yes | No | NA
    ri_offered_at: datetime | None
    ri_completed_at: datetime | None
    ri_provider: str | None
    end_reason: str | None
    found_location: str | None
    allocated_worker: str | None
    team: str | None
    delta_action: str | None = None  # CSV only: INSERT | UPDATE | DELETE
    form_event: str | None = None  # XML only: FormFinalised | FormReopened
    quality: list[dict[str, Any]] = field(default_factory=list)

    def source_event_id(self) -> str:
        """README §3: ``FACT_MISSING_PERSON_ID@MODIFIED_DTTM`` in UTC, the same for a re-read row."""
        return f"{self.record_id}@{iso_z(self.changed_at)}"

    def content_digest(self) -> str:
        """A hash of what the row says (not how it was written: BOM, line ends and quoting do not count).
        Two changes saved in the same minute share MODIFIED_DTTM; the digest keeps them apart."""
        facts = asdict(self)
        facts.pop("quality")
        blob = json.dumps(facts, sort_keys=True, default=str, ensure_ascii=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def row_key(self) -> str:
        """Identity of a CSV row: the idempotency key's tail and the watermark's memory of a row."""
        return f"{self.source_event_id()}#{self.content_digest()}"


def decide(rec: LcsRecord) -> tuple[str, datetime]:
    """README §3 (CSV) and §5 (XML): the furthest milestone the record shows, and when it happened."""
    if rec.form_event == "FormReopened":
        return "updated", rec.changed_at
    if rec.delta_action == "DELETE" or rec.end_reason in codes.CANCELLED:
        return "cancelled", rec.changed_at
    if rec.end_reason in codes.CLOSED_NOT_FOUND:
        return "closed", rec.ended_at or rec.changed_at
    if rec.ri_accepted == "Yes":
        return "return_interview_completed", rec.ri_completed_at or rec.changed_at
    if rec.ri_accepted == "No":
        return "return_interview_declined", rec.ri_completed_at or rec.changed_at
    if rec.ri_offered == "Yes":
        return "return_interview_offered", rec.ri_offered_at or rec.changed_at
    if rec.ended_at is not None:
        return "found", rec.ended_at
    if rec.form_event is None and rec.delta_action == "INSERT":
        return "reported", rec.changed_at
    return "updated", rec.changed_at


def canonical_values(rec: LcsRecord, *, la_code: str) -> dict[str, Any]:
    """README §4, without the envelope (event type, source, key), which the caller adds."""
    quality = list(rec.quality)
    nhs_number_absent(quality, rec.nhs_number)
    found_reason = rec.end_reason in codes.FOUND_BY
    if rec.ended_at is not None and rec.end_reason is None:
        # An ended episode with no reason is read as found (§3 row 6), but the time is not confirmed as a
        # found time (§4 sets found_at only for a found reason): say so to operators.
        quality.append(
            issue(
                "episode.found_at",
                "episode ended (END_DTTM) without an end reason: treated as found, found time not confirmed",
                iso_z(rec.ended_at),
            )
        )
    placement_type = ssda903.placement_type(rec.placement_type_code)
    worker = {"name": rec.allocated_worker, "team": rec.team} if rec.allocated_worker or rec.team else None
    accepted = rec.ri_accepted
    return {
        "recorded_at": rec.changed_at,
        "child": {
            "ids": {
                "nhs_number": rec.nhs_number,
                "upn": rec.upn,
                "la_ids": [{"la_code": la_code, "id": rec.person_id}],
            },
            "given_name": rec.forename,
            "family_name": rec.surname,
            "date_of_birth": rec.date_of_birth,
            "sex": rec.gender,
        },
        "episode": {
            "category": rec.category,
            "missing_from": rec.missing_from,
            "last_seen_at": rec.last_seen_at,
            "police": {"reference": rec.police_reference},
            "risk_level": rec.risk_level,
            "risk_factors": rec.risk_factors,
            "found_at": rec.ended_at if found_reason else None,
            "found_by": codes.FOUND_BY.get(rec.end_reason or ""),
            "found_location": {"text": rec.found_location},
        },
        "care": {
            "looked_after": rec.looked_after,
            "legal_status": ssda903.legal_status(rec.legal_status_code, rec.looked_after),
            "cp_plan": rec.cp_plan,
            "responsible_la": rec.responsible_la,
            "host_la": rec.placement_la,
            "placement": {"type": placement_type} if placement_type else None,
            "allocated_worker": worker,
        },
        "return_interview": {
            "offered_at": rec.ri_offered_at,
            "completed_at": rec.ri_completed_at if accepted == "Yes" else None,
            "declined": True if accepted == "No" else False if accepted == "Yes" else None,
            "provider": rec.ri_provider,
        },
        "data_quality": quality,
    }
