"""A checked Message → one canonical MissingEpisodeEvent, exactly per README §3.

Only what identifies the report (its record id, event and when it happened) can reject it here; any
other bad value is left out and recorded in ``data_quality`` (gateway.model.build does the canonical
checks: an LA code that is not three digits, a PFA code of the wrong shape, a date of birth in the future).
Free text (``Communication.payload``, ``CommunicationRequest.payload``) is never read into fields: it
stays in the stored raw input for people.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.base import InvalidInput, RawInput
from adapters.common.build import finish
from adapters.common.ids import bounded_id
from adapters.common.quality import issue
from adapters.nhs import codes
from adapters.nhs.message import Message, is_looked_after_flag
from adapters.nhs.ukcore import ods_code
from gateway.model import MissingEpisodeEvent
from gateway.model.build import idempotency_key

SYSTEM = "nhs"
EVENT_TYPES = {
    codes.LEFT: "reported",
    codes.PRESENTED: "found",
    codes.RETURNED: "found",
    codes.ALERT_REQUEST: "updated",  # never opens an episode on its own (README §3)
}


# What a participant reference may point at (Communication.recipient, requester, generalPractitioner...).
_PARTIES = (
    "Organization",
    "PractitionerRole",
    "Practitioner",
    "Patient",
    "RelatedPerson",
    "CareTeam",
    "Group",
    "HealthcareService",
    "Device",
)


class _Mapper:
    def __init__(self, message: Message):
        self.m = message
        self.quality: list[dict[str, Any]] = []

    # --- values ----------------------------------------------------------------------------
    def instant(self, value: Any, field: str | None) -> datetime | None:
        """A FHIR dateTime that is a full instant. A date alone or a year/month is not one: flagged."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return value
        if field is not None:
            self.quality.append(issue(field, "not a full date-time with a time zone; not used", value))
        return None

    def location_text(self) -> str | None:
        enc = self.m.encounter
        if enc is None or not enc.location:
            return None
        loc = enc.location[0].location
        return (loc.display or "").strip() or None if loc is not None else None

    def organizations(self, holder: Any, refs: list[tuple[str, Any]]) -> list[Any]:
        """The Organizations among ``(element, reference)`` pairs. Each must resolve (the mapping reads
        them to find the local authority); one that is a person or a team is simply not an LA."""
        out = []
        for element, ref in refs:
            target = self.m.index.follow(holder, ref, element, _PARTIES)
            if target is not None and target.get_resource_type() == "Organization":
                out.append(target)
        return out

    def _logical(self, ref: Any, system: str) -> str | None:
        """A logical reference's identifier value in ``system`` (``{identifier: {system, value}}``
        with no ``reference``): as good as the Organization it names for a DfE or ODS code."""
        if ref is None or getattr(ref, "reference", None) or ref.identifier is None:
            return None
        if ref.identifier.system != system or not ref.identifier.value:
            return None
        return str(ref.identifier.value).strip() or None

    def responsible_la(self) -> str | None:
        """DfE code of the LA Organization that is ``Communication.recipient`` or
        ``CommunicationRequest.sender`` (README §3), referenced or named by its DfE identifier."""
        focus = self.m.focus
        kind = focus.get_resource_type()
        if kind == "Communication":
            refs = [(f"recipient[{i}]", r) for i, r in enumerate(focus.recipient or [])]
            element = "Communication.recipient"
        elif kind == "CommunicationRequest":
            refs = [("sender", focus.sender)] if focus.sender is not None else []
            element = "CommunicationRequest.sender"
        else:
            return None
        codes_found = {
            code for org in self.organizations(focus, refs) if (code := self._la_code(org)) is not None
        }
        codes_found |= {code for _, ref in refs if (code := self._logical(ref, codes.DFE_LA_CODE))}
        found = sorted(codes_found)
        if len(found) > 1:
            # Two authorities: choosing one could send the notice to the wrong council. Left for a person.
            self.quality.append(
                issue(
                    "care.responsible_la",
                    f"{element} names more than one local authority; none is taken as responsible",
                    ", ".join(found),
                )
            )
            return None
        return found[0] if found else None

    def _la_code(self, org: Any) -> str | None:
        return self.m.read.organizations[id(org)].la_code

    def gp_ods(self) -> str | None:
        identity = self.m.identity
        if identity.gp_ods:
            return identity.gp_ods
        patient = self.m.patient
        for i, ref in enumerate(patient.generalPractitioner or []):
            target = self.m.index.follow(patient, ref, f"generalPractitioner[{i}]", _PARTIES)
            if target is not None and target.get_resource_type() == "Organization":
                code = self.m.read.organizations[id(target)].ods_code
                if code:
                    return code
        return None

    def named_nurse_ods(self) -> str | None:
        focus = self.m.focus
        org = self.m.index.follow(focus, focus.requester, "requester", _PARTIES)
        if org is None:
            return ods_code(self._logical(focus.requester, codes.ODS_ORGANIZATION))
        if org.get_resource_type() != "Organization":
            return None
        return self.m.read.organizations[id(org)].ods_code

    def police(self) -> dict[str, Any] | None:
        flag = self.m.missing_flag
        if flag is None:
            return None
        for ident in flag.identifier or []:
            if ident.system != codes.POLICE_REFERENCE or not ident.value:
                continue
            force = None
            assigner = ident.assigner.identifier if ident.assigner is not None else None
            if assigner is not None and assigner.system == codes.ONS_PFA_CODE:
                force = assigner.value
            return {"reference": ident.value, "force": force}
        return None

    def looked_after(self) -> bool | None:
        """``true`` when an active looked-after Flag is present; unset otherwise (the NHS may not know)."""
        active = [f for f in self.m.flags if f.status == "active" and is_looked_after_flag(f)]
        return True if active else None

    # --- identity of the report ------------------------------------------------------------
    def record_id(self) -> str:
        """The missing Flag's id (a report and the later "returned" message share it), else the focus's."""
        flag = self.m.missing_flag
        chosen = flag if flag is not None else self.m.focus
        label = "the missing-child Flag" if flag is not None else self.m.index.where(chosen)
        rid = (chosen.id or "").strip()
        if not rid:
            raise InvalidInput(
                f"{label} has no id: the report cannot be identified (README §3 source.record_id)"
            )
        return bounded_id(rid, f"{label} id")

    def event_id(self) -> str | None:
        header, bundle = self.m.header, self.m.bundle
        if header is not None and header.id:
            return bounded_id(header.id, "MessageHeader.id")
        if bundle is not None and bundle.identifier is not None and bundle.identifier.value:
            return bounded_id(bundle.identifier.value, "Bundle.identifier.value")
        meta = getattr(self.m.read.root, "meta", None)
        if bundle is None and meta is not None and meta.versionId:
            root = self.m.read.root
            return bounded_id(
                f"{root.get_resource_type()}/{root.id}/_history/{meta.versionId}", "meta.versionId"
            )
        return None

    # --- the event -------------------------------------------------------------------------
    def event_type_and_time(self) -> tuple[str, datetime, str]:
        """(event_type, occurred_at, what occurred_at was read from)."""
        code, focus, flag = self.m.event_code, self.m.focus, self.m.missing_flag
        chain: list[tuple[Any, str]]
        if code is None:  # a missing-child Flag on its own: its state is the news
            flag = focus  # message.check makes the Flag the focus when there is no event code
            event_type = "found" if flag.status == "inactive" else "reported"
            end_or_start = "end" if event_type == "found" else "start"
            period = flag.period
            chain = [(getattr(period, end_or_start, None) if period else None, f"Flag.period.{end_or_start}")]
        else:
            event_type = EVENT_TYPES[code]
            if code == codes.LEFT:
                chain = [(focus.sent, "Communication.sent")]
            elif code == codes.PRESENTED:
                enc_period = self.m.encounter.period if self.m.encounter is not None else None
                chain = [
                    (enc_period.start if enc_period else None, "Encounter.period.start"),
                    (focus.sent, "Communication.sent"),
                ]
            elif code == codes.RETURNED:
                chain = [
                    (flag.period.end if flag is not None and flag.period else None, "Flag.period.end"),
                    (focus.sent, "Communication.sent"),
                ]
            else:
                chain = [(focus.authoredOn, "CommunicationRequest.authoredOn")]
        bundle = self.m.bundle
        chain.append((bundle.timestamp if bundle is not None else None, "Bundle.timestamp"))
        for position, (value, source) in enumerate(chain):
            moment = self.instant(value, None)
            if moment is not None:
                if position > 0:
                    self.quality.append(
                        issue(
                            "occurred_at",
                            f"{chain[0][1]} is absent or not a full date-time; {source} is used",
                            chain[0][0],
                        )
                    )
                return event_type, moment, source
        raise InvalidInput(
            f"no usable time for this {code or 'Flag'} event: {chain[0][1]} is absent or not a full "
            "date-time with a time zone"
        )

    def episode(self, event_type: str) -> dict[str, Any]:
        code, flag, focus = self.m.event_code, self.m.missing_flag, self.m.focus
        if code == codes.ALERT_REQUEST:
            return {}  # README §3: no episode for an alert request
        period = flag.period if flag is not None else None
        facts: dict[str, Any] = {
            "category": "missing",
            "last_seen_at": self.instant(period.start if period else None, "episode.last_seen_at"),
            "police": self.police(),
        }
        if code in (codes.LEFT, codes.RETURNED):
            facts["missing_from"] = "health_setting"
        if code == codes.LEFT:
            facts["last_seen_location"] = {"text": self.location_text()}
            facts["reported_at"] = self.instant(focus.sent, "episode.reported_at")
        elif code == codes.PRESENTED:
            enc_period = self.m.encounter.period if self.m.encounter is not None else None
            facts["found_at"] = self.instant(enc_period.start if enc_period else None, "episode.found_at")
            facts["found_location"] = {"text": self.location_text()}
            facts["found_by"] = "health"
        elif code == codes.RETURNED or (code is None and event_type == "found"):
            facts["found_at"] = self.instant(period.end if period else None, "episode.found_at")
        return facts


