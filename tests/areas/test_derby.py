"""The Derby and Derbyshire joint protocol (mappings/areas/derby.yaml, derbyshire.yaml, which inherits
it, and derbyshire-police.yaml), scenario by scenario through `gateway simulate`.

Each test names the paragraph it checks (§ = the protocol's section; L = the line of
shared/seeds/derby-derbyshire-001_*.txt). Deadlines were worked out by hand from the text: March 2026
is GMT until the clocks go forward on Sunday 29 March (BST = UTC+1 from then).
"""

from __future__ import annotations

from typing import Any

import yaml

from gateway.delivery.directory import load_directory
from gateway.rules.loader import load_rulebook
from tests.areas.support import (
    DERBYSHIRE_POLICE,
    MAPPINGS,
    child,
    found,
    later,
    none_from,
    only,
    reported,
    run,
)

DERBY, DERBYSHIRE, KENT, STAFFORDSHIRE, NOTTINGHAM = "831", "830", "886", "860", "892"
MON_10 = "2026-03-02T10:00:00Z"  # Monday 2 March 2026, 10:00 GMT: office hours
MON_0800 = "2026-03-02T08:00:00Z"


def derby_child(local_id: str = "D1") -> dict[str, Any]:
    return child(la_code=DERBY, local_id=local_id)


def cites(note: Any, rule_id: str) -> str:
    return str(note.cite_of(rule_id))


# --- police: the COMPACT secure email and the immediate contact (§4.2, §5.1, §6.5) ----------------


def test_the_police_report_and_the_return_reach_the_front_door_and_health() -> None:
    r = run(
        reported(MON_10, responsible=DERBY, host=DERBY, force=DERBYSHIRE_POLICE, case_status="closed"),
        found("2026-03-02T15:00:00Z"),
    )
    mail = r.by_rule("derbyshire-police.compact-to-la")
    assert [(n.recipient, n.created_at, n.due_by) for n in mail] == [
        ("la.831.front_door", MON_10, None),
        ("la.831.front_door", "2026-03-02T15:00:00Z", None),
    ]
    assert cites(mail[0], "derbyshire-police.compact-to-la") == "§4.2 (L202); §5.1 (L219, L231); §6.5 (L335)"
    # One notice to the front door: the national one (full record) and the police one merged.
    assert "national.responsible-la-front-door" in mail[0].rule_ids and "full" in mail[0].profile

    health = r.by_rule("derby.health-derby")
    assert [(n.recipient, n.profile) for n in health] == [
        ("health.XXD01.health_safeguarding", "health_safeguarding")
    ] * 2
    assert health[0].cite == "§4.1 (L127-L128); §5.3 (L280)"
    nurse = r.by_rule("derby.designated-nurse")
    assert {n.recipient for n in nurse} == {"health.XXD03.designated_nurse"}
    none_from(r, "derby.health-derbyshire")
    # Not in care, not high risk: no immediate contact.
    none_from(r, "derbyshire-police.immediate-derby")
    none_from(r, "derbyshire-police.immediate-derby-careline")


def test_a_child_in_care_is_an_immediate_contact_to_first_contact_in_office_hours() -> None:
    r = run(reported(MON_10, responsible=DERBY, host=DERBY, force=DERBYSHIRE_POLICE, looked_after=True))
    n = only(r, "derbyshire-police.immediate-derby")
    assert n.recipient == "la.831.front_door" and n.created_at == MON_10 and n.due_by is None
    assert n.cite_of("derbyshire-police.immediate-derby") == "§4.2 (L202); §4.1 (L126); §5.1 (L211)"
    none_from(r, "derbyshire-police.immediate-derby-careline")


