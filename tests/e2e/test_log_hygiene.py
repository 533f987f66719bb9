"""Logs carry ids, never a child's name, date of birth, NHS number or free text: a full scenario (three
source formats, a rejection, a review, an API view) and a scan of everything logged."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient

from gateway import logs
from gateway.runtime import Worker
from gateway.settings import REPO_ROOT, Settings
from tests.e2e.conftest import EXAMPLE
from tests.helpers import drain, wait_until

COMPACT = REPO_ROOT.parent / "shared" / "contracts" / "specimens" / "compact"
FORBIDDEN = [
    # the example event
    "Sam",
    "Example",
    "2011-05-01",
    "K123456",
    # COMPACT specimens 02-05 (Tia Louise Hollings) and 07
    "Hollings",
    "Tia Louise",
    "2010-11-03",
    "4188730",
    "puffer jacket",
    "curfew",
    "Philomena profile supplied",
    # NHS numbers, with and without spaces
    "9996501388",
    "999 650 1388",
    "9993981435",
]


def test_a_full_scenario_logs_no_personal_data(
    settings: Settings,
    worker: Worker,
    api: TestClient,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    logs.configure("DEBUG", json=True)
    caplog.set_level(logging.DEBUG)
    try:
        assert api.post("/ingest/manual/demo", content=EXAMPLE).status_code == 202
        for name in (
            "02-new-report-looked-after-placed-out-of-area.xml",
            "03-risk-upgraded-to-high.xml",
            "04-found.xml",
            "05-prevention-interview-completed.xml",
            "07-delta-export-three-reports.xml",
        ):
            resp = api.post(
                "/ingest/compact/staffordshire-police",
                content=(COMPACT / name).read_bytes(),
                headers={"content-type": "application/xml"},
            )
            assert resp.status_code == 202, resp.text
        eml = (COMPACT / "08-found-notification-secure-email.eml").read_bytes()
        assert (
            api.post(
                "/ingest/compact/staffordshire-police",
                content=eml,
                headers={"content-type": "message/rfc822"},
            ).status_code
            == 202
        )
        bad = json.loads(EXAMPLE)
        bad["child"]["ids"]["nhs_number"] = "9996501389"  # flagged, not rejected
        bad["source"]["record_id"] = "DEMO/2026/0002"
        assert api.post("/ingest/manual/demo", content=json.dumps(bad)).status_code == 202
        bad["event_type"] = "vanished"  # rejected, kept in quarantine
        assert api.post("/ingest/manual/demo", content=json.dumps(bad)).status_code == 422
        notes = drain(settings.amqp_url, "la.886.front_door", expect=3)
        assert notes
        episode_id = json.loads(notes[0][1])["episode_id"]
        assert api.get(f"/episodes/{episode_id}", headers=api.operator).status_code == 200
        wait_until(
            lambda: api.get(f"/episodes/{episode_id}/disclosures", headers=api.operator).json(),
            what="disclosures",
        )
    finally:
        logs.configure("INFO", json=True)
    captured = capfd.readouterr()
    text = captured.out + captured.err + "\n".join(r.getMessage() for r in caplog.records)
    assert "processor.processed" in text and "ingest.accepted" in text  # the scan saw real log lines
    leaks = [word for word in FORBIDDEN if word in text]
    assert leaks == [], f"personal data in logs: {leaks}"
