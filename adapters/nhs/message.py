"""What a parsed input is about, checked against README §5 before anything is mapped.

Accepted shapes:

- a ``message`` Bundle (first entry a MessageHeader; the event code is ``MessageHeader.eventCoding``;
  the focus is ``MessageHeader.focus[0]``);
- a ``collection`` Bundle (the focus is its single Communication or CommunicationRequest, the event code
  the focus's ``reasonCode``). A collection with neither but with a missing-child Flag is read as the
  Flag on its own (below);
- a single Communication or CommunicationRequest whose Patient (and Flags, Organizations, Encounter) are
  ``contained``; its ``reasonCode`` is the event code;
- a single missing-child Flag with its Patient contained (or in a collection): no event code; the Flag's
  state is the news (``active`` = the child is missing, ``inactive`` with ``period.end`` = no longer).

The checks run in the README's order so that the first reason a sender reads is the most basic one: a
UK Core example about a food allergy is told that it is not about a missing child, not that a reference
dangles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from adapters.base import InvalidInput, WrongInstance
from adapters.common.quality import issue
from adapters.nhs import codes
from adapters.nhs.mapping import NhsInstance
from adapters.nhs.read import FhirRead
from adapters.nhs.references import Index, shown
from adapters.nhs.ukcore import OrganizationIdentity, PatientIdentity, ods_code, organization_identity

NOT_MISSING = "nothing about a missing child"
_FOCUS_TYPES = ("Communication", "CommunicationRequest")
_SENDER_TYPES = ("Organization", "PractitionerRole")


@dataclass
class Message:
    """A checked input: the pieces the mapping (convert.py) reads, all about the one Patient."""

    read: FhirRead
    index: Index
    shape: str  # "message", "collection" or the resource type of a single resource
    event_code: str | None  # None: a missing-child Flag on its own
    focus: Any
    patient: Any
    identity: PatientIdentity
    sender: OrganizationIdentity
    header: Any | None = None
    missing_flag: Any | None = None
    flags: list[Any] = field(default_factory=list)
    encounter: Any | None = None
    data_quality: list[dict[str, Any]] = field(default_factory=list)

    @property
    def bundle(self) -> Any | None:
        return self.read.root if self.read.resource_type == "Bundle" else None


def _has_code(concept: Any, system: str, code: str) -> bool:
    return concept is not None and any(c.system == system and c.code == code for c in (concept.coding or []))


def is_missing_flag(flag: Any) -> bool:
    return _has_code(flag.code, codes.FLAG_CODES, codes.MISSING_CHILD)


def is_looked_after_flag(flag: Any) -> bool:
    """README §2: either coding means looked after."""
    return _has_code(flag.code, codes.FLAG_CODES, codes.LOOKED_AFTER) or _has_code(
        flag.code, codes.SNOMED, codes.SNOMED_LOOKED_AFTER
    )


def _event_codes(concepts: list[Any]) -> set[str]:
    return {
        str(c.code).strip()
        for concept in concepts
        for c in (concept.coding or [])
        if c.system == codes.EVENT_CODES and c.code
    }


def _known_code(code: str, where: str) -> str:
    if code not in codes.EVENTS:
        raise InvalidInput(
            f"{where} code {shown(code)!r} is not in the event code system {codes.EVENT_CODES} "
            f"({', '.join(sorted(codes.EVENTS))})"
        )
    return code


def _single_focus_code(focus: Any, where: str) -> str | None:
    found = _event_codes(focus.reasonCode or [])
    if len(found) > 1:
        raise InvalidInput(
            f"{where}.reasonCode carries more than one event code ({', '.join(sorted(found))})"
        )
    return _known_code(next(iter(found)), f"{where}.reasonCode") if found else None


def _bundle_shape(read: FhirRead, index: Index) -> tuple[str, Any | None, str | None, Any | None]:
    """(shape, MessageHeader, event code, focus) of a Bundle, after §5.3 and §5.4."""
    bundle = read.root
    if bundle.type not in ("message", "collection"):
        raise InvalidInput(
            f"Bundle.type is {shown(str(bundle.type))!r}; the gateway accepts a message or collection "
            f"Bundle about a missing child ({NOT_MISSING} in a {shown(str(bundle.type))} Bundle)"
        )
    entries = bundle.entry or []
    for i, entry in enumerate(entries):
        if entry.resource is None:
            raise InvalidInput(f"Bundle.entry[{i}] has no resource")
    duplicates = index.duplicate_full_urls()
    if duplicates:
        raise InvalidInput(f"two entries share the fullUrl {shown(duplicates[0])!r}")
    headers = [i for i, e in enumerate(entries) if e.resource.get_resource_type() == "MessageHeader"]
    if bundle.type == "collection":
        if headers:
            raise InvalidInput(
                "a collection Bundle carries a MessageHeader: send it as a message Bundle (type message) "
                "or leave the MessageHeader out"
            )
        focuses = [e.resource for e in entries if e.resource.get_resource_type() in _FOCUS_TYPES]
        if len(focuses) > 1:
            raise InvalidInput(
                "the collection Bundle holds more than one Communication/CommunicationRequest: which one "
                "is the report cannot be told"
            )
        if not focuses:
            flags = [e.resource for e in entries if e.resource.get_resource_type() == "Flag"]
            missing = [f for f in flags if is_missing_flag(f)]
            if not missing:
                raise InvalidInput(
                    "the collection Bundle has no Communication, CommunicationRequest or missing-child "
                    f"Flag: {NOT_MISSING}"
                )
            return "collection", None, None, None
        focus = focuses[0]
        where = index.where(focus)
        code = _single_focus_code(focus, where)
        if code is None:
            raise InvalidInput(
                f"{where}.reasonCode has no code from {codes.EVENT_CODES}: the event code is missing "
                f"({NOT_MISSING})"
            )
        return "collection", None, code, focus
    if not entries or headers[:1] != [0]:
        raise InvalidInput("a message Bundle's first entry must be a MessageHeader")
    if len(headers) > 1:
        raise InvalidInput("the message Bundle holds more than one MessageHeader")
    header = entries[0].resource
    coding = header.eventCoding
    if coding is None or coding.system != codes.EVENT_CODES or not coding.code:
        raise InvalidInput(
            f"MessageHeader.eventCoding is not a code of {codes.EVENT_CODES}: the event code is missing "
            f"({NOT_MISSING})"
        )
    code = _known_code(str(coding.code).strip(), "MessageHeader.eventCoding")
    if not header.focus:
        raise InvalidInput("MessageHeader.focus is missing: the message names no Communication or request")
    focus = index.follow(header, header.focus[0], "focus[0]", _FOCUS_TYPES)
    if focus is None:
        raise InvalidInput("MessageHeader.focus[0] has no reference to the Communication or request")
    focus_code = _single_focus_code(focus, index.where(focus))
    if focus_code is not None and focus_code != code:
        raise InvalidInput(
            f"MessageHeader.eventCoding is {code} but {index.where(focus)}.reasonCode is {focus_code}: "
            "the two codes disagree"
        )
    return "message", header, code, focus


def _resource_shape(read: FhirRead, index: Index) -> tuple[str, str | None, Any]:
    root = read.root
    kind = read.resource_type
    if kind in _FOCUS_TYPES:
        code = _single_focus_code(root, kind)
        if code is None:
            raise InvalidInput(f"{kind}.reasonCode has no code from {codes.EVENT_CODES} ({NOT_MISSING})")
        return kind, code, root
    if kind == "Flag":
        if not is_missing_flag(root):
            raise InvalidInput(
                f"the Flag is not coded {codes.MISSING_CHILD} ({codes.FLAG_CODES}): {NOT_MISSING}"
            )
        return kind, None, root
    article = "an" if kind[:1] in "AEIOU" else "a"
    raise InvalidInput(
        f"{article} {kind} on its own says {NOT_MISSING}: send a message or collection Bundle, or a "
        "Communication, CommunicationRequest or missing-child Flag with its Patient"
    )


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _period(flag: Any, where: str) -> None:
    """README §5.7: a Flag ``period.end`` before its ``period.start`` (a year or month alone cannot be
    compared, so such a period is left to the mapping to flag)."""
    period = flag.period
    if period is None or period.start is None or period.end is None:
        return
    start, end = period.start, period.end
    if isinstance(start, datetime) and isinstance(end, datetime):
        backwards = end < start
    else:
        start_day, end_day = _day(start), _day(end)
        backwards = start_day is not None and end_day is not None and end_day < start_day
    if backwards:
        raise InvalidInput(f"{where}.period.end is before its period.start")


def _sender(
    message_header: Any, focus: Any, index: Index, shape: str
) -> tuple[Any | None, str, OrganizationIdentity | None]:
    """The sending Organization (README §2/§5.6): MessageHeader.sender in a message, else the focus's
    sender (Communication), requester (CommunicationRequest) or author (a Flag on its own). A logical
    reference naming the organisation by its ODS identifier is as good as the resource."""
    if message_header is not None:
        holder, ref, element = message_header, message_header.sender, "sender"
    else:
        kind = focus.get_resource_type()
        element = {"Communication": "sender", "CommunicationRequest": "requester", "Flag": "author"}[kind]
        holder, ref = focus, getattr(focus, element)
    where = f"{index.where(holder)}.{element}"
    target = index.follow(holder, ref, element, _SENDER_TYPES)
    if target is None:
        ident = getattr(ref, "identifier", None)
        code = ods_code(ident.value) if ident is not None and ident.system == codes.ODS_ORGANIZATION else None
        if code is not None:
            return None, where, OrganizationIdentity(where=where, resource_id=None, ods_codes=[code])
        raise WrongInstance(
            f"{where} does not reference the sending Organization, so the sender cannot be checked "
            f"against this channel ({shape})"
        )
    if target.get_resource_type() == "PractitionerRole":
        target = index.follow(target, target.organization, "organization", ("Organization",))
        if target is None:
            raise WrongInstance(f"{where} is a PractitionerRole without its Organization")
    return target, where, None


def check(read: FhirRead, instance: NhsInstance, instance_name: str) -> Message:
    """README §5, in order. Raises InvalidInput or WrongInstance naming what is wrong."""
    index = Index(read)
    header = None
    if read.resource_type == "Bundle":
        shape, header, code, focus = _bundle_shape(read, index)
    else:
        shape, code, focus = _resource_shape(read, index)

    patients = read.of_type("Patient")
    container = "Bundle" if read.resource_type == "Bundle" else f"{read.resource_type} (contained)"
    if not patients:
        raise InvalidInput(f"the {container} has no Patient: the child cannot be identified")
    if len(patients) > 1:
        raise InvalidInput(
            f"the {container} holds {len(patients)} Patients; a missing-child message is about exactly one"
        )
    patient = patients[0].resource
    identity = next(p for p in read.patients if p.where == patients[0].where)

    flags = [r.resource for r in read.of_type("Flag")]
    if focus is None:  # a collection with only a missing-child Flag
        missing_flags = [f for f in flags if is_missing_flag(f)]
        if len(missing_flags) > 1:
            raise InvalidInput("the collection Bundle holds more than one missing-child Flag and no report")
        focus = missing_flags[0]
    focus_where = index.where(focus)
    subject = index.follow(focus, focus.subject, "subject", ("Patient",))
    if subject is not patient:
        raise InvalidInput(f"{focus_where}.subject does not reference the Patient")

    # A Flag about anyone but this child must never be read as this child's (looked-after status...).
    for flag in flags:
        if index.follow(flag, flag.subject, "subject", ("Patient",)) is not patient:
            raise InvalidInput(f"{index.where(flag)}.subject does not reference the Patient")
        _period(flag, index.where(flag))

    sender_org, sender_where, logical_sender = _sender(header, focus, index, shape)
    sender = (
        logical_sender
        or read.organizations.get(id(sender_org))
        or organization_identity(sender_org, index.where(sender_org))
    )
    if not sender.ods_codes:
        raise WrongInstance(
            f"the sending Organization ({sender_where}) carries no ODS code "
            f"({codes.ODS_ORGANIZATION}); instance {instance_name!r} is {', '.join(instance.ods_codes)}"
        )
    if sender.ods_code is None or sender.ods_code not in instance.ods_codes:
        raise WrongInstance(
            f"the sending Organization's ODS code is {', '.join(sorted(set(sender.ods_codes)))} but "
            f"instance {instance_name!r} is {instance.organisation_name} ({', '.join(instance.ods_codes)})"
        )

    kind = focus.get_resource_type()
    if code == codes.ALERT_REQUEST and kind != "CommunicationRequest":
        raise InvalidInput(f"an {codes.ALERT_REQUEST} without a CommunicationRequest (the focus is a {kind})")
    if code is not None and code != codes.ALERT_REQUEST and kind != "Communication":
        raise InvalidInput(f"a {code} report without a Communication (the focus is a {kind})")

    missing_flags = [f for f in flags if is_missing_flag(f)]
    missing_flag = _missing_flag(missing_flags, focus, index)
    encounter = None
    if kind in _FOCUS_TYPES:
        encounter = index.follow(focus, focus.encounter, "encounter", ("Encounter",))
    elif missing_flag is not None:
        encounter = index.follow(missing_flag, missing_flag.encounter, "encounter", ("Encounter",))
    if (
        encounter is not None
        and encounter.subject is not None
        and index.follow(encounter, encounter.subject, "subject", ("Patient",)) is not patient
    ):
        raise InvalidInput(f"{index.where(encounter)}.subject does not reference the Patient")

    quality: list[dict[str, Any]] = []
    if missing_flag is not None and missing_flag.status == "entered-in-error":
        # A health message must not stand down a child's episode: a person cancels it (README §7).
        raise InvalidInput(
            f"{index.where(missing_flag)} (the missing-child Flag) is entered-in-error: the gateway does not "
            "cancel an episode from a health message; ask the local authority or police to cancel it"
        )
    if code == codes.RETURNED and missing_flag is not None:
        if missing_flag.period is None or missing_flag.period.end is None:
            raise InvalidInput(
                f"a {codes.RETURNED} message whose missing-child Flag has no period.end: when the child "
                "came back is not said"
            )
        if missing_flag.status == "active":
            quality.append(
                issue(
                    "episode.found_at",
                    "the missing-child Flag of a returned message is still active (period.end is used)",
                )
            )
    if (
        code is None
        and missing_flag is not None
        and missing_flag.status == "inactive"
        and (missing_flag.period is None or missing_flag.period.end is None)
    ):
        raise InvalidInput(
            f"{index.where(missing_flag)} is inactive without period.end: when the child was found is "
            "not said"
        )
    if code == codes.LEFT and missing_flag is None:
        quality.append(
            issue("episode.last_seen_at", "no missing-child Flag: the last-seen time is not given")
        )
    if code == codes.LEFT and missing_flag is not None and missing_flag.status == "inactive":
        quality.append(
            issue(
                "episode.found_at",
                "the missing-child Flag of a report of a child leaving is already inactive; the report is "
                "taken as a child missing",
            )
        )
    return Message(
        read=read,
        index=index,
        shape=shape,
        event_code=code,
        focus=focus,
        patient=patient,
        identity=identity,
        sender=sender,
        header=header,
        missing_flag=missing_flag,
        flags=flags,
        encounter=encounter,
        data_quality=quality,
    )


def _missing_flag(candidates: list[Any], focus: Any, index: Index) -> Any | None:
    """The Flag coded missing-child (README §3). Several: the one the focus is ``about``."""
    if focus.get_resource_type() == "Flag":
        return focus
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    about: list[Any] = []
    for ref in getattr(focus, "about", None) or []:
        target = index.resolve(ref.reference, focus) if ref.reference else None
        if any(target is c for c in candidates) and not any(target is a for a in about):
            about.append(target)
    if len(about) == 1:
        return about[0]
    raise InvalidInput(
        f"{len(candidates)} missing-child Flags and {index.where(focus)}.about does not say which one is "
        "this report's"
    )
