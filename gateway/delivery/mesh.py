"""The ``mesh`` delivery channel: a Notification as a FHIR message over NHS England's MESH.

The body is the FHIR ``message`` Bundle of gateway/delivery/fhir.py (``MessageHeader.id`` = the
notification id), sent with NHS England's ``mesh-client`` from the gateway's mailbox to the recipient's,
with a configurable workflow id and ``Mex-LocalID`` = the notification id. MESH itself does not
deduplicate: a retry after an unknown outcome (a timeout after the upload) can deliver the message
twice, and the recipient discards the repeat on the local id or the MessageHeader id. One attempt per
call: mesh-client's own retries are turned off, because retry policy belongs to the delivery worker.

MESH asks clients to validate their mailbox (``handshake``) at least once every 24 hours; the channel
does so before the first send and then daily, per mailbox.

Configuration. The recipient directory (mappings/directory/, gateway/delivery/directory.py) names the
*recipient's* mailbox and the workflow; the gateway's own MESH identity is one per deployment and comes
from the environment (secrets are never written in the directory, only the names of the variables that
hold them). An endpoint entry may override any of the deployment values:

- ``mailbox`` (required): the recipient's mailbox id;
- ``workflow_id`` (the directory requires it): agreed per deployment, e.g. ``GATEWAY_MISSING_CHILD_NOTICE``;
- ``url`` (default ``$GATEWAY_MESH_URL``): MESH base URL, or ``INT`` / ``DEP`` / ``LIVE`` for NHS
  England's endpoints;
- ``from_mailbox`` (default ``$GATEWAY_MESH_MAILBOX``): the gateway's own mailbox id;
- ``password_env`` (default ``GATEWAY_MESH_PASSWORD``): variable holding that mailbox's password;
- ``shared_key_env`` (default ``GATEWAY_MESH_SHARED_KEY``): variable holding the environment's secret;
- ``cert_file`` / ``key_file`` (default ``$GATEWAY_MESH_CERT_FILE`` / ``$GATEWAY_MESH_KEY_FILE``):
  client certificate and key (mutual TLS); ``verify`` (default ``$GATEWAY_MESH_CA_FILE``): CA bundle;
- ``timeout_s`` (default 30): seconds for one request.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import requests
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.delivery.channel import Channel, DeliveryResult, register_channel
from gateway.delivery.fhir import (
    FHIR_JSON,
    RenderError,
    Sender,
    check_url,
    classify,
    message_bundle,
    validated,
)
from gateway.model import Notification

log = structlog.get_logger(__name__)

DEFAULT_WORKFLOW = "MISSING_CHILD_NOTIFICATION"
HANDSHAKE_EVERY_S = 24 * 3600
SUBJECT = "Missing-episode notification"  # MESH subjects are visible in tracking: never a child's details


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


class MeshEndpoint(BaseModel):
    model_config = ConfigDict(extra="ignore")

    mailbox: str = Field(min_length=1, max_length=64)  # the recipient's
    workflow_id: str = Field(default=DEFAULT_WORKFLOW, min_length=1, max_length=255)
    url: str = Field(default_factory=lambda: _env("GATEWAY_MESH_URL") or "", min_length=1)
    from_mailbox: str = Field(default_factory=lambda: _env("GATEWAY_MESH_MAILBOX") or "", min_length=1)
    password_env: str = "GATEWAY_MESH_PASSWORD"  # noqa: S105 - the variable's name, not a password
    shared_key_env: str = "GATEWAY_MESH_SHARED_KEY"
    cert_file: str | None = Field(default_factory=lambda: _env("GATEWAY_MESH_CERT_FILE"))
    key_file: str | None = Field(default_factory=lambda: _env("GATEWAY_MESH_KEY_FILE"))
    verify: bool | str | None = Field(default_factory=lambda: _env("GATEWAY_MESH_CA_FILE"))
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    sender: Sender = Field(default_factory=Sender)


def _base_url(url: str) -> Any:
    import mesh_client

    named = {
        "INT": mesh_client.INT_ENDPOINT,
        "DEP": mesh_client.DEP_ENDPOINT,
        "LIVE": mesh_client.LIVE_ENDPOINT,
    }
    return named.get(url.upper(), url)


@register_channel
class MeshChannel(Channel):
    name = "mesh"

    def __init__(self) -> None:
        self._handshakes: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def _client(self, config: MeshEndpoint, password: str, shared_key: str) -> Any:
        from mesh_client import MeshClient  # imported here: only deployments that use MESH need it

        cert = (config.cert_file, config.key_file) if config.cert_file and config.key_file else None
        return MeshClient(
            _base_url(config.url),
            mailbox=config.from_mailbox,
            password=password,
            shared_key=shared_key.encode(),
            cert=cert,
            verify=config.verify,
            max_retries=0,  # one try per call: the delivery worker owns retries
            timeout=config.timeout_s,
            application_name="missing-episode-gateway",
        )

    def _handshake_due(self, config: MeshEndpoint) -> bool:
        with self._lock:
            last = self._handshakes.get((config.url, config.from_mailbox))
        return last is None or time.monotonic() - last > HANDSHAKE_EVERY_S

    def deliver(self, notification: Notification, endpoint: dict[str, Any]) -> DeliveryResult:
        nid = str(notification.notification_id)
        try:
            config = MeshEndpoint.model_validate(endpoint)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:3])
            return DeliveryResult("failed", f"mesh endpoint configuration invalid ({fields})")
        if not config.url or not config.from_mailbox:
            return DeliveryResult(
                "failed",
                "MESH not configured: set GATEWAY_MESH_URL and GATEWAY_MESH_MAILBOX (or url, from_mailbox)",
            )
        if config.url.upper() not in ("INT", "DEP", "LIVE"):
            problem = check_url(config.url)
            if problem:
                return DeliveryResult("failed", problem)
        password = os.environ.get(config.password_env, "")
        shared_key = os.environ.get(config.shared_key_env, "")
        if not password or not shared_key:
            return DeliveryResult(
                "failed", f"MESH secrets not set ({config.password_env} / {config.shared_key_env})"
            )
        try:
            body = validated(message_bundle(notification, config.sender, f"mesh:{config.mailbox}"))
        except RenderError as exc:
            log.error("delivery.mesh.render_failed", notification_id=nid, reason=str(exc))
            return DeliveryResult("failed", str(exc))
        return self._send(config, password, shared_key, notification, body)

    def _send(
        self, config: MeshEndpoint, password: str, shared_key: str, notification: Notification, body: bytes
    ) -> DeliveryResult:
        nid = str(notification.notification_id)
        try:
            client_cm = self._client(config, password, shared_key)
        except ImportError:
            return DeliveryResult("failed", "mesh-client is not installed on this worker")
        try:
            with client_cm as client:
                if self._handshake_due(config):
                    client.handshake()
                    with self._lock:
                        self._handshakes[(config.url, config.from_mailbox)] = time.monotonic()
                # send_chunk rather than send_message: one chunk (a notification is kilobytes, far
                # below MESH's chunk size) and the HTTP status, which send_message hides in MeshError.
                response = client.send_chunk(
                    config.mailbox,
                    body,
                    chunk_num=1,
                    total_chunks=1,
                    workflow_id=config.workflow_id,
                    local_id=nid,
                    subject=SUBJECT,
                    filename=f"{nid}.json",
                    content_type=FHIR_JSON,
                )
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            outcome = classify(status) if status else "retry"
            log.warning("delivery.mesh.http_error", notification_id=nid, http_status=status, outcome=outcome)
            return DeliveryResult(outcome, f"MESH HTTP {status}", {"http_status": status})
        except (requests.Timeout, requests.ConnectionError) as exc:
            log.warning("delivery.mesh.transport_error", notification_id=nid, error=type(exc).__name__)
            return DeliveryResult("retry", f"transport error ({type(exc).__name__})")
        except requests.RequestException as exc:
            log.warning("delivery.mesh.request_error", notification_id=nid, error=type(exc).__name__)
            return DeliveryResult("retry", f"request error ({type(exc).__name__})")
        status = response.status_code
        outcome = classify(status)
        if outcome == "delivered" and status not in (200, 202):
            outcome = "failed"  # MESH answers 202 (or 200); anything else is not an accepted upload
        message_id, reason = _answer(response)
        if status == 417:
            outcome = "failed"  # MESH's "expectation failed": unknown recipient, workflow not allowed...
        receipt = {"http_status": status, "local_id": nid, "workflow_id": config.workflow_id}
        if message_id:
            receipt["message_id"] = message_id
        log.info(
            "delivery.mesh.sent",
            notification_id=nid,
            episode_id=str(notification.episode_id),
            http_status=status,
            outcome=outcome,
            message_id=message_id,
        )
        detail = f"MESH HTTP {status}" + (f": {reason}" if reason and outcome != "delivered" else "")
        return DeliveryResult(outcome, detail, receipt)


def _answer(response: Any) -> tuple[str | None, str | None]:
    """(message id, MESH error text) from an outbox answer; MESH error texts carry codes, not content."""
    try:
        doc = response.json()
    except ValueError:
        return None, None
    if not isinstance(doc, dict):
        return None, None
    message_id = doc.get("message_id") or doc.get("messageID")
    reason = doc.get("errorDescription")
    detail = doc.get("detail")
    if not reason and isinstance(detail, list) and detail and isinstance(detail[0], dict):
        reason = detail[0].get("msg")
    return (str(message_id)[:64] if message_id else None), (str(reason)[:160] if reason else None)