def test_out_of_hours_the_immediate_contact_goes_to_careline() -> None:
    evening = "2026-03-02T18:30:00Z"  # Monday 18:30 GMT
    r = run(reported(evening, responsible=DERBY, host=DERBY, force=DERBYSHIRE_POLICE, risk="high"))
    n = only(r, "derbyshire-police.immediate-derby-careline")
    assert (n.recipient, n.profile, n.created_at) == ("la.831.edt", "full", evening)
    none_from(r, "derbyshire-police.immediate-derby")
    # Good Friday (3 April 2026, a bank holiday) at 11:00 BST is out of hours too.
    good_friday = run(
        reported(
            "2026-04-03T10:00:00Z", responsible=DERBY, host=DERBY, force=DERBYSHIRE_POLICE, looked_after=True
        )
    )
    assert only(good_friday, "derbyshire-police.immediate-derby-careline").recipient == "la.831.edt"
    none_from(good_friday, "derbyshire-police.immediate-derby")


def test_a_child_placed_in_derby_by_kent_careline_gets_the_host_view_and_kent_is_told() -> None:
    night = "2026-03-03T22:00:00Z"
    r = run(
        reported(night, responsible=KENT, host=DERBY, force=DERBYSHIRE_POLICE, looked_after=True),
        found("2026-03-04T09:30:00Z"),
    )
    careline = only(r, "derbyshire-police.immediate-derby-careline-placed")
    assert (careline.recipient, careline.profile) == ("la.831.edt", "la_host")
    assert "circumstances" not in str(careline.payload.get("episode", {}))
    none_from(r, "derbyshire-police.immediate-derby-careline")

    placing = r.by_rule("derby.placing-la-told")  # §5.2: details forwarded to the placing authority
    assert [(n.recipient, n.created_at) for n in placing] == [
        ("la.886.front_door", night),
        ("la.886.front_door", "2026-03-04T09:30:00Z"),
    ]
    assert placing[0].cite_of("derby.placing-la-told") == "§5.2 (L275)"
    officer = r.by_rule("derby.missing-children-officer")  # §6.8: the placing Missing Children Officer
    assert [n.recipient for n in officer] == ["la.886.missing_coordinator"] * 2
    assert [n.recipient for n in r.by_rule("derby.iro")] == ["la.886.iro"] * 2


def test_derbyshire_high_risk_is_immediate_to_starting_point_and_the_missing_persons_unit() -> None:
    r = run(reported(MON_10, responsible=DERBYSHIRE, host=DERBYSHIRE, force=DERBYSHIRE_POLICE, risk="high"))
    sp = only(r, "derbyshire-police.immediate-derbyshire")
    assert sp.recipient == "la.830.front_door" and sp.created_at == MON_10
    unit = only(r, "derbyshire-police.high-risk-ukmpu")
    assert unit.recipient == "national.ukmpu.ukmpu" and unit.created_at == MON_10 and unit.profile == "police"
    assert unit.cite == "§5.1 (L211)"
    # A Derbyshire child: the joint rules fire under Derbyshire's ids (derbyshire inherits derby).
    assert only(r, "derbyshire.health-derbyshire").recipient == "health.XXD02.health_safeguarding"
    none_from(r, "derbyshire.health-derby")
    none_from(r, "derbyshire-police.immediate-derby")


def test_a_risk_raised_to_high_later_is_an_immediate_contact_then() -> None:
    r = run(
        reported(MON_10, responsible=DERBYSHIRE, host=DERBYSHIRE, force=DERBYSHIRE_POLICE, risk="medium"),
        later("risk_changed", "2026-03-02T13:00:00Z", episode={"risk_level": "high"}),
    )
    n = only(r, "derbyshire-police.immediate-derbyshire")
    assert n.created_at == "2026-03-02T13:00:00Z"
    assert only(r, "derbyshire-police.high-risk-ukmpu").created_at == "2026-03-02T13:00:00Z"


def test_another_authoritys_child_at_home_is_not_sent_to_derby_or_derbyshire() -> None:
    r = run(
        reported(MON_10, responsible=NOTTINGHAM, host=NOTTINGHAM, force=DERBYSHIRE_POLICE, looked_after=True)
    )
    for rule in (
        "derbyshire-police.compact-to-la",
        "derbyshire-police.immediate-derby",
        "derbyshire-police.immediate-derbyshire",
        "derby.health-derby",
        "derby.designated-nurse",
    ):
        none_from(r, rule)
    assert not [n for n in r.notes if n.recipient.startswith(("la.831.", "la.830."))]