def to_event(message: Message, raw: RawInput) -> MissingEpisodeEvent:
    mapper = _Mapper(message)
    record_id = mapper.record_id()
    event_id = mapper.event_id()
    event_type, occurred_at, _ = mapper.event_type_and_time()
    code = message.event_code
    bundle = message.bundle
    recorded_at = mapper.instant(bundle.timestamp if bundle is not None else None, "recorded_at")
    alert = code == codes.ALERT_REQUEST
    values: dict[str, Any] = {
        "event_type": event_type,
        "occurred_at": occurred_at,
        "recorded_at": recorded_at,
        "received_at": raw.received_at,
        "source": {"system": SYSTEM, "instance": raw.instance, "record_id": record_id, "event_id": event_id},
        "idempotency_key": idempotency_key(
            SYSTEM,
            raw.instance,
            record_id,
            event_id,
            content=None if event_id else raw.body,
        ),
        "child": message.identity.child(),
        "episode": mapper.episode(event_type),
        "care": {"looked_after": mapper.looked_after(), "responsible_la": mapper.responsible_la()},
        "health": {
            "gp_ods": mapper.gp_ods(),
            "named_nurse_ods": mapper.named_nurse_ods() if alert else None,
            "nhs_alert_requested": True if alert else None,
        },
    }
    values["data_quality"] = [
        *message.read.data_quality,  # NHS numbers and ODS codes (ukcore.py)
        *message.data_quality,
        *mapper.quality,
        *message.index.dangling(),
    ]
    return finish(values, where=f"record {record_id}")
