"""Partner transports end to end on a real broker and both databases: COMPACT XML and secure e-mail over
HTTP, the file-drop watcher with the real ingest service (including a restart mid-file), and the
Liquidlogic watermark through the same watcher."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from adapters.registry import get_adapter
from gateway.ingest.filedrop import FileDropWatcher, PollResult, ingest_via_service
from gateway.runtime import ClosingIngestService, Worker, declare_topology
from gateway.settings import REPO_ROOT, Settings
from gateway.store import tables
from tests.e2e.conftest import count
from tests.helpers import bodies, drain, wait_until

SPECIMENS = REPO_ROOT.parent / "shared" / "contracts" / "specimens"
COMPACT = SPECIMENS / "compact"
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<MissingPersonExport xmlns="urn:compact:missing-person-export:1">&x;</MissingPersonExport>"""


@pytest.fixture
def service(settings: Settings) -> Iterator[ClosingIngestService]:
    declare_topology(settings)
    svc = ClosingIngestService(settings)
    yield svc
    svc.close()


def watcher_for(
    directory: Path, system: str, instance: str, service: ClosingIngestService, settings: Settings
) -> FileDropWatcher:
    ingest = get_adapter(system, settings.mappings_dir).for_file_drop(
        ingest_via_service(service, system, instance), directory, instance
    )
    return FileDropWatcher(directory, system, instance, ingest, poll_interval=0.05, settle=0)


def run_until_idle(w: FileDropWatcher, timeout: float = 60.0) -> PollResult:
    """Poll until nothing is left. A pass the watcher ends as "blocked" (a transient failure: on SQLite
    the worker holding the one write lock for longer than the busy timeout, on a loaded machine) is
    what a real watcher retries after its back-off, so the test does too, within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = w.run(until_idle=True)
        if result.idle or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def test_compact_xml_and_secure_email_over_http(settings: Settings, worker: Worker, api: TestClient) -> None:
    placed = api.post(
        "/ingest/compact/staffordshire-police",
        content=(COMPACT / "02-new-report-looked-after-placed-out-of-area.xml").read_bytes(),
        headers={"content-type": "application/xml"},
    )
    assert placed.status_code == 202, placed.text
    email = api.post(
        "/ingest/compact/staffordshire-police",
        content=(COMPACT / "08-found-notification-secure-email.eml").read_bytes(),
        headers={"content-type": "message/rfc822"},
    )
    assert email.status_code == 202, email.text
    kent = bodies(drain(settings.amqp_url, "la.886.front_door", expect=1))
    assert kent[0]["payload"]["episode"]["police"]["reference"] == "MP/2026/001234"
    hostile = api.post(
        "/ingest/compact/staffordshire-police", content=XXE, headers={"content-type": "application/xml"}
    )
    assert hostile.status_code == 400 and "DOCTYPE" in hostile.json()["reason"]
    assert count(settings, tables.Quarantine) == 1


def test_file_drop_moves_each_file_and_survives_a_restart(
    settings: Settings, worker: Worker, service: ClosingIngestService, tmp_path: Path
) -> None:
    drop = tmp_path / "staffordshire-police"
    drop.mkdir()
    shutil.copy(COMPACT / "01-new-report-medium-risk-home.xml", drop / "a-01.xml")
    shutil.copy(COMPACT / "08-found-notification-secure-email.eml", drop / "b-08.eml")
    (drop / "c-hostile.xml").write_bytes(XXE)
    (drop / "d-upload.xml.part").write_bytes(b"<half")  # still uploading: never taken
    # A previous watcher died after claiming this file: it must be ingested, not lost.
    (drop / "processing").mkdir()
    shutil.copy(
        COMPACT / "02-new-report-looked-after-placed-out-of-area.xml", drop / "processing" / "0-02.xml"
    )

    with watcher_for(drop, "compact", "staffordshire-police", service, settings) as w:
        result = run_until_idle(w)
    assert result.idle
    assert sorted(p.name for p in (drop / "done").iterdir()) == ["0-02.xml", "a-01.xml", "b-08.eml"]
    assert sorted(p.name for p in (drop / "quarantine").iterdir()) == [
        "c-hostile.xml",
        "c-hostile.xml.reason",
    ]
    assert "DOCTYPE" in (drop / "quarantine" / "c-hostile.xml.reason").read_text()
    assert (drop / "d-upload.xml.part").exists()
    assert list((drop / "processing").iterdir()) == []

    # The same file dropped again after a restart creates nothing new downstream.
    shutil.copy(COMPACT / "01-new-report-medium-risk-home.xml", drop / "e-01-again.xml")
    with watcher_for(drop, "compact", "staffordshire-police", service, settings) as w:
        run_until_idle(w)
    wait_until(lambda: count(settings, tables.Event) == 3, what="three distinct events processed")
    engine_rows = count(settings, tables.RawInput)
    assert engine_rows == 5  # every file's bytes are kept, the repeat included
    from gateway.runtime import open_store

    engine, sessions = open_store(settings)
    with sessions() as s:
        channels = sorted(s.scalars(select(tables.RawInput.channel)))
    engine.dispose()
    assert channels == ["email", "file", "file", "file", "file"]


def test_liquidlogic_deltas_re_read_or_overlapping_create_nothing_twice(
    settings: Settings, worker: Worker, service: ClosingIngestService, tmp_path: Path
) -> None:
    drop = tmp_path / "stoke-on-trent"
    drop.mkdir()
    delta = SPECIMENS / "liquidlogic" / "01-daily-delta-2026-03-06.csv"
    shutil.copy(delta, drop / "01.csv")
    with watcher_for(drop, "liquidlogic", "stoke-on-trent-liquidlogic", service, settings) as w:
        run_until_idle(w)
    from gateway.runtime import open_store

    engine, sessions = open_store(settings)
    with sessions() as s:
        published = len(s.scalars(select(tables.RawInput)).one().event_ids)
    engine.dispose()
    assert published >= 1
    # Every event of the first file processed before the re-read (else a late one looks like a duplicate).
    wait_until(lambda: count(settings, tables.Event) == published, what="the first file's events processed")
    first = count(settings, tables.RawInput)
    shutil.copy(delta, drop / "02-same-again.csv")
    with watcher_for(drop, "liquidlogic", "stoke-on-trent-liquidlogic", service, settings) as w:
        run_until_idle(w)
    assert sorted(p.name for p in (drop / "done").iterdir()) == ["01.csv", "02-same-again.csv"]
    assert (drop / ".liquidlogic-watermark.json").exists()
    events_before = count(settings, tables.Event)
    assert count(settings, tables.RawInput) == first + 1
    # The re-read file reached ingest with its rows filtered out: no event was published for it.
    engine, sessions = open_store(settings)
    with sessions() as s:
        raws = s.scalars(select(tables.RawInput).order_by(tables.RawInput.received_at)).all()
    engine.dispose()
    assert raws[-1].event_ids == []
    assert count(settings, tables.Event) == events_before