# --- 'No Apparent Risk' at most 24 hours (§4.2) -------------------------------------------------------


def test_no_apparent_risk_is_reviewed_within_24_hours_and_flagged_at_24_hours() -> None:
    r = run(
        reported(
            MON_10, host=DERBYSHIRE, force=DERBYSHIRE_POLICE, risk="no_apparent_risk", case_status="closed"
        ),
        until="2026-03-03T18:00:00Z",
    )
    review = only(r, "derbyshire-police.nar-review")
    assert review.kind == "task" and review.recipient == "police.E23000018.police_missing_team"
    assert review.due_by == "2026-03-03T10:00:00Z" and review.cite == "§4.2 (L204); §3.1 (L64)"
    cap = only(r, "derbyshire-police.nar-24h")
    assert (
        cap.from_timer and cap.created_at == "2026-03-03T10:00:00Z" and cap.due_by == "2026-03-03T10:00:00Z"
    )
    # §5.2/§7.3: a closed case graded NAR goes to the monthly meeting at Starting Point (inherited rule).
    monthly = only(r, "derbyshire.nar-monthly-meeting")
    assert monthly.recipient == "la.830.missing_coordinator" and monthly.kind == "task"
    assert monthly.due_by == "2026-04-01T09:00:00Z"  # 30 days: 10:00 GMT on 2 March → 10:00 BST on 1 April
    assert monthly.cite == "§5.2 (L273); §7.3 (L452)"


def test_a_child_regraded_within_24_hours_is_not_flagged() -> None:
    r = run(
        reported(MON_10, host=DERBY, force=DERBYSHIRE_POLICE, risk="no_apparent_risk"),
        later("risk_changed", "2026-03-02T16:00:00Z", episode={"risk_level": "low"}),
        until="2026-03-04T00:00:00Z",
    )
    only(r, "derbyshire-police.nar-review")
    none_from(r, "derbyshire-police.nar-24h")
    # Low, unknown case: a MAT / Runaways Worker is allocated (§5.2 L268) once regraded.
    mat = only(r, "derby.unknown-case-mat")
    assert mat.recipient == "la.831.missing_coordinator" and mat.created_at == "2026-03-02T16:00:00Z"


# --- the local authority's response (§5.2, §5.4) -----------------------------------------------------


def test_an_open_case_goes_to_the_lead_worker() -> None:
    r = run(
        reported(MON_10, responsible=DERBY, host=DERBY, case_status="open"),
        found("2026-03-02T20:00:00Z"),
    )
    notes = r.by_rule("derby.lead-worker")
    assert [(n.recipient, n.created_at) for n in notes] == [
        ("la.831.allocated_worker", MON_10),
        ("la.831.allocated_worker", "2026-03-02T20:00:00Z"),
    ]
    assert notes[0].cite == "§5.2 (L259); §6.5 (L333); §6.8 (L389)"
    none_from(r, "derby.unknown-case-mat")


def test_a_child_missing_three_days_gets_a_strategy_meeting_and_reviews_every_five_days() -> None:
    r = run(
        reported(
            MON_10,
            responsible=DERBY,
            host=DERBY,
            force=DERBYSHIRE_POLICE,
            last_seen=MON_0800,
            looked_after=True,
        ),
        until="2026-03-11T00:00:00Z",
    )
    meeting = only(r, "derby.strategy-meeting-3d", "la.831.team_manager")
    assert meeting.kind == "task" and meeting.created_at == "2026-03-05T08:00:00Z"
    assert meeting.due_by == "2026-03-05T08:00:00Z" and meeting.cite == "§5.4 (L287)"
    police = only(r, "derby.strategy-meeting-3d", "police.E23000018.police_missing_team")
    assert police.created_at == "2026-03-05T08:00:00Z"
    reviews = r.by_rule("derby.strategy-review-5d")
    assert [(n.recipient, n.created_at, n.due_by) for n in reviews] == [
        ("la.831.team_manager", "2026-03-05T08:00:00Z", "2026-03-10T08:00:00Z"),
        ("la.831.team_manager", "2026-03-10T08:00:00Z", "2026-03-15T08:00:00Z"),
    ]
    senior = only(r, "derby.lac-senior-managers-3d")
    assert senior.recipient == "la.831.service_manager" and senior.created_at == "2026-03-05T08:00:00Z"


