"""Ingest → process → outbox → recipient queue, end to end, on a real broker and both databases."""

from __future__ import annotations

import json
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.runtime import Worker, open_store
from gateway.settings import Settings
from gateway.store import tables
from tests.e2e.conftest import EXAMPLE, count, make_key
from tests.helpers import another_child, bodies, drain, wait_until


def test_a_canonical_event_reaches_the_responsible_authoritys_front_door(
    settings: Settings, worker: Worker, api: TestClient
) -> None:
    resp = api.post("/ingest/manual/demo", content=EXAMPLE, headers={"content-type": "application/json"})
    assert resp.status_code == 202, resp.text
    event_ids = resp.json()["event_ids"]
    assert len(event_ids) == 1

    messages = drain(settings.amqp_url, "la.886.front_door", expect=1)
    assert len(messages) == 1
    props, body = messages[0]
    note = json.loads(body)
    assert note["schema"] == "missing-episode-notification/1"
    assert note["event_id"] == event_ids[0]
    assert props.message_id == note["notification_id"]
    assert note["recipient"] == {"kind": "la", "id": "886", "role": "front_door"}
    assert note["rule"]["id"] == "national.responsible-la-front-door"
    assert note["profile"] == "full"
    assert note["payload"]["child"]["family_name"] == "Example"
    assert note["payload"]["care"]["host_la"] == "860"
    assert "placed by 886 in 860" in note["purpose"]

    # The disclosure audit names what went, to whom, under which rule.
    engine, sessions = open_store(settings)
    with sessions() as s:
        # Other recipients are told too (the host authority, Kent's and Staffordshire's own duties, the
        # UK Missing Persons Unit when the 72-hour timer fires): this test follows the responsible
        # authority's front-door notice.
        note_id = uuid.UUID(note["notification_id"])
        audit = select(tables.Disclosure).where(tables.Disclosure.notification_id == note_id)
        disclosure = s.scalars(audit).one()
        raw = s.scalars(select(tables.RawInput)).one()
        outbox = s.scalars(select(tables.Outbox).where(tables.Outbox.message_id == str(note_id))).one()
    engine.dispose()
    assert disclosure.recipient_id == "886" and disclosure.rule_id == note["rule"]["id"]
    assert "child.family_name" in disclosure.fields and "child.ids.nhs_number" in disclosure.fields
    assert raw.body == EXAMPLE and raw.status == "published" and raw.event_ids == event_ids
    wait_until(
        lambda: (
            count(
                settings,
                tables.Outbox,
                tables.Outbox.published_at.is_not(None),
                tables.Outbox.message_id == note["notification_id"],
            )
            == 1
        ),
        what="outbox row marked published",
    )
    assert outbox.message_id == note["notification_id"]


def test_the_same_event_sent_twice_creates_nothing_new(
    settings: Settings, worker: Worker, api: TestClient
) -> None:
    for _ in range(2):
        assert api.post("/ingest/manual/demo", content=EXAMPLE).status_code == 202
    # A different report sent afterwards: once it is processed, the repeat before it has been too
    # (one worker thread takes the queue in order).
    sentinel = another_child(json.loads(EXAMPLE), 2)
    assert api.post("/ingest/manual/demo", content=json.dumps(sentinel)).status_code == 202
    notes = bodies(drain(settings.amqp_url, "la.886.front_door", expect=2))
    assert len(notes) == 2
    assert count(settings, tables.RawInput) == 3
    assert count(settings, tables.Event) == 2
    assert count(settings, tables.Episode) == 2
    front_door = tables.Notification.routing_key == "la.886.front_door"
    assert count(settings, tables.Notification, front_door) == 2
    assert count(settings, tables.Outbox, tables.Outbox.routing_key == "la.886.front_door") == 2


def test_a_found_event_updates_the_same_episode(settings: Settings, worker: Worker, api: TestClient) -> None:
    found = json.loads(EXAMPLE)
    found.update(event_type="found", occurred_at="2026-03-04T15:00:00Z")
    found["source"]["event_id"] = "demo-change-2"
    found["episode"] = {"found_at": "2026-03-04T15:00:00Z", "found_by": "police"}
    # found arrives first: out of order is normal
    assert api.post("/ingest/manual/demo", content=json.dumps(found)).status_code == 202
    assert api.post("/ingest/manual/demo", content=EXAMPLE).status_code == 202
    notes = bodies(drain(settings.amqp_url, "la.886.front_door", expect=2))
    assert len(notes) == 2
    assert count(settings, tables.Episode) == 1
    assert {n["episode_id"] for n in notes} == {notes[0]["episode_id"]}
    last = max(notes, key=lambda n: len(n["payload"]["event_ids"]))
    assert last["payload"]["status"] == "found"
    assert last["payload"]["episode"]["risk_level"] == "medium"


def test_bad_input_is_refused_with_its_reason_and_kept_in_quarantine(
    settings: Settings, api: TestClient
) -> None:
    bad = json.loads(EXAMPLE)
    bad["event_type"] = "vanished"
    resp = api.post("/ingest/manual/demo", content=json.dumps(bad))
    assert resp.status_code == 422
    problem = resp.json()
    assert "event_type" in problem["reason"]
    assert problem["quarantine_id"]
    engine, sessions = open_store(settings)
    with sessions() as s:
        q = s.get(tables.Quarantine, __import__("uuid").UUID(problem["quarantine_id"]))
        raw = s.get(tables.RawInput, q.raw_input_id)
    engine.dispose()
    assert q.error_code == "invalid" and "event_type" in q.reason
    assert raw.body == json.dumps(bad).encode() and raw.status == "quarantined"


@pytest.mark.parametrize(
    ("body", "status", "word"),
    [
        (b"{not json", 400, "json"),
        (b"[]", 422, "no events"),
    ],
)
def test_unreadable_input_gets_a_clear_error(
    settings: Settings, api: TestClient, body: bytes, status: int, word: str
) -> None:
    resp = api.post("/ingest/manual/demo", content=body)
    assert resp.status_code == status
    assert word in resp.json()["reason"].lower()
    assert count(settings, tables.Quarantine) == 1


def test_unknown_instance_and_system_are_refused(settings: Settings, api: TestClient) -> None:
    # A key may only ingest for the system/instance pairs it was issued for...
    assert api.post("/ingest/manual/nowhere", content=EXAMPLE).status_code == 403
    # ...and a key issued for an instance nobody configured still finds no mapping.
    stray = make_key(settings, "source", ["ingest:manual/nowhere", "ingest:telepathy/demo"])
    headers = {"Authorization": f"Bearer {stray}"}
    assert api.post("/ingest/manual/nowhere", content=EXAMPLE, headers=headers).status_code == 404
    assert api.post("/ingest/telepathy/demo", content=EXAMPLE, headers=headers).status_code == 404


def test_an_event_for_another_instance_is_refused(settings: Settings, api: TestClient) -> None:
    other = json.loads(EXAMPLE)
    other["source"]["instance"] = "somebody-else"
    resp = api.post("/ingest/manual/demo", content=json.dumps(other))
    assert resp.status_code == 422 and "instance" in resp.json()["reason"]


def test_oversized_bodies_are_refused(settings: Settings, api: TestClient) -> None:
    resp = api.post("/ingest/manual/demo", content=b" " * (settings.max_body_bytes + 1))
    assert resp.status_code == 413
