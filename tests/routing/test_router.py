"""The engine at the processor's seam, on SQLite and PostgreSQL: who is told what, deduplication and
conflicts, unresolved recipients, normalisation, once-per-episode rules, digests, the audit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from structlog.testing import capture_logs

from gateway.routing.record import disclosure_record
from gateway.store import tables
from tests.rulesupport import PLACED, PROTOCOLS, Harness, book, event, keys, utc


@pytest.fixture
def harness_for(database_url: str, tmp_path: Path) -> Iterator:
    made: list[Harness] = []

    def make(*areas: str, **kwargs) -> Harness:
        h = Harness(database_url, book(tmp_path, *areas, **kwargs))
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


def test_the_national_baseline_for_a_child_placed_out_of_area(harness_for) -> None:
    h = harness_for()
    result = h.process(event(**PLACED))
    notes = h.notes()
    assert keys(notes) == ["la.886.front_door", "la.860.front_door"]
    front, host = notes
    assert front["rule"]["id"] == "national.responsible-la-front-door" and front["profile"] == "full"
    assert front["purpose"] == "Child reported missing (placed by 886 in 860)"
    assert host["rule"]["id"] == "national.host-la-out-of-area" and host["profile"] == "la_host"
    assert "circumstances" not in host["payload"].get("episode", {}) and "source_refs" not in host["payload"]
    assert front["event_id"] == str(result.event_id) and front["urgency"] == "immediate"
    assert [r["id"] for r in front["rules"]] == ["national.responsible-la-front-door"]
    # The UK Missing Persons Unit timer: 72 hours after last seen.
    [timer] = h.timers()
    assert timer.rule_id == "national.ukmpu-72h" and timer.status == "pending"
    assert timer.due_at == utc("2026-03-05T08:30:00Z")
    # One disclosure per notification: fields, recipient, rule, cite, basis, consent.
    with h.sessions() as s:
        rows = s.scalars(select(tables.Disclosure)).all()
        record = disclosure_record(s, result.notification_ids[1])
    assert len(rows) == 2
    assert record is not None
    assert record["recipient"] == {"kind": "la", "id": "860", "role": "front_door"}
    assert record["rule_ids"] == ["national.host-la-out-of-area"]
    assert record["cites"] == [host["rule"]["cite"]]
    assert "child.family_name" in record["fields"] and "care.iro" not in record["fields"]
    assert "Children Act 1989" in record["lawful_basis"] and record["consent"] == "not_required"


CONFLICTING = {
    "alpha": """
        area: alpha
        name: "Alpha protocol"
        authorities: ["886"]
        lawful_basis: "Alpha basis"
        rules:
          - id: alpha.tell-front-door
            cite: "A1"
            on: [reported]
            notify: {kind: la, id: care.responsible_la, role: front_door, profile: full, due: 2h}
    """,
    "beta": """
        area: beta
        name: "Beta police protocol"
        police_forces: ["E23000015"]
        lawful_basis: "Beta basis"
        rules:
          - id: beta.tell-front-door
            cite: "B7"
            on: [reported]
            notify: {kind: la, id: care.responsible_la, role: front_door, profile: la_host, due: 1h,
                     urgency: standard}
    """,
}


def test_one_notification_per_recipient_listing_every_rule_and_reporting_conflicts(harness_for) -> None:
    h = harness_for(yaml=CONFLICTING)
    before = REGISTRY.get_sample_value("gateway_rules_conflict_total", {"field": "due_by"}) or 0
    with capture_logs() as logs:
        h.process(event(**PLACED))
    front = [n for n in h.notes() if n["recipient"]["id"] == "886"]
    assert len(front) == 1, "three rules asked; one notification"
    [n] = front
    # The earliest deadline is the primary rule; every rule and cite is listed.
    assert n["rule"] == {"id": "beta.tell-front-door", "area": "beta", "cite": "B7"}
    assert n["due_by"] == "2026-03-02T10:00:00Z"
    assert [r["id"] for r in n["rules"]] == [
        "beta.tell-front-door",
        "alpha.tell-front-door",
        "national.responsible-la-front-door",
    ]
    conflicts = {c["field"]: c for c in n["conflicts"]}
    assert conflicts["due_by"]["values"] == {
        "beta.tell-front-door": "2026-03-02T10:00:00+00:00",
        "alpha.tell-front-door": "2026-03-02T11:00:00+00:00",
    }
    assert conflicts["due_by"]["kept"] == "2026-03-02T10:00:00+00:00"
    # Different profiles: the union of what each rule allows, reported.
    assert conflicts["profile"]["kept"] == "full+la_host" and n["profile"] == "full+la_host"
    assert "source_refs" in n["payload"]  # allowed by `full`
    assert conflicts["urgency"]["kept"] == "immediate" and n["urgency"] == "immediate"
    assert n["lawful_basis"].split(" | ")[:2] == ["Beta basis", "Alpha basis"]
    logged = [e for e in logs if e["event"] == "routing.rule_conflict"]
    assert logged and set(logged[0]["rule_ids"]) >= {"alpha.tell-front-door", "beta.tell-front-door"}
    assert "child" not in str(logged[0])  # ids only
    after = REGISTRY.get_sample_value("gateway_rules_conflict_total", {"field": "due_by"})
    assert after == before + 1
    with h.sessions() as s:
        [d] = s.scalars(select(tables.Disclosure).where(tables.Disclosure.recipient_id == "886")).all()
        record = disclosure_record(s, d.notification_id)
    assert d.rule_id == "beta.tell-front-door" and d.cite == "B7"
    assert record is not None and record["cites"] == ["B7", "A1", n["rules"][2]["cite"]]


def test_a_recipient_that_cannot_be_addressed_is_visible_not_dropped(harness_for) -> None:
    h = harness_for("warwickshire", calendars=[PROTOCOLS / "calendars" / "warwickshire.yaml"])
    groups = {**PLACED, "care": {**PLACED["care"], "responsible_la": "937", "host_la": "937"}}
    before = (
        REGISTRY.get_sample_value(
            "gateway_rules_unresolved_recipient_total",
            {"rule_id": "warwickshire.school-missing", "field": "education.school_urn"},
        )
        or 0
    )
    with capture_logs() as logs:
        result = h.process(event(**groups))  # a 13-year-old with no school URN
    assert "school" not in " ".join(keys(h.notes()))
    assert not [t for t in h.timers() if t.rule_id == "warwickshire.school-missing"]
    [line] = [e for e in logs if e["event"] == "routing.recipient_unresolved"]
    assert line["rule_id"] == "warwickshire.school-missing" and line["field"] == "education.school_urn"
    assert (
        REGISTRY.get_sample_value(
            "gateway_rules_unresolved_recipient_total",
            {"rule_id": "warwickshire.school-missing", "field": "education.school_urn"},
        )
        == before + 1
    )
    episode = h.episode(result.episode_id)
    assert any(
        q.field == "education.school_urn" and "warwickshire.school-missing" in q.problem
        for q in episode.data_quality
    )


def test_normalise_raises_low_to_medium_and_records_it(harness_for) -> None:
    h = harness_for("warwickshire")
    groups = {
        "episode": {
            **PLACED["episode"],
            "risk_level": "low",
            "police": {"force": "E23000017", "reference": "W/1"},
        },
        "care": {**PLACED["care"], "responsible_la": "937", "host_la": "937"},
    }
    result = h.process(event(**groups))
    episode = h.episode(result.episode_id)
    assert episode.episode.risk_level is not None and episode.episode.risk_level.value == "medium"
    assert [e.level.value for e in episode.risk_history] == ["low"]  # what the police said is kept
    [issue] = [q for q in episode.data_quality if q.field == "episode.risk_level"]
    assert issue.original == "low" and "warwickshire.no-low-risk" in issue.problem
    [front] = [n for n in h.notes() if n["recipient"]["role"] == "front_door"]
    assert front["payload"]["episode"]["risk_level"] == "medium"
    # A later event from the police with "low" again is normalised again; the note is not repeated.
    h.process(event("updated", occurred_at="2026-03-02T10:00:00Z", **groups), at="2026-03-02T10:00:00Z")
    episode = h.episode(result.episode_id)
    assert episode.episode.risk_level.value == "medium"
    assert len([q for q in episode.data_quality if q.field == "episode.risk_level"]) == 1


def test_once_per_episode_and_merging_tasks_with_the_earliest_deadline(harness_for) -> None:
    h = harness_for("derby")
    groups = {**PLACED, "care": {**PLACED["care"], "responsible_la": "831", "host_la": "831"}}
    h.process(event(**groups))
    # Found on Friday 27 March 2026 at 12:00 GMT: "72h" ends Monday 12:00 UTC, but Derby's "3 calendar
    # days" ends Monday 12:00 BST (11:00 UTC), an hour earlier across the clock change.
    found = {"episode": {"found_at": "2026-03-27T12:00:00Z"}}
    h.process(event("found", occurred_at="2026-03-27T12:00:00Z", **found), at="2026-03-27T12:05:00Z")
    h.process(event("safe_and_well_completed", occurred_at="2026-03-27T14:00:00Z"), at="2026-03-27T14:00:00Z")
    tasks = [n for n in h.notes() if n["kind"] == "task"]
    assert len(tasks) == 1, "once per episode, and one task for two rules"
    [task] = tasks
    assert task["recipient"] == {"kind": "la", "id": "831", "role": "missing_coordinator"}
    assert task["rule"]["id"] == "derby.return-interview"
    assert task["due_by"] == "2026-03-30T11:00:00Z"
    assert {r["id"] for r in task["rules"]} == {"derby.return-interview", "national.return-interview"}
    assert [c["field"] for c in task["conflicts"]] == ["due_by"]


def test_the_episode_count_trigger_fires_once(harness_for) -> None:
    h = harness_for("staffordshire")
    child = {
        "given_name": "Sam",
        "family_name": "Test",
        "date_of_birth": "2012-05-01",
        "ids": {"nhs_number": "9434765919"},
    }
    mims = []
    for i, day in enumerate(["2026-01-05", "2026-02-02", "2026-03-02"]):
        groups = {
            **PLACED,
            "child": child,
            "source": {"record_id": f"MP/{i}"},
            "episode": {
                **PLACED["episode"],
                "last_seen_at": f"{day}T08:30:00Z",
                "reported_at": f"{day}T09:00:00Z",
                "police": {"force": "E23000015", "reference": f"MP/{i}"},
            },
        }
        h.process(event(occurred_at=f"{day}T09:00:00Z", **groups), at=f"{day}T09:00:00Z")
        h.process(
            event(
                "found",
                occurred_at=f"{day}T20:00:00Z",
                source={"record_id": f"MP/{i}"},
                child=child,
                episode={"found_at": f"{day}T20:00:00Z"},
            ),
            at=f"{day}T20:00:00Z",
        )
        h.process(
            event("updated", occurred_at=f"{day}T21:00:00Z", source={"record_id": f"MP/{i}"}, child=child),
            at=f"{day}T21:00:00Z",
        )
        mims.append(
            [
                n
                for n in h.notes()
                if n["kind"] == "task" and n["rules"][0]["id"].startswith("staffordshire.mim")
            ]
        )
    assert [len(m) for m in mims] == [0, 0, 1], "the third episode in 90 days, once"
    [mim] = mims[-1]
    assert mim["rule"]["id"] == "staffordshire.mim-3-in-90"
    assert mim["recipient"] == {"kind": "la", "id": "886", "role": "allocated_worker"}
    assert mim["due_by"] == "2026-03-09T23:59:59Z"  # 5 working days after Monday 2 March, end of day


def test_digests_wait_for_the_school_morning_and_merge(harness_for) -> None:
    h = harness_for("warwickshire", calendars=[PROTOCOLS / "calendars" / "warwickshire.yaml"])
    groups = {
        **PLACED,
        "care": {**PLACED["care"], "responsible_la": "937", "host_la": "937"},
        "education": {"school_urn": "125678"},
    }
    # Friday 6 March 2026, 18:00: nothing goes to the school tonight.
    h.process(event(occurred_at="2026-03-06T18:00:00Z", **groups), at="2026-03-06T18:00:05Z")
    assert not [k for k in keys(h.notes()) if k.startswith("school")]
    [timer] = [t for t in h.timers() if t.rule_id == "warwickshire.school-missing"]
    assert timer.due_at == utc("2026-03-09T07:00:00Z")  # Monday 07:00
    # Found on Saturday: the found notice is held for the same morning.
    h.process(
        event("found", occurred_at="2026-03-07T11:00:00Z", episode={"found_at": "2026-03-07T11:00:00Z"}),
        at="2026-03-07T11:00:00Z",
    )
    assert h.tick("2026-03-09T06:59:59Z") == 0
    assert h.tick("2026-03-09T07:00:00Z") >= 1
    [school] = [n for n in h.notes() if n["recipient"]["kind"] == "school"]
    assert school["recipient"] == {"kind": "school", "id": "125678", "role": "school_dsl"}
    assert school["event_id"] is None and school["created_at"] == "2026-03-09T07:00:00Z"
    assert school["urgency"] == "digest" and school["due_by"] == "2026-03-09T08:00:00Z"
    assert {r["id"] for r in school["rules"]} == {"warwickshire.school-missing", "warwickshire.school-found"}
    assert school["payload"]["status"] == "found"
    payload = school["payload"]
    assert "care" not in payload and "risk_factors" not in payload.get("episode", {})
    assert "circumstances" not in payload.get("episode", {})
    assert payload["child"]["family_name"] == "Test"


def test_a_cancelled_report_cancels_timers_and_tells_the_host(harness_for) -> None:
    h = harness_for("staffordshire")
    h.process(event(**PLACED))
    assert {t.rule_id for t in h.live_timers()} >= {"national.ukmpu-72h", "staffordshire.escalate-24h"}
    h.process(event("cancelled", occurred_at="2026-03-02T10:00:00Z"), at="2026-03-02T10:00:00Z")
    assert h.live_timers() == []
    assert all(
        "cancelled" in (t.payload or {}).get("cancel_reason", "") or t.status == "cancelled"
        for t in h.timers()
    )
    last = [n for n in h.notes() if n["purpose"].startswith("Child report cancelled")]
    assert {n["recipient"]["id"] for n in last} == {"886", "860"}
    assert h.tick("2026-03-10T00:00:00Z") == 0