def test_three_days_are_calendar_days_across_the_clock_change() -> None:
    # Last seen Friday 27 March 12:00 GMT; three days later is Monday 30 March 12:00 BST = 11:00 UTC.
    r = run(
        reported(
            "2026-03-27T12:30:00Z", responsible=DERBYSHIRE, host=DERBYSHIRE, last_seen="2026-03-27T12:00:00Z"
        ),
        until="2026-03-31T00:00:00Z",
    )
    meeting = only(r, "derbyshire.strategy-meeting-3d", "la.830.team_manager")
    assert meeting.created_at == "2026-03-30T11:00:00Z" and meeting.due_by == "2026-03-30T11:00:00Z"


def test_no_strategy_meeting_for_a_child_found_within_three_days() -> None:
    r = run(
        reported(MON_10, responsible=DERBY, host=DERBY, last_seen=MON_0800, looked_after=True),
        found("2026-03-05T07:59:00Z"),
        until="2026-03-12T00:00:00Z",
    )
    for rule in ("derby.strategy-meeting-3d", "derby.strategy-review-5d", "derby.lac-senior-managers-3d"):
        none_from(r, rule)


def test_the_iro_is_told_when_a_child_in_care_goes_missing_and_returns_but_not_otherwise() -> None:
    r = run(
        reported(MON_10, responsible=DERBY, host=DERBY, looked_after=True),
        found("2026-03-02T21:00:00Z"),
    )
    iro = r.by_rule("derby.iro")
    assert [(n.recipient, n.created_at) for n in iro] == [
        ("la.831.iro", MON_10),
        ("la.831.iro", "2026-03-02T21:00:00Z"),
    ]
    assert iro[0].cite == "§5.4 (L302); §6.8 (L377, L379, L389)"
    none_from(run(reported(MON_10, responsible=DERBY, host=DERBY, looked_after=False)), "derby.iro")


def test_a_child_protection_case_tells_the_cp_manager_and_senior_managers_and_at_20_working_days() -> None:
    r = run(
        reported(MON_10, responsible=DERBY, host=DERBY, last_seen=MON_0800, care={"cp_plan": True}),
        until="2026-04-01T00:00:00Z",
    )
    cp = only(r, "derby.cp-manager")
    assert cp.recipient == "la.831.iro" and cp.created_at == MON_10 and cp.cite == "§5.4 (L298)"
    senior = only(r, "derby.cp-senior-managers")
    assert senior.recipient == "la.831.service_manager" and senior.cite == "§4.1.6 (L184)"
    # 20 working days after Monday 2 March: the end of Monday 30 March (23:59:59 BST = 22:59:59 UTC).
    conf = only(r, "derby.cp-review-conference-20wd")
    assert conf.recipient == "la.831.iro" and conf.created_at == "2026-03-30T22:59:59Z"


def test_no_cp_escalation_without_a_plan_or_once_found() -> None:
    r = run(
        reported(MON_10, responsible=DERBY, host=DERBY, last_seen=MON_0800, care={"cp_plan": True}),
        found("2026-03-27T12:00:00Z"),
        until="2026-04-01T00:00:00Z",
    )
    none_from(r, "derby.cp-review-conference-20wd")
    plain = run(reported(MON_10, responsible=DERBY, host=DERBY, care={"cp_plan": False}))
    none_from(plain, "derby.cp-manager")
    none_from(plain, "derby.cp-senior-managers")


def test_a_child_protection_family_back_gets_a_core_group_within_5_working_days() -> None:
    r = run(
        reported(
            MON_10,
            responsible=DERBYSHIRE,
            host=DERBYSHIRE,
            factors=["missing_with_family"],
            care={"cp_plan": True},
        ),
        found("2026-03-05T15:00:00Z"),  # Thursday
    )
    core = only(r, "derbyshire.cp-family-core-group", "la.830.allocated_worker")
    # Working days after Thursday 5 March: Fri 6, Mon 9 ... Thu 12 March, end of day (GMT).
    assert core.kind == "task" and core.due_by == "2026-03-12T23:59:59Z" and core.cite == "§6.9 (L404)"
    assert only(r, "derbyshire.cp-family-core-group", "la.830.iro").kind == "notify"


