"""Retention removes exactly what is past its date, keeps what is not, and is audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from gateway.retention import run_retention
from gateway.security.audit import record_access
from gateway.security.tables import AccessAudit
from gateway.settings import REPO_ROOT, Settings
from gateway.store import tables
from gateway.store.db import transaction
from tests.episodes.conftest import Harness, ev

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _raw(sessions, days_old: int, status: str = "published") -> uuid.UUID:
    rid = uuid.uuid4()
    with transaction(sessions) as s:
        s.add(
            tables.RawInput(
                id=rid,
                system="manual",
                instance="demo",
                channel="http",
                content_type=None,
                filename=None,
                body=b"x",
                sha256="0" * 64,
                size=1,
                received_at=NOW - timedelta(days=days_old),
                status=status,
                event_ids=[],
            )
        )
    return rid


def _quarantine(sessions, raw_id: uuid.UUID, status: str) -> None:
    with transaction(sessions) as s:
        s.add(
            tables.Quarantine(
                id=uuid.uuid4(),
                raw_input_id=raw_id,
                system="manual",
                instance="demo",
                error_code="invalid",
                reason="r",
                record_id=None,
                created_at=NOW,
                status=status,
            )
        )


def n(sessions, table, *where) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(table).where(*where)) or 0


def test_retention_removes_exactly_what_is_past_its_date(harness: Harness) -> None:
    sessions = harness.sessions
    settings = Settings(
        retention_raw_days=90,
        retention_events_days=365,
        retention_audit_days=2557,
        mappings_dir=REPO_ROOT / "mappings",
    )
    old_raw, young_raw = _raw(sessions, 91), _raw(sessions, 89)
    waiting, resolved = _raw(sessions, 200, "quarantined"), _raw(sessions, 200, "quarantined")
    _quarantine(sessions, waiting, "open")
    _quarantine(sessions, resolved, "discarded")

    # A closed episode from two years ago and an open one from two years ago.
    old = ev(
        "compact",
        "staffordshire-police",
        "OLD",
        occurred_at="2024-10-01T10:00:00Z",
        child={"given_name": "A", "ids": {"nhs_number": "9996501388"}},
        care={"responsible_la": "886"},
    )
    closed = ev(
        "compact",
        "staffordshire-police",
        "OLD",
        "closed",
        occurred_at="2024-10-05T10:00:00Z",
        child={"given_name": "A"},
    )
    still_open = ev(
        "compact",
        "staffordshire-police",
        "OPEN",
        occurred_at="2024-10-01T10:00:00Z",
        child={"given_name": "B", "ids": {"nhs_number": "9993981435"}},
        care={"responsible_la": "886"},
    )
    [r_old, _, r_open] = harness.process(old, closed, still_open)
    long_ago = NOW - timedelta(days=400)
    with transaction(sessions) as s:
        s.execute(update(tables.Event).values(received_at=long_ago))
        s.execute(update(tables.Notification).values(created_at=long_ago))
        s.execute(
            update(tables.Disclosure)
            .where(tables.Disclosure.episode_id == r_old.episode_id)
            .values(disclosed_at=NOW - timedelta(days=2558))
        )
    record_access(
        sessions, principal="key:x", role="operator", method="GET", path="/", status=200, action="v"
    )
    with transaction(sessions) as s:
        s.execute(update(AccessAudit).values(at=NOW - timedelta(days=3000)))
    record_access(
        sessions, principal="key:y", role="operator", method="GET", path="/", status=200, action="v"
    )

    report = run_retention(sessions, settings, now=NOW, actor="test")

    assert (
        report.raw_inputs == 2 and report.quarantine == 1
    )  # old + resolved-quarantine raw; not the waiting one
    with sessions() as s:
        remaining_raw = set(s.scalars(select(tables.RawInput.id)))
        events = s.scalars(select(tables.Event)).all()
        notes = {n.episode_id: n.body for n in s.scalars(select(tables.Notification))}
    assert (
        remaining_raw == {young_raw, waiting}
        and old_raw not in remaining_raw
        and resolved not in remaining_raw
    )
    assert {e.episode_id for e in events} == {r_open.episode_id}  # the open episode keeps its events
    assert report.events == 2
    assert "payload" not in notes[r_old.episode_id] and "payload_removed_at" in notes[r_old.episode_id]
    assert "payload" in notes[r_open.episode_id]
    assert (
        report.disclosures
        == n(sessions, tables.Disclosure, tables.Disclosure.episode_id == r_old.episode_id)
        + report.disclosures
        and report.disclosures >= 1
    )
    assert n(sessions, tables.Disclosure, tables.Disclosure.episode_id == r_old.episode_id) == 0
    assert n(sessions, tables.Disclosure, tables.Disclosure.episode_id == r_open.episode_id) >= 1
    assert report.access_audit == 1
    assert n(sessions, AccessAudit, AccessAudit.action == "retention.run") == 1  # the run is audited
    assert n(sessions, AccessAudit, AccessAudit.principal == "key:y") == 1

    again = run_retention(sessions, settings, now=NOW, actor="test")
    assert (again.raw_inputs, again.events, again.disclosures, again.notification_payloads) == (0, 0, 0, 0)
