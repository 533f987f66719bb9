"""FHIR R4 endpoints for NHS senders: one FHIR base URL per sending organisation.

``[base] = /fhir/R4/{instance}``, where ``{instance}`` is the sender's NHS instance (``nhs-xx1``...).
The instance comes from the URL, never from the message (CANONICAL.md: the channel chooses it), so an
authentication layer can bind a sender's credentials to its own base URL, and the message's sending
Organization must carry that instance's ODS code. A FHIR server exposes one base per tenant in the same
way, so a sender's FHIR client needs only its base URL:

- ``POST [base]/$process-message``: a ``message`` Bundle (FHIR messaging);
- ``POST [base]`` or ``POST [base]/Bundle``: a ``message`` or ``collection`` Bundle;
- ``POST [base]/Communication``, ``/CommunicationRequest``, ``/Flag``: that resource on its own, with its
  Patient contained. The body must be the resource the path names.

Bodies are ``application/fhir+json`` or ``application/fhir+xml`` (``application/json`` and
``application/xml`` are accepted too). Every input goes through the same IngestService as
``POST /ingest/nhs/{instance}`` (stored raw, parsed by the NHS adapter, quarantined when refused,
published and confirmed before the answer). The answer is an OperationOutcome: ``202`` with an
``information`` issue once the broker has confirmed the events, or an ``error`` issue whose
``diagnostics`` says what is wrong, with the HTTP status of the refusal (400 unreadable or hostile, 404
unknown instance, 413 too large, 415 not FHIR, 422 invalid or another organisation's message, 503 try
again; 401 / 403 when the caller's key is missing or does not carry ``ingest:nhs/{instance}``, exactly as
``/ingest``). It is FHIR XML when the request asked for XML (``Accept`` or ``_format``, else the body's type).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from fhir.resources.R4B.operationoutcome import OperationOutcome
from starlette.concurrency import run_in_threadpool

from gateway.api.deps import IngestDep, SettingsDep
from gateway.api.routes.ingest import _read_limited
from gateway.ingest.service import PublishFailed, Rejected
from gateway.security.deps import bearer, current_principal, require_ingest

router = APIRouter(tags=["fhir"])

SYSTEM = "nhs"
FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
JSON_TYPES = frozenset({FHIR_JSON, "application/json", "application/json+fhir"})
XML_TYPES = frozenset({FHIR_XML, "application/xml", "text/xml", "application/xml+fhir"})
RESOURCES = frozenset({"Bundle", "Communication", "CommunicationRequest", "Flag"})
EXPECTED_RESOURCE_HEADER = "x-gateway-fhir-resource"  # read by adapters/nhs/adapter.py
ERROR_CODES = "https://missing-episode-gateway.example/CodeSystem/ingest-error"

# Gateway refusal code → OperationOutcome issue type (http://hl7.org/fhir/issue-type).
ISSUE_TYPES = {
    "unreadable": "structure",
    "hostile": "security",
    "invalid": "invalid",
    "wrong_instance": "business-rule",
    "unknown_instance": "not-found",
    "unauthenticated": "login",
    "forbidden": "forbidden",
    "rate_limited": "throttled",
    "mapping_error": "exception",
    "adapter_error": "exception",
    "too_large": "too-costly",
    "unsupported_media_type": "not-supported",
    "unknown_resource": "not-supported",
    "broker_unavailable": "transient",
}


def _media(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def _wants_xml(request: Request) -> bool:
    fmt = request.query_params.get("_format", "").lower()
    if fmt:
        return "xml" in fmt
    accept = request.headers.get("accept", "").lower()
    if "xml" in accept and "json" not in accept:
        return True
    if "json" in accept:
        return False
    return _media(request.headers.get("content-type")) in XML_TYPES


def outcome(
    severity: str, code: str, diagnostics: str, *, error: str | None = None, text: str | None = None
) -> OperationOutcome:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    details: dict[str, Any] = {}
    if error:
        details["coding"] = [{"system": ERROR_CODES, "code": error}]
    if text:
        details["text"] = text
    if details:
        issue["details"] = details
    return OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": [issue]})


def _respond(
    request: Request, status: int, body: OperationOutcome, headers: dict[str, str] | None = None
) -> Response:
    if _wants_xml(request):
        return Response(body.model_dump_xml(), status_code=status, media_type=FHIR_XML, headers=headers)
    return Response(
        body.model_dump_json(by_alias=True, exclude_none=True),
        status_code=status,
        media_type=FHIR_JSON,
        headers=headers,
    )


def _refusal(
    request: Request,
    status: int,
    error: str,
    reason: str,
    text: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return _respond(
        request,
        status,
        outcome("error", ISSUE_TYPES.get(error, "processing"), reason, error=error, text=text),
        headers,
    )


async def _authorise(request: Request, instance: str) -> Response | None:
    """The same checks as ``/ingest`` (gateway/security/deps.py: a key or JWT whose scopes include
    ``ingest:nhs/{instance}``, audited when refused), answered as an OperationOutcome: a FHIR client
    reads every refusal the same way."""
    try:
        credentials = await bearer(request)
        principal = await run_in_threadpool(current_principal, request, credentials)
        await run_in_threadpool(require_ingest, request, SYSTEM, instance, principal)
    except HTTPException as exc:
        error = {401: "unauthenticated", 403: "forbidden", 429: "rate_limited"}.get(
            exc.status_code, "forbidden"
        )
        return _refusal(request, exc.status_code, error, str(exc.detail), headers=dict(exc.headers or {}))
    return None


async def _ingest(request: Request, instance: str, resource: str, service: Any, settings: Any) -> Response:
    refused = await _authorise(request, instance)
    if refused is not None:
        return refused
    if resource not in RESOURCES:
        return _refusal(
            request,
            404,
            "unknown_resource",
            f"the gateway accepts {', '.join(sorted(RESOURCES))} here, not {resource[:64]!r}",
        )
    content_type = request.headers.get("content-type")
    media = _media(content_type)
    if media and media not in JSON_TYPES | XML_TYPES:
        return _refusal(
            request,
            415,
            "unsupported_media_type",
            f"content type {media[:64]!r} is not FHIR: send {FHIR_JSON} or {FHIR_XML}",
        )
    body = await _read_limited(request, settings.max_body_bytes)
    if body is None:
        return _refusal(request, 413, "too_large", f"body exceeds {settings.max_body_bytes} bytes")
    # The adapter sees the request's headers, less the caller's credentials (it has no use for them)
    # and less any client-sent copy of the header this route sets itself.
    headers = {
        k: v
        for k, v in request.headers.items()
        if k.lower() not in {EXPECTED_RESOURCE_HEADER, "authorization", "x-api-key"}
    }
    if resource != "Bundle" or request.url.path.rstrip("/").endswith(("/Bundle", "/$process-message")):
        headers[EXPECTED_RESOURCE_HEADER] = resource
    try:
        result = await run_in_threadpool(
            service.ingest,
            SYSTEM,
            instance,
            body,
            content_type=content_type,
            filename=request.headers.get("x-filename"),
            headers=headers,
            channel="fhir",
        )
    except Rejected as exc:
        ids = [
            f"{label} {value}"
            for label, value in (("quarantine", exc.quarantine_id), ("raw input", exc.raw_input_id))
            if value
        ]
        return _refusal(request, exc.http_status, exc.code, exc.reason, "; ".join(ids) or None)
    except PublishFailed as exc:
        return _respond(
            request,
            503,
            outcome(
                "error",
                "transient",
                "stored but not yet accepted by the broker: send again",
                error="broker_unavailable",
                text=f"raw input {exc.raw_input_id}",
            ),
            headers={"Retry-After": "5"},
        )
    events = ", ".join(str(e) for e in result.event_ids)
    return _respond(
        request,
        202,
        outcome(
            "information",
            "informational",
            f"accepted: {len(result.event_ids)} event(s) published",
            text=f"raw input {result.raw_input_id}; events {events}",
        ),
    )


@router.post("/fhir/R4/{instance}", status_code=202)
async def post_bundle(instance: str, request: Request, service: IngestDep, settings: SettingsDep) -> Response:
    """``POST [base]``: a message or collection Bundle."""
    return await _ingest(request, instance, "Bundle", service, settings)


@router.post("/fhir/R4/{instance}/$process-message", status_code=202)
async def process_message(
    instance: str, request: Request, service: IngestDep, settings: SettingsDep
) -> Response:
    """FHIR messaging: a message Bundle."""
    return await _ingest(request, instance, "Bundle", service, settings)


@router.post("/fhir/R4/{instance}/{resource}", status_code=202)
async def post_resource(
    instance: str, resource: str, request: Request, service: IngestDep, settings: SettingsDep
) -> Response:
    """``POST [base]/{resource}``: Bundle, Communication, CommunicationRequest or Flag."""
    return await _ingest(request, instance, resource, service, settings)
