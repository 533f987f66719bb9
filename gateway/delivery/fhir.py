"""Notifications as FHIR R4 (UK Core), and the ``fhir`` delivery channel.

A Notification for a health recipient becomes four resources (docs/health.md "What health receives"):

- **Communication**: the notice itself. ``identifier`` = the notification id (system
  :data:`NOTIFICATION_ID_SYSTEM`); ``payload`` = a plain-text summary of the minimised payload and the
  notification document as an ``application/json`` attachment; ``about`` = the Flag. It carries only
  what the notification's payload carries (already minimised by its profile), plus the purpose, rule and
  lawful basis, which say why it was sent.
- **Flag** "missing child" (``https://example.org/fhir/CodeSystem/missing-episode#missing-child``), one
  per episode (``identifier`` = the episode id, system :data:`EPISODE_ID_SYSTEM`): ``active`` while the
  episode is open, ``inactive`` once the child is found or the episode closed (``period.end`` = found or
  closed time), ``entered-in-error`` when the episode was cancelled as recorded in error.
- **Patient**: the child, with only the identity fields the payload carries.
- **Organization**: the gateway, as sender and Flag author.

Two renderings: a ``transaction`` Bundle (default for the FHIR channel: conditional creates and
conditional updates keyed on the identifiers above, so sending the same notification again changes
nothing and a later notification moves the same Flag), or a ``message`` Bundle (MESH, and FHIR
messaging's ``$process-message``: ``Bundle.identifier`` and ``MessageHeader.id`` are the notification
id, which FHIR messaging receivers use to discard repeats). Either is validated with fhir.resources
(R4B, whose elements for these four resources are the R4 ones) before it leaves.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import uuid
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import structlog
from fhir.resources.R4B.bundle import Bundle
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.delivery.channel import Channel, DeliveryResult, register_channel
from gateway.model import Notification

log = structlog.get_logger(__name__)

NOTIFICATION_ID_SYSTEM = "https://missing-episode-gateway.example/notification-id"
EPISODE_ID_SYSTEM = "https://missing-episode-gateway.example/episode-id"
GATEWAY_ID_SYSTEM = "https://missing-episode-gateway.example/Id/gateway"
NOTIFICATION_EVENTS = "https://example.org/fhir/CodeSystem/missing-episode-notification"
FLAG_CODES = "https://example.org/fhir/CodeSystem/missing-episode"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORGANIZATION = "https://fhir.nhs.uk/Id/ods-organization-code"
DFE_LA_CODE = "https://example.org/fhir/Id/dfe-la-code"
ONS_PFA_CODE = "https://example.org/fhir/Id/ons-pfa-code"
POLICE_REFERENCE = "https://example.org/fhir/Id/police-missing-person-reference"
RECIPIENT_ID_SYSTEM = "https://missing-episode-gateway.example/Id/recipient"
FHIR_JSON = "application/fhir+json"
NOTIFICATION_MEDIA_TYPE = "application/json"
UKCORE = "https://fhir.hl7.org.uk/StructureDefinition/UKCore-"

# Recipient kind → the identifier system of its id (CANONICAL.md §3 recipient ids).
_RECIPIENT_SYSTEMS = {"health": ODS_ORGANIZATION, "la": DFE_LA_CODE, "police": ONS_PFA_CODE}
# Episode status → (Flag.status, MessageHeader/Communication event code).
_FLAG_STATUS = {
    "open": ("active", "child-missing"),
    "found": ("inactive", "child-found"),
    "closed": ("inactive", "episode-closed"),
    "cancelled": ("entered-in-error", "episode-cancelled"),
}
_EVENT_DISPLAY = {
    "child-missing": "Child missing",
    "child-found": "Missing child found",
    "episode-closed": "Missing episode closed",
    "episode-cancelled": "Missing episode cancelled (recorded in error)",
}
# Payload paths written out as labelled lines of the Communication's text, in this order. Anything else
# the payload carries follows under its own path: the text says all the payload says, and no more.
_SUMMARY = [
    ("status", "Episode status"),
    ("episode.category", "Category"),
    ("episode.missing_from", "Missing from"),
    ("episode.last_seen_at", "Last seen"),
    ("episode.last_seen_location.text", "Last seen at"),
    ("episode.reported_at", "Reported"),
    ("episode.risk_level", "Risk level"),
    ("episode.risk_factors", "Risk factors"),
    ("episode.police.reference", "Police reference"),
    ("episode.police.force", "Police force (ONS code)"),
    ("episode.found_at", "Found"),
    ("episode.found_location.text", "Found at"),
    ("episode.found_by", "Found by"),
    ("episode.harm_disclosed", "Harm disclosed"),
    ("care.looked_after", "Looked after"),
    ("care.legal_status", "Legal status"),
    ("care.cp_plan", "Child protection plan"),
    ("care.child_in_need", "Child in need"),
    ("care.responsible_la", "Responsible local authority (DfE code)"),
    ("health.gp_ods", "GP practice (ODS)"),
    ("health.named_nurse_ods", "Named nurse (ODS)"),
    ("health.nhs_alert_requested", "NHS alert requested"),
    ("opened_at", "Episode opened"),
    ("found_at", "Episode found"),
    ("closed_at", "Episode closed"),
]
# Shown on the Patient, the Flag or the Communication header instead of the text.
_NOT_IN_TEXT = {
    "schema",
    "episode_id",
    "child.given_name",
    "child.family_name",
    "child.known_as",
    "child.date_of_birth",
    "child.sex",
    "child.ids.nhs_number",
}


class RenderError(ValueError):
    """The notification cannot be rendered as valid FHIR (a bug or a payload the profile should not
    allow): the delivery fails permanently and an operator looks at it."""


class Sender(BaseModel):
    """Who the gateway is, as the sending Organization."""

    model_config = ConfigDict(extra="ignore")

    name: str = "Missing-episode gateway"
    ods: str | None = None  # the operating organisation's ODS code, when it has one
    source_endpoint: str = "urn:missing-episode-gateway"  # MessageHeader.source.endpoint (required in R4)


@dataclass(frozen=True)
class Rendered:
    organization: dict[str, Any]
    patient: dict[str, Any]
    flag: dict[str, Any]
    communication: dict[str, Any]
    urls: dict[str, str]  # resource type → urn:uuid fullUrl
    event_code: str


# --- payload access ------------------------------------------------------------------------


def _get(payload: dict[str, Any], dotted: str) -> Any:
    node: Any = payload
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _leaves(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        out: list[tuple[str, Any]] = []
        for key, value in node.items():
            out.extend(_leaves(value, f"{prefix}.{key}" if prefix else key))
        return out
    return [(prefix, node)]


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_shown(v)}" for k, v in value.items() if v not in (None, [], {}))
    return str(value)


def _present(value: Any) -> bool:
    return value is not None and value != [] and value != {} and value != ""


def summary(notification: Notification) -> str:
    """The Communication's text: purpose, what is asked, then every payload value with a label."""
    payload = notification.payload
    lines = [notification.purpose]
    if notification.kind.value == "task":
        due = f" by {notification.due_by.isoformat()}" if notification.due_by else ""
        lines.append(f"Action requested{due}.")
    elif notification.due_by:
        lines.append(f"Due by {notification.due_by.isoformat()}.")
    shown: set[str] = set()
    for path, label in _SUMMARY:
        value = _get(payload, path)
        if _present(value):
            lines.append(f"{label}: {_shown(value)}")
        shown.add(path)
    for path, value in _leaves(payload):
        if path in shown or path in _NOT_IN_TEXT or not _present(value):
            continue
        if any(path.startswith(p + ".") for p in shown):
            continue
        lines.append(f"{path}: {_shown(value)}")
    return "\n".join(lines)