def test_a_child_at_risk_of_sexual_exploitation_back_from_missing_is_told_to_the_cse_manager() -> None:
    r = run(reported(MON_10, responsible=DERBY, host=DERBY, factors=["cse"]), found("2026-03-02T22:00:00Z"))
    n = only(r, "derby.cse-on-return")
    assert (n.recipient, n.created_at, n.cite) == ("la.831.iro", "2026-03-02T22:00:00Z", "§6.9 (L408)")
    none_from(
        run(reported(MON_10, responsible=DERBY, host=DERBY), found("2026-03-02T22:00:00Z")),
        "derby.cse-on-return",
    )


# --- return interviews (§6.7, §6.8) -------------------------------------------------------------------


def test_the_return_interview_is_due_72_hours_after_the_return() -> None:
    r = run(
        reported(MON_10, responsible=DERBY, host=DERBY, looked_after=True, risk="low"),
        found("2026-03-03T18:30:00Z"),
        later("safe_and_well_completed", "2026-03-03T20:00:00Z"),
    )
    ri = only(r, "derby.return-interview")
    # The national task and the local rule are one task for the missing coordinator, with both cites.
    assert ri.recipient == "la.831.missing_coordinator" and ri.kind == "task"
    assert "national.return-interview" in ri.rule_ids and ri.due_by == "2026-03-06T18:30:00Z"
    assert ri.cite_of("derby.return-interview") == "§6.7 (L354, L356); §4.1.4 (L174); §5.3 (L280)"
    sw = only(r, "derby.return-interview-lead-worker")
    assert (sw.recipient, sw.kind, sw.due_by) == ("la.831.allocated_worker", "task", "2026-03-06T18:30:00Z")
    none_from(r, "derbyshire.advocacy-offer")  # a Derby child: Derbyshire's advocacy offer does not apply


def test_no_local_return_interview_rule_for_a_no_apparent_risk_child_not_in_care() -> None:
    r = run(
        reported(MON_10, responsible=DERBY, host=DERBY, looked_after=False, risk="no_apparent_risk"),
        found("2026-03-02T14:00:00Z"),
    )
    none_from(r, "derby.return-interview")
    none_from(r, "derby.return-interview-lead-worker")


def test_derbyshire_children_in_care_are_offered_an_advocate_at_the_return_interview() -> None:
    r = run(
        reported(MON_10, responsible=DERBYSHIRE, host=DERBYSHIRE, looked_after=True),
        found("2026-03-03T18:30:00Z"),
    )
    task = only(r, "derbyshire.advocacy-offer")
    assert (task.recipient, task.due_by, task.cite) == (
        "la.830.allocated_worker",
        "2026-03-06T18:30:00Z",
        "§6.8 (L395)",
    )
    assert only(r, "derbyshire.return-interview-lead-worker").recipient == "la.830.allocated_worker"


def test_a_completed_return_interview_goes_to_the_police_and_derbys_runaways_worker() -> None:
    r = run(
        reported(MON_10, responsible=DERBY, host=DERBY, force=DERBYSHIRE_POLICE),
        found("2026-03-02T20:00:00Z"),
        later("return_interview_completed", "2026-03-04T11:00:00Z"),
    )
    police = only(r, "derby.ri-to-police")
    assert (police.recipient, police.profile, police.created_at) == (
        "police.E23000018.police_missing_team",
        "police",
        "2026-03-04T11:00:00Z",
    )
    assert police.cite == "§6.7 (L372)"
    assert only(r, "derby.ri-runaways-worker").recipient == "la.831.missing_coordinator"


