"""The Wandsworth Missing Children Policy and Protocol V2.0 (June 2022), as encoded in
mappings/areas/wandsworth.yaml (no Metropolitan Police file: the Met-side duties are in the borough's
file and need the Met to hold the report). Each test runs a scenario through `gateway simulate` and checks
the recipient, the deadline worked out by hand from the section it cites, and the cite ("§19 L532": the
section, and the line of ../shared/seeds/wandsworth-003_*.txt). 2026: clocks go forward on 29 March;
25 May is a bank holiday; 2 March 2026 is a Monday.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.areas.support import (
    KENT_POLICE,
    METROPOLITAN_POLICE,
    Result,
    child,
    found,
    later,
    none_from,
    only,
    reported,
    run,
)

LBW = "212"
KENT = "886"
SCHOOL = "999212"  # example school (mappings/directory/wandsworth.yaml)
MON = "2026-03-02T09:00:00Z"


def lbw_report(at: str = MON, **kw: Any) -> dict[str, Any]:
    """A Wandsworth looked-after child with an open case, reported to the Met."""
    kw.setdefault("responsible", LBW)
    kw.setdefault("host", LBW)
    kw.setdefault("force", METROPOLITAN_POLICE)
    kw.setdefault("looked_after", True)
    kw.setdefault("case_status", "open")
    return reported(at, **kw)


def tasks(result: Result, rule_id: str, recipient: str) -> list[Any]:
    return [n for n in result.by_rule(rule_id) if n.recipient == recipient and n.kind == "task"]


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- A looked-after child missing for three days (§6.1, §8, §10, §11.3, §19, §29) --------------------


def test_a_looked_after_child_missing_three_days() -> None:
    r = run(lbw_report(last_seen="2026-03-02T08:00:00Z", school_urn=SCHOOL), until="2026-03-06T00:00:00Z")
    # §6.1/§10: the police notify the MASH (single point of contact) through MERLIN.
    mash = [n for n in r.by_rule("wandsworth.police-to-mash") if n.kind == "notify"]
    assert len(mash) == 1 and mash[0].recipient == "la.212.front_door"
    assert mash[0].cite_of("wandsworth.police-to-mash") == "§6.1 L138; §10 L316"
    # §8: the episode's seriousness reviewed within 24 hours.
    sr = only(r, "wandsworth.seriousness-review-24h", "la.212.front_door")
    assert (sr.kind, sr.due_by, sr.cite) == ("task", "2026-03-03T09:00:00Z", "§8 L242; §11.2 L380")
    only(r, "wandsworth.allocated-worker", "la.212.allocated_worker")

    # §19: Need to Know form within 24 hours, notifying the Deputy Director and the Director.
    (ntk,) = tasks(r, "wandsworth.need-to-know-24h", "la.212.allocated_worker")
    assert (ntk.due_by, ntk.cite) == ("2026-03-03T09:00:00Z", "§19 L532; §13 L428")
    for role in ("assistant_director", "director"):
        n = [x for x in r.by_rule("wandsworth.need-to-know-24h") if x.recipient == f"la.212.{role}"]
        assert [(x.created_at, x.due_by) for x in n] == [(MON, "2026-03-03T09:00:00Z")]

    # §11.3/§29: IRO, Named Nurse for LAC (the example team when no organisation is known), virtual school.
    assert only(r, "wandsworth.iro", "la.212.iro").cite == "§11.3 L396; §29 L769"
    nurse = only(r, "wandsworth.named-nurse-lac", "health.XXW01.named_nurse_lac")
    assert nurse.profile == "health_safeguarding" and "placement" not in nurse.payload.get("care", {})
    vs = only(r, "wandsworth.virtual-school", "la.212.virtual_school")
    assert vs.profile == "school_encompass" and vs.cite == "§29 L769"
    # §29: the school is always informed and invited (no Operation Encompass schedule, no deadline).
    school = only(r, "wandsworth.school-informed", "school.999212.school_dsl")
    assert (school.created_at, school.due_by, school.raw["urgency"]) == (MON, None, "standard")

    # §11.2/§19: missing over 24 hours → strategy discussion within 3 days of going missing (team manager),
    # considering a health alert; §19: over 48 hours → face to face.
    sd = tasks(r, "wandsworth.strategy-discussion-24h", "la.212.team_manager")
    assert {(n.created_at, n.due_by) for n in sd} == {("2026-03-03T08:00:00Z", "2026-03-05T08:00:00Z")}
    assert len(sd) == 2 and any("health alert" in n.purpose for n in sd)
    f2f = only(r, "wandsworth.strategy-meeting-face-to-face-48h", "la.212.team_manager")
    assert (f2f.created_at, f2f.due_by, f2f.cite) == (
        "2026-03-04T08:00:00Z",
        "2026-03-05T08:00:00Z",
        "§19 L498-L500",
    )
    # §19: a further Need to Know form at 3 days, within 24 hours.
    (ntk3,) = tasks(r, "wandsworth.need-to-know-3-days", "la.212.allocated_worker")
    assert (ntk3.created_at, ntk3.due_by, ntk3.cite) == (
        "2026-03-05T08:00:00Z",
        "2026-03-06T08:00:00Z",
        "§19 L534",
    )
    dd3 = only(r, "wandsworth.need-to-know-3-days", "la.212.assistant_director")
    assert dd3.due_by == "2026-03-06T08:00:00Z"

    # Office hours, aged 14, medium: no EDT, no immediate face-to-face meeting; the child is Wandsworth's.
    for rule in (
        "wandsworth.out-of-hours",
        "wandsworth.strategy-meeting-face-to-face-risk",
        "wandsworth.need-to-know-24h-mash",
        "wandsworth.strategy-discussion-24h-mash",
        "wandsworth.placed-in-request-information",
        "wandsworth.evolve-return-home-conversation",
    ):
        none_from(r, rule)


def test_out_of_hours_a_looked_after_child_goes_to_the_out_of_hours_team() -> None:
    r = run(lbw_report("2026-03-07T14:00:00Z"))  # a Saturday afternoon
    edt = only(r, "wandsworth.out-of-hours", "la.212.edt")
    assert edt.cite == "§6.3 L170; §11 L358" and edt.profile == "full"


def test_out_of_hours_a_child_not_known_to_social_care_is_for_the_mash_only() -> None:
    r = run(lbw_report("2026-03-07T14:00:00Z", looked_after=False, case_status="closed"))
    none_from(r, "wandsworth.out-of-hours")


# --- A child not open to Children's Social Care (§11.2): the MASH ------------------------------------


def test_a_child_not_open_to_social_care_is_handled_by_the_mash() -> None:
    r = run(
        lbw_report(
            "2026-03-03T14:00:00Z",
            last_seen="2026-03-03T12:00:00Z",
            looked_after=False,
            case_status="closed",
            factors=["missing_with_family"],
            school_urn=SCHOOL,
        ),
        until="2026-03-07T00:00:00Z",
    )
    (ntk,) = tasks(r, "wandsworth.need-to-know-24h-mash", "la.212.front_door")
    assert (ntk.due_by, ntk.cite) == ("2026-03-04T14:00:00Z", "§19 L532; §11.2 L374")
    only(r, "wandsworth.need-to-know-24h-mash", "la.212.director")
    sd = tasks(r, "wandsworth.strategy-discussion-24h-mash", "la.212.front_door")
    assert {(n.created_at, n.due_by) for n in sd} == {("2026-03-04T12:00:00Z", "2026-03-06T12:00:00Z")}
    f2f = only(r, "wandsworth.strategy-meeting-face-to-face-48h-mash", "la.212.front_door")
    assert (f2f.created_at, f2f.due_by) == ("2026-03-05T12:00:00Z", "2026-03-06T12:00:00Z")
    (ntk3,) = tasks(r, "wandsworth.need-to-know-3-days-mash", "la.212.front_door")
    assert (ntk3.created_at, ntk3.due_by) == ("2026-03-06T12:00:00Z", "2026-03-07T12:00:00Z")
    # §32: a missing family → every other authority, through the CPC team in Quality Assurance.
    fam = only(r, "wandsworth.missing-family", "la.212.iro")
    assert (fam.kind, fam.due_by, fam.cite) == ("task", "2026-03-03T23:59:00Z", "§32 L801")
    # Not looked after and no plan: no allocated worker, IRO or school notice.
    for rule in (
        "wandsworth.allocated-worker",
        "wandsworth.need-to-know-24h",
        "wandsworth.iro",
        "wandsworth.school-informed",
        "wandsworth.strategy-discussion-24h",
    ):
        none_from(r, rule)


# --- Return: safe and well checks, Evolve, telling everyone (§22.1, §23, §24, §29) -------------------


def test_a_child_not_at_high_risk_is_found_the_met_checks_within_24_hours_and_evolve_within_72() -> None:
    r = run(
        lbw_report(looked_after=False, case_status="closed"),
        found("2026-03-02T21:00:00Z"),
        later("safe_and_well_completed", "2026-03-03T10:00:00Z"),
        later("return_interview_completed", "2026-03-04T10:00:00Z"),
    )
    sw = only(r, "wandsworth.safe-and-well-24h", "police.E23000001.police_missing_team")
    assert (sw.kind, sw.due_by, sw.cite) == ("task", "2026-03-03T21:00:00Z", "§23 L616")
    assert sw.rule_ids == ["wandsworth.safe-and-well-24h"]  # not high risk: no one-hour check
    mash = only(r, "wandsworth.safe-and-well-to-mash", "la.212.front_door")
    assert (
        mash.created_at == "2026-03-03T10:00:00Z"
        and mash.cite_of("wandsworth.safe-and-well-to-mash") == "§23 L629"
    )
    rhc = only(r, "wandsworth.evolve-return-home-conversation", "provider.evolve-wandsworth.rhi_provider")
    assert (rhc.kind, rhc.due_by, rhc.profile) == ("task", "2026-03-05T21:00:00Z", "provider")
    assert rhc.cite == "§24 L633; §11.3 L392"
    none_from(r, "wandsworth.return-home-conversation-to-social-worker")  # no allocated worker


def test_a_looked_after_child_is_found_a_one_hour_check_and_everyone_told_of_the_return() -> None:
    r = run(
        lbw_report(school_urn=SCHOOL),
        found("2026-03-02T21:00:00Z"),
        later("return_interview_declined", "2026-03-04T10:00:00Z"),
    )
    # §23: high risk (§9.2: every looked-after child) → face to face within 1 hour, merged with the 24 hours.
    sw = only(r, "wandsworth.safe-and-well-1h-high-risk", "police.E23000001.police_missing_team")
    assert sw.due_by == "2026-03-02T22:00:00Z" and sw.raw["urgency"] == "immediate"
    assert set(sw.rule_ids) == {"wandsworth.safe-and-well-1h-high-risk", "wandsworth.safe-and-well-24h"}
    assert sw.cite == "§23 L627; §9.2 L294-L308"
    # §29 L773 / §22.1: the professionals told of the episode are told of the return.
    ret = "2026-03-02T21:00:00Z"
    for rule, rcpt in (
        ("wandsworth.iro", "la.212.iro"),
        ("wandsworth.named-nurse-lac", "health.XXW01.named_nurse_lac"),
        ("wandsworth.virtual-school", "la.212.virtual_school"),
        ("wandsworth.allocated-worker", "la.212.allocated_worker"),
    ):
        assert [n.created_at for n in r.by_rule(rule) if n.recipient == rcpt] == [MON, ret]
    back = only(r, "wandsworth.school-told-of-return", "school.999212.school_dsl")
    assert back.created_at == ret and back.cite == "§29 L773; §22.1 L608"
    # §24: a refused conversation → the social worker.
    sw_note = only(r, "wandsworth.return-home-conversation-to-social-worker", "la.212.allocated_worker")
    assert sw_note.created_at == "2026-03-04T10:00:00Z" and sw_note.cite == "§11.3 L392; §24 L645; §25 L657"


def test_a_wandsworth_child_placed_in_kent_is_not_a_task_for_the_met() -> None:
    r = run(
        lbw_report(host=KENT, force=KENT_POLICE),
        found("2026-03-03T10:00:00Z"),
    )
    host = only(r, "wandsworth.placed-out-host-la", "la.886.front_door")
    assert host.profile == "la_host" and host.cite_of("wandsworth.placed-out-host-la") == "§21 L570; §32 L805"
    assert [n.recipient for n in r.by_rule("wandsworth.iro")] == [
        "la.212.iro",
        "la.212.iro",
    ]  # report, return
    none_from(r, "wandsworth.safe-and-well-24h")
    none_from(r, "wandsworth.safe-and-well-1h-high-risk")


# --- Long missing (§11.1, §19) -----------------------------------------------------------------------


def test_a_child_missing_three_months() -> None:
    r = run(lbw_report(looked_after=False), until="2026-06-01T12:00:00Z")
    # §11.1: the national Missing Persons Bureau (now the NCA UK Missing Persons Unit) at 28 days:
    # 09:00 BST on 30 March.
    bureau = only(r, "wandsworth.missing-persons-bureau-28-days", "national.ukmpu.ukmpu")
    assert (bureau.created_at, bureau.cite) == ("2026-03-30T08:00:00Z", "§11.1 L370")
    # §19: regular strategy meetings after 28 days, by the end of that working day.
    reg = only(r, "wandsworth.strategy-meetings-28-days", "la.212.team_manager")
    assert (reg.created_at, reg.due_by) == ("2026-03-30T08:00:00Z", "2026-03-30T22:59:00Z")
    # §19: at least six-weekly: 13 April, then 25 May (a bank holiday, so due on the Tuesday).
    six = [(n.created_at, n.due_by) for n in r.by_rule("wandsworth.strategy-meetings-six-weekly")]
    assert six == [
        ("2026-04-13T08:00:00Z", "2026-04-13T22:59:00Z"),
        ("2026-05-25T08:00:00Z", "2026-05-26T22:59:00Z"),
    ]
    # §19: the Deputy Director's formal review after 3 months (89 days: Saturday 30 May → Monday 1 June).
    dd = only(r, "wandsworth.deputy-director-review-3-months", "la.212.assistant_director")
    assert (dd.kind, dd.created_at, dd.due_by, dd.cite) == (
        "task",
        "2026-05-30T08:00:00Z",
        "2026-06-01T22:59:00Z",
        "§19 L542; §11.1 L366",
    )


def test_a_child_found_before_28_days_is_not_reported_to_the_bureau() -> None:
    r = run(lbw_report(), found("2026-03-29T10:00:00Z"), until="2026-04-20T00:00:00Z")
    none_from(r, "wandsworth.missing-persons-bureau-28-days")
    none_from(r, "wandsworth.strategy-meetings-six-weekly")


# --- Higher risk: face-to-face meetings, child protection, abduction (§19, §28.4, §29) ---------------


def test_a_child_of_11_on_a_protection_plan_needs_a_face_to_face_meeting_and_the_cp_team_told() -> None:
    r = run(lbw_report(looked_after=False, dob="2014-06-01", care={"cp_plan": True}, school_urn=SCHOOL))
    f2f = only(r, "wandsworth.strategy-meeting-face-to-face-risk", "la.212.team_manager")
    assert (f2f.kind, f2f.due_by, f2f.raw["urgency"]) == ("task", "2026-03-05T09:00:00Z", "immediate")
    assert f2f.cite == "§19 L496-L512; §11.2 L376"
    chair = only(r, "wandsworth.cp-chair-and-designated-nurse", "la.212.iro")
    assert chair.cite == "§29 L767"
    only(r, "wandsworth.cp-chair-and-designated-nurse", "health.XXW02.designated_nurse")
    only(r, "wandsworth.school-informed", "school.999212.school_dsl")


def test_abduction_from_care_goes_to_the_deputy_director_at_once() -> None:
    r = run(lbw_report(factors=["abduction"], health={"named_nurse_ods": "XXA01"}))
    dd = only(r, "wandsworth.abduction-from-care", "la.212.assistant_director")
    assert dd.cite_of("wandsworth.abduction-from-care") == "§28.4 L729" and dd.raw["urgency"] == "immediate"
    only(r, "wandsworth.strategy-meeting-face-to-face-risk", "la.212.team_manager")
    # The named nurse's own organisation, when the episode carries it.
    only(r, "wandsworth.named-nurse-lac", "health.XXA01.named_nurse_lac")
    none_from(r, "wandsworth.cp-chair-and-designated-nurse")


# --- Repeat missing (§10, §11.2) ---------------------------------------------------------------------


def repeat(days: list[int], **kw: Any) -> Result:
    base = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    evs: list[dict[str, Any]] = []
    for i, d in enumerate(days):
        rec = f"MP/26/{i + 1:04d}"
        at = base + timedelta(days=d)
        evs.append(lbw_report(iso(at), record=rec, child=child(la_code=LBW, local_id="W7"), **kw))
        evs.append(found(iso(at + timedelta(hours=3)), record=rec))
    return run(*evs)


def test_twice_in_28_days_a_child_not_open_to_social_care_is_allocated_for_assessment() -> None:
    r = repeat([0, 27], looked_after=False, case_status="closed")
    (t,) = tasks(r, "wandsworth.repeat-missing-assessment", "la.212.front_door")
    # The second report: Sunday 29 March, 10:00 BST → the next working day, Monday 30 March.
    assert (t.created_at, t.due_by, t.cite) == (
        "2026-03-29T09:00:00Z",
        "2026-03-30T22:59:00Z",
        "§11.2 L380; §10 L354",
    )


def test_two_episodes_more_than_28_days_apart_are_not_a_repeat() -> None:
    none_from(
        repeat([0, 29], looked_after=False, case_status="closed"), "wandsworth.repeat-missing-assessment"
    )


def test_a_child_already_open_to_social_care_is_not_referred_again() -> None:
    none_from(repeat([0, 5], case_status="open"), "wandsworth.repeat-missing-assessment")


# --- Another authority's child in Wandsworth (§21, §32) ----------------------------------------------


def test_a_kent_child_placed_in_wandsworth() -> None:
    r = run(
        reported(
            MON, responsible=KENT, host=LBW, force=METROPOLITAN_POLICE, looked_after=True, case_status="open"
        ),
        found("2026-03-04T10:00:00Z"),
        later("safe_and_well_completed", "2026-03-04T10:45:00Z"),
    )
    req = only(r, "wandsworth.placed-in-request-information", "la.212.front_door")
    assert (req.kind, req.due_by, req.cite) == ("task", "2026-03-02T23:59:00Z", "§21 L578")
    home = only(r, "wandsworth.placed-in-found-home-la", "la.886.front_door")
    assert (
        home.created_at == "2026-03-04T10:00:00Z"
        and home.cite_of("wandsworth.placed-in-found-home-la") == "§32 L803"
    )
    # The Met's safe and well check (looked after: within 1 hour) and its notice to the MASH.
    sw = only(r, "wandsworth.safe-and-well-1h-high-risk", "police.E23000001.police_missing_team")
    assert sw.due_by == "2026-03-04T11:00:00Z"
    only(r, "wandsworth.safe-and-well-to-mash", "la.212.front_door")
    # Kent's own duties are not Wandsworth's.
    for rule in (
        "wandsworth.need-to-know-24h",
        "wandsworth.need-to-know-24h-mash",
        "wandsworth.iro",
        "wandsworth.named-nurse-lac",
        "wandsworth.evolve-return-home-conversation",
        "wandsworth.strategy-discussion-24h",
        "wandsworth.allocated-worker",
    ):
        none_from(r, rule)
