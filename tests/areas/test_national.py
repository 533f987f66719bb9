"""The statutory baseline (mappings/areas/national.yaml), scenario by scenario through `gateway simulate`.

A child from an area with no encoded protocol: LA 330 (Birmingham) and the West Midlands force, so only
the national rules apply and each assertion is about the baseline alone.
"""

from __future__ import annotations

from tests.areas.support import found, later, none_from, only, reported, run

BIRMINGHAM, SANDWELL = "330", "333"
WEST_MIDLANDS_POLICE = "E23000014"
T0 = "2026-03-02T09:00:00Z"  # a Monday, GMT


def test_the_responsible_authority_is_told_of_the_report_and_the_return() -> None:
    r = run(
        reported(T0, responsible=BIRMINGHAM, host=BIRMINGHAM, force=WEST_MIDLANDS_POLICE, looked_after=True),
        found("2026-03-02T20:00:00Z"),
    )
    notes = r.by_rule("national.responsible-la-front-door")
    assert [(n.recipient, n.created_at, n.due_by) for n in notes] == [
        ("la.330.front_door", T0, None),
        ("la.330.front_door", "2026-03-02T20:00:00Z", None),
    ]
    assert notes[0].cite_of("national.responsible-la-front-door").startswith("DfE 2014")
    assert notes[0].profile == "full"


def test_a_police_only_report_goes_to_the_authority_where_the_child_lives() -> None:
    r = run(reported(T0, host=SANDWELL, force=WEST_MIDLANDS_POLICE))
    assert only(r, "national.responsible-la-front-door").recipient == "la.333.front_door"


def test_the_host_authority_is_told_only_when_the_child_is_placed_out_of_area() -> None:
    report = reported(
        T0,
        responsible=BIRMINGHAM,
        host=SANDWELL,
        looked_after=True,
        episode={"circumstances": "Left after an argument"},
    )
    placed = run(report, found("2026-03-03T09:00:00Z"))
    host = placed.by_rule("national.host-la-out-of-area")
    assert [(n.recipient, n.profile) for n in host] == [("la.333.front_door", "la_host")] * 2
    # The host gets what it needs to act locally, not the circumstances the responsible authority gets.
    assert "circumstances" not in host[0].payload["episode"]
    responsible = placed.by_rule("national.responsible-la-front-door")[0]
    assert responsible.payload["episode"]["circumstances"] == "Left after an argument"

    at_home = run(reported(T0, responsible=BIRMINGHAM, host=BIRMINGHAM, looked_after=True))
    none_from(at_home, "national.host-la-out-of-area")


def test_a_return_interview_is_offered_within_72_hours_of_the_return() -> None:
    r = run(
        reported(T0, responsible=BIRMINGHAM, host=SANDWELL),
        found("2026-03-04T18:30:00Z"),
        later("safe_and_well_completed", "2026-03-04T21:00:00Z"),
    )
    task = only(r, "national.return-interview")  # once per episode, not again on safe-and-well
    assert task.kind == "task" and task.recipient == "la.330.missing_coordinator"
    assert task.due_by == "2026-03-07T18:30:00Z"


def test_the_uk_missing_persons_unit_is_told_after_72_hours_missing() -> None:
    r = run(
        reported(T0, host=BIRMINGHAM, force=WEST_MIDLANDS_POLICE, last_seen="2026-03-02T07:15:00Z"),
        until="2026-03-06T00:00:00Z",
    )
    n = only(r, "national.ukmpu-72h")
    assert n.recipient == "national.ukmpu.ukmpu" and n.from_timer
    assert n.created_at == "2026-03-05T07:15:00Z"  # 72 hours after last seen, not after the report
    assert n.profile == "police" and n.cite.startswith("Statutory Code of Practice (2009)")
    assert "E23000014" in n.purpose


def test_a_child_found_within_72_hours_is_not_reported_to_the_unit() -> None:
    r = run(
        reported(T0, host=BIRMINGHAM, force=WEST_MIDLANDS_POLICE),
        found("2026-03-05T08:59:00Z"),
        until="2026-03-08T00:00:00Z",
    )
    none_from(r, "national.ukmpu-72h")