def test_a_derbyshire_return_interview_goes_to_the_police_division_only() -> None:
    r = run(
        reported(MON_10, responsible=DERBYSHIRE, host=DERBYSHIRE),  # no force in the record: Derbyshire's
        found("2026-03-02T20:00:00Z"),
        later("return_interview_completed", "2026-03-04T11:00:00Z"),
    )
    assert only(r, "derbyshire.ri-to-police").recipient == "police.E23000018.police_missing_team"
    none_from(r, "derby.ri-runaways-worker")
    none_from(r, "derbyshire.ri-runaways-worker")


def test_out_of_area_the_placing_authority_shares_the_interview_with_the_host() -> None:
    # A Derby child placed in Staffordshire: Derby (placing) shares the interview with the host.
    r = run(
        reported(MON_10, responsible=DERBY, host=STAFFORDSHIRE, looked_after=True),
        found("2026-03-02T20:00:00Z"),
        later("return_interview_completed", "2026-03-04T11:00:00Z"),
    )
    host = only(r, "derby.ri-copy-to-host")
    assert (host.recipient, host.profile) == ("la.860.missing_coordinator", "la_host")
    assert host.cite == "§6.8 (L391)"
    # A Kent child placed in Derby: Kent does the interview; Derby does not pass it to the police.
    placed = run(
        reported(MON_10, responsible=KENT, host=DERBY, looked_after=True),
        found("2026-03-02T20:00:00Z"),
        later("return_interview_completed", "2026-03-04T11:00:00Z"),
    )
    none_from(placed, "derby.ri-to-police")
    assert only(placed, "derby.ri-copy-to-host").recipient == "la.831.missing_coordinator"


# --- repeat and persistent missing (§6.6, §6.7, §7.3) -------------------------------------------------