# --- resources -----------------------------------------------------------------------------


def _urn(notification: Notification, role: str) -> str:
    """Deterministic fullUrls: the same notification renders to the same bytes on every retry."""
    return f"urn:uuid:{uuid.uuid5(notification.notification_id, role)}"


def _recipient_reference(notification: Notification) -> dict[str, Any]:
    kind = notification.recipient.kind.value
    return {
        "type": "Organization",
        "identifier": {
            "system": _RECIPIENT_SYSTEMS.get(kind, f"{RECIPIENT_ID_SYSTEM}/{kind}"),
            "value": notification.recipient.id,
        },
    }


def _organization(sender: Sender) -> dict[str, Any]:
    identifier = (
        {"system": ODS_ORGANIZATION, "value": sender.ods}
        if sender.ods
        else {"system": GATEWAY_ID_SYSTEM, "value": "missing-episode-gateway"}
    )
    return {
        "resourceType": "Organization",
        "meta": {"profile": [f"{UKCORE}Organization"]},
        "identifier": [identifier],
        "active": True,
        "name": sender.name,
    }


def _patient(notification: Notification) -> dict[str, Any]:
    child = notification.payload.get("child") or {}
    identifiers = []
    nhs_number = _get(child, "ids.nhs_number")
    if nhs_number:
        identifiers.append({"system": NHS_NUMBER, "value": str(nhs_number)})
    else:
        # Without an NHS number (absent, or withheld by the profile) the recipient cannot match the
        # child; this identifier keeps every notification about the episode on one Patient instead of
        # creating one per notification.
        identifiers.append({"system": EPISODE_ID_SYSTEM, "value": str(notification.episode_id)})
    names = []
    given, family = child.get("given_name"), child.get("family_name")
    if given or family:
        name: dict[str, Any] = {"use": "official"}
        if family:
            name["family"] = family
        if given:
            name["given"] = str(given).split()
        names.append(name)
    if child.get("known_as"):
        names.append({"use": "usual", "given": [child["known_as"]]})
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "meta": {"profile": [f"{UKCORE}Patient"]},
        "identifier": identifiers,
    }
    if names:
        patient["name"] = names
    if child.get("sex"):
        patient["gender"] = child["sex"]  # canonical sex codes are FHIR's administrative genders
    if child.get("date_of_birth"):
        patient["birthDate"] = child["date_of_birth"]
    return patient


