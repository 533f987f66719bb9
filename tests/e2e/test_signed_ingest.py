"""A signed channel over HTTP: unsigned or badly signed Liberi requests get 401 and leave nothing stored
but an audit line; a correctly signed one is accepted and processed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from adapters.liberi.signature import SIGNATURE_HEADER, sign
from gateway.runtime import Worker
from gateway.settings import Settings
from gateway.store import tables
from tests.adapters.liberi.helpers import OPENED, SECRET, SECRET_ENV, setv, variant
from tests.e2e.conftest import count
from tests.helpers import drain


@pytest.fixture(autouse=True)
def liberi_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def fresh_body() -> bytes:
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return variant(OPENED, setv("publishedAt", now))


def test_unsigned_and_badly_signed_requests_are_refused_and_not_kept(
    settings: Settings, api: TestClient, capfd: pytest.CaptureFixture[str]
) -> None:
    body = fresh_body()
    unsigned = api.post("/ingest/liberi/kent-liberi", content=body)
    forged = api.post(
        "/ingest/liberi/kent-liberi",
        content=body,
        headers={SIGNATURE_HEADER: sign(body, b"not-the-secret-not-the-secret-0123")},
    )
    assert unsigned.status_code == 401 and forged.status_code == 401
    assert unsigned.json()["raw_input_id"] is None and unsigned.json()["quarantine_id"] is None
    assert count(settings, tables.RawInput) == 0
    assert count(settings, tables.Quarantine) == 0
    logged = capfd.readouterr()
    assert logged.out.count("ingest.unauthenticated") + logged.err.count("ingest.unauthenticated") == 2


def test_a_correctly_signed_request_is_accepted_and_reaches_kent(
    settings: Settings, worker: Worker, api: TestClient
) -> None:
    body = fresh_body()
    resp = api.post(
        "/ingest/liberi/kent-liberi",
        content=body,
        headers={SIGNATURE_HEADER: sign(body, SECRET.encode()), "content-type": "application/json"},
    )
    assert resp.status_code == 202, resp.text
    notes = drain(settings.amqp_url, "la.886.front_door", expect=1)
    assert len(notes) == 1
    assert count(settings, tables.RawInput) == 1