def _episodes(n: int, la: str, days: list[int]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for i, day in enumerate(days[:n], start=1):
        start = f"2026-03-{day:02d}T10:00:00Z"
        record = f"MP/26/{i:04d}"
        events.append(
            reported(
                start,
                responsible=la,
                host=la,
                force=DERBYSHIRE_POLICE,
                record=record,
                child=child(la_code=la, local_id="R1"),
            )
        )
        events.append(found(f"2026-03-{day:02d}T18:00:00Z", record=record))
    return events


def test_a_second_episode_starts_the_persistent_missing_strategy() -> None:
    r = run(*_episodes(2, DERBY, [2, 9]))
    notes = r.by_rule("derby.persistent-missing")
    assert {(n.recipient, n.created_at) for n in notes} == {
        ("la.831.allocated_worker", "2026-03-09T10:00:00Z"),
        ("la.831.missing_coordinator", "2026-03-09T10:00:00Z"),
        ("police.E23000018.police_missing_team", "2026-03-09T10:00:00Z"),
    }
    assert notes[0].cite == "§7.3 (L441, L450, L452)"
    none_from(r, "derby.repeat-3-in-30")


def test_three_episodes_in_30_days_request_a_strategy_meeting_and_a_police_review() -> None:
    r = run(*_episodes(3, DERBY, [2, 9, 20]))
    sm = only(r, "derby.repeat-3-in-30")
    assert (sm.recipient, sm.created_at, sm.cite) == (
        "la.831.team_manager",
        "2026-03-20T10:00:00Z",
        "§6.6 (L349)",
    )
    police = only(r, "derbyshire-police.review-3-in-90")
    assert (
        police.recipient == "police.E23000018.police_missing_team"
        and police.created_at == "2026-03-20T10:00:00Z"
    )
    none_from(r, "derbyshire.repeat-3-in-30-starting-point")


def test_derbyshire_triages_three_episodes_in_30_days_through_starting_point() -> None:
    r = run(*_episodes(3, DERBYSHIRE, [2, 9, 20]))
    assert (
        only(r, "derbyshire.repeat-3-in-30-starting-point", "la.830.front_door").created_at
        == "2026-03-20T10:00:00Z"
    )
    tm = only(r, "derbyshire.repeat-3-in-30-starting-point", "la.830.team_manager")
    assert tm.cite == "§6.7 (L368)"


# --- away from placement without authorisation (§4.1.4) ------------------------------------------------


def _awa(at: str) -> dict[str, Any]:
    return reported(
        at,
        responsible=DERBY,
        host=DERBY,
        looked_after=True,
        episode={"category": "away_without_authorisation"},
    )


def test_away_without_authorisation_for_6_hours_is_told_to_the_social_worker_or_out_of_hours() -> None:
    day = run(_awa("2026-03-02T09:30:00Z"), until="2026-03-03T00:00:00Z")
    n = only(day, "derby.awa-6h")
    assert (n.recipient, n.created_at, n.cite) == (
        "la.831.allocated_worker",
        "2026-03-02T15:30:00Z",
        "§4.1.4 (L170)",
    )
    none_from(day, "derby.awa-6h-out-of-hours")

    evening = run(_awa("2026-03-02T14:00:00Z"), until="2026-03-03T00:00:00Z")
    assert only(evening, "derby.awa-6h-out-of-hours").recipient == "la.831.edt"
    none_from(evening, "derby.awa-6h")


def test_a_missing_child_is_not_an_away_without_authorisation_notice() -> None:
    r = run(
        reported("2026-03-02T09:30:00Z", responsible=DERBY, host=DERBY, looked_after=True),
        until="2026-03-03T00:00:00Z",
    )
    none_from(r, "derby.awa-6h")
    none_from(r, "derby.awa-6h-out-of-hours")


# --- concerns on return (§6.5, §6.6) -------------------------------------------------------------------


def test_harm_on_return_is_referred_to_the_front_door_by_the_police() -> None:
    r = run(
        reported(MON_10, responsible=DERBY, host=DERBY, force=DERBYSHIRE_POLICE),
        found("2026-03-02T20:00:00Z", episode={"harm_disclosed": True}),
    )
    n = only(r, "derbyshire-police.concerns-on-return")
    assert n.recipient == "la.831.front_door" and n.created_at == "2026-03-02T20:00:00Z"
    assert n.cite_of("derbyshire-police.concerns-on-return") == "§6.6 (L351); §6.5 (L337-L342)"
    clean = run(
        reported(MON_10, responsible=DERBY, host=DERBY, force=DERBYSHIRE_POLICE),
        found("2026-03-02T20:00:00Z"),
    )
    none_from(clean, "derbyshire-police.concerns-on-return")


# --- the files themselves ----------------------------------------------------------------------------------


def test_derbyshire_inherits_the_joint_rules_and_the_force_code_is_derbyshires() -> None:
    book = load_rulebook(MAPPINGS)
    areas = {f.area: f for f in book.files}
    derby_ids = {r.id.split(".", 1)[1] for r in areas["derby"].rules}
    derbyshire_ids = {r.id.split(".", 1)[1] for r in areas["derbyshire"].rules}
    assert derby_ids < derbyshire_ids  # every joint rule, plus Derbyshire's own
    assert areas["derbyshire-police"].header.police_forces == [DERBYSHIRE_POLICE]
    source = yaml.safe_load(
        (MAPPINGS / "sources" / "compact" / "derbyshire-police.yaml").read_text(encoding="utf-8")
    )
    assert source["force_code"] == DERBYSHIRE_POLICE


def test_every_recipient_the_derby_rules_name_is_in_the_directory() -> None:
    book = load_rulebook(MAPPINGS)
    directory = load_directory(MAPPINGS / "directory")
    missing = []
    for f in book.files:
        if f.area not in {"derby", "derbyshire", "derbyshire-police"}:
            continue
        for lr in f.rules:
            for action in [*lr.rule.notify, *lr.rule.task]:
                ids = [i for i in action.id if "." not in i]  # literals
                if action.kind.value == "la" and any(i.startswith("care.") for i in action.id):
                    ids += [DERBY, DERBYSHIRE]  # this protocol's own councils, as responsible or host
                if action.kind.value == "police" and "episode.police.force" in action.id:
                    ids.append(DERBYSHIRE_POLICE)
                for i in ids:
                    if directory.lookup(action.kind.value, i, action.role.value) is None:
                        missing.append(f"{lr.id}: {action.kind.value}.{i}.{action.role.value}")
    assert not missing, missing
