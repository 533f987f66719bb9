"""The ``fhir`` channel: Notification → FHIR R4 (UK Core) → a real local FHIR server.

The server (stdlib http.server in a thread, 127.0.0.1) implements just enough of a FHIR transaction
to be honest about idempotency: conditional creates (``ifNoneExist``) and conditional updates
(``PUT Type?identifier=...``) keyed on identifiers, storing what it receives.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle

from gateway.delivery.channel import channel_class
from gateway.delivery.fhir import (
    EPISODE_ID_SYSTEM,
    NOTIFICATION_ID_SYSTEM,
    FhirChannel,
    message_bundle,
    summary,
    transaction_bundle,
    validated,
)
from gateway.model import Notification

PAYLOAD_OPEN: dict[str, Any] = {
    "schema": "missing-episode/1",
    "episode_id": "set-below",
    "status": "open",
    "child": {
        "given_name": "Ellie-Mae",
        "family_name": "Dawkins",
        "date_of_birth": "2012-10-05",
        "sex": "female",
        "ids": {"nhs_number": "9993093807"},
    },
    "episode": {
        "category": "missing",
        "missing_from": "health_setting",
        "last_seen_at": "2026-03-12T14:20:00Z",
        "reported_at": "2026-03-12T14:52:00Z",
        "risk_level": "high",
        "risk_factors": ["medical_need"],
        "police": {"reference": "MP/2026/002207"},
    },
    "care": {"looked_after": True, "responsible_la": "831"},
    "health": {"gp_ods": "XX0021"},
    "opened_at": "2026-03-12T14:52:00Z",
}


def make(
    status: str = "open", *, episode_id: uuid.UUID | None = None, **payload_changes: Any
) -> Notification:
    episode_id = episode_id or uuid.uuid4()
    payload = json.loads(json.dumps(PAYLOAD_OPEN))
    payload["episode_id"] = str(episode_id)
    payload["status"] = status
    if status in ("found", "closed"):
        payload["episode"]["found_at"] = "2026-03-12T19:05:00Z"
        payload["found_at"] = "2026-03-12T19:05:00Z"
    payload.update(payload_changes)
    return Notification.model_validate(
        {
            "notification_id": str(uuid.uuid4()),
            "episode_id": str(episode_id),
            "event_id": str(uuid.uuid4()),
            "created_at": "2026-03-12T15:00:00Z",
            "recipient": {"kind": "health", "id": "XX1", "role": "health_safeguarding"},
            "purpose": "Looked-after child missing from a Derby ward",
            "rule": {"id": "derby.health-safeguarding", "area": "derby", "cite": "§5.2"},
            "lawful_basis": "Children Act 1989 s47; DPA 2018 Sch 8 para 4",
            "profile": "health_safeguarding",
            "urgency": "immediate",
            "payload": payload,
        }
    )


# --- a real local FHIR server ------------------------------------------------------------------


@dataclass
class FhirServer:
    url: str
    server: ThreadingHTTPServer
    store: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (type, id) → resource
    requests: list[dict[str, Any]] = field(default_factory=list)
    script: list[int] = field(default_factory=list)  # next answers' statuses (then 200)
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for (k, _), r in self.store.items() if k == kind]

    def find(self, kind: str, system: str, value: str) -> tuple[str, dict[str, Any]] | None:
        for (k, rid), resource in self.store.items():
            if k == kind and any(
                i.get("system") == system and i.get("value") == value for i in resource.get("identifier", [])
            ):
                return rid, resource
        return None

    def transact(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """Process a transaction: conditional create / update, then rewrite urn:uuid references."""
        ids: dict[str, str] = {}
        answers = []
        for entry in bundle["entry"]:
            resource, request = entry["resource"], entry["request"]
            kind = resource["resourceType"]
            if request["method"] == "POST":
                system, value = request["ifNoneExist"].removeprefix("identifier=").split("|", 1)
                found = self.find(kind, system, value)
                if found:
                    ids[entry["fullUrl"]] = f"{kind}/{found[0]}"
                    answers.append({"status": "200 OK", "location": f"{kind}/{found[0]}"})
                    continue
                rid = uuid.uuid4().hex[:12]
                status = "201 Created"
            else:
                system, value = request["url"].split("?identifier=", 1)[1].split("|", 1)
                found = self.find(kind, system, value)
                rid, status = (found[0], "200 OK") if found else (uuid.uuid4().hex[:12], "201 Created")
            ids[entry["fullUrl"]] = f"{kind}/{rid}"
            self.store[(kind, rid)] = {**resource, "id": rid}
            answers.append({"status": status, "location": f"{kind}/{rid}"})
        for key, resource in list(self.store.items()):
            text = json.dumps(resource)
            for urn, local in ids.items():
                text = text.replace(urn, local)
            self.store[key] = json.loads(text)
        return {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [{"response": a} for a in answers],
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler(state: FhirServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with state.lock:
                state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = state.script.pop(0) if state.script else 200
            if state.delay_s:
                time.sleep(state.delay_s)
            if status != 200:
                answer = {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "exception"}],
                }
            elif self.path.endswith("/$process-message"):
                answer = {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "information", "code": "informational"}],
                }
            else:
                with state.lock:
                    answer = state.transact(json.loads(body))
            out = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

    return Handler


@pytest.fixture
def fhir_server() -> Iterator[FhirServer]:
    state = FhirServer(url="", server=None)  # type: ignore[arg-type]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.server = server
    state.url = f"http://127.0.0.1:{server.server_address[1]}/fhir/R4"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    state.stop()


def endpoint(server: FhirServer, **extra: Any) -> dict[str, Any]:
    # As the recipient directory hands it over: channel, id and recipient are there too.
    return {
        "channel": "fhir",
        "id": "fhir-xx1",
        "recipient": "health.XX1.health_safeguarding",
        "base_url": server.url,
        **extra,
    }


# --- rendering -------------------------------------------------------------------------------


def test_the_rendered_transaction_round_trips_through_fhir_resources() -> None:
    n = make()
    sent = validated(transaction_bundle(n))
    model = Bundle.model_validate_json(sent)
    again = model.model_dump_json(by_alias=True, exclude_none=True).encode()
    assert json.loads(again) == json.loads(sent)
    # and through FHIR XML
    assert Bundle.model_validate_xml(model.model_dump_xml()).model_dump(mode="json") == model.model_dump(
        mode="json"
    )
    kinds = [e.resource.get_resource_type() for e in model.entry]
    assert kinds == ["Organization", "Patient", "Flag", "Communication"]


def test_the_rendered_message_round_trips_and_names_the_notification() -> None:
    n = make()
    model = Bundle.model_validate_json(validated(message_bundle(n)))
    assert model.type == "message"
    header = model.entry[0].resource
    assert header.get_resource_type() == "MessageHeader"
    assert header.id == str(n.notification_id)
    assert model.identifier.value == f"urn:uuid:{n.notification_id}"
    assert header.focus[0].reference == model.entry[1].fullUrl


def test_rendering_is_deterministic_so_a_retry_sends_the_same_bytes() -> None:
    n = make()
    assert validated(transaction_bundle(n)) == validated(transaction_bundle(n))


def _resources(n: Notification) -> dict[str, dict[str, Any]]:
    bundle = json.loads(validated(transaction_bundle(n)))
    return {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}


def test_the_communication_carries_only_what_the_payload_carries() -> None:
    n = make()
    r = _resources(n)
    comm = r["Communication"]
    assert comm["identifier"] == [{"system": NOTIFICATION_ID_SYSTEM, "value": str(n.notification_id)}]
    assert comm["recipient"][0]["identifier"] == {
        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
        "value": "XX1",
    }
    assert comm["priority"] == "urgent"
    text = comm["payload"][0]["contentString"]
    assert "Risk level: high" in text and "Police reference: MP/2026/002207" in text
    attached = json.loads(base64.b64decode(comm["payload"][1]["contentAttachment"]["data"]))
    assert attached["payload"] == n.model_dump(mode="json")["payload"]
    # The Patient has exactly the identity fields the payload had.
    patient = r["Patient"]
    assert patient["identifier"] == [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9993093807"}]
    assert patient["name"] == [{"use": "official", "family": "Dawkins", "given": ["Ellie-Mae"]}]
    assert patient["birthDate"] == "2012-10-05"


def test_a_field_the_profile_withheld_is_nowhere_in_what_is_sent() -> None:
    payload_child = {"given_name": "Ellie-Mae", "family_name": "Dawkins"}  # no NHS number, no DOB
    n = make(child=payload_child)
    sent = validated(transaction_bundle(n)).decode()
    assert "9993093807" not in sent and "2012-10-05" not in sent
    patient = _resources(n)["Patient"]
    assert patient["identifier"] == [{"system": EPISODE_ID_SYSTEM, "value": str(n.episode_id)}]


def test_free_text_the_payload_does_not_carry_is_not_invented() -> None:
    text = summary(make())
    assert "circumstances" not in text.lower()
    assert "Ellie-Mae" not in text  # identity is on the Patient, not repeated in the text


@pytest.mark.parametrize(
    ("status", "flag_status", "has_end"),
    [
        ("open", "active", False),
        ("found", "inactive", True),
        ("closed", "inactive", True),
        ("cancelled", "entered-in-error", False),
    ],
)
def test_the_flag_follows_the_episode(status: str, flag_status: str, has_end: bool) -> None:
    flag = _resources(make(status))["Flag"]
    assert flag["status"] == flag_status
    assert flag["code"]["coding"][0]["code"] == "missing-child"
    assert flag["period"]["start"] == "2026-03-12T14:20:00Z"
    assert ("end" in flag["period"]) is has_end


# --- delivery --------------------------------------------------------------------------------


def test_the_channel_is_registered_as_fhir() -> None:
    assert channel_class("fhir") is FhirChannel


def test_delivered_to_a_real_server(fhir_server: FhirServer) -> None:
    n = make()
    result = FhirChannel().deliver(n, endpoint(fhir_server))
    assert result.outcome == "delivered", result.detail
    assert result.receipt["http_status"] == 200
    assert len(result.receipt["locations"]) == 4
    [request] = fhir_server.requests
    assert request["headers"]["Content-Type"] == "application/fhir+json"
    assert request["headers"]["Idempotency-Key"] == str(n.notification_id)
    [comm] = fhir_server.of_type("Communication")
    [flag] = fhir_server.of_type("Flag")
    [patient] = fhir_server.of_type("Patient")
    assert comm["about"][0]["reference"] == f"Flag/{flag['id']}"
    assert flag["subject"]["reference"] == f"Patient/{patient['id']}"
    assert flag["status"] == "active"


def test_the_same_notification_twice_changes_nothing(fhir_server: FhirServer) -> None:
    n = make()
    channel = FhirChannel()
    assert channel.deliver(n, endpoint(fhir_server)).outcome == "delivered"
    before = json.dumps(sorted(fhir_server.store.items()), sort_keys=True)
    assert channel.deliver(n, endpoint(fhir_server)).outcome == "delivered"
    assert json.dumps(sorted(fhir_server.store.items()), sort_keys=True) == before
    assert len(fhir_server.of_type("Communication")) == 1


def test_a_found_notification_deactivates_the_flag(fhir_server: FhirServer) -> None:
    episode = uuid.uuid4()
    channel = FhirChannel()
    assert channel.deliver(make("open", episode_id=episode), endpoint(fhir_server)).outcome == "delivered"
    [flag] = fhir_server.of_type("Flag")
    assert flag["status"] == "active"
    assert channel.deliver(make("found", episode_id=episode), endpoint(fhir_server)).outcome == "delivered"
    [flag] = fhir_server.of_type("Flag")  # the same Flag, moved on
    assert flag["status"] == "inactive"
    assert flag["period"] == {"start": "2026-03-12T14:20:00Z", "end": "2026-03-12T19:05:00Z"}
    assert len(fhir_server.of_type("Communication")) == 2  # two notices
    assert len(fhir_server.of_type("Patient")) == 1  # one child (conditional create on the NHS number)


def test_message_mode_posts_to_process_message(fhir_server: FhirServer) -> None:
    n = make()
    result = FhirChannel().deliver(n, endpoint(fhir_server, mode="message"))
    assert result.outcome == "delivered"
    [request] = fhir_server.requests
    assert request["path"].endswith("/fhir/R4/$process-message")
    assert json.loads(request["body"])["entry"][0]["resource"]["id"] == str(n.notification_id)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (500, "retry"),
        (503, "retry"),
        (429, "retry"),
        (408, "retry"),
        (400, "failed"),
        (404, "failed"),
        (412, "failed"),
        (422, "failed"),
        (301, "failed"),
    ],
)
def test_answers_map_to_outcomes(fhir_server: FhirServer, status: int, outcome: str) -> None:
    fhir_server.script.append(status)
    result = FhirChannel().deliver(make(), endpoint(fhir_server))
    assert result.outcome == outcome
    assert result.detail == f"HTTP {status}"
    assert len(fhir_server.requests) == 1  # one try per call


def test_a_timeout_is_retried_later(fhir_server: FhirServer) -> None:
    fhir_server.delay_s = 1.0
    result = FhirChannel().deliver(make(), endpoint(fhir_server, timeout_s=0.2))
    assert (result.outcome, result.detail) == ("retry", "timeout")


def test_a_refused_connection_is_retried_later(fhir_server: FhirServer) -> None:
    url = fhir_server.url
    fhir_server.stop()
    result = FhirChannel().deliver(make(), {"base_url": url})
    assert result.outcome == "retry"


def test_plain_http_to_another_host_is_refused_before_sending() -> None:
    result = FhirChannel().deliver(make(), {"base_url": "http://fhir.example.org/R4"})
    assert result.outcome == "failed"
    assert "https" in result.detail


def test_a_missing_bearer_token_fails_without_sending(fhir_server: FhirServer, monkeypatch) -> None:
    monkeypatch.delenv("GATEWAY_TEST_FHIR_TOKEN", raising=False)
    result = FhirChannel().deliver(make(), endpoint(fhir_server, token_env="GATEWAY_TEST_FHIR_TOKEN"))
    assert result.outcome == "failed"
    assert fhir_server.requests == []
    monkeypatch.setenv("GATEWAY_TEST_FHIR_TOKEN", "t0ken")
    assert (
        FhirChannel().deliver(make(), endpoint(fhir_server, token_env="GATEWAY_TEST_FHIR_TOKEN")).outcome
        == "delivered"
    )
    assert fhir_server.requests[0]["headers"]["Authorization"] == "Bearer t0ken"


def test_a_bad_endpoint_configuration_fails() -> None:
    assert FhirChannel().deliver(make(), {"mode": "transaction"}).outcome == "failed"
