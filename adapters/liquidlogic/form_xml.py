"""The "form finalised" XML notification (README §5), parsed as hostile input.

lxml is set up so that nothing outside the document is ever read: no DTD loading, no entity
resolution, no network. Any DOCTYPE is refused outright (an XXE or entity-expansion attempt has no
business in this feed), before and after parsing, so that an encoding trick cannot slip one past the
byte scan. The document is then validated against the packaged copy of form-notification.xsd.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from importlib import resources

from lxml import etree

from adapters.base import HostileInput, InvalidInput, UnreadableInput
from adapters.common.ids import bounded_id
from adapters.common.times import LONDON, parse_iso_datetime
from adapters.common.xml import hardened_parser
from adapters.liquidlogic import codes
from adapters.liquidlogic.record import LcsRecord

NS = "urn:liquidlogic:lcs:form-notification:1"
_N = {"n": NS}
_HOSTILE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_QUOTED = re.compile(r"'([^']*)'")


_parser = hardened_parser  # one hardened configuration for every XML format


@lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The packaged XSD (adapters/liquidlogic/schema/), never the shared contracts folder."""
    xsd = resources.files("adapters.liquidlogic").joinpath("schema", "form-notification.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(xsd, _parser()))


def _safe_message(message: str) -> str:
    """An XSD error names the element and the rule; every other quoted text (the offending value, which
    may be a date of birth, an NHS number or a name) is blanked so that a reason never carries a
    child's details."""
    message = message.replace("{" + NS + "}", "")

    def keep(match: re.Match[str]) -> str:
        before = message[max(0, match.start() - 8) : match.start()]
        if before.endswith(("Element ", "facet ")) or match.group(1).startswith("xs:"):
            return match.group(0)
        return "'…'"

    return _QUOTED.sub(keep, message)[:300]


def _syntax_message(message: object) -> str:
    """libxml2's message without the bytes or quoted text it sometimes repeats from the document."""
    text = str(message).split("Bytes:")[0]
    return _QUOTED.sub("'…'", text).strip().rstrip(",!")[:200]


def _scan_text(body: bytes) -> bytes:
    """The bytes to scan for a DOCTYPE: a UTF-16 or UTF-32 document is scanned as text, so that a
    wide encoding cannot hide the declaration from the byte scan."""
    head = body[:4]
    for bom, codec in (
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\xfe\xff", "utf-16-be"),
        (b"\xff\xfe", "utf-16-le"),
    ):
        if head.startswith(bom):
            return body.decode(codec, errors="ignore").encode("utf-8", errors="ignore")
    if b"\x00" in head:
        for codec in ("utf-32-be", "utf-32-le", "utf-16-be", "utf-16-le"):
            text = body.decode(codec, errors="ignore")
            if text.lstrip().startswith("<"):
                return text.encode("utf-8", errors="ignore")
    return body


def parse_document(body: bytes) -> etree._Element:
    if _HOSTILE.search(_scan_text(body)):
        raise HostileInput(
            "XML with a DOCTYPE or ENTITY declaration is refused (entities are never resolved)"
        )
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise UnreadableInput(
            f"not well-formed XML (line {exc.lineno}): {_syntax_message(exc.msg)}"
        ) from None
    except ValueError as exc:  # lxml refuses some inputs (e.g. a str with an encoding declaration)
        raise UnreadableInput(f"not readable XML ({type(exc).__name__})") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise HostileInput("XML with a DOCTYPE declaration is refused (entities are never resolved)")
    xsd = schema()
    if not xsd.validate(root):
        err = xsd.error_log.last_error
        where = f"line {err.line}: " if err is not None else ""
        text = _safe_message(err.message) if err is not None else "invalid"
        raise InvalidInput(f"does not validate against form-notification.xsd: {where}{text}")
    return root


@dataclass(frozen=True)
class Notification:
    notification_id: str
    event_type: str
    event_time: datetime
    la_code: str
    form_type: str
    form_id: str
    record: LcsRecord | None


def _text(node: etree._Element | None, path: str) -> str | None:
    if node is None:
        return None
    found = node.find(path, _N)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _dt(node: etree._Element | None, path: str) -> datetime | None:
    value = _text(node, path)
    if value is None:
        return None
    try:
        return parse_iso_datetime(value, LONDON)
    except ValueError:
        # xs:dateTime allows forms Python cannot hold (24:00:00, five-digit years): refuse, don't guess.
        raise InvalidInput(
            f"{path.replace('n:', '')}: date-time is outside what the gateway accepts"
        ) from None


def read_notification(body: bytes) -> Notification:
    root = parse_document(body)
    org = root.find("n:Organisation", _N)
    form = root.find("n:Form", _N)
    event_time = _dt(root, "n:EventDateTime")
    assert org is not None and form is not None and event_time is not None  # the XSD requires them
    episode = root.find("n:MissingEpisode", _N)
    return Notification(
        notification_id=bounded_id(_text(root, "n:NotificationId") or "", "NotificationId"),
        event_type=_text(root, "n:EventType") or "",
        event_time=event_time,
        la_code=(org.get("laCode") or "").strip(),
        form_type=_text(form, "n:FormTypeCode") or "",
        form_id=bounded_id(_text(form, "n:FormId") or "", "Form/FormId"),
        record=_record(root, episode, event_time) if episode is not None else None,
    )


def _record(root: etree._Element, ep: etree._Element, event_time: datetime) -> LcsRecord:
    person = root.find("n:Person", _N)
    ri = ep.find("n:ReturnInterview", _N)
    end_reason_el = ep.find("n:EndReason", _N)
    end_reason = (end_reason_el.get("code") or "").strip() if end_reason_el is not None else ""
    cla = _text(person, "n:ClaFlag")
    cp = _text(person, "n:CpFlag")
    gender = _text(person, "n:GenderCode")
    location = _text(ep, "n:LocationMissingFrom")
    risk = _text(ep, "n:RiskLevel")
    last_seen = _dt(ep, "n:StartDateTime")
    assert last_seen is not None
    dob = _text(person, "n:DateOfBirth")
    factors = sorted(
        {(f.text or "").strip().lower() for f in ep.findall("n:RiskFactors/n:RiskFactor", _N)} - {""}
    )
    return LcsRecord(
        record_id=bounded_id(_text(ep, "n:FactMissingPersonId") or "", "MissingEpisode/FactMissingPersonId"),
        person_id=bounded_id(_text(person, "n:PersonId") or "", "Person/PersonId"),
        changed_at=event_time,
        forename=_text(person, "n:Forename"),
        surname=_text(person, "n:Surname"),
        # xs:date may carry a zone suffix (2012-06-21Z); a date of birth is the calendar day.
        date_of_birth=dob[:10] if dob else None,
        gender=codes.GENDER.get(gender or ""),
        nhs_number=_text(person, "n:NhsNumber"),
        upn=_text(person, "n:Upn"),
        legal_status_code=_text(person, "n:LegalStatus"),
        looked_after=codes.FLAGS.get(cla or ""),
        cp_plan=codes.FLAGS.get(cp or ""),
        responsible_la=_text(person, "n:ResponsibleLaCode"),
        placement_la=_text(person, "n:PlacementLaCode"),
        placement_type_code=_text(person, "n:PlacementType"),
        last_seen_at=last_seen,
        ended_at=_dt(ep, "n:EndDateTime"),
        category=codes.MISSING_STATUS[_text(ep, "n:MissingStatus") or "Missing"],
        missing_from=codes.LOCATION_MISSING_FROM.get(location or ""),
        police_reference=_text(ep, "n:PoliceReference"),
        risk_level=codes.RISK_LEVEL.get(risk or ""),
        risk_factors=factors,
        ri_offered=_text(ri, "n:Offered"),
        ri_accepted=_text(ri, "n:Accepted"),
        ri_offered_at=_dt(ri, "n:OfferedDateTime"),
        ri_completed_at=_dt(ri, "n:CompletedDateTime"),
        ri_provider=_text(ri, "n:Provider"),
        end_reason=end_reason or None,
        found_location=_text(ep, "n:FoundLocation"),
        allocated_worker=_text(person, "n:AllocatedWorker"),
        team=_text(person, "n:Team"),
        form_event=_text(root, "n:EventType"),
    )