def _flag(notification: Notification, urls: dict[str, str]) -> tuple[dict[str, Any], str]:
    payload = notification.payload
    status = str(payload.get("status") or "open")
    flag_status, event_code = _FLAG_STATUS.get(status, ("active", "child-missing"))
    identifiers = [{"system": EPISODE_ID_SYSTEM, "value": str(notification.episode_id)}]
    police = _get(payload, "episode.police.reference")
    if police:
        ident: dict[str, Any] = {"system": POLICE_REFERENCE, "value": str(police)}
        force = _get(payload, "episode.police.force")
        if force:
            ident["assigner"] = {"identifier": {"system": ONS_PFA_CODE, "value": str(force)}}
        identifiers.append(ident)
    period: dict[str, Any] = {}
    start = _get(payload, "episode.last_seen_at") or payload.get("opened_at")
    if start:
        period["start"] = start
    if flag_status == "inactive":
        end = payload.get("found_at") or _get(payload, "episode.found_at") or payload.get("closed_at")
        if end:
            period["end"] = end
    flag: dict[str, Any] = {
        "resourceType": "Flag",
        "meta": {"profile": [f"{UKCORE}Flag"]},
        "identifier": identifiers,
        "status": flag_status,
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/flag-category",
                        "code": "safety",
                        "display": "Safety",
                    }
                ]
            }
        ],
        "code": {
            "coding": [{"system": FLAG_CODES, "code": "missing-child", "display": "Missing child"}],
            "text": "Missing child",
        },
        "subject": {"reference": urls["Patient"]},
        "author": {"reference": urls["Organization"]},
    }
    if period:
        flag["period"] = period
    return flag, event_code


def _communication(notification: Notification, urls: dict[str, str], event_code: str) -> dict[str, Any]:
    urgent = notification.urgency is not None and notification.urgency.value == "immediate"
    note = (
        f"Rule {notification.rule.id} ({notification.rule.area} {notification.rule.cite}); lawful basis: "
        f"{notification.lawful_basis}; data-minimisation profile: {notification.profile}"
    )
    return {
        "resourceType": "Communication",
        "meta": {"profile": [f"{UKCORE}Communication"]},
        "identifier": [{"system": NOTIFICATION_ID_SYSTEM, "value": str(notification.notification_id)}],
        "status": "completed",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/communication-category",
                        "code": "alert" if event_code == "child-missing" else "notification",
                    }
                ]
            }
        ],
        "priority": "urgent" if urgent else "routine",
        "subject": {"reference": urls["Patient"]},
        "about": [{"reference": urls["Flag"]}],
        "sent": notification.created_at.isoformat(),
        "recipient": [_recipient_reference(notification)],
        "sender": {"reference": urls["Organization"]},
        "reasonCode": [
            {
                "coding": [
                    {
                        "system": NOTIFICATION_EVENTS,
                        "code": event_code,
                        "display": _EVENT_DISPLAY[event_code],
                    }
                ],
                "text": notification.purpose,
            }
        ],
        "payload": [
            {"contentString": summary(notification)},
            {
                "contentAttachment": {
                    "contentType": NOTIFICATION_MEDIA_TYPE,
                    "data": base64.b64encode(notification.to_json()).decode("ascii"),
                    "title": "missing-episode-notification/1",
                }
            },
        ],
        "note": [{"text": note}],
    }


