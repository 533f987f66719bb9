"""The FHIR endpoints (gateway/api/routes/fhir.py) over HTTP, with the real broker and database.

Every answer is an OperationOutcome: 202 information once the broker confirmed the event, or an error
issue whose diagnostics names the problem, with the refusal's HTTP status. The router is included here
the way gateway/api/app.py includes it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.operationoutcome import OperationOutcome

from gateway.api.app import create_app
from gateway.api.routes import fhir
from gateway.settings import Settings
from gateway.store import tables
from tests.adapters.nhs import variants as v
from tests.adapters.nhs.test_contract import _dangling_recipient, _drop_patient
from tests.e2e.conftest import count, make_key
from tests.helpers import bodies, drain, wait_until

JSON = {"content-type": "application/fhir+json"}
XML = {"content-type": "application/fhir+xml"}


NHS_SCOPES = [f"ingest:nhs/{name}" for name in ("nhs-xx1", "nhs-xx2", "nhs-xx3", "nhs-xx4")]


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    if not any(getattr(r, "path", "").startswith("/fhir/R4") for r in app.routes):
        app.include_router(fhir.router)  # what gateway/api/app.py does once the router is wired in
    with TestClient(app) as client:
        # A source key for the four test trusts, as each trust's own key would be in production.
        client.headers["Authorization"] = f"Bearer {make_key(settings, 'source', NHS_SCOPES)}"
        wait_until(lambda: client.get("/readyz").status_code == 200, what="API ready")
        yield client


def issue(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/fhir+json"), response.text
    doc = response.json()
    OperationOutcome.model_validate(doc)  # a valid FHIR OperationOutcome
    [only] = doc["issue"]
    return only


def test_specimens_are_accepted_with_an_informational_outcome(settings: Settings, api: TestClient) -> None:
    cases = [
        ("/fhir/R4/nhs-xx1/Bundle", (v.NHS / v.WARD).read_bytes(), JSON),
        ("/fhir/R4/nhs-xx2/$process-message", (v.NHS / v.ALERT).read_bytes(), JSON),
        ("/fhir/R4/nhs-xx3", (v.NHS / v.ED).read_bytes(), {"content-type": "application/json"}),
        ("/fhir/R4/nhs-xx1/Bundle", (v.NHS / v.RETURNED).read_bytes(), JSON),
        ("/fhir/R4/nhs-xx4/$process-message", (v.NHS / v.MENTAL_HEALTH_XML).read_bytes(), XML),
        ("/fhir/R4/nhs-xx1/Communication", v.dump(v.standalone(v.WARD, "Communication")), JSON),
    ]
    for path, body, headers in cases:
        response = api.post(path, content=body, headers={**headers, "accept": "application/fhir+json"})
        assert response.status_code == 202, (path, response.text)
        found = issue(response)
        assert (found["severity"], found["code"]) == ("information", "informational")
        assert found["diagnostics"] == "accepted: 1 event(s) published"
    events = bodies(drain(settings.amqp_url, "gateway.process", expect=len(cases)))
    assert sorted(e["source"]["instance"] for e in events) == sorted(
        ["nhs-xx1", "nhs-xx2", "nhs-xx3", "nhs-xx1", "nhs-xx4", "nhs-xx1"]
    )
    assert count(settings, tables.Quarantine) == 0

    # An NHS number failing its check digit is flagged, not refused.
    bad_number = v.edit(v.WARD, lambda d: v.one(d, "Patient")["identifier"][0].update(value="9993093808"))
    response = api.post("/fhir/R4/nhs-xx1/Bundle", content=bad_number, headers=JSON)
    assert response.status_code == 202, response.text
    [event] = bodies(drain(settings.amqp_url, "gateway.process", expect=1))
    assert "nhs_number" not in event["child"]["ids"]
    assert event["data_quality"][0]["problem"] == "NHS number fails its Modulus 11 check digit"


REJECTIONS = [
    # (name, path, body, headers, status, issue code, diagnostics must contain)
    (
        "no Patient",
        "/fhir/R4/nhs-xx1/Bundle",
        v.edit(v.WARD, _drop_patient),
        JSON,
        422,
        "invalid",
        "no Patient",
    ),
    (
        "dangling reference",
        "/fhir/R4/nhs-xx1/Bundle",
        v.edit(v.WARD, _dangling_recipient),
        JSON,
        422,
        "invalid",
        "'urn:uuid:9a9a9a9a-0000-4000-8000-00000000dead' does not resolve",
    ),
    ("XXE", "/fhir/R4/nhs-xx4/$process-message", v.xxe(), XML, 400, "security", "DOCTYPE"),
    ("billion laughs", "/fhir/R4/nhs-xx4/Bundle", v.billion_laughs(), XML, 400, "security", "DOCTYPE"),
    (
        "another organisation's message",
        "/fhir/R4/nhs-xx2/Bundle",
        (v.NHS / v.WARD).read_bytes(),
        JSON,
        422,
        "business-rule",
        "ODS code is XX1",
    ),
    (
        "body is not what the path says",
        "/fhir/R4/nhs-xx1/Flag",
        (v.NHS / v.WARD).read_bytes(),
        JSON,
        422,
        "invalid",
        "is a Bundle but was sent to the Flag endpoint",
    ),
    (
        "not about a missing child",
        "/fhir/R4/nhs-xx1/Flag",
        (v.UKCORE / "UKCore-Flag-FoodAllergy-Example.xml").read_bytes(),
        XML,
        422,
        "invalid",
        "nothing about a missing child",
    ),
    (
        # Authorisation comes first: a key cannot learn which instances exist.
        "unknown instance",
        "/fhir/R4/nhs-nowhere/Bundle",
        (v.NHS / v.WARD).read_bytes(),
        JSON,
        403,
        "forbidden",
        "nhs/nhs-nowhere",
    ),
]


@pytest.mark.parametrize("case", REJECTIONS, ids=[c[0] for c in REJECTIONS])
def test_rejections_answer_an_operation_outcome_naming_the_problem(
    settings: Settings, api: TestClient, case: tuple[Any, ...]
) -> None:
    _, path, body, headers, status, code, diagnostics = case
    response = api.post(path, content=body, headers=headers)
    assert response.status_code == status, response.text
    found = issue(response) if "json" in response.headers["content-type"] else None
    if found is None:  # asked in XML: answered in XML
        model = OperationOutcome.model_validate_xml(response.content)
        found = model.model_dump(mode="json")["issue"][0]
    assert found["severity"] == "error"
    assert found["code"] == code
    assert diagnostics in found["diagnostics"]
    if status not in (401, 403):
        assert "quarantine" in found["details"]["text"]  # kept for an operator, with its id
        assert count(settings, tables.Quarantine) == 1


def test_http_level_refusals_and_xml_answers(settings: Settings, api: TestClient) -> None:
    body = (v.NHS / v.WARD).read_bytes()
    response = api.post("/fhir/R4/nhs-xx1/Bundle", content=body, headers={"content-type": "text/csv"})
    assert response.status_code == 415
    assert issue(response)["code"] == "not-supported"
    response = api.post("/fhir/R4/nhs-xx1/Patient", content=body, headers=JSON)
    assert response.status_code == 404
    assert "not 'Patient'" in issue(response)["diagnostics"]
    assert count(settings, tables.RawInput) == 0  # refused before anything was stored

    # Asked for XML, answered in FHIR XML.
    no_patient = v.edit(v.WARD, _drop_patient)
    response = api.post(
        "/fhir/R4/nhs-xx1/Bundle", content=no_patient, headers={**JSON, "accept": "application/fhir+xml"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/fhir+xml")
    outcome = OperationOutcome.model_validate_xml(response.content)
    assert "no Patient" in outcome.issue[0].diagnostics
    response = api.post("/fhir/R4/nhs-xx1/Bundle?_format=json", content=no_patient, headers=XML)
    assert response.headers["content-type"].startswith("application/fhir+json")
    json.loads(response.content)


def test_callers_without_the_instances_scope_are_refused_with_an_operation_outcome(
    settings: Settings, api: TestClient
) -> None:
    body = (v.NHS / v.WARD).read_bytes()
    anonymous = api.post("/fhir/R4/nhs-xx1/Bundle", content=body, headers={**JSON, "Authorization": ""})
    assert anonymous.status_code == 401
    assert issue(anonymous)["code"] == "login"
    other_trust = make_key(settings, "source", ["ingest:nhs/nhs-xx2"])
    forbidden = api.post(
        "/fhir/R4/nhs-xx1/Bundle", content=body, headers={**JSON, "Authorization": f"Bearer {other_trust}"}
    )
    assert forbidden.status_code == 403
    found = issue(forbidden)
    assert found["code"] == "forbidden"
    assert "nhs/nhs-xx1" in found["diagnostics"]
    assert count(settings, tables.RawInput) == 0  # nothing from a refused caller is stored