def render(notification: Notification, sender: Sender | None = None) -> Rendered:
    sender = sender or Sender()
    urls = {kind: _urn(notification, kind) for kind in ("Organization", "Patient", "Flag", "Communication")}
    flag, event_code = _flag(notification, urls)
    return Rendered(
        organization=_organization(sender),
        patient=_patient(notification),
        flag=flag,
        communication=_communication(notification, urls, event_code),
        urls=urls,
        event_code=event_code,
    )


def _query(identifier: dict[str, Any]) -> str:
    return f"identifier={identifier['system']}|{identifier['value']}"


def transaction_bundle(notification: Notification, sender: Sender | None = None) -> dict[str, Any]:
    """Conditional creates (Organization, Patient: reused when the recipient already holds them) and
    conditional updates (Flag by episode id, Communication by notification id): idempotent as a whole."""
    r = render(notification, sender)
    patient_key = r.patient["identifier"][0]  # the NHS number, else the episode id
    entries = [
        (
            r.organization,
            {"method": "POST", "url": "Organization", "ifNoneExist": _query(r.organization["identifier"][0])},
        ),
        (r.patient, {"method": "POST", "url": "Patient", "ifNoneExist": _query(patient_key)}),
        (r.flag, {"method": "PUT", "url": f"Flag?{_query(r.flag['identifier'][0])}"}),
        (
            r.communication,
            {"method": "PUT", "url": f"Communication?{_query(r.communication['identifier'][0])}"},
        ),
    ]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "timestamp": notification.created_at.isoformat(),
        "entry": [
            {"fullUrl": r.urls[resource["resourceType"]], "resource": resource, "request": request}
            for resource, request in entries
        ],
    }


def message_bundle(
    notification: Notification, sender: Sender | None = None, destination: str = "urn:recipient"
) -> dict[str, Any]:
    """A FHIR message (MESH, ``$process-message``). Ids are the fullUrls' uuids; the Bundle identifier
    and the MessageHeader id are the notification id, on which receivers discard a repeat."""
    sender = sender or Sender()
    r = render(notification, sender)
    resources = [r.communication, r.flag, r.patient, r.organization]
    for resource in resources:
        resource["id"] = r.urls[resource["resourceType"]].removeprefix("urn:uuid:")
    header = {
        "resourceType": "MessageHeader",
        "id": str(notification.notification_id),
        "eventCoding": {
            "system": NOTIFICATION_EVENTS,
            "code": r.event_code,
            "display": _EVENT_DISPLAY[r.event_code],
        },
        "destination": [{"endpoint": destination, "receiver": _recipient_reference(notification)}],
        "sender": {"reference": r.urls["Organization"]},
        "source": {
            "name": sender.name,
            "software": "missing-episode-gateway",
            "endpoint": sender.source_endpoint,
        },
        "focus": [{"reference": r.urls["Communication"]}],
    }
    return {
        "resourceType": "Bundle",
        "id": str(notification.notification_id),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{notification.notification_id}"},
        "type": "message",
        "timestamp": notification.created_at.isoformat(),
        "entry": [{"fullUrl": f"urn:uuid:{notification.notification_id}", "resource": header}]
        + [{"fullUrl": r.urls[res["resourceType"]], "resource": res} for res in resources],
    }


def validated(bundle: dict[str, Any]) -> bytes:
    """The Bundle checked by fhir.resources and serialised from the parsed model (what is sent is
    exactly what validated). RenderError names the faulty elements, never their values."""
    try:
        model = Bundle.model_validate(bundle)
    except ValidationError as exc:
        where = "; ".join(".".join(str(p) for p in e["loc"]) + f": {e['type']}" for e in exc.errors()[:3])
        raise RenderError(f"rendered FHIR does not validate: {where}") from None
    return model.model_dump_json(by_alias=True, exclude_none=True).encode()


# --- the channel ---------------------------------------------------------------------------


class FhirEndpoint(BaseModel):
    """A recipient's FHIR server, from the recipient directory (mappings/directory/)."""

    model_config = ConfigDict(extra="ignore")

    base_url: str
    mode: Literal["transaction", "message"] = "transaction"
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    token_env: str | None = None  # environment variable holding a bearer token; never the token itself
    verify: bool | str = True  # False only for a test server; a path is a CA bundle
    cert_file: str | None = None  # client certificate (mutual TLS), with key_file
    key_file: str | None = None
    sender: Sender = Field(default_factory=Sender)


def _loopback(host: str | None) -> bool:
    if host in ("localhost",):
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str | None:
    """Why ``url`` may not receive a child's details, or None. Plain http only to this machine (tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and _loopback(parts.hostname):
        return None
    return "endpoint URL must be https (plain http is allowed only to a loopback address)"


def classify(status: int) -> Literal["delivered", "retry", "failed"]:
    """2xx delivered; 408, 425, 429 and 5xx worth trying again; any other answer is a refusal."""
    if 200 <= status < 300:
        return "delivered"
    if status in (408, 425, 429) or status >= 500:
        return "retry"
    return "failed"


@register_channel
class FhirChannel(Channel):
    """POST a transaction Bundle to ``base_url`` (or a message Bundle to ``base_url/$process-message``).
    One attempt per call; redirects are not followed (the child's details go only where configured)."""

    name = "fhir"

    def deliver(self, notification: Notification, endpoint: dict[str, Any]) -> DeliveryResult:
        nid = str(notification.notification_id)
        try:
            config = FhirEndpoint.model_validate(endpoint)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:3])
            return DeliveryResult("failed", f"fhir endpoint configuration invalid ({fields})")
        problem = check_url(config.base_url)
        if problem:
            return DeliveryResult("failed", problem)
        try:
            if config.mode == "transaction":
                body = validated(transaction_bundle(notification, config.sender))
                url = config.base_url.rstrip("/")
            else:
                body = validated(message_bundle(notification, config.sender, config.base_url))
                url = config.base_url.rstrip("/") + "/$process-message"
        except RenderError as exc:
            log.error("delivery.fhir.render_failed", notification_id=nid, reason=str(exc))
            return DeliveryResult("failed", str(exc))
        headers = {
            "Content-Type": FHIR_JSON,
            "Accept": FHIR_JSON,
            "X-Request-ID": nid,
            "Idempotency-Key": nid,
        }
        if config.token_env:
            token = os.environ.get(config.token_env, "")
            if not token:
                return DeliveryResult("failed", f"bearer token variable {config.token_env} is not set")
            headers["Authorization"] = f"Bearer {token}"
        cert = (config.cert_file, config.key_file) if config.cert_file and config.key_file else None
        try:
            with httpx.Client(
                timeout=config.timeout_s, verify=config.verify, cert=cert, follow_redirects=False
            ) as client:
                response = client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            log.warning("delivery.fhir.timeout", notification_id=nid)
            return DeliveryResult("retry", "timeout")
        except httpx.TransportError as exc:
            log.warning("delivery.fhir.transport_error", notification_id=nid, error=type(exc).__name__)
            return DeliveryResult("retry", f"transport error ({type(exc).__name__})")
        outcome = classify(response.status_code)
        receipt: dict[str, Any] = {"http_status": response.status_code, "mode": config.mode}
        if outcome == "delivered":
            receipt.update(_receipt(response))
        log.info(
            "delivery.fhir.sent",
            notification_id=nid,
            episode_id=str(notification.episode_id),
            http_status=response.status_code,
            outcome=outcome,
        )
        return DeliveryResult(outcome, f"HTTP {response.status_code}", receipt)


def _receipt(response: httpx.Response) -> dict[str, Any]:
    """Where the recipient put the Communication (from a transaction-response), for the audit trail."""
    out: dict[str, Any] = {}
    if response.headers.get("location"):
        out["location"] = response.headers["location"][:500]
    try:
        doc = response.json()
    except ValueError:
        return out
    if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
        locations = [
            (e.get("response") or {}).get("location") for e in doc.get("entry") or [] if isinstance(e, dict)
        ]
        out["locations"] = [str(loc)[:500] for loc in locations if loc]
    return out
